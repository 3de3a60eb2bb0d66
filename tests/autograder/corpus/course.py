"""A real course holding the corpus as submissions, graded by the real CLI, and the figures.

Each (implementation, k) is one student, ``<name>--s<k>``: the release notebook of the
implementation's notebook with every solution cell filled in from the instructor's source
(as :func:`autograder.demo.solved_release` does), then the implementation's cells in place
of the instructor's and its added cells just before them. Only that notebook is submitted:
the other notebooks' tests are then MISSING without costing a jail, and only the
implementation's notebook counts. The hidden tests draw their inputs from the student id,
so every implementation meets its own draws for each k.

A mutant is *caught* for a student when it loses points on at least one test of its
notebook; it is caught *where declared* when every test in ``caught_by`` failed. A variant
is *at full marks* when every test of its notebook passed and nothing was flagged.

Imports: the corpus, the autograder's demo (course copy, solved release), notebook reading
and schema.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.cellgrade import read_notebook_tests
from autograder.demo import build_demo_course, solved_release
from autograder.notebook import nbgrader_meta
from autograder.schema import PASSED, SubmissionResult
from corpus import ASSIGNMENT, SOURCE, Impl

SEP = "--s"
REPO = Path(__file__).resolve().parents[3]


def student_id(impl: Impl | str, k: int) -> str:
    name = impl if isinstance(impl, str) else impl.name
    return f"{name}{SEP}{k:02d}"


def _code_cell(code: str) -> dict[str, Any]:
    return {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
            "source": code}


def submission(impl: Impl, solved: dict[str, dict]) -> dict[str, Any]:
    """The notebook a student with ``impl`` hands in (a new dict; ``solved`` is unchanged)."""
    nb = copy.deepcopy(solved[impl.notebook])
    codes = impl.cells()
    cells = []
    for cell in nb["cells"]:
        gid = nbgrader_meta(cell).get("grade_id")
        if gid == impl.cell:
            cells += [_code_cell(code) for code in impl.added_cells]
        if gid in codes:
            cell["source"] = codes.pop(gid)
        cells.append(cell)
    if codes:
        raise ValueError(f"{impl.name}: the release has no solution cell {sorted(codes)}")
    nb["cells"] = cells
    return nb


def build_course(dest: Path, impls: list[Impl], ids: range, honest: bool = False) -> list[str]:
    """A copy of the kit's course with one submission per (implementation, k); the students.

    ``honest`` adds ``reference--s<k>``: all four notebooks as the instructor solved them.
    """
    build_demo_course(dest, only=[])
    solved = solved_release(dest)
    students = []

    def write(student: str, notebooks: dict[str, Any]) -> None:
        folder = dest / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        for name, nb in notebooks.items():
            (folder / name).write_text(json.dumps(nb, indent=1), encoding="utf-8")
        students.append(student)

    for impl in impls:
        nb = submission(impl, solved)
        for k in ids:
            write(student_id(impl, k), {impl.notebook: nb})
    if honest:
        for k in ids:
            write(student_id("reference", k), solved)
    return students


def grade_with_cli(
    course: Path, secret: str, workers: int = 2, extra: tuple[str, ...] = ()
) -> tuple[dict[str, SubmissionResult], float]:
    """``python -m autograder COURSE`` as an instructor runs it; the stored results, seconds."""
    cmd = [sys.executable, "-m", "autograder", str(course), "--workers", str(workers),
           "--secret", secret, "--no-progress", "--regrade", *extra]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd)} exited {done.returncode}:\n{done.stdout[-2000:]}{done.stderr[-4000:]}"
        )
    results = {}
    for path in sorted((course / "autograder" / ASSIGNMENT / "results").glob("*.json")):
        result = SubmissionResult.from_json(json.loads(path.read_text()))
        results[result.student_id] = result
    return results, seconds


@dataclass
class Figures:
    """What the corpus got from the grader, by implementation."""

    ids: int
    # name -> per student: the tests of the implementation's notebook it lost
    lost: dict[str, list[list[str]]] = field(default_factory=dict)
    flagged: dict[str, list[bool]] = field(default_factory=dict)
    reasons: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> test -> a reason
    findings: dict[str, list[str]] = field(default_factory=dict)  # name -> static findings
    # name -> (grade id, reason) of every test lost, every student's
    lost_reasons: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def caught(self, impl: Impl) -> int:
        return sum(bool(lost) for lost in self.lost[impl.name])

    def caught_where_declared(self, impl: Impl) -> int:
        return sum(set(impl.caught_by) <= set(lost) for lost in self.lost[impl.name])

    def full_marks(self, name: str) -> int:
        return sum(
            not lost and not flag
            for lost, flag in zip(self.lost[name], self.flagged[name], strict=True)
        )

    def always_lost(self, name: str) -> list[str]:
        """The tests lost by every student of ``name``."""
        rows = self.lost[name]
        return sorted(set.intersection(*(set(r) for r in rows))) if rows else []


def figures(impls: list[Impl], results: dict[str, SubmissionResult], ids: range,
            honest: bool = False) -> Figures:
    """Read the results back by implementation; KeyError when a student was not graded."""
    fig = Figures(ids=len(ids))
    groups = [(i.name, i.notebook) for i in impls]
    if honest:
        groups.append(("reference", None))
    for name, notebook in groups:
        fig.lost[name], fig.flagged[name], fig.reasons[name] = [], [], {}
        fig.lost_reasons[name] = []
        found: set[str] = set()
        for k in ids:
            result = results[student_id(name, k)]
            tests = [t for t in result.tests if notebook is None or t.notebook == notebook]
            if not tests:
                raise ValueError(f"{student_id(name, k)} has no results for {notebook}")
            lost = [t.grade_id for t in tests if t.status != PASSED]
            fig.lost[name].append(lost)
            fig.flagged[name].append(bool(result.flags) or any(t.flagged for t in tests))
            for t in tests:
                if t.status != PASSED:
                    fig.reasons[name].setdefault(t.grade_id, f"{t.status}: {t.reason}")
                    fig.lost_reasons[name].append((t.grade_id, t.reason))
            found |= {f"{f['kind']}: {f['message']}" for f in result.static_findings}
        fig.findings[name] = sorted(found)
    return fig


def notebook_tests(notebook: str) -> list[str]:
    """The grade ids of the source notebook's test cells, in notebook order."""
    return [t.grade_id for t in read_notebook_tests(SOURCE / notebook).tests]
