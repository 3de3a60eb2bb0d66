"""The autograder's Python API; the CLI only forwards to :func:`grade`.

``grade`` finds the submissions of an nbgrader course, grades each one with
:func:`autograder.pipeline.grade_submission` on a local process pool or an
existing Dask cluster, stores every result as it arrives (atomically, so an
interrupted run resumes without regrading what is done), and writes the
reports.

Imports: the autograder's own modules and the standard library; tqdm for
progress, ``distributed`` only when a scheduler address is given.
"""

from __future__ import annotations

import difflib
import json
import multiprocessing
import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from autograder import reports
from autograder.pipeline import GradingJob, grade_submission, load_course, submission_fingerprint
from autograder.sandbox import Limits, require_jail
from autograder.schema import SubmissionResult

SECRET_FILE = ".autograder_secret"


@dataclass
class GradeRun:
    """What :func:`grade` did."""

    results: list[SubmissionResult]
    out_dir: Path
    graded: list[str] = field(default_factory=list)  # regraded in this run
    reused: list[str] = field(default_factory=list)  # unchanged since a previous run
    # (student, grade id, gradebook score before, score written) where they differed
    gradebook_changes: list[tuple[str, str, float | None, float]] = field(default_factory=list)
    # every pair of the class by shared solution code, highest first (autograder.similarity)
    similar: list = field(default_factory=list)


def course_secret(course_dir: Path, secret: str | None = None) -> str:
    """The secret that varies inputs per student: argument, CS231N_GRADER_SECRET, or a file.

    The file ``<course>/.autograder_secret`` is created (mode 0600) on first use;
    keep it out of anything students can see. Inside a git work tree it is created
    only where git ignores it, so that no ``git add -A`` can publish it.
    """
    if secret:
        return secret
    if os.environ.get("CS231N_GRADER_SECRET"):
        return os.environ["CS231N_GRADER_SECRET"]
    path = course_dir / SECRET_FILE
    if not path.exists():
        if not_ignored_by_git(path):
            raise ValueError(
                f"{path} would be inside a git work tree and not ignored, so a `git add -A` "
                f"would publish it: add `{SECRET_FILE}` to that folder's .gitignore, or give "
                "the secret with $CS231N_GRADER_SECRET"
            )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return path.read_text().strip()


