"""Fixtures for the course tests. The expensive runs happen once per session:

- ``source_runs``: the four source notebooks executed by a real kernel, small scale;
- ``generated_course``: a scratch copy of the course after ``nbgrader generate_assignment``;
- ``autograded``: that copy after ``nbgrader autograde`` of two students, one who
  submitted the source notebooks and one who submitted the release untouched.
"""

from __future__ import annotations

import shutil

import pytest

# nbgrader, nbclient and ipykernel are test dependencies: a missing one is an error
# here, not a skip, so that CI cannot pass without running the course.
from course_tools import (
    ASSIGNMENT,
    NOTEBOOKS,
    SOURCE,
    copy_course,
    execute,
    kernel_env,
    nbgrader,
    read,
)


@pytest.fixture(scope="session")
def env(tmp_path_factory):
    """The environment kernels and nbgrader run with (this process's is left alone)."""
    return kernel_env(tmp_path_factory.mktemp("kernel"))


@pytest.fixture(scope="session")
def source_runs(env, tmp_path_factory):
    """Each source notebook, executed top to bottom with CS231N_NOTEBOOK_SCALE=small."""
    work = tmp_path_factory.mktemp("source_runs")
    runs = {}
    for name in NOTEBOOKS:
        shutil.copy2(SOURCE / f"{name}.ipynb", work / f"{name}.ipynb")
        runs[name] = execute(read(work / f"{name}.ipynb"), work, env, name)
    return runs


@pytest.fixture(scope="session")
def generated_course(env, tmp_path_factory):
    """A scratch course where ``nbgrader generate_assignment`` has produced the release."""
    course = copy_course(tmp_path_factory.mktemp("course") / "assignments")
    nbgrader(course, env, "generate_assignment", ASSIGNMENT, "--force")
    return course


STUDENTS = {"full_marks": "source", "untouched": "release"}


@pytest.fixture(scope="session")
def autograded(env, generated_course):
    """Autograde the source (as a student's work) and the untouched release.

    Returns ``{student: {notebook: [(grade_id, auto_score, max_score), ...]}}`` for the
    autograder test cells, read back through nbgrader's Gradebook API.
    """
    from nbgrader.api import Gradebook

    course = generated_course
    for student, origin in STUDENTS.items():
        dest = course / "submitted" / student / ASSIGNMENT
        dest.mkdir(parents=True)
        for name in NOTEBOOKS:
            shutil.copy2(course / origin / ASSIGNMENT / f"{name}.ipynb", dest / f"{name}.ipynb")
    # The course refuses plain `nbgrader autograde` (grading is out of kernel); this is the
    # kit's own in-kernel run, the one the autograder's --nbgrader makes for its flags.
    nbgrader(course, {**env, "CS231N_IN_KERNEL_RUN": "1"}, "autograde", ASSIGNMENT, "--create")

    results: dict = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student in STUDENTS:
            results[student] = {}
            for nb in gb.find_submission(ASSIGNMENT, student).notebooks:
                results[student][nb.name] = [
                    (g.name, g.auto_score, g.max_score)
                    for g in nb.grades if g.cell.cell_type == "code"
                ]
    return results
