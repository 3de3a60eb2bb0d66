"""Grading a real class: do honest work, cheats, crashes and broken files each get what they should?

The class is autograder.demo's: 24 submissions made from the real release.
"""

import csv
import json
import subprocess
import sys

import pytest

from autograder.api import grade
from autograder.demo import SUBMISSIONS
from autograder.schema import PASSED

from grading_setup import SECRET, TEST_LIMITS

GOOD_STUDENTS = list(SUBMISSIONS)


def lost(result):
    return sorted(t.grade_id for t in result.tests if t.status != PASSED)


def test_the_class_has_24_submissions(by_student):
    assert len(by_student) == 24


def test_honest_submission_gets_full_marks(by_student):
    alice = by_student["honest_alice"]
    assert lost(alice) == [], [(t.grade_id, t.reason) for t in alice.tests if t.status != PASSED]
    assert alice.score == alice.max_score > 0
    assert not alice.flags


def test_untouched_release_gets_zero(by_student):
    release = by_student["release_untouched"]
    assert release.score == 0
    assert all("NotImplementedError" in t.reason for t in release.tests), {
        t.reason for t in release.tests
    }


@pytest.mark.parametrize("student", [s for s in GOOD_STUDENTS if s != "honest_alice"])
def test_each_submission_loses_exactly_the_items_it_breaks(student, demo_course, by_student):
    _, expected = demo_course
    result = by_student[student]
    assert lost(result) == sorted(expected[student]), [
        (t.grade_id, t.reason) for t in result.tests if t.status != PASSED
    ]


@pytest.mark.parametrize("student", [s for s in GOOD_STUDENTS if s.startswith("cheat_")])
def test_every_cheat_is_flagged(student, by_student):
    assert by_student[student].flagged, student


@pytest.mark.parametrize(
    "student,grade_id,phrase",
    [
        ("crash_infinite_loop", "test_max_pool_forward_overlapping", "did not finish"),
        ("crash_signals_and_exits", "test_spatial_groupnorm_forward", "SIGSEGV"),
        ("crash_signals_and_exits", "test_spatial_batchnorm_backward", "exited"),
        ("crash_signals_and_exits", "test_max_pool_backward_tiled", "SystemExit"),
        ("crash_signals_and_exits", "test_conv_backward_stride1", "did not finish"),
        ("crash_memory_output", "test_spatial_batchnorm_train", "emory"),
        ("crash_fork_bomb", "test_max_pool_forward_tiled", ""),
        ("partly_wrong_bob", "test_conv_forward_same", "relative error"),
        ("cheat_ndarray_subclass", "test_conv_forward_same", "should be a NumPy array"),
        ("cheat_always_equal", "test_conv_forward_same", "_Anything"),
    ],
)
def test_faults_and_wrong_answers_carry_a_reason(student, grade_id, phrase, by_student):
    test = next(t for t in by_student[student].tests if t.grade_id == grade_id)
    assert test.status != PASSED
    assert phrase in test.reason, test.reason


@pytest.mark.parametrize(
    "student,kind",
    [
        ("bad_corrupt_json", "corrupt_json"),
        ("bad_missing_notebook", "missing_notebook"),
        ("bad_misnamed_notebook", "misnamed_notebook"),
        ("bad_not_utf8", "not_utf8"),
        ("bad_deleted_cell", "missing_cell"),
        ("bad_duplicate_id", "duplicate_grade_id"),
        ("bad_edited_test", "edited_test_cell"),
        ("bad_retyped_cell", "retyped_cell"),
        ("bad_extra_files", "extra_file"),
    ],
)
def test_bad_submissions_get_their_status(student, kind, by_student):
    result = by_student[student]
    assert kind in {p["kind"] for p in result.problems}, result.problems
    assert result.status in ("problems", "empty")


def test_misnamed_and_extra_files_are_still_graded(by_student):
    assert by_student["bad_misnamed_notebook"].score == by_student["honest_alice"].score
    assert by_student["bad_extra_files"].score == by_student["honest_alice"].score


def test_nothing_outside_the_sandbox_was_touched(demo_course, by_student):
    course, _ = demo_course
    assert (
        not (course / "gradebook.db").exists()
        or b"tampered" not in (course / "gradebook.db").read_bytes()
    )
    for nb in (course / "submitted").rglob("*.ipynb"):
        assert not nb.read_bytes().endswith(b"tampered"), nb


