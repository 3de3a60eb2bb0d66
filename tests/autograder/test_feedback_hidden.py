"""Does the feedback side remove hidden tests the way nbgrader's release does?

``without_hidden_tests`` must agree with nbgrader's own ClearHiddenTests on every test cell
of the course (so that untouched cells compare equal to the gradebook's source), and must
leave nothing of a region that is never closed.
"""

import nbformat
import pytest

from autograder.notebook import without_hidden_tests

from grading_setup import KIT_COURSE

COURSE_SOURCE = KIT_COURSE / "source" / "convnets"

pytest.importorskip("nbgrader")


def _clear_like_nbgrader(source: str) -> str:
    from nbgrader.preprocessors import ClearHiddenTests

    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": "t", "locked": True,
                                 "points": 1, "schema_version": 3, "solution": False}
    out, _ = ClearHiddenTests().preprocess_cell(cell, {}, 0)
    return out.source


def test_every_course_test_cell_is_cleared_as_nbgrader_clears_it():
    seen = 0
    for path in sorted(COURSE_SOURCE.glob("*.ipynb")):
        for cell in nbformat.read(str(path), as_version=4).cells:
            if "HIDDEN TESTS" in cell.source:
                seen += 1
                assert without_hidden_tests(cell.source) == _clear_like_nbgrader(cell.source)
                assert "HIDDEN" not in without_hidden_tests(cell.source)
    assert seen >= 20


@pytest.mark.parametrize("source", [
    "check(1)\n### BEGIN HIDDEN TESTS\nsecret(7)\n### END HIDDEN TESTS\ncheck(2)",
    "check(1)\n### BEGIN HIDDEN TESTS\nsecret(7)",  # never closed: runs to the end
    "check(1)\n### BEGIN HIDDEN TESTS\nsecret(7)\n### END HIDDEN TESTS\n"
    "### BEGIN HIDDEN TESTS\nsecret(8)\n### END HIDDEN TESTS",
])
def test_no_hidden_line_survives(source):
    cleared = without_hidden_tests(source)
    assert "secret" not in cleared and "HIDDEN" not in cleared
    assert cleared.startswith("check(1)")
