"""Grade a notebook by its own test cells, run on the grader's side against the jailed code.

This is the out-of-kernel grader for any nbgrader assignment: no second specification of the
tests. For one student's notebook:

1. The student's program (the trusted setup, then the cells they ran) is loaded in the jail,
   as for every other grading path (:mod:`autograder.sandbox`).
2. In the grader's interpreter, a namespace is built from the source notebook: the setup
   (:func:`autograder.notebook.setup_cell`), then every plain instructor cell and every test
   cell, visible and hidden parts, in notebook order, up to the last test cell. Solution
   cells, cells tagged ``heavy`` and the cells after the last test (they grade nothing) are
   not run here.
3. Before each of those cells, the student's names the cell reads are fetched from the jail
   (:meth:`autograder.handles.Link.fetch_globals`): data as data, the rest as handles. A name
   that any of the instructor's cells binds is the grader's and is never taken from the
   student, so a submission that rebinds ``rel_error``, ``np.allclose`` or a check helper
   changes nothing the tests use.
4. A test cell that runs to its end passes; an assert that fails, an error raised by the
   student's code, a call of a refused routine, a name the submission does not define, or
   a test that runs out of time fails it, with a reason that never quotes a hidden line.

Per-student inputs come from :func:`cs231n_lib.grading.grading_rng`: while a student's tests
run, it returns a generator derived from the course secret, the student id and the seed.

Imports: NumPy, the standard library, the autograder's own modules and ``cs231n_lib``.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from autograder import notebook
from autograder.handles import Link, StudentError
from autograder.sandbox import Group, Jail
from autograder.schema import ERROR, FAILED, MISSING, PASSED, TestResult
from cs231n_lib import grading, refusal


@dataclass(frozen=True)
class Step:
    """One source cell the grader runs: ``kind`` is ``"setup"``, ``"plain"`` or ``"test"``."""

    kind: str
    label: str
    code: str
    grade_id: str | None = None
    points: float = 0.0
    hidden_lines: frozenset[int] = frozenset()


@dataclass
class NotebookTests:
    """What the grader takes from one source notebook."""

    name: str
    steps: list[Step]
    solution_names: set[str]  # names the instructor's solution cells define
    grader_names: set[str]  # names any cell the grader runs may bind

    @property
    def tests(self) -> list[Step]:
        return [s for s in self.steps if s.kind == "test"]


def read_notebook_tests(path: Path) -> NotebookTests:
    """The steps of a trusted source notebook (its hidden tests included)."""
    cells = notebook.read_cells(path)
    steps = [Step("setup", notebook.SETUP_LABEL, notebook.setup_cell("").code)]
    solution_names: set[str] = set()
    for number, cell in enumerate(cells, 1):
        if not notebook.is_code(cell) or notebook.is_heavy(cell):
            continue
        meta = notebook.nbgrader_meta(cell)
        source = notebook.cell_source(cell)
        code = notebook.to_python(source)
        if notebook.is_solution(meta):
            found = notebook.defined_names(code)
            if not isinstance(found, SyntaxError):
                solution_names |= found
            continue
        if not source.strip():
            continue
        if notebook.is_test(meta):
            gid = str(meta.get("grade_id"))
            steps.append(Step("test", gid, code, gid, float(meta.get("points", 0) or 0),
                              notebook.hidden_lines(source)))
        else:
            steps.append(Step("plain", f"cell {number}", code))
    grader_names: set[str] = set()
    for step in steps:
        grader_names |= notebook.bound_names(step.code)
    return NotebookTests(path.name, steps, solution_names, grader_names)


# --- one student ---------------------------------------------------------------------------------


@dataclass
class _Run:
    """The grader's side of one notebook of one student."""

    nb: NotebookTests
    jail: Jail
    program: list[tuple[str, str]]
    student_names: set[str]
    refuse_for: Callable[[str], tuple[str, ...]]
    seconds: float  # a test cell's calls together
    plain_seconds: float  # an instructor's cell that is not a test: its calls together
    rng_key: tuple[str, str]  # (course secret, student id) of grading_rng
    ns: dict[str, Any] = field(default_factory=lambda: {"__name__": "__grader__"})
    fetched: dict[str, Any] = field(default_factory=dict)  # name -> the value put in ns
    owned: set[str] = field(default_factory=set)  # names the grader's cells have bound
    link: Link | None = None
    load_refusals: tuple[str, ...] | None = None
    load_failure: tuple[str, str] | None = None
    cell_errors: list[dict[str, str]] = field(default_factory=list)
    plain_errors: list[str] = field(default_factory=list)

    def ensure_loaded(self, refuse: tuple[str, ...]) -> None:
        """A live load of the student's program under ``refuse``; a failure is remembered."""
        if self.link is not None and self.link.alive and self.load_refusals == refuse:
            return
        self.load_refusals = refuse
        g = self.jail.new_group_index()
        self.jail.write_group(g, Group(self.nb.name, self.program, [], refuse), {})
        failure, errors = self.jail.load(g)
        for err in errors:
            if err not in self.cell_errors:
                self.cell_errors.append(err)
        self.load_failure = failure
        if failure is not None:
            self.link = None
            return
        self.link = self.link or Link(self.jail)
        problem = self.link.loaded()
        if problem is not None:
            self.load_failure = (ERROR, problem.reason)

    def refresh(self, code: str) -> None:
        """Put in the namespace the student's values of the names ``code`` reads."""
        for name, value in list(self.fetched.items()):
            if self.ns.get(name) is not value:  # a grader cell rebound it: the grader's now
                self.owned.add(name)
                del self.fetched[name]
        wanted = (notebook.loaded_names(code) | set(self.fetched)) & self.student_names
        wanted -= self.owned | self.nb.grader_names
        wanted = {n for n in wanted if n in self.fetched or n not in self.ns}
        for name in self.fetched:
            self.ns.pop(name, None)
        self.fetched = {}
        if not wanted or self.link is None or not self.link.alive:
            return
        found = self.link.fetch_globals(sorted(wanted))
        self.ns.update(found)
        self.fetched = dict(found)

    def run(self, step: Step) -> None:
        """Run one of the instructor's cells: its test's clock and the student's names first,
        then the cell, quietly, with grading_rng per student."""
        if self.link is not None and self.link.alive:
            seconds = self.seconds if step.kind == "test" else self.plain_seconds
            self.link.begin_test(step.grade_id or step.label, seconds)
            self.link.prune_mirrors(list(self.ns.values()))
            self.refresh(step.code)
        sink = io.StringIO()
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink), \
                grading.derive_with(self.grading_rng):
            exec(compile(step.code, self.filename(step), "exec"), self.ns)  # noqa: S102

    def filename(self, step: Step) -> str:
        return f"<{self.nb.name} {step.label}>"

    def grading_rng(self, seed: Any) -> np.random.Generator:
        return student_grading_rng(*self.rng_key, seed)


