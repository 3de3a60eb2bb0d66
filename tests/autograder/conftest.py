"""A real course, built once per session from the kit's assignment, and graded once."""

import time

import pytest

from autograder.api import grade
from autograder.demo import build_demo_course

from grading_setup import SECRET, TEST_LIMITS


@pytest.fixture(scope="session")
def demo_course(tmp_path_factory):
    course = tmp_path_factory.mktemp("course") / "cs231n"
    expected = build_demo_course(course)
    return course, expected


@pytest.fixture(scope="session")
def graded(demo_course):
    """The whole demo class graded with two local workers; (run, seconds)."""
    course, _ = demo_course
    start = time.perf_counter()
    run = grade(course, "convnets", workers=2, secret=SECRET, limits=TEST_LIMITS, progress=False)
    return run, time.perf_counter() - start


@pytest.fixture(scope="session")
def by_student(graded):
    run, _ = graded
    return {r.student_id: r for r in run.results}
