"""The course's second assignment, dropout: does it run, release and grade like the first?

As for convnets, the out-of-kernel grader runs its own test cells
(:mod:`autograder.cellgrade`), so these tests hold the notebook to what that needs: every test
cell passes on the solution in a real kernel, the untouched release fails each with
NotImplementedError, and the committed release is what nbgrader generates.
"""

from __future__ import annotations

import pytest

from course_tools import COURSE, copy_course, execute, is_autograder_test, nbgrader, read

ASSIGNMENT = "dropout"
NOTEBOOK = "dropout.ipynb"
TESTS = ["test_dropout_forward", "test_dropout_backward", "test_dropout_net"]


@pytest.fixture(scope="module")
def released(env, tmp_path_factory):
    course = copy_course(tmp_path_factory.mktemp("dropout") / "assignments")
    nbgrader(course, env, "generate_assignment", ASSIGNMENT, "--force")
    return course


def _test_cells(run):
    return {c.cell.metadata["nbgrader"]["grade_id"]: c for c in run.cells
            if is_autograder_test(c.cell)}


def test_every_test_cell_passes_on_the_solution(env, tmp_path):
    source = read(COURSE / "source" / ASSIGNMENT / NOTEBOOK)
    run = execute(source, tmp_path, env, NOTEBOOK)
    assert run.errors() == [], [(c.index, c.errors) for c in run.errors()]
    assert sorted(_test_cells(run)) == sorted(TESTS)


def test_the_untouched_release_fails_each_test_with_not_implemented(env, released):
    folder = released / "release" / ASSIGNMENT
    run = execute(read(folder / NOTEBOOK), folder, env, NOTEBOOK)
    tests = _test_cells(run)
    assert sorted(tests) == sorted(TESTS)
    for gid, cell in tests.items():
        assert [name for name, _ in cell.errors] == ["NotImplementedError"], (gid, cell.errors)


def test_the_committed_release_is_a_fresh_generation(released):
    committed = read(COURSE / "release" / ASSIGNMENT / NOTEBOOK)
    fresh = read(released / "release" / ASSIGNMENT / NOTEBOOK)
    assert [c.source for c in committed.cells] == [c.source for c in fresh.cells], (
        f"assignments/release/{ASSIGNMENT}/{NOTEBOOK} is stale: run `make release`"
    )
    text = (COURSE / "release" / ASSIGNMENT / NOTEBOOK).read_text()
    assert "HIDDEN" not in text and "grading_rng(41)" not in text
