"""Grade one submission: intake, sandboxed calls, comparison with the reference.

``grade_submission`` is what every worker runs, on one machine or on a Dask
cluster. It is a plain function of picklable arguments (a :class:`GradingJob`
and a student id); what it needs from the course (references, points,
the reference namespaces) it builds once per worker process and caches.

Imports: the autograder's own modules, NumPy and the standard library.
"""

from __future__ import annotations

import ast
import copy
import fcntl
import functools
import hashlib
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from autograder import intake, references, static_checks, tamper
from autograder.compare import compare_outputs
from autograder.sandbox import Call, Limits, Outcome, run_calls
from autograder.schema import ERROR, FAILED, MISSING, PASSED, Flag, SubmissionResult, TestResult
from autograder.specs import load_spec
from autograder.specs.base import TestSpec, student_rng

UID_BASE = 61000  # sandbox uids 61000..61999: no passwd entry needed, one per running sandbox
UID_LOCKS = Path("/tmp/cs231n-autograder-uids")


@dataclass(frozen=True)
class GradingJob:
    """Everything a worker needs to grade a submission (picklable)."""

    course_dir: str
    assignment: str
    secret: str
    limits: Limits = field(default_factory=Limits)
    nbgrader: bool = False  # also run nbgrader's in-notebook tests (sandboxed) to flag mismatches

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


@functools.lru_cache(maxsize=4)
def _course(source_dir: str, assignment: str, stamp: str) -> _Course:
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
    stamp = str(max(p.stat().st_mtime_ns for p in job.source_dir.glob("*.ipynb")))
    return _course(str(job.source_dir), job.assignment, stamp)


def submission_fingerprint(job: GradingJob, student_id: str, course: _Course) -> str:
    """Changes when the submission, the course, the secret or the limits change."""
    h = hashlib.sha256(course.fingerprint.encode())
    h.update(hashlib.sha256(job.secret.encode()).digest())
    h.update(json.dumps(asdict(job.limits), sort_keys=True).encode())
    root = job.submission_dir(student_id)
    if root.is_dir():
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            h.update(str(path.relative_to(root)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()


@contextmanager
def sandbox_uid() -> Iterator[int | None]:
    """A uid no other running sandbox on this machine is using; None when not root."""
    if os.geteuid() != 0:
        yield None
        return
    UID_LOCKS.mkdir(mode=0o700, exist_ok=True)
    for uid in range(UID_BASE, UID_BASE + 1000):
        fd = os.open(UID_LOCKS / f"{uid}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            yield uid
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        return
    raise RuntimeError(f"all sandbox uids {UID_BASE}..{UID_BASE + 999} are in use")


def _defined_names(code: str) -> set[str] | SyntaxError:
    try:
        tree = ast.parse(code)
    except SyntaxError as err:
        return err
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


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


def _judge(
    spec: TestSpec, points: float, cases: list, outcomes: list[Outcome], ref_ns: dict[str, Any]
) -> TestResult:
    worst: float | None = None
    for (args, kwargs), outcome in zip(cases, outcomes, strict=True):
        if outcome.status != "ok":
            return _result(spec, points, ERROR, outcome.reason)
        want = _as_data(spec.driver(ref_ns, *copy.deepcopy(args), **copy.deepcopy(kwargs)))
        if spec.custom is not None:
            ok, reason = spec.custom(outcome.outputs, want, args)
            if not ok:
                return _result(spec, points, FAILED, reason)
            continue
        verdict = compare_outputs(outcome.outputs, want, spec.tol, spec.names)
        if not verdict.passed:
            return _result(spec, points, FAILED, verdict.reason, verdict.rel_error)
        if verdict.rel_error is not None:
            worst = verdict.rel_error if worst is None else max(worst, verdict.rel_error)
    return _result(spec, points, PASSED, "", worst)


def _grade_notebook(
    job: GradingJob, course: _Course, student_id: str, nb: str, nb_intake: Any, uid: int | None
) -> list[TestResult]:
    specs = [t for t in course.tests if t.notebook == nb]
    if nb_intake is None or nb_intake.status in ("missing", "unreadable"):
        why = (
            "the notebook is missing"
            if nb_intake is None or nb_intake.status == "missing"
            else "the notebook could not be read"
        )
        return [_result(s, course.points[s.grade_id], MISSING, why) for s in specs]
    # The source's imports, then the student's solution cells in source order.
    code = references.strip_magics(intake.student_code(nb_intake))
    defined = _defined_names(
        "\n\n".join(references.strip_magics(s) for s in nb_intake.solutions.values())
    )
    if isinstance(defined, SyntaxError):
        reason = (
            f"your code has a syntax error (line {defined.lineno} of your solution cells): "
            f"{defined.msg}"
        )
        return [_result(s, course.points[s.grade_id], ERROR, reason) for s in specs]

    results: dict[str, TestResult] = {}
    calls: list[Call] = []
    planned: list[tuple[TestSpec, list]] = []
    for spec in specs:
        absent = [n for n in spec.needs if n not in defined]
        if absent:
            results[spec.grade_id] = _result(
                spec,
                course.points[spec.grade_id],
                MISSING,
                f"{', '.join(absent)} is not defined in your notebook",
            )
            continue
        cases = spec.make_cases(student_rng(job.secret, student_id, spec.grade_id))
        source = spec.driver_source()
        calls += [
            Call(f"{spec.grade_id}#{i}", source, tuple(a), dict(k))
            for i, (a, k) in enumerate(cases)
        ]
        planned.append((spec, cases))
    outcomes_by_id: dict[str, Outcome] = {}
    if calls:
        outcomes, _log = run_calls(code, calls, job.limits, uid=uid)
        outcomes_by_id = {o.test_id: o for o in outcomes}
    for spec, cases in planned:
        outs = [outcomes_by_id[f"{spec.grade_id}#{i}"] for i in range(len(cases))]
        results[spec.grade_id] = _judge(
            spec, course.points[spec.grade_id], cases, outs, course.reference_ns[nb]
        )
    return [results[s.grade_id] for s in specs]


def _compare_in_kernel(
    job: GradingJob, student_id: str, result: SubmissionResult, uid: int | None
) -> None:
    """Run nbgrader's own tests; flag every test that passes there but not here."""
    from autograder.gradebook import run_in_kernel

    in_kernel = run_in_kernel(Path(job.course_dir), job.assignment, student_id, uid)
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
            for finding in static_checks.find_forbidden_calls(grade_id, code):
                result.static_findings.append(asdict(finding))
                if finding.kind == "suspicious":
                    result.flags.append(
                        Flag(
                            "suspicious",
                            f"{grade_id} line {finding.line}: {finding.message}",
                            grade_id,
                        )
                    )
            for sign in tamper.find_tamper_signs(grade_id, code):
                result.flags.append(
                    Flag("tamper", f"{grade_id} line {sign.line}: {sign.message}", grade_id)
                )
    with sandbox_uid() as uid:
        for nb in sorted({t.notebook for t in course.tests}):
            result.tests += _grade_notebook(job, course, student_id, nb, sub.notebooks.get(nb), uid)
        if job.nbgrader:
            _compare_in_kernel(job, student_id, result, uid)
    result.score = sum(t.points for t in result.tests)
    result.max_score = sum(t.max_points for t in result.tests)
    if sub.status == "empty":
        result.status = "empty"
    elif sub.problems:
        result.status = "problems"
    result.seconds = time.perf_counter() - start
    return result
