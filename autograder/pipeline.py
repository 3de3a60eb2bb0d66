"""Grade one submission: intake, sandboxed calls, comparison with the reference.

``grade_submission`` is what every worker runs, on one machine or on a Dask
cluster. It is a plain function of picklable arguments (a :class:`GradingJob`
and a student id); what it needs from the course (references, points,
the reference namespaces) it builds once per worker process and caches.

Imports: the autograder's own modules, ``cs231n_lib.refusal``, NumPy and the standard library.
"""

from __future__ import annotations

import atexit
import copy
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

import numpy as np

from autograder import cellgrade, handles, intake, notebook, references, static_checks, tamper
from autograder.assignment import FILENAME as ASSIGNMENT_FILE
from autograder.assignment import Assignment, load_assignment
from autograder.compare import compare_outputs
from autograder.sandbox import (
    Call,
    Group,
    Jail,
    Limits,
    Outcome,
    jail_uid,
    open_jail,
    run_groups,
)
from autograder.schema import ERROR, FAILED, MISSING, PASSED, Flag, SubmissionResult, TestResult
from autograder.specs import has_spec, load_spec
from autograder.specs.base import TestSpec, student_rng
from cs231n_lib import refusal

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
    # True: --by-test-cells, an assignment with a spec module graded by its test cells instead
    by_test_cells: bool = False

    @property
    def source_dir(self) -> Path:
        return Path(self.course_dir) / "source" / self.assignment

    def submission_dir(self, student_id: str) -> Path:
        return Path(self.course_dir) / "submitted" / student_id / self.assignment


@dataclass
class _Course:
    """What a worker builds once from the instructor's source notebooks."""

    tests: list[TestSpec]
    sources: dict[str, Any]
    points: dict[str, float]
    reference_ns: dict[str, dict[str, Any]]
    fingerprint: str
    # An assignment without a spec module is graded by its own test cells: notebook -> tests.
    cell_tests: dict[str, cellgrade.NotebookTests] | None = None
    assignment: Assignment | None = None  # its autograder.json


def _cell_course(src: Path) -> _Course:
    """A course graded by its notebooks' test cells (:mod:`autograder.cellgrade`)."""
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
    return _Course([], intake.read_source(src), points, {}, digest.hexdigest(), tests)


@functools.lru_cache(maxsize=4)
def _course(source_dir: str, assignment: str, stamp: str, by_test_cells: bool = False
            ) -> _Course:
    src = Path(source_dir)
    if by_test_cells or not has_spec(assignment):
        course = _cell_course(src)
    else:
        course = _spec_course(source_dir, assignment)
    # The assignment's particulars (its autograder.json) are part of what a grade depends on.
    course.assignment = load_assignment(src)
    extra = src / ASSIGNMENT_FILE
    if extra.is_file():
        course.fingerprint = hashlib.sha256(
            course.fingerprint.encode() + extra.read_bytes()
        ).hexdigest()
    return course


def _spec_course(source_dir: str, assignment: str) -> _Course:
    spec = load_spec(assignment)
    src = Path(source_dir)
    points, refs = {}, {}
    digest = hashlib.sha256(Path(spec.__file__).read_bytes())
    for nb in sorted({t.notebook for t in spec.TESTS}):
        path = src / nb
        cells = references.notebook_cells(path)
        points.update(references.test_points(cells))
        refs[nb] = references.build_reference_namespace(path)
        digest.update(path.read_bytes())
    missing = [t.grade_id for t in spec.TESTS if t.grade_id not in points]
    if missing:
        raise ValueError(f"the spec tests grade ids that no source notebook has: {missing}")
    return _Course(spec.TESTS, intake.read_source(src), points, refs, digest.hexdigest())


def load_course(job: GradingJob) -> _Course:
    files = [*job.source_dir.glob("*.ipynb"), *job.source_dir.glob(ASSIGNMENT_FILE)]
    stamp = str(max(p.stat().st_mtime_ns for p in files))
    return _course(str(job.source_dir), job.assignment, stamp, job.by_test_cells)