def student_grading_rng(secret: str, student_id: str, seed: Any) -> np.random.Generator:
    """What :func:`cs231n_lib.grading.grading_rng` returns while this student is graded.

    Its seed is an HMAC of the course secret, the student id and the test's seed: neighbours'
    inputs differ, and nobody can compute a student's without the secret.
    """
    digest = hmac.new(
        secret.encode(), f"{student_id}\0grading_rng\0{seed!r}".encode(), hashlib.sha256
    ).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "little"))


def _line_of(exc: BaseException, filename: str, hidden: frozenset[int]) -> str:
    """" (line N of the test)" for the test cell's line where ``exc`` arose, if it is visible."""
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    if not lines or lines[-1] in hidden:
        return ""
    return f" (line {lines[-1]} of the test cell)"


def _verdict(run: _Run, step: Step) -> tuple[str, str]:
    """Run test ``step``; its (status, reason)."""
    link = run.link
    assert link is not None
    filename = run.filename(step)
    try:
        run.run(step)
    except StudentError as err:
        if err.refused or link.refused:
            return ERROR, refusal.message((list(err.refused) or link.refused)[0])
        return ERROR, err.reason + _line_of(err, filename, step.hidden_lines)
    except NameError as err:
        name = getattr(err, "name", None)
        if name in run.student_names or name in run.nb.solution_names:
            return MISSING, f"{name} is not defined in your notebook"
        reason = f"the test raised NameError: {err}"
        if run.plain_errors:
            reason += f"; an earlier cell of the notebook failed: {run.plain_errors[-1]}"
        return ERROR, reason
    except AssertionError as err:
        message = " ".join(str(err).split())
        reason = message if message else "an assertion of the test failed"
        return FAILED, reason + _line_of(err, filename, step.hidden_lines)
    except Exception as err:  # noqa: BLE001 - what the student returned broke the test
        message = " ".join(str(err).split())[:300]
        return ERROR, (
            f"the test could not use what your code returned ({type(err).__name__}: {message})"
            + _line_of(err, filename, step.hidden_lines)
        )
    if link.refused:
        return ERROR, refusal.message(link.refused[0])
    return PASSED, ""


