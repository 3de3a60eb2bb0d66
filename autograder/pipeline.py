"""Grade one submission: intake, sandboxed calls, comparison with the reference.

``grade_submission`` is what every worker runs, on one machine or on a Dask
cluster. It is a plain function of picklable arguments (a :class:`GradingJob`
and a student id); what it needs from the course (the source notebooks' test cells,
points, the assignment's particulars) it builds once per worker process and caches.
Every notebook is graded by its own test cells (:mod:`autograder.cellgrade`): the
instructor's cells run here, the student's code in the jail.

Imports: the autograder's own modules and the standard library.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import json
import multiprocessing.util
import os
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from autograder import cellgrade, handles, intake, notebook, references, static_checks, tamper
from autograder.assignment import FILENAME as ASSIGNMENT_FILE
from autograder.assignment import Assignment, load_assignment
from autograder.sandbox import Jail, Limits, jail_uid, open_jail
from autograder.schema import ERROR, FAILED, MISSING, PASSED, Flag, SubmissionResult, TestResult

NOT_JAILED = (
    "graded with --unsafe-no-jail: the student's code ran without the jail, so nothing stopped "
    "it from reading the course or other submissions"
)


@dataclass(frozen=True)
class GradingJob:
    """Everything a worker needs to grade a submission (picklable)."""

    course_dir: str
    assignment: str
    secret: str
    limits: Limits = field(default_factory=Limits)
    nbgrader: bool = False  # also run nbgrader's in-notebook tests (jailed) to flag mismatches
    jail: bool = True  # False: --unsafe-no-jail (every result is marked as not jailed)

    @property
    def source_dir(self) -> Path:
        return Path(self.course_dir) / "source" / self.assignment

    def submission_dir(self, student_id: str) -> Path:
        return Path(self.course_dir) / "submitted" / student_id / self.assignment


@dataclass
class _Course:
    """What a worker builds once from the instructor's source notebooks."""

    sources: dict[str, Any]
    points: dict[str, float]
    fingerprint: str
    cell_tests: dict[str, cellgrade.NotebookTests]  # notebook -> its test cells
    assignment: Assignment


@functools.lru_cache(maxsize=4)
def _course(source_dir: str, stamp: str) -> _Course:
    """A course graded by its notebooks' test cells, with its autograder.json if it has one."""
    src = Path(source_dir)
    digest = hashlib.sha256()
    for module in (cellgrade, handles):
        digest.update(Path(module.__file__).read_bytes())
    points, tests = {}, {}
    for path in sorted(src.glob("*.ipynb")):
        cells = references.notebook_cells(path)
        points.update(references.test_points(cells))
        tests[path.name] = cellgrade.read_notebook_tests(path)
        digest.update(path.read_bytes())
    if not points:
        raise ValueError(f"the source notebooks in {src} have no autograded test cells")
    # The assignment's particulars (its autograder.json) are part of what a grade depends on.
    extra = src / ASSIGNMENT_FILE
    if extra.is_file():
        digest.update(extra.read_bytes())
    return _Course(intake.read_source(src), points, digest.hexdigest(), tests,
                   load_assignment(src))


def load_course(job: GradingJob) -> _Course:
    files = [*job.source_dir.glob("*.ipynb"), *job.source_dir.glob(ASSIGNMENT_FILE)]
    stamp = str(max(p.stat().st_mtime_ns for p in files))
    return _course(str(job.source_dir), stamp)


