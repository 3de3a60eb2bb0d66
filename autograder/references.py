"""The instructor's reference implementations: the solution cells of the source notebooks.

They are the single source of truth. They run here, in the grader's process,
and nowhere else: nothing of them goes to a sandbox, a report or a release.

Imports: the standard library; the notebooks themselves import what they need.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

from autograder import intake

SOLUTION_MARK = "### BEGIN SOLUTION"


def notebook_cells(path: Path) -> list[dict[str, Any]]:
    """The cells of a trusted (instructor's) notebook."""
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def strip_magics(code: str) -> str:
    """Drop IPython-only lines (``%matplotlib inline``, ``!pip ...``): they are not Python."""
    return "\n".join(line for line in code.splitlines() if not line.lstrip().startswith(("%", "!")))


def solution_cells(cells: list[dict[str, Any]]) -> dict[str, str]:
    """grade_id -> source of every solution code cell, in notebook order."""
    out = {}
    for cell in cells:
        meta = intake.nbgrader_meta(cell)
        if cell.get("cell_type") == "code" and meta.get("solution") and meta.get("grade_id"):
            out[meta["grade_id"]] = intake.cell_source(cell)
    return out


def test_points(cells: list[dict[str, Any]]) -> dict[str, float]:
    """grade_id -> points of every autograded test cell."""
    return {
        intake.nbgrader_meta(c)["grade_id"]: float(intake.nbgrader_meta(c).get("points", 0) or 0)
        for c in cells
        if c.get("cell_type") == "code"
        and intake.nbgrader_meta(c).get("grade")
        and not intake.nbgrader_meta(c).get("solution")
    }


def build_reference_namespace(path: Path) -> dict[str, Any]:
    """Run a source notebook's prelude and solution cells; return the resulting namespace."""
    cells = notebook_cells(path)
    namespace: dict[str, Any] = {"__name__": "__reference__"}
    code = intake.prelude(cells) + "\n\n" + "\n\n".join(solution_cells(cells).values())
    # Setup cells print (the notebook's scale, ...): keep that out of the grader's output.
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(code, f"<reference {path.name}>", "exec"), namespace)  # noqa: S102
    return namespace