def grade_notebook(
    nb: NotebookTests,
    jail: Jail,
    program: list[tuple[str, str]],
    student_defined: set[str],
    *,
    secret: str,
    student_id: str,
    refuse_for: Callable[[str], tuple[str, ...]] = lambda grade_id: (),
    seconds_per_test: float | None = None,
) -> tuple[list[TestResult], list[dict[str, str]]]:
    """Every test cell of ``nb`` against ``program`` loaded in ``jail``.

    Parameters
    ----------
    nb : NotebookTests
        From :func:`read_notebook_tests` on the source notebook.
    jail : Jail
        A jail for this submission (recycled by the caller afterwards).
    program : list of (label, code)
        The student's program, setup first (:class:`autograder.intake.NotebookIntake`).
    student_defined : set of str
        Names the program's cells define.
    secret, student_id : str
        What :func:`cs231n_lib.grading.grading_rng` derives its generators from.
    refuse_for : callable
        grade_id -> the routines of :mod:`cs231n_lib.refusal` refused while that test runs.
    seconds_per_test : float, optional
        Time a test's calls into the jail may take together; the jail's
        ``test_cell_seconds`` by default (each call also ends at ``wall_seconds_per_test``).

    Returns
    -------
    (results, cell_errors)
        A :class:`TestResult` per test cell in notebook order (``rel_error`` and ``threshold``
        are None: a test cell's checks are its own), and the program's cells that raised.
    """
    run = _Run(
        nb,
        jail,
        program,
        (student_defined | nb.solution_names),
        refuse_for,
        seconds_per_test or jail.limits.test_cell_seconds,
        jail.limits.plain_cell_seconds,
        (secret, student_id),
    )
    results = []
    state = np.random.get_state()  # the tests seed NumPy's generator: the grader's is put back  # noqa: NPY002 - the tests seed the global one
    try:
        with grader_environment():
            # The cells after the last test grade nothing (timings, demos, plots): not run,
            # so that code which hangs or crashes there costs no time and no reload.
            last = max((i for i, s in enumerate(nb.steps) if s.kind == "test"), default=-1)
            for position, step in enumerate(nb.steps[: last + 1]):
                if step.kind == "test":
                    results.append(_grade_test(run, step))
                else:
                    _run_plain(run, step, _next_refusal(nb.steps, position, refuse_for))
    finally:
        np.random.set_state(state)  # noqa: NPY002
    return results, run.cell_errors


def result(nb: NotebookTests, step: Step, status: str, reason: str) -> TestResult:
    """The TestResult of test ``step`` (one that was not run, say: its notebook is missing)."""
    return TestResult(
        grade_id=step.grade_id or step.label,
        notebook=nb.name,
        points=step.points if status == PASSED else 0.0,
        max_points=step.points,
        status=status,
        reason=reason,
    )


def _grade_test(run: _Run, step: Step) -> TestResult:
    run.ensure_loaded(run.refuse_for(step.grade_id or ""))
    if run.load_failure is not None:
        return result(run.nb, step, ERROR, run.load_failure[1])
    return result(run.nb, step, *_verdict(run, step))


def _run_plain(run: _Run, step: Step, refuse: tuple[str, ...]) -> None:
    """An instructor's cell other than a test: its failure is noted, never graded."""
    if step.kind == "plain":
        run.ensure_loaded(refuse)
    try:
        run.run(step)
    except Exception as err:  # noqa: BLE001 - a demo cell that fails costs no test by itself
        run.plain_errors.append(f"{step.label} raised {type(err).__name__}: {err}"[:300])


def _next_refusal(steps: list[Step], position: int, refuse_for) -> tuple[str, ...]:
    """The refusals of the next test after ``position`` (a plain cell runs under them)."""
    for step in steps[position + 1 :]:
        if step.kind == "test":
            return refuse_for(step.grade_id or "")
    return ()


# What the instructor's cells see while they grade: plots go nowhere (a non-interactive
# backend, no windows), and the notebooks' own scale switch is at "small", as in the jailed
# nbgrader run (autograder.gradebook), so that a grade never depends on the grader's shell.
GRADER_ENVIRONMENT = {"MPLBACKEND": "Agg", "CS231N_NOTEBOOK_SCALE": "small"}


@contextlib.contextmanager
def grader_environment():
    """The instructor's cells' environment (:data:`GRADER_ENVIRONMENT`) while the block runs."""
    previous = {name: os.environ.get(name) for name in GRADER_ENVIRONMENT}
    os.environ.update(GRADER_ENVIRONMENT)
    try:
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].switch_backend("Agg")
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