def not_ignored_by_git(path: Path) -> bool:
    """True when ``path`` is in a git work tree and git would not ignore it.

    False outside a work tree and where git is not installed: there is nothing to
    publish it by.
    """
    folder = path.parent
    try:
        inside = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "--is-inside-work-tree"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if inside.returncode != 0 or inside.stdout.strip() != "true":
            return False
        ignored = subprocess.run(
            ["git", "-C", str(folder), "check-ignore", "-q", "--no-index", path.name],
            capture_output=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return ignored.returncode != 0  # 0: ignored, 1: not ignored


def student_folders(course_dir: Path) -> list[str]:
    """Student ids with a folder under ``submitted/``, sorted."""
    root = course_dir / "submitted"
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def find_students(course_dir: Path, assignment: str) -> list[str]:
    """Student ids who submitted ``assignment`` (``submitted/<id>/<assignment>/``), sorted.

    A student folder without it holds other assignments of the course: nbgrader too grades
    only the submissions that exist.
    """
    root = course_dir / "submitted"
    return [s for s in student_folders(course_dir) if (root / s / assignment).is_dir()]


def course_assignments(course_dir: Path) -> list[str]:
    """The assignments of a course: the folders under ``source/``, sorted."""
    root = course_dir / "source"
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def check_request(
    course: Path, assignment: str, students: list[str] | None, workers: int | None
) -> list[str]:
    """The students to grade; a ``ValueError`` or ``FileNotFoundError`` naming what is wrong.

    Nothing is graded or written before these checks pass.
    """
    if not course.is_dir():
        raise FileNotFoundError(f"no course folder at {course}")
    if workers is not None and workers < 1:
        raise ValueError(f"--workers must be 1 or more, got {workers}")
    if not (course / "source" / assignment).is_dir():
        known = course_assignments(course)
        listed = ", ".join(known) if known else "none: there is no folder under source/"
        raise FileNotFoundError(
            f"no assignment {assignment!r} in {course} (no source/{assignment}/); "
            f"the course's assignments: {listed}"
        )
    if not (course / "submitted").is_dir():
        raise FileNotFoundError(
            f"no submissions: {course / 'submitted'} does not exist. Collect them first "
            f"(nbgrader collect {assignment}, or an LMS export laid out as "
            f"submitted/<student>/{assignment}/*.ipynb)"
        )
    everyone = find_students(course, assignment)
    if not everyone:
        folders = student_folders(course)
        raise FileNotFoundError(
            f"no submissions of {assignment!r} in {course / 'submitted'}: "
            + (
                f"none of its {len(folders)} student folders has a {assignment}/ folder"
                if folders
                else "it is empty"
            )
            + f" (expected submitted/<student>/{assignment}/*.ipynb)"
        )
    if students is None:
        return everyone
    unknown = [s for s in students if s not in everyone]
    if unknown:
        lines = []
        for s in unknown:
            near = difflib.get_close_matches(s, everyone, n=3, cutoff=0.6)
            near += [e for e in everyone if s.lower() in e.lower() and e not in near]
            near = near[:3]
            hint = f" (did you mean {', '.join(near)}?)" if near else ""
            has_folder = (course / "submitted" / s).is_dir()
            what = (f"student {s!r} has no {assignment}/ folder" if has_folder
                    else f"no submission from student {s!r}")
            lines.append(f"{what} in {course / 'submitted'}{hint}")
        raise ValueError("; ".join(lines))
    return list(dict.fromkeys(students))  # in the order given, once each


def _result_path(out_dir: Path, student_id: str) -> Path:
    return out_dir / "results" / f"{student_id}.json"


def _store(out_dir: Path, result: SubmissionResult) -> None:
    path = _result_path(out_dir, result.student_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(result.to_json(), indent=1))
    os.replace(tmp, path)


def _load_stored(out_dir: Path, student_id: str) -> SubmissionResult | None:
    path = _result_path(out_dir, student_id)
    try:
        return SubmissionResult.from_json(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError, KeyError):
        return None


def _crashed(student_id: str, err: BaseException) -> SubmissionResult:
    return SubmissionResult(
        student_id=student_id,
        status="failed",
        problems=[
            {
                "kind": "grader_error",
                "notebook": "",
                "grade_id": None,
                "message": f"grading failed: {type(err).__name__}: {err}",
                "tamper": False,
            }
        ],
    )


def _run_local(
    job: GradingJob, students: list[str], workers: int, on_done: Callable[[SubmissionResult], None]
) -> None:
    if workers <= 1:
        for student in students:
            try:
                on_done(grade_submission(job, student))
            except Exception as err:  # noqa: BLE001 - one broken submission must not stop the batch
                on_done(_crashed(student, err))
        return
    # Workers start from a fork server, not by forking this process: here the progress bar's
    # monitor and earlier jails' output drains are threads, and a fork taken while one of
    # them holds a lock can deadlock the child (Python 3.12 and later warn of it).
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver") if "forkserver" in methods else None
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {pool.submit(grade_submission, job, s): s for s in students}
        for future in as_completed(futures):
            try:
                on_done(future.result())
            except Exception as err:  # noqa: BLE001
                on_done(_crashed(futures[future], err))


def _run_dask(
    job: GradingJob,
    students: list[str],
    scheduler: str,
    on_done: Callable[[SubmissionResult], None],
) -> None:
    from distributed import Client
    from distributed import as_completed as dask_completed

    with Client(scheduler) as client:
        futures = {client.submit(grade_submission, job, s, pure=False): s for s in students}
        for future in dask_completed(list(futures)):
            try:
                on_done(future.result())
            except Exception as err:  # noqa: BLE001
                on_done(_crashed(futures[future], err))


def grade(
    course_dir: str | os.PathLike,
    assignment: str = "convnets",
    *,
    out_dir: str | os.PathLike | None = None,
    students: Iterable[str] | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    secret: str | None = None,
    limits: Limits | None = None,
    regrade: bool = False,
    progress: bool = True,
    write_reports: bool = True,
    nbgrader: bool = False,
    jail: bool = True,
    similarity: bool = True,
) -> GradeRun:
    """Grade every submission of ``assignment`` in an nbgrader course.

    Parameters
    ----------
    course_dir : path
        The nbgrader course: ``source/<assignment>/`` (the instructor's
        notebooks, the reference) and ``submitted/<student>/<assignment>/``.
    assignment : str, default "convnets"
    out_dir : path, optional
        Where results and reports go; default ``<course>/autograder/<assignment>``.
    students : iterable of str, optional
        Grade only these (default: every folder under ``submitted/``).
    workers : int, optional
        Local worker processes (default: all cores). Ignored with ``scheduler``.
    scheduler : str, optional
        Address of a running Dask scheduler: the same per-submission tasks run there.
    secret : str, optional
        See :func:`course_secret`.
    limits : Limits, optional
        Sandbox limits; defaults in :class:`autograder.sandbox.Limits`.
    regrade : bool, default False
        Regrade submissions whose stored result is still current.
    nbgrader : bool, default False
        Also run nbgrader's in-notebook tests (sandboxed, on a scratch copy) to
        flag tests that pass in the student's kernel but fail outside it, and
        write the out-of-kernel points into the course's ``gradebook.db``.
    jail : bool, default True
        Run the students' code in the jail (:mod:`autograder.sandbox`); where the jail cannot
        be built, :class:`autograder.sandbox.JailUnavailable` names the fix. False
        (``--unsafe-no-jail``) grades without it and flags every result ``not_jailed``.
    progress : bool, default True
        Show a progress bar over submissions.
    write_reports : bool, default True
        Write the class-wide reports into ``out_dir``.
    similarity : bool, default True
        With the reports, score every pair of the class's submissions for shared
        solution code (:func:`autograder.similarity.similarity_report`):
        ``similarity.csv`` and ``similarity.html``, class-wide on every run.
    Returns
    -------
    GradeRun
    """
    course = Path(course_dir).resolve()
    wanted = check_request(
        course, assignment, list(students) if students is not None else None, workers
    )
    out = Path(out_dir) if out_dir else course / "autograder" / assignment
    if jail:
        require_jail()  # before anything is written: fail closed, naming the fix
    job = GradingJob(
        str(course),
        assignment,
        course_secret(course, secret),
        limits or Limits(),
        nbgrader=nbgrader,
        jail=jail,
    )
    if nbgrader:
        from autograder.gradebook import ensure_assignment

        ensure_assignment(course, assignment)
    course_info = load_course(job)

    done: dict[str, SubmissionResult] = {}
    todo: list[str] = []
    for student in wanted:
        stored = None if regrade else _load_stored(out, student)
        if stored and stored.fingerprint == submission_fingerprint(job, student, course_info):
            done[student] = stored
        else:
            todo.append(student)
    run = GradeRun(results=[], out_dir=out, reused=sorted(done))

    bar = None
    if progress and todo:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), unit="submission", desc="grading", file=sys.stderr)

    def on_done(result: SubmissionResult) -> None:
        _store(out, result)
        done[result.student_id] = result
        run.graded.append(result.student_id)
        if bar is not None:
            bar.set_postfix_str(
                f"{result.student_id}: {result.score:g}/{result.max_score:g}", refresh=False
            )
            bar.update(1)

    try:
        if scheduler:
            _run_dask(job, todo, scheduler, on_done)
        else:
            _run_local(job, todo, workers or os.cpu_count() or 1, on_done)
    finally:
        if bar is not None:
            bar.close()
    run.results = [done[s] for s in wanted if s in done]
    if nbgrader:
        # The out-of-kernel grade wins: every run writes it for every student it covers,
        # reused results included, and says which gradebook entries it changed.
        from autograder.gradebook import publish

        for result in run.results:
            if result.status != "failed":
                run.gradebook_changes += publish(course, assignment, result)
    if write_reports:
        # A run over some students updates their rows; the reports stay class-wide.
        others = [s for s in find_students(course, assignment) if s not in done]
        stored = [r for r in (_load_stored(out, s) for s in others) if r is not None]
        everyone = sorted(run.results + stored, key=lambda r: r.student_id)
        reports.write_all(everyone, out)
        if similarity:
            from autograder.similarity import similarity_report

            run.similar = similarity_report(course, assignment, out)
    return run
