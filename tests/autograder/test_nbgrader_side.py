"""Does the nbgrader side still work: in-notebook tests, flagged mismatches, the gradebook?

Real nbgrader, real kernels (sandboxed), a real gradebook and `nbgrader export`.
"""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.api import grade
from autograder.demo import build_demo_course

from grading_setup import SECRET, TEST_LIMITS

pytest.importorskip("nbgrader")
STUDENTS = ["honest_alice", "cheat_check_helpers", "release_untouched"]


@pytest.fixture(scope="module")
def nbgrader_run(tmp_path_factory):
    course = tmp_path_factory.mktemp("nbg") / "course"
    build_demo_course(course, only=STUDENTS)
    run = grade(
        course,
        "convnets",
        workers=2,
        secret=SECRET,
        limits=TEST_LIMITS,
        progress=False,
        nbgrader=True,
    )
    return course, {r.student_id: r for r in run.results}


def test_in_notebook_results_are_recorded(nbgrader_run):
    _, results = nbgrader_run
    assert {t.in_notebook for t in results["honest_alice"].tests} == {"passed"}
    assert {t.in_notebook for t in results["release_untouched"].tests} == {"failed"}


def test_passing_in_the_kernel_but_not_outside_is_flagged(nbgrader_run):
    _, results = nbgrader_run
    cheat = results["cheat_check_helpers"]
    flagged = sorted(t.grade_id for t in cheat.tests if t.flagged)
    assert flagged == [
        "test_conv_forward_rectangular",
        "test_conv_forward_same",
        "test_conv_forward_stride",
    ]
    assert all(t.in_notebook == "passed" and t.points == 0 for t in cheat.tests if t.flagged)
    assert not any(t.flagged for t in results["honest_alice"].tests)


def test_out_of_kernel_scores_land_in_the_gradebook_and_export(nbgrader_run):
    course, results = nbgrader_run
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    res = subprocess.run(
        [sys.executable, "-m", "nbgrader", "export"],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    rows = {r["student_id"]: r for r in csv.DictReader((course / "grades.csv").open())}
    for student in STUDENTS:
        assert float(rows[student]["raw_score"]) == results[student].score
    # The manual questions are still there to grade by hand.
    assert float(rows["honest_alice"]["max_score"]) > results["honest_alice"].max_score


def test_autograded_notebooks_are_there_for_formgrader(nbgrader_run):
    course, _ = nbgrader_run
    assert len(list((course / "autograded" / "honest_alice" / "convnets").glob("*.ipynb"))) == 4
