"""The instructor's reference implementations: the solution cells of the source notebooks.

They are the single source of truth. They run here, in the grader's process,
and nowhere else: nothing of them goes to a sandbox, a report or a release.

Imports: the standard library; :mod:`autograder.notebook`. The notebooks import what they need.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

from autograder import notebook

SOLUTION_MARK = "### BEGIN SOLUTION"


def notebook_cells(path: Path) -> list[dict[str, Any]]:
    """The cells of a trusted (instructor's) notebook."""
    return notebook.read_cells(path)


def strip_magics(code: str) -> str:
    """IPython syntax as Python: :func:`autograder.notebook.to_python`, kept for old callers.

    Nothing is stripped any more: magics and shell lines become ``get_ipython()`` calls, which
    the setup's stub (:data:`autograder.notebook.IPYTHON_STUB`) answers.
    """
    return notebook.to_python(code)


def solution_cells(cells: list[dict[str, Any]]) -> dict[str, str]:
    """grade_id -> source of every solution code cell, in notebook order."""
    out = {}
    for cell in cells:
        meta = notebook.nbgrader_meta(cell)
        if notebook.is_code(cell) and notebook.is_solution(meta) and meta.get("grade_id"):
            out[meta["grade_id"]] = notebook.cell_source(cell)
    return out


def test_points(cells: list[dict[str, Any]]) -> dict[str, float]:
    """grade_id -> points of every autograded test cell."""
    return {
        meta["grade_id"]: float(meta.get("points", 0) or 0)
        for meta in (notebook.nbgrader_meta(c) for c in cells if notebook.is_code(c))
        if notebook.is_test(meta)
    }


def build_reference_namespace(path: Path) -> dict[str, Any]:
    """Run a source notebook's setup and solution cells; return the resulting namespace.

    The setup is the one the student's program starts with (:func:`autograder.notebook.setup_cell`);
    each solution runs after :func:`autograder.notebook.to_python`, as in a kernel.
    """
    cells = notebook_cells(path)
    namespace: dict[str, Any] = {"__name__": "__reference__"}
    program = [notebook.setup_cell(notebook.prelude(cells))] + [
        notebook.CodeCell(gid, notebook.to_python(code))
        for gid, code in solution_cells(cells).items()
    ]
    # Setup cells print (the notebook's scale, ...): keep that out of the grader's output.
    with contextlib.redirect_stdout(io.StringIO()):
        for cell in program:
            filename = f"<reference {path.name} {cell.label}>"
            exec(compile(cell.code, filename, "exec"), namespace)  # noqa: S102
    return namespace
