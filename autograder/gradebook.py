"""The nbgrader side: nbgrader's own in-notebook tests, sandboxed, and our scores in its gradebook.

Plain ``nbgrader autograde`` runs students' notebooks as the grader's user,
next to the gradebook. Here it runs on a scratch copy of the course, as a
sandbox uid with resource limits, so a notebook can touch nothing but that
copy. Its per-cell results (read back as data from the scratch gradebook)
are used only to flag tests that pass in the student's kernel but fail
outside it. The scores that count, the out-of-kernel ones, are written by
the grader into the course's real gradebook, one transaction per submission,
so formgrader, manual grading, late penalties and ``nbgrader export`` work
as usual.

Imports: the standard library; nbgrader (needed only for this side).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from autograder.notebook import has_hidden_tests, without_hidden_tests
from autograder.sandbox import Limits, run_command
from autograder.schema import PASSED, SubmissionResult, TestResult

IN_KERNEL_SECONDS = 900  # nbgrader autograde of one submission, all notebooks


@dataclass
class InKernel:
    """What nbgrader's in-kernel run of one submission said."""

    passed: dict[str, bool] = field(default_factory=dict)  # test grade_id -> passed
    error: str = ""


def _nbgrader(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """Run a trusted nbgrader command (one that executes no student code) as ourselves."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    return subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=IN_KERNEL_SECONDS,
    )


def generate_assignment(course_dir: Path, assignment: str) -> subprocess.CompletedProcess:
    """``nbgrader generate_assignment --force`` in ``course_dir``: registers the assignment
    in that course's gradebook and writes its release. Trusted: runs no student code."""
    return _nbgrader(["generate_assignment", assignment, "--force"], cwd=course_dir)


def hand_over(scratch: Path, uid: int | None) -> None:
    """Make ``uid`` the owner of the scratch tree a sandboxed nbgrader runs in (None: keep)."""
    if uid is None:
        return
    for root, dirs, files in os.walk(scratch):
        for name in dirs + files:
            os.lchown(os.path.join(root, name), uid, uid)
    os.chown(scratch, uid, uid)


def ensure_assignment(course_dir: Path, assignment: str) -> None:
    """Register the assignment in the course gradebook (what ``generate_assignment`` does)."""
    from nbgrader.api import Gradebook, MissingEntry

    db = course_dir / "gradebook.db"
    if db.exists():
        with Gradebook(f"sqlite:///{db}") as gb:
            try:
                gb.find_assignment(assignment)
                return
            except MissingEntry:
                pass
    res = generate_assignment(course_dir, assignment)
    if res.returncode != 0:
        raise RuntimeError(f"nbgrader generate_assignment failed: {res.stderr[-2000:]}")


def kernel_env(scratch: str) -> dict[str, str]:
    """The environment of a jailed ``nbgrader autograde``: Jupyter's folders in ``scratch``
    (the scratch folder as the jail sees it)."""
    bin_dir = str(Path(sys.executable).parent)  # nbgrader runs `alembic` by name
    return {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "JUPYTER_RUNTIME_DIR": f"{scratch}/runtime",
        "JUPYTER_DATA_DIR": f"{scratch}/data",
        "IPYTHONDIR": f"{scratch}/ipython",
        # nbgrader itself tells the kernel it is grading (NBGRADER_EXECUTION); the heavy
        # cells are shrunk the notebook's own way.
        "CS231N_NOTEBOOK_SCALE": "small",
        # The course's nbgrader_config.py refuses a plain `nbgrader autograde` in the
        # course folder; this run, on a scratch copy, is the kit's own.
        "CS231N_IN_KERNEL_RUN": "1",
    }


def kernel_limits(memory_mb: int = 4096, cpu_seconds: int = 1800) -> Limits:
    """Limits of a sandboxed ``nbgrader autograde``.

    The kernel talks to nbgrader over loopback TCP, which the jail's own network namespace
    has; kernels and their threads need more processes than a plain jail.
    """
    return Limits(memory_mb=memory_mb, max_processes=512, cpu_seconds=cpu_seconds, tmp_mb=256)


def run_in_kernel(
    course_dir: Path,
    assignment: str,
    student_id: str,
    uid: int | None,
    memory_mb: int = 4096,
    *,
    unsafe: bool = False,
) -> InKernel:
    """Run ``nbgrader autograde`` for one student on a scratch copy as ``uid``; read its results."""
    from nbgrader.api import Gradebook

    scratch = Path(tempfile.mkdtemp(prefix="cs231n-inkernel-"))
    try:
        course = scratch / "course"
        course.mkdir()
        shutil.copy2(course_dir / "nbgrader_config.py", course / "nbgrader_config.py")
        shutil.copytree(course_dir / "source" / assignment, course / "source" / assignment)
        sub = course_dir / "submitted" / student_id / assignment
        if not sub.is_dir():
            return InKernel(error="no submission folder")
        shutil.copytree(sub, course / "submitted" / student_id / assignment)
        res = generate_assignment(course, assignment)  # registers it in the scratch gradebook
        if res.returncode != 0:
            return InKernel(error=f"nbgrader generate_assignment failed: {res.stderr[-500:]}")
        restore_hidden_tests(course / "gradebook.db", course / "submitted" / student_id, assignment)
        # The gradebook now holds what autograde needs; the solutions stay out of the jail.
        shutil.rmtree(course / "source")
        shutil.rmtree(course / "release", ignore_errors=True)
        hand_over(scratch, uid)
        argv = [sys.executable, "-m", "nbgrader", "autograde", assignment]
        try:
            res = run_command(
                [*argv, "--student", student_id, "--force"],
                scratch,
                cwd="/jail/scratch/course",
                limits=kernel_limits(memory_mb),
                uid=uid,
                env=kernel_env("/jail/scratch"),
                timeout=IN_KERNEL_SECONDS,
                unsafe=unsafe,
            )
        except subprocess.TimeoutExpired:
            return InKernel(error=f"nbgrader autograde did not finish in {IN_KERNEL_SECONDS} s")
        out = InKernel()
        if res.returncode != 0:
            out.error = f"nbgrader autograde exited with {res.returncode}"
        db = course / "gradebook.db"
        if not db.exists():
            out.error = out.error or "nbgrader wrote no gradebook"
            return out
        # The scratch gradebook was writable by the student's kernel: its numbers are
        # only ever used to raise flags, never as scores.
        with Gradebook(f"sqlite:///{db}") as gb:
            try:
                submission = gb.find_submission(assignment, student_id)
            except Exception as err:  # noqa: BLE001 - a damaged scratch gradebook is a result too
                out.error = out.error or f"no in-kernel results ({type(err).__name__})"
                return out
            for nb in submission.notebooks:
                for grade in nb.grades:
                    if grade.cell.max_score and not grade.cell.notebook.name.startswith("."):
                        out.passed[grade.name] = bool(
                            grade.auto_score and grade.auto_score >= grade.max_score
                        )
        autograded = course / "autograded" / student_id / assignment
        dest = course_dir / "autograded" / student_id / assignment
        if dest.exists():
            shutil.rmtree(dest)
        copy_untrusted_tree(autograded, dest)
        return out
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


COPY_LIMIT_BYTES = 64 << 20  # what the in-kernel run may hand back, all files together


def copy_untrusted_tree(source: Path, dest: Path, limit: int = COPY_LIMIT_BYTES) -> int:
    """Copy a tree a jail wrote: regular files and folders only, never a link or a special
    file (none is followed, at any depth), at most ``limit`` bytes in all; return the bytes.
    """
    copied = 0
    try:
        top = os.lstat(source)
    except OSError:
        return 0
    if not stat.S_ISDIR(top.st_mode):
        return 0
    stack = [(source, dest)]
    while stack:
        src, dst = stack.pop()
        dst.mkdir(parents=True, exist_ok=True)
        with os.scandir(src) as entries:
            for entry in entries:
                if entry.is_symlink() or entry.name.endswith((".py", ".so")):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    stack.append((Path(entry.path), dst / entry.name))
                elif entry.is_file(follow_symlinks=False):
                    fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
                    with os.fdopen(fd, "rb") as f:
                        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                            continue
                        data = f.read(limit - copied + 1)
                    if copied + len(data) > limit:
                        return copied
                    (dst / entry.name).write_bytes(data)
                    copied += len(data)
    return copied


# nbgrader's markers of the test code a release does not show (ClearHiddenTests'
# default delimiters, and the always-hidden ones of nbgrader 0.9).
@contextmanager
def gradebook(db: Path):
    """nbgrader's Gradebook on ``db``, without the SQLAlchemy warnings nbgrader's own
    ``add_submission`` raises about objects it has not added to its session yet."""
    from nbgrader.api import Gradebook
    from sqlalchemy.exc import SAWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)
        with Gradebook(f"sqlite:///{db}") as gb:
            yield gb


