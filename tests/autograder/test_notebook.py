"""Does the one reading of a notebook turn IPython syntax into Python that runs, as a kernel would?

to_python is IPython's own transformer; each test runs its output after the setup stub in a
plain namespace, the way the grader runs a student's cells, and the readers of code (static
checks, tamper signs, the setup imports) are asked about the same cells.
"""

from __future__ import annotations

import ast
import json
import math
import time
from pathlib import Path

import pytest

from autograder import notebook, references, static_checks, tamper
from autograder.assignment import load_assignment
from autograder.notebook import (
    IPYTHON_STUB,
    LOAD_BUDGET_SECONDS,
    CodeCell,
    ipython_commands,
    load_budget,
    prelude,
    setup_cell,
    to_python,
)

from grading_setup import KIT_COURSE

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "assignments" / "source" / "convnets"


def code_cell(source, **meta) -> dict:
    tags = meta.pop("tags", None)
    metadata = {"nbgrader": meta} if meta else {}
    if tags:
        metadata["tags"] = tags
    return {
        "cell_type": "code",
        "metadata": metadata,
        "source": source,
        "outputs": [],
        "execution_count": None,
    }


def run(*sources: str, prelude_code: str = "") -> dict:
    """Run the setup cell, then each source through to_python, in one namespace."""
    ns: dict = {"__name__": "__main__"}
    exec(compile(setup_cell(prelude_code).code, "setup", "exec"), ns)
    for i, source in enumerate(sources):
        exec(compile(to_python(source), f"cell {i}", "exec"), ns)
    return ns


# --- to_python --------------------------------------------------------------------------


def test_plain_python_is_left_as_it_is():
    source = "import math\n\ndef area(r):\n    return math.pi * r ** 2\n"
    assert to_python(source) == source


@pytest.mark.parametrize(
    "line",
    ["%matplotlib inline", "%timeit area(2.0)", "%load_ext autoreload", "%autoreload 2",
     "!ls -la", "!pip install torch", "area?", "%env HOME=/nowhere"],
)
def test_magic_and_shell_lines_become_calls_that_do_nothing(line):
    code = to_python(f"{line}\ndef area(r):\n    return 3 * r ** 2\n")
    assert "get_ipython()" in code.splitlines()[0], code
    ns = run(f"{line}\ndef area(r):\n    return 3 * r ** 2\n")
    assert ns["area"](2.0) == 12.0


def test_captured_shell_output_is_an_empty_list():
    ns = run("files = !ls\nfound = len(files)")
    assert ns["files"] == [] and ns["found"] == 0


@pytest.mark.parametrize(
    "source, expected",
    [
        ("r = (17\n     % 5)", 2),  # a continuation line that starts with %
        ("r = (17\n     != 5)", True),  # one that starts with !=
        ('r = ("%d"\n     % 2)', "2"),
        ("def f(a, b):\n    return (a\n            % b)\nr = f(7, 4)", 3),
    ],
)
def test_continuation_lines_that_start_with_an_operator_are_python(source, expected):
    assert to_python(source).rstrip("\n") == source
    assert run(source)["r"] == expected


def test_a_cell_magic_becomes_one_call_and_time_runs_its_body():
    source = "%%time\ndef helper(n):\n    return n + 1\nvalue = helper(1)\n"
    code = to_python(source)
    assert code.startswith("get_ipython().run_cell_magic('time', ''")
    ns = run(source)
    assert ns["value"] == 2 and ns["helper"](2) == 3  # as in a kernel: %%time runs the cell


def test_the_body_of_time_and_capture_is_transformed_like_a_cell():
    ns = run("%%capture out\n%%time\n%matplotlib inline\n!ls\nvalue = (9\n  % 4)\n")
    assert ns["value"] == 1


def test_a_line_time_runs_its_statement_and_timeit_does_not():
    ns = run("%time x = 5\ncount = [0]\n%timeit count.append(1)")
    assert ns["x"] == 5 and ns["count"] == [0]


def test_other_cell_magics_run_nothing():
    ns = run("%%bash\nrm -rf /\n", "%%writefile helper.py\nraise SystemExit\n", "after = 1")
    assert ns["after"] == 1


def test_a_cell_with_inconsistent_indentation_still_fails_to_compile():
    source = "\tx = 1\n  y = 2\n"
    # IPython 9 refuses it and the reader returns it unchanged; IPython 8 (the last for
    # Python 3.10) strips the first line's indent. Either way the kernel would not run it.
    assert to_python(source) in (source, "x = 1\n  y = 2\n")
    with pytest.raises(SyntaxError):
        compile(to_python(source), "cell", "exec")


def test_hundreds_of_magics_do_not_crash_the_reader():
    source = "%time x = 1\n" * 600
    assert to_python(source) == source  # IPython gives up after 500; so did the kernel
    with pytest.raises(SyntaxError):
        notebook.parse(source)


@pytest.mark.parametrize(
    "source",
    [
        "%time x = 1\n" * 100 + "y = 2\n" * 400,  # the transformer is quadratic in these
        "x = 1  # " + "-" * notebook.MAX_CELL_CHARS + "\n%time x\n",
    ],
)
def test_a_cell_too_costly_to_transform_is_left_as_written_and_quickly(source):
    start = time.perf_counter()
    assert to_python(source) == source
    assert time.perf_counter() - start < 1.0


def test_a_notebook_is_transformed_up_to_its_character_budget(monkeypatch):
    monkeypatch.setattr(notebook, "MAX_NOTEBOOK_CHARS", 30)
    first, second = "%matplotlib inline\nx = 1\n", "%matplotlib inline\ny = 2\n"
    assert notebook.cells_to_python([first, second]) == [to_python(first), second]


