"""Helpers for the course tests: where the course is, running notebooks and nbgrader.

Kept out of conftest.py so tests can import the plain functions; the fixtures
that call them live in conftest.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[2]
COURSE = REPO / "assignments"
ASSIGNMENT = "convnets"
SOURCE = COURSE / "source" / ASSIGNMENT
RELEASE = COURSE / "release" / ASSIGNMENT
NOTEBOOKS = (
    "01_convolution",
    "02_pooling_and_fast_layers",
    "03_three_layer_convnet",
    "04_spatial_normalization",
)


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def is_autograder_test(cell) -> bool:
    """A locked test cell with points: nbgrader grades it by running it."""
    m = nbgrader_meta(cell)
    return cell.cell_type == "code" and m.get("grade", False) and not m.get("solution", False)


def is_solution(cell) -> bool:
    return nbgrader_meta(cell).get("solution", False)


def kernel_env(tmp: Path) -> dict[str, str]:
    """Environment for kernels and nbgrader: this interpreter, the repo, small scale.

    A kernel spec written into JUPYTER_PATH (searched first) makes the kernel
    `python3` run ``sys.executable``, the interpreter running pytest, whatever
    other python3 kernels are installed on the machine.
    """
    spec_dir = tmp / "jupyter" / "kernels" / "python3"
    spec_dir.mkdir(parents=True, exist_ok=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (test interpreter)",
        "language": "python",
    }))
    env = dict(os.environ)
    env["JUPYTER_PATH"] = os.pathsep.join(
        [str(tmp / "jupyter")] + [p for p in env.get("JUPYTER_PATH", "").split(os.pathsep) if p])
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    # nbgrader runs `alembic` by name: the venv's bin must come first on PATH.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["CS231N_NOTEBOOK_SCALE"] = "small"
    env["MPLBACKEND"] = "Agg"
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    return env


@dataclass
class CellRun:
    index: int
    cell: dict
    errors: list = field(default_factory=list)  # (ename, evalue) per error output


@dataclass
class NotebookRun:
    name: str
    seconds: float
    nb: nbformat.NotebookNode
    cells: list[CellRun]

    def errors(self) -> list[CellRun]:
        return [c for c in self.cells if c.errors]


@contextlib.contextmanager
def environ(env: dict[str, str]):
    """Use ``env`` as os.environ inside the block (kernel-spec lookup reads it), then restore."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def execute(nb: nbformat.NotebookNode, cwd: Path, env: dict[str, str], name: str = "",
            timeout: int = 600) -> NotebookRun:
    """Run every cell of ``nb`` in a fresh ``python3`` kernel, carrying on after errors."""
    client = NotebookClient(nb, kernel_name="python3", timeout=timeout, allow_errors=True,
                            resources={"metadata": {"path": str(cwd)}})
    t0 = time.perf_counter()
    with environ(env):
        client.execute()
    seconds = time.perf_counter() - t0
    runs = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        errors = [(o.ename, o.evalue) for o in cell.get("outputs", []) if o.output_type == "error"]
        runs.append(CellRun(i, cell, errors))
    return NotebookRun(name, seconds, nb, runs)


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


def copy_course(dest: Path) -> Path:
    """A scratch copy of the course (config and source only), as an instructor starts."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(COURSE / "nbgrader_config.py", dest / "nbgrader_config.py")
    shutil.copytree(COURSE / "source", dest / "source")
    return dest


def nbgrader(course: Path, env: dict[str, str], *args: str, timeout: int = 900
             ) -> subprocess.CompletedProcess:
    """Run the real nbgrader CLI inside ``course``; raise with its output on failure."""
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"nbgrader {' '.join(args)} exited {proc.returncode}:\n"
                             f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def solution_namespace(name: str, edits: dict[str, list[tuple[str, str]]] | None = None
                       ) -> dict:
    """Execute a source notebook's imports and solution cells in-process; return the names.

    Gives the tests the model solution, so wrong variants can be built from it:
    ``edits`` maps a solution cell's grade_id to ``(old, new)`` replacements, each
    of which must occur in that cell, or ``(None, new)`` to replace the whole cell.
    """
    nb = read(SOURCE / f"{name}.ipynb")
    edits = dict(edits or {})
    setup = next(c for c in nb.cells if c.cell_type == "code")
    code = "\n".join(line for line in setup.source.splitlines() if not line.startswith("%"))
    ns: dict = {}
    exec(compile(code, f"{name}:setup", "exec"), ns)  # noqa: S102 - our own course file
    for cell in nb.cells:
        if cell.cell_type == "code" and is_solution(cell):
            grade_id = nbgrader_meta(cell)["grade_id"]
            source = cell.source
            for old, new in edits.pop(grade_id, []):
                if old is None:
                    source = new
                    continue
                assert old in source, f"{grade_id} has no {old!r}"
                source = source.replace(old, new)
            exec(compile(source, f"{name}:{grade_id}", "exec"), ns)  # noqa: S102
    assert not edits, f"no solution cells {sorted(edits)} in {name}"
    return ns


def _test_cell_source(name: str, grade_id: str) -> str:
    nb = read(SOURCE / f"{name}.ipynb")
    return next(c for c in nb.cells if nbgrader_meta(c).get("grade_id") == grade_id).source


def visible_check(ns: dict, name: str, grade_id: str) -> None:
    """Run the visible part of a test cell (above its hidden tests) in ``ns``."""
    visible = _test_cell_source(name, grade_id).split("### BEGIN HIDDEN TESTS")[0]
    exec(compile(visible, f"{name}:{grade_id}", "exec"), ns)  # noqa: S102 - our own course file


def hidden_check_messages(ns: dict, name: str, grade_id: str, students=range(6)) -> list[str]:
    """Run the hidden part of a test cell in a copy of ``ns`` as the out-of-kernel grader runs
    it for each of ``students``: ``grading_rng`` gives that student's draws. One entry per
    student: "" where the hidden checks pass, the AssertionError's message where they fail
    (a student whose code raises something else is left out: graded as an error, never
    diagnosed)."""
    from autograder.cellgrade import student_grading_rng
    from cs231n_lib import grading

    source = _test_cell_source(name, grade_id)
    hidden = source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0]
    code = compile(hidden, f"{name}:{grade_id} (hidden)", "exec")
    messages = []
    for k in students:
        def derive(seed, student=f"student-{k}"):
            return student_grading_rng("test-secret", student, seed)

        with grading.derive_with(derive), contextlib.redirect_stdout(None):
            try:
                exec(code, dict(ns))  # noqa: S102 - our own course file
            except AssertionError as err:
                messages.append(str(err) or "an assertion failed")
                continue
            except Exception:  # noqa: BLE001 - the grader marks a crash as an error
                continue
        messages.append("")
    return messages


def likely_cause(message: str) -> str | None:
    """The ``Likely cause:`` sentence of a check's message, if it has one."""
    return message.split("\nLikely cause: ", 1)[1] if "\nLikely cause: " in message else None
