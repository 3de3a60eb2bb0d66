"""Does the autograding benchmark time both graders on the same submissions?

Timings are not asserted (a benchmark is not a timed test); that both runs
grade every submission is.
"""

import pytest

from autograder.bench import time_autograder, time_plain_nbgrader
from autograder.demo import build_demo_course

pytest.importorskip("nbgrader")
STUDENTS = ["honest_alice", "release_untouched"]


@pytest.fixture(scope="module")
def small_class(tmp_path_factory):
    course = tmp_path_factory.mktemp("agbench") / "course"
    build_demo_course(course, only=STUDENTS)
    return course


def test_plain_nbgrader_autogrades_every_submission(small_class):
    seconds, info = time_plain_nbgrader(small_class, cell_timeout=60)
    assert info["exit_code"] == 0, info["stderr_tail"]
    assert info["autograded_folders"] == len(STUDENTS)
    assert seconds > 0
    # The course itself is left alone: the run used a scratch copy.
    assert not (small_class / "autograded").exists()


def test_autograder_timing_grades_every_submission(small_class):
    seconds, info = time_autograder(small_class, workers=2)
    assert info["submissions"] == len(STUDENTS) and seconds > 0
    assert info["scores"]["honest_alice"] > info["scores"]["release_untouched"]
