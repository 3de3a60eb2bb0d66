"""Does honest work pass every test, whatever inputs a student draws? A sweep over draws.

A hidden test that takes its inputs from ``grading_rng(seed)`` gets different inputs for every
student when graded (:func:`autograder.cellgrade.student_grading_rng`). A threshold chosen on
the notebook's one draw may then fail an honest student on another. This runs the
instructor's source notebook in this interpreter, solutions included, in notebook order, and
at each test cell runs the cell again under ``draws`` students' generators, counting the
draws the instructor's own solution fails.

    python -m autograder.fairness assignments/source/convnets --draws 200

prints one row per test cell (draws, failures, the first failure's message) and exits 1 when
any draw fails. Nothing is jailed: the notebooks are the instructor's, and so is the solution.

Imports: NumPy, the standard library, :mod:`autograder.cellgrade`, :mod:`autograder.notebook`
and ``cs231n_lib.grading``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from autograder import cellgrade, notebook
from cs231n_lib import grading

SECRET = "fairness sweep"  # any secret will do: the draws are what is swept


@dataclass
class TestSweep:
    """One test cell over ``draws`` students' inputs."""

    notebook: str
    grade_id: str
    draws: int = 0
    failures: int = 0
    first_failure: str = ""  # the student id of the draw and what the test said
    seconds: float = 0.0
    uses_grading_rng: bool = False
    seeds: list[Any] = field(default_factory=list)  # the seeds the test cell asked for


def _run(code: str, ns: dict, label: str, derive=None) -> None:
    """Run a cell quietly; with ``derive``, grading_rng is that student's."""
    sink = io.StringIO()
    hook = contextlib.nullcontext() if derive is None else grading.derive_with(derive)
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink), hook:
        exec(compile(code, label, "exec"), ns)  # noqa: S102 - the instructor's notebook


def sweep_notebook(path: Path, draws: int, only: set[str] | None = None) -> list[TestSweep]:
    """Every test cell of source notebook ``path`` (or those in ``only``) over ``draws`` draws."""
    ns: dict[str, Any] = {"__name__": "__main__"}
    _run(notebook.setup_cell("").code, ns, "<setup>")
    results = []
    for number, cell in enumerate(notebook.read_cells(path), 1):
        if not notebook.is_code(cell) or notebook.is_heavy(cell):
            continue
        meta = notebook.nbgrader_meta(cell)
        code = notebook.to_python(notebook.cell_source(cell))
        label = f"<{path.name} cell {number}>"
        if notebook.is_test(meta) and (only is None or meta.get("grade_id") in only):
            results.append(_sweep_test(path.name, str(meta.get("grade_id")), code, ns, draws))
        # In notebook order, as the student's kernel ran it, so that later cells see its names.
        _run(code, ns, label)
    return results


def _sweep_test(nb: str, grade_id: str, code: str, ns: dict, draws: int) -> TestSweep:
    result = TestSweep(nb, grade_id)
    start = time.perf_counter()
    for k in range(draws):
        student = f"draw-{k}"
        seeds: list[Any] = []

        def derive(seed: Any, student: str = student, seeds: list = seeds) -> np.random.Generator:
            seeds.append(seed)
            return cellgrade.student_grading_rng(SECRET, student, seed)

        try:
            _run(code, ns, f"<{nb} {grade_id}>", derive)
        except Exception as err:  # noqa: BLE001 - any failure of the solution is unfair
            result.failures += 1
            if not result.first_failure:
                message = " ".join(str(err).split())[:300]
                result.first_failure = f"{student}: {type(err).__name__}: {message}"
        result.draws += 1
        if k == 0:
            result.seeds = seeds
            result.uses_grading_rng = bool(seeds)
            if not seeds:  # the same inputs every time: one draw says all
                break
    result.seconds = time.perf_counter() - start
    return result


def sweep(source: Path, draws: int, only: set[str] | None = None) -> list[TestSweep]:
    """Every source notebook of assignment folder ``source``."""
    if not source.is_dir():
        raise FileNotFoundError(f"{source} is not an assignment folder of source notebooks")
    paths = sorted(source.glob("*.ipynb"))
    if not paths:
        raise FileNotFoundError(f"{source} has no notebooks")
    results = []
    with cellgrade.grader_environment():
        state = np.random.get_state()  # noqa: NPY002 - the notebooks seed the global one
        try:
            for path in paths:
                results += sweep_notebook(path, draws, only)
        finally:
            np.random.set_state(state)  # noqa: NPY002
    return results


def table(results: list[TestSweep]) -> str:
    rows = [f"{'test':<40} {'draws':>6} {'failed':>6} {'seconds':>8}  first failure"]
    for r in results:
        draws = f"{r.draws}" if r.uses_grading_rng else "fixed"
        rows.append(f"{r.grade_id:<40} {draws:>6} {r.failures:>6} {r.seconds:>8.1f}  "
                    f"{r.first_failure}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autograder.fairness",
        description="Run an assignment's test cells against its own solutions over many "
        "students' grading_rng draws; exit 1 if any draw fails.",
    )
    parser.add_argument("source", type=Path, help="the assignment's source folder")
    parser.add_argument("--draws", type=int, default=100, help="students per test (default 100)")
    parser.add_argument("--test", action="append", help="only this grade id (repeatable)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if args.draws < 1:
        parser.error(f"--draws must be 1 or more, got {args.draws}")
    try:
        results = sweep(args.source, args.draws, set(args.test) if args.test else None)
    except FileNotFoundError as err:
        parser.error(str(err))
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=1) + "\n")
    missing = set(args.test or ()) - {r.grade_id for r in results}
    if missing:
        print(f"no test cell has grade id {sorted(missing)}", file=sys.stderr)
        return 2
    failed = [r.grade_id for r in results if r.failures]
    if failed:
        print(f"the solution fails {len(failed)} test(s) on some draws: {', '.join(failed)}")
        return 1
    print(f"the solution passes every test on every draw ({len(results)} tests)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