def _cell_text(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def restore_hidden_tests(db: Path, student_dir: Path, assignment: str) -> int:
    """Put the gradebook's hidden tests back into the untouched test cells of a submission.

    nbgrader stores a test cell's checksum with its hidden tests and releases it without
    them, so its autograde warns "checksum ... has changed" for every test cell that has
    hidden tests, edited or not (jupyter/nbgrader#1961). A cell whose source is exactly
    the release's gets the full source back first; an edited one is left for nbgrader's
    warning. Returns the number of cells restored.
    """
    restored = 0
    folder = student_dir / assignment
    with gradebook(db) as gb:
        for path in sorted(folder.glob("*.ipynb")):
            try:
                nb = json.loads(path.read_text(encoding="utf-8"))
                cells = nb["cells"]
            except (OSError, ValueError, KeyError, TypeError):
                continue  # nbgrader reports the notebook itself
            changed = False
            for cell in cells if isinstance(cells, list) else []:
                if not isinstance(cell, dict):
                    continue
                meta = cell.get("metadata", {}).get("nbgrader", {})
                if not isinstance(meta, dict) or not meta.get("locked") or "grade_id" not in meta:
                    continue
                try:
                    source = gb.find_source_cell(meta["grade_id"], path.stem, assignment).source
                except Exception:  # noqa: BLE001 - an unknown cell is nbgrader's to report
                    continue
                if has_hidden_tests(source) and _cell_text(cell) == without_hidden_tests(source):
                    cell["source"] = source
                    changed = True
                    restored += 1
            if changed:
                path.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    return restored


def verdict_text(t: TestResult) -> str:
    """What a test cell shows in the autograded notebook and in nbgrader's feedback."""
    line = f"Out-of-kernel grade: {t.status}, {t.points:g} / {t.max_points:g} points."
    if t.status != PASSED and t.reason:
        line += f"\n{t.reason}"
    if t.rel_error is not None and t.threshold is not None:
        line += f"\n(worst relative error {t.rel_error:.1e}, threshold {t.threshold:.0e})"
    return line + "\n"


def annotate_autograded(course_dir: Path, assignment: str, result: SubmissionResult) -> int:
    """Make ``autograded/<student>/<assignment>/`` safe to give back and true to the grade.

    Every hidden-test region is removed from every cell, and each graded test cell's
    outputs (which came from the student's own kernel) are replaced by the out-of-kernel
    verdict and reason. formgrader and ``nbgrader generate_feedback`` read these files.
    Returns the number of notebooks rewritten.
    """
    folder = course_dir / "autograded" / result.student_id / assignment
    by_cell = {(Path(t.notebook).stem, t.grade_id): t for t in result.tests}
    rewritten = 0
    for path in sorted(folder.glob("*.ipynb")):
        try:
            nb = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for cell in nb.get("cells", []):
            text = _cell_text(cell)
            if has_hidden_tests(text):
                cell["source"] = without_hidden_tests(text)
            gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            test = by_cell.get((path.stem, gid))
            if test is not None and cell.get("cell_type") == "code":
                cell["outputs"] = [
                    {"output_type": "stream", "name": "stdout", "text": verdict_text(test)}
                ]
                cell["execution_count"] = None
        nb.setdefault("metadata", {})["cs231n_autograder"] = {"verdicts": "out-of-kernel"}
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(nb, indent=1), encoding="utf-8")
        os.replace(tmp, path)
        rewritten += 1
    return rewritten