def submission_fingerprint(job: GradingJob, student_id: str, course: _Course) -> str:
    """Changes when the submission, the course, the secret, the limits or the mode change
    (a result made with ``--nbgrader`` holds the in-kernel comparison; one without does not)."""
    h = hashlib.sha256(course.fingerprint.encode())
    h.update(hashlib.sha256(job.secret.encode()).digest())
    h.update(b"nbgrader" if job.nbgrader else b"out-of-kernel only")
    h.update(json.dumps(asdict(job.limits), sort_keys=True).encode())
    root = job.submission_dir(student_id)
    if root.is_dir():
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            h.update(str(path.relative_to(root)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def _program(nb_intake: Any) -> list[tuple[str, str]]:
    """The cells to run for a notebook: the source's setup, then what the student ran."""
    return [(cell.label, cell.code) for cell in nb_intake.program]


def _program_names(cells: list[tuple[str, str]]) -> tuple[set[str], list[str]]:
    """Names the program's cells define at top level, and the compile errors of those that
    do not compile (each "label: message")."""
    names: set[str] = set()
    errors = []
    for label, code in cells:
        found = notebook.defined_names(code)
        if isinstance(found, SyntaxError):
            errors.append(f"{label} has a syntax error (line {found.lineno}): {found.msg}")
        else:
            names |= found
    return names, errors


def _not_gradable(nb_intake: Any) -> str:
    """Why a notebook's tests cannot run (it is missing or unreadable); "" when they can."""
    if nb_intake is None or nb_intake.status == "missing":
        return "the notebook is missing"
    if nb_intake.status == "unreadable":
        return "the notebook could not be read"
    return ""


_WORKER: dict[tuple, tuple[ExitStack, Jail]] = {}


def worker_jail(limits: Limits, jailed: bool) -> Jail:
    """This worker process's jail, started on first use and kept for its next submissions.

    Starting one costs an interpreter, numpy and the kit (about 0.3 s); between two
    submissions :meth:`Jail.recycle` kills every process of the first and empties its folders,
    and checks both, so the second finds nothing of it. The jail has a uid of its own for the
    worker's lifetime (no other worker or grader holds it), and ends with the worker.
    """
    key = (os.getpid(), limits, jailed)
    if key not in _WORKER:
        stack = ExitStack()
        # Unjailed, the code runs as the grader's own user: a uid of its own could not even
        # reach the interpreter under a private home.
        uid = stack.enter_context(jail_uid()) if jailed else None
        jail = stack.enter_context(open_jail(limits, uid, unsafe=not jailed))
        _WORKER[key] = (stack, jail)
        if len(_WORKER) == 1:
            atexit.register(close_worker_jails)
            # A pool worker leaves through os._exit, which skips atexit: multiprocessing's own
            # finalizers still run. (Were both skipped, the jail would die with its parent.)
            multiprocessing.util.Finalize(None, close_worker_jails, exitpriority=10)
    return _WORKER[key][1]


def close_worker_jails() -> None:
    """End this process's jails (and release their uids)."""
    for key in [k for k in _WORKER if k[0] == os.getpid()]:
        stack, _jail = _WORKER.pop(key)
        stack.close()


def _grade_notebooks(
    job: GradingJob, course: _Course, student_id: str, sub: Any
) -> tuple[list[TestResult], list[dict[str, str]]]:
    """Every notebook's test cells, run by the grader against the jailed program, in one jail;
    (results in notebook order, the program's cells that raised)."""
    results: list[TestResult] = []
    cell_errors: list[dict[str, str]] = []
    jail = None
    try:
        for name, tests in sorted(course.cell_tests.items()):
            nb_intake = sub.notebooks.get(name)
            why = _not_gradable(nb_intake)
            if why:
                results += [cellgrade.result(tests, step, MISSING, why) for step in tests.tests]
                continue
            cells = _program(nb_intake)
            defined, compile_errors = _program_names(cells)
            jail = jail or worker_jail(job.limits, job.jail)
            graded, errors = cellgrade.grade_notebook(
                tests, jail, cells, defined, secret=job.secret, student_id=student_id,
                refuse_for=course.assignment.refused,
            )
            for result in graded:
                if result.status == MISSING and compile_errors:
                    result.status = ERROR
                    result.reason += f" ({compile_errors[0]})"
            results += graded
            cell_errors += [{**err, "notebook": name} for err in errors]
    finally:
        if jail is not None:
            jail.recycle()  # False: it ended, and the next submission starts a fresh one
    return results, cell_errors


def _compare_in_kernel(
    job: GradingJob, student_id: str, result: SubmissionResult, uid: int | None
) -> None:
    """Run nbgrader's own tests; flag every test that passes there but not here."""
    from autograder.gradebook import run_in_kernel

    in_kernel = run_in_kernel(
        Path(job.course_dir), job.assignment, student_id, uid, unsafe=not job.jail
    )
    if in_kernel.error:
        result.flags.append(Flag("in_kernel", f"nbgrader's in-notebook run: {in_kernel.error}"))
    for t in result.tests:
        if t.grade_id in in_kernel.passed:
            t.in_notebook = PASSED if in_kernel.passed[t.grade_id] else FAILED
            t.flagged = in_kernel.passed[t.grade_id] and t.status != PASSED


def grade_submission(job: GradingJob, student_id: str) -> SubmissionResult:
    """Grade one student's submission outside their kernel; never raises for bad student input."""
    start = time.perf_counter()
    course = load_course(job)
    fingerprint = submission_fingerprint(job, student_id, course)
    sub = intake.read_submission(job.submission_dir(student_id), course.sources, student_id)
    result = SubmissionResult(student_id=student_id, status="graded", fingerprint=fingerprint)
    result.problems = [asdict(p) for p in sub.problems]
    result.flags = [Flag("tamper", p.message, p.grade_id) for p in sub.problems if p.tamper]
    for nb_intake in sub.notebooks.values():
        for grade_id, code in nb_intake.solutions.items():
            for finding in static_checks.find_forbidden_calls(
                grade_id, code, rules=course.assignment.forbidden
            ):
                result.static_findings.append(asdict(finding))
                if finding.kind == "suspicious":
                    result.flags.append(
                        Flag(
                            "suspicious",
                            f"{grade_id} line {finding.line}: {finding.message}",
                            grade_id,
                        )
                    )
            for sign in tamper.find_tamper_signs(
                grade_id, code, course.assignment.array_hooks_allowed
            ):
                result.flags.append(
                    Flag("tamper", f"{grade_id} line {sign.line}: {sign.message}", grade_id)
                )
    result.tests, result.cell_errors = _grade_notebooks(job, course, student_id, sub)
    if job.nbgrader:
        with jail_uid() as uid:
            _compare_in_kernel(job, student_id, result, uid)
    if not job.jail:
        result.flags.append(Flag("not_jailed", NOT_JAILED))
    result.score = sum(t.points for t in result.tests)
    result.max_score = sum(t.max_points for t in result.tests)
    if sub.status == "empty":
        result.status = "empty"
    elif sub.problems:
        result.status = "problems"
    result.seconds = time.perf_counter() - start
    return result