def submission_fingerprint(job: GradingJob, student_id: str, course: _Course) -> str:
    """Changes when the submission, the course, the secret, the limits or the mode change
    (a result made with ``--nbgrader`` holds the in-kernel comparison; one without does not)."""
    h = hashlib.sha256(course.fingerprint.encode())
    h.update(hashlib.sha256(job.secret.encode()).digest())
    h.update(b"nbgrader" if job.nbgrader else b"out-of-kernel only")
    h.update(b"by test cells" if job.by_test_cells else b"")
    h.update(json.dumps(asdict(job.limits), sort_keys=True).encode())
    root = job.submission_dir(student_id)
    if root.is_dir():
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            h.update(str(path.relative_to(root)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def _as_data(value: Any) -> Any:
    """The reference's outputs in the form the student's arrive in (JSON values, base ndarrays)."""
    if isinstance(value, np.ndarray):
        return np.array(value)
    if isinstance(value, (list, tuple)):
        return [_as_data(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _result(
    spec: TestSpec, points: float, status: str, reason: str, err: float | None = None
) -> TestResult:
    return TestResult(
        grade_id=spec.grade_id,
        notebook=spec.notebook,
        points=points if status == PASSED else 0.0,
        max_points=points,
        status=status,
        reason=reason,
        rel_error=err,
        threshold=None if spec.custom else spec.tol,
    )


class _TestJudge:
    """Judges one test's cases as their outcomes arrive; the first failing case decides."""

    def __init__(
        self,
        spec: TestSpec,
        points: float,
        cases: list,
        ref_ns: dict[str, Any],
        topic: str | None = None,
    ):
        self.spec, self.points, self.cases, self.ref_ns = spec, points, cases, ref_ns
        self.topic = topic
        self.verdict: TestResult | None = None
        self.worst: float | None = None

    def case(self, index: int, outcome: Outcome) -> bool:
        """Judge case ``index``; True once the test is decided (failed)."""
        if self.verdict is None:
            try:
                self.verdict = self._case(index, outcome)
            except Exception as err:  # noqa: BLE001 - hostile outputs must never cost more
                self.verdict = _result(
                    self.spec,
                    self.points,
                    ERROR,
                    f"the grader could not read this test's outputs ({type(err).__name__})",
                )
        return self.verdict is not None

    def _case(self, index: int, outcome: Outcome) -> TestResult | None:
        spec, points = self.spec, self.points
        if outcome.refused:
            # The jail names the routine; the sentence is the kit's own, not the jail's.
            return _result(spec, points, ERROR, refusal.message(outcome.refused[0]))
        if outcome.status != "ok":
            return _result(spec, points, ERROR, outcome.reason)
        args, kwargs = self.cases[index]
        want = _as_data(spec.driver(self.ref_ns, *copy.deepcopy(args), **copy.deepcopy(kwargs)))
        if spec.custom is not None:
            ok, reason = spec.custom(outcome.outputs, want, args)
            return None if ok else _result(spec, points, FAILED, reason)
        verdict = compare_outputs(outcome.outputs, want, spec.tol, spec.names)
        if not verdict.passed:
            reason = verdict.reason + self._explain(outcome.outputs, want, args, kwargs)
            return _result(spec, points, FAILED, reason, verdict.rel_error)
        if verdict.rel_error is not None:
            self.worst = max(self.worst or 0.0, verdict.rel_error)
        return None

    def _explain(self, got: list, want: list, args: tuple, kwargs: dict) -> str:
        """The likely cause and the kind of case, worded from the grader's own inputs by the
        same diagnoses the notebook prints, never quoting them; "" when nothing is known."""
        if self.topic is None:
            return ""
        from cs231n_lib import checks

        inputs = list(args) + list(kwargs.values())
        try:
            cause = checks.likely_cause(self.topic, got, want, inputs, tol=self.spec.tol)
            kind = checks.case_kind(self.topic, inputs)
        except Exception:  # noqa: BLE001 - a diagnosis is a courtesy, never a reason to fail
            return ""
        text = f" (the failing case: {kind})" if kind else ""
        return text + (f". Likely cause: {cause}" if cause else "")

    def result(self) -> TestResult:
        return self.verdict or _result(self.spec, self.points, PASSED, "", self.worst)


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


@dataclass
class _Plan:
    """One notebook's tests: those settled before running anything, and the groups to run."""

    results: dict[str, TestResult] = field(default_factory=dict)
    groups: list[tuple[Group, list[_TestJudge]]] = field(default_factory=list)


def _not_gradable(nb_intake: Any) -> str:
    """Why a notebook's tests cannot run (it is missing or unreadable); "" when they can."""
    if nb_intake is None or nb_intake.status == "missing":
        return "the notebook is missing"
    if nb_intake.status == "unreadable":
        return "the notebook could not be read"
    return ""


def _plan_notebook(
    job: GradingJob, course: _Course, student_id: str, nb: str, nb_intake: Any
) -> _Plan:
    plan = _Plan()
    specs = [t for t in course.tests if t.notebook == nb]
    why = _not_gradable(nb_intake)
    if why:
        plan.results = {
            s.grade_id: _result(s, course.points[s.grade_id], MISSING, why) for s in specs
        }
        return plan
    cells = _program(nb_intake)
    defined, compile_errors = _program_names(cells)
    by_refusal: dict[tuple[str, ...], list[tuple[TestSpec, list]]] = {}
    for spec in specs:
        absent = [n for n in spec.needs if n not in defined]
        if absent:
            reason = f"{', '.join(absent)} is not defined in your notebook"
            if compile_errors:
                reason += f" ({compile_errors[0]})"
            plan.results[spec.grade_id] = _result(
                spec, course.points[spec.grade_id], MISSING if not compile_errors else ERROR, reason
            )
            continue
        cases = spec.make_cases(student_rng(job.secret, student_id, spec.grade_id))
        refuse = course.assignment.refused(spec.grade_id)
        by_refusal.setdefault(refuse, []).append((spec, cases))
    for refuse, planned in by_refusal.items():
        calls = [
            Call(f"{spec.grade_id}#{i}", spec.driver_source(), tuple(a), dict(k))
            for spec, cases in planned
            for i, (a, k) in enumerate(cases)
        ]
        judges = {
            spec.grade_id: _TestJudge(
                spec,
                course.points[spec.grade_id],
                cases,
                course.reference_ns[nb],
                course.assignment.topic_of(spec.grade_id),
            )
            for spec, cases in planned
        }

        def decided(outcome: Outcome, judges: dict[str, _TestJudge] = judges) -> bool:
            grade_id, _, index = outcome.test_id.partition("#")
            return judges[grade_id].case(int(index), outcome)

        plan.groups.append((Group(nb, cells, calls, refuse, decided), list(judges.values())))
    return plan


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
    """Every notebook's tests, run in one jail; (results in notebook order, cells that raised)."""
    if course.cell_tests is not None:
        return _grade_test_cells(job, course, student_id, sub)
    notebooks = sorted({t.notebook for t in course.tests})
    plans = {
        nb: _plan_notebook(job, course, student_id, nb, sub.notebooks.get(nb)) for nb in notebooks
    }
    groups = [(nb, group, judges) for nb in notebooks for group, judges in plans[nb].groups]
    cell_errors: list[dict[str, str]] = []
    if groups:
        jail = worker_jail(job.limits, job.jail)
        try:
            ran = run_groups(jail, [group for _, group, _ in groups])
        finally:
            if not jail.recycle():  # ended: the next submission starts a fresh one
                pass
        for (nb, _group, judges), outcome_set in zip(groups, ran, strict=True):
            for err in outcome_set.cell_errors:
                if {**err, "notebook": nb} not in cell_errors:
                    cell_errors.append({**err, "notebook": nb})
            for judge in judges:
                plans[nb].results[judge.spec.grade_id] = judge.result()
    results = []
    for nb in notebooks:
        results += [plans[nb].results[t.grade_id] for t in course.tests if t.notebook == nb]
    return results, cell_errors


def _grade_test_cells(
    job: GradingJob, course: _Course, student_id: str, sub: Any
) -> tuple[list[TestResult], list[dict[str, str]]]:
    """Every notebook's test cells, run by the grader against the jailed program."""
    results: list[TestResult] = []
    cell_errors: list[dict[str, str]] = []
    jail = None
    try:
        for name, tests in sorted((course.cell_tests or {}).items()):
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