def test_rerun_reuses_every_result_and_changes_nothing(demo_course, graded):
    course, _ = demo_course
    first, _ = graded
    again = grade(course, "convnets", workers=2, secret=SECRET, limits=TEST_LIMITS, progress=False)
    assert again.graded == [] and len(again.reused) == 24
    assert [r.to_json() for r in again.results] == [r.to_json() for r in first.results]


def test_interrupted_run_resumes_only_what_is_missing(demo_course, graded):
    course, _ = demo_course
    first, _ = graded
    for student in ("honest_alice", "bad_not_utf8"):
        (first.out_dir / "results" / f"{student}.json").unlink()
    resumed = grade(
        course, "convnets", workers=2, secret=SECRET, limits=TEST_LIMITS, progress=False
    )
    assert sorted(resumed.graded) == ["bad_not_utf8", "honest_alice"]
    assert [r.score for r in resumed.results] == [r.score for r in first.results]


def test_reports(graded, by_student):
    run, _ = graded
    out = run.out_dir
    rows = list(csv.DictReader((out / "grades.csv").open()))
    assert len(rows) == 24 * len(by_student["honest_alice"].tests)
    gs = json.loads((out / "gradescope" / "honest_alice" / "results.json").read_text())
    assert gs["score"] == by_student["honest_alice"].score
    assert {"name", "score", "max_score", "status", "output"} <= set(gs["tests"][0])
    summary = json.loads((out / "summary.json").read_text())
    assert "cheat_rel_error" in summary["flagged"] and "honest_alice" not in summary["flagged"]
    assert (out / "scores.png").read_bytes()[:4] == b"\x89PNG"
    page = (out / "feedback" / "partly_wrong_bob.html").read_text()
    assert "test_conv_forward_same" in page and "relative error" in page


def test_feedback_never_shows_hidden_tests_or_solutions(demo_course, graded):
    course, _ = demo_course
    run, _ = graded
    secrets_ = ["BEGIN HIDDEN TESTS", "grading_rng(1101)", "np.tensordot", SECRET]
    for page in (run.out_dir / "feedback").glob("*.html"):
        text = page.read_text()
        assert not [s for s in secrets_ if s in text], page.name


def test_cli_grades_one_student(demo_course, tmp_path):
    course, _ = demo_course
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder",
            str(course),
            "--student",
            "honest_alice",
            "--out",
            str(tmp_path / "out"),
            "--secret",
            SECRET,
            "--no-progress",
            "--workers",
            "1",
            "--wall-seconds-per-test",
            "4",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr
    assert "honest_alice" in res.stdout and "graded 1, unchanged 0" in res.stdout


def test_cli_names_a_missing_course(tmp_path):
    res = subprocess.run(
        [sys.executable, "-m", "autograder", str(tmp_path / "nowhere")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2
    assert f"no course folder at {tmp_path / 'nowhere'}" in res.stderr


@pytest.mark.slow
def test_dask_local_cluster_gives_identical_grades(demo_course, graded, tmp_path):
    distributed = pytest.importorskip("distributed")
    course, _ = demo_course
    first, _ = graded
    # One of each kind (the whole class by cells takes a minute): honest, wrong, a cheat, a
    # crash that kills the jail's processes, a malformed file, the untouched release.
    students = ["honest_alice", "partly_wrong_bob", "cheat_ndarray_subclass",
                "crash_signals_and_exits", "bad_corrupt_json", "release_untouched"]
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        run = grade(
            course,
            "convnets",
            students=students,
            scheduler=cluster.scheduler_address,
            secret=SECRET,
            limits=TEST_LIMITS,
            progress=False,
            out_dir=tmp_path / "dask",
            regrade=True,
            similarity=False,
        )
    assert sorted(run.graded) == sorted(students)

    def table(results):
        return {r.student_id: [(t.grade_id, t.status, t.points) for t in r.tests] for r in results}

    assert table(run.results) == table([r for r in first.results if r.student_id in students])


def test_a_failed_hidden_test_says_the_likely_cause_and_the_kind_of_case(by_student):
    """The grader words its own failure with the notebook's diagnoses, on its own inputs."""
    bob = by_student["partly_wrong_bob"]
    reasons = {t.grade_id: t.reason for t in bob.tests if t.status != PASSED}
    for grade_id in ("test_conv_forward_same", "test_conv_forward_stride"):
        assert "Likely cause: your output matches a convolution with the kernel flipped" in (
            reasons[grade_id]
        ), reasons[grade_id]
        assert "(the failing case: " in reasons[grade_id]
    assert "Likely cause: the gradient is spread over every tied maximum" in (
        reasons["test_max_pool_backward_ties"]
    )
