"""Settings shared by the grading tests."""

from pathlib import Path

import nbformat

from autograder.sandbox import Limits

# Short per-call limits keep the fault suite quick; honest calls take milliseconds.
TEST_LIMITS = Limits(wall_seconds_per_test=4.0, load_seconds=30.0, memory_mb=1536)
SECRET = "test-secret"
# The kit's own nbgrader course (read, never written, by these tests).
KIT_COURSE = Path(__file__).resolve().parents[2] / "assignments"


def nbgrader_cell(source: str, **nbgrader) -> nbformat.NotebookNode:
    """A code cell; with keywords, nbgrader metadata (locked unless it is a solution)."""
    cell = nbformat.v4.new_code_cell(source)
    if nbgrader:
        cell.metadata["nbgrader"] = {
            "schema_version": 3, "locked": not nbgrader.get("solution", False),
            "solution": False, "grade": False, **nbgrader,
        }
    return cell