def test_a_syntax_error_stays_a_syntax_error():
    with pytest.raises(SyntaxError):
        compile(to_python("def f(:\n    pass\n"), "cell", "exec")


# --- the stub ------------------------------------------------------------------------------


def test_the_stub_answers_every_call_the_transformer_writes():
    ns: dict = {}
    exec(IPYTHON_STUB, ns)
    shell = ns["get_ipython"]()
    assert shell is ns["get_ipython"]()
    assert shell.run_line_magic("matplotlib", "inline") is None
    assert shell.run_cell_magic("bash", "", "ls\n") is None
    assert shell.magic("pylab") is None
    assert shell.system("ls") is None
    assert shell.getoutput("ls") == []
    assert ns["display"]("anything", raw=True) is None


def test_the_stub_imports_nothing_at_module_level():
    tree = ast.parse(IPYTHON_STUB)
    assert not [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert "IPython" not in IPYTHON_STUB


def test_the_setup_cell_keeps_future_imports_first():
    cell = setup_cell("from __future__ import annotations\nimport math\n")
    assert cell == CodeCell("setup", cell.code) and cell.label == notebook.SETUP_LABEL
    assert cell.code.startswith("from __future__ import annotations\n")
    ns: dict = {}
    exec(compile(cell.code, "setup", "exec"), ns)
    assert ns["math"] is math and callable(ns["get_ipython"])


# --- reading cells ----------------------------------------------------------------------


def test_cell_reading_tolerates_anything_a_student_can_write():
    odd = {"cell_type": "code", "metadata": {"nbgrader": "no", "tags": "heavy"}, "source": 3}
    assert notebook.nbgrader_meta(odd) == {} and notebook.tags(odd) == []
    assert notebook.cell_source(odd) == "" and not notebook.is_heavy(odd)
    listed = code_cell(["a = 1\n", 2, "b = 2"], tags=["heavy", 7])
    assert notebook.cell_source(listed) == "a = 1\nb = 2"
    assert notebook.is_heavy(listed) and notebook.tags(listed) == ["heavy"]


@pytest.mark.parametrize(
    "meta, read_only",
    [
        ({"grade": True, "solution": False, "points": 1}, True),  # a test cell
        ({"locked": True}, True),
        ({"grade": False, "solution": True}, False),
        ({"grade": True, "solution": True}, False),  # a graded answer
        ({}, False),
    ],
)
def test_read_only_cells_are_tests_and_locked_cells(meta, read_only):
    assert notebook.is_read_only(meta) is read_only


def test_the_prelude_reads_imports_after_magics_and_continuations():
    cells = [
        code_cell("%matplotlib inline\nimport numpy as np\nr = (1\n % 2)\nfrom math import (\n"
                  "    pi,\n)\n"),
        code_cell("import hidden_module", grade_id="t", grade=True, solution=False),
        code_cell("import heavy_module", tags=["heavy"]),
    ]
    assert prelude(cells) == "import numpy as np\nfrom math import (\n    pi,\n)\n"


def test_the_load_budget_comes_from_the_notebook_or_the_default():
    assert load_budget({"metadata": {}}) == LOAD_BUDGET_SECONDS
    assert load_budget({"metadata": {"autograder": {"load_budget_seconds": 12}}}) == 12.0
    for bad in (0, -1, "10", True, float("nan")):
        with pytest.raises(ValueError, match="load_budget_seconds"):
            load_budget({"metadata": {"autograder": {"load_budget_seconds": bad}}})


# --- everything that reads code reads it the same way -----------------------------------


def test_the_commands_of_a_cell_are_listed_as_typed():
    tree = notebook.parse("%matplotlib inline\nx = 1\n!ls -la\nfiles = !ls\n%timeit f(x)\n")
    assert [(c.line, c.text) for c in ipython_commands(tree)] == [
        (1, "%matplotlib inline"),
        (3, "!ls -la"),
        (4, "!ls"),
        (5, "%timeit f(x)"),
    ]


def test_static_checks_see_inside_a_time_cell_and_accept_continuation_lines():
    code = "%%time\ndef conv_forward_naive(x, w, b, p):\n    return conv_forward_fast(x, w, b, p)\n"
    rules = load_assignment(KIT_COURSE / "source" / "convnets").forbidden
    findings = static_checks.find_forbidden_calls("conv_forward_naive", code, rules=rules)
    assert [(f.line, f.kind) for f in findings] == [(1, "suspicious"), (3, "forbidden")]
    assert "'%%time'" in findings[0].message
    honest = "def conv_forward_naive(x, w, b, p):\n    r = (x.shape[2]\n         % p['stride'])\n"
    assert static_checks.find_forbidden_calls("conv_forward_naive", honest, rules=rules) == []


def test_tamper_signs_are_found_after_magics_and_inside_a_time_cell():
    code = "%matplotlib inline\nimport numpy as np\nnp.allclose = lambda *a, **k: True\n"
    assert [s.line for s in tamper.find_tamper_signs("g", code)] == [3]
    in_time = "%%time\nrel_error = lambda a, b: 0.0\n"
    assert [s.line for s in tamper.find_tamper_signs("g", in_time)] == [2]
    assert tamper.find_tamper_signs("g", "x = (1\n     != 2)\n") == []


def test_strip_magics_is_to_python_for_old_callers():
    assert references.strip_magics("%matplotlib inline\nx = (1\n % 2)") == to_python(
        "%matplotlib inline\nx = (1\n % 2)"
    )


def test_the_references_build_from_the_source_notebooks():
    path = SOURCE / "01_convolution.ipynb"
    cells = notebook.read_cells(path)
    assert cells == json.loads(path.read_text(encoding="utf-8"))["cells"]
    ns = references.build_reference_namespace(path)
    assert callable(ns["conv_forward_naive"]) and callable(ns["get_ipython"])