def record_scores(
    course_dir: Path, assignment: str, result: SubmissionResult
) -> list[tuple[str, str, float | None, float]]:
    """Write the out-of-kernel points into the course gradebook: one transaction per
    submission. Returns (student, grade id, score before, score written) for every entry
    that held another score."""
    from nbgrader.api import MissingEntry

    changes = []
    with gradebook(course_dir / "gradebook.db") as gb:
        gb.update_or_create_student(result.student_id)
        try:
            gb.find_submission(assignment, result.student_id)
        except MissingEntry:
            gb.add_submission(assignment, result.student_id)
        for t in result.tests:
            try:
                grade = gb.find_grade(
                    t.grade_id, Path(t.notebook).stem, assignment, result.student_id
                )
            except MissingEntry:
                continue
            before = grade.auto_score
            if before is not None and float(before) != float(t.points):
                changes.append((result.student_id, t.grade_id, float(before), float(t.points)))
            grade.auto_score = t.points
        gb.db.commit()
    return changes


def publish(
    course_dir: Path, assignment: str, result: SubmissionResult
) -> list[tuple[str, str, float | None, float]]:
    """The out-of-kernel grade into nbgrader's world: the gradebook, and the autograded
    notebooks that formgrader and feedback show. Returns the gradebook entries changed."""
    changes = record_scores(course_dir, assignment, result)
    annotate_autograded(course_dir, assignment, result)
    return changes
