"""Do the source notebooks (solutions and hidden tests in place) run cleanly, and quickly?"""

import pytest

from course_tools import NOTEBOOKS, SOURCE, is_autograder_test, read

# The whole course at CS231N_NOTEBOOK_SCALE=small, on 2 cores.
BUDGET_SECONDS = 300


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_source_notebook_runs_without_error(source_runs, name):
    failed = source_runs[name].errors()
    assert not failed, "\n".join(
        f"{name} cell {c.index}: {ename}: {evalue[:600]}"
        for c in failed for ename, evalue in c.errors
    )


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_check_cell_reports_its_threshold(source_runs, name):
    """A passing visible check prints the error it measured and the threshold it allows."""
    for cell in source_runs[name].cells:
        if not is_autograder_test(cell.cell):
            continue
        text = "".join(o.get("text", "") for o in cell.cell.outputs if o.output_type == "stream")
        assert "OK" in text, f"{name} cell {cell.index} printed no check report: {text!r}"
        assert "threshold" in text or "within" in text, f"{name} cell {cell.index}: {text!r}"
        # nbgrader reads stderr in a test cell as a failure, and a value as partial credit.
        assert not any(o.output_type == "execute_result" or o.get("name") == "stderr"
                       for o in cell.cell.outputs), f"{name} cell {cell.index}"


def test_course_runs_within_budget(source_runs):
    times = {name: round(run.seconds, 1) for name, run in source_runs.items()}
    assert sum(times.values()) < BUDGET_SECONDS, times


def test_heavy_cells_are_tagged_and_read_the_scale_switch():
    """Training and timing cells carry the `heavy` tag and a SMALL branch."""
    tagged = 0
    for name in NOTEBOOKS:
        nb = read(SOURCE / f"{name}.ipynb")
        assert "CS231N_NOTEBOOK_SCALE" in nb.cells[1].source, f"{name}: no scale switch in setup"
        for cell in nb.cells:
            if "heavy" in cell.metadata.get("tags", []):
                tagged += 1
                assert "SMALL" in cell.source or "model.params" in cell.source, cell.source[:200]
            elif cell.cell_type == "code":
                assert "Solver(" not in cell.source and "best_of(" not in cell.source, (
                    f"{name}: an untagged cell trains or times: {cell.source[:120]!r}")
    assert tagged >= 5
