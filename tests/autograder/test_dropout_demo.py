"""The demo's second class: dropout, graded by its own test cells through the real API.

Each submission says which tests it should lose (the "demo" table of the assignment's
autograder.json, built by autograder.demo.declared_class):
honest work in two styles, a wrong scale, a cheat that rebinds every judge in its own cells,
a backward pass through the refused numerical gradient, a hang, the untouched release.
"""

from __future__ import annotations

import sys

import pytest

from autograder.api import grade
from autograder.demo import DROPOUT, build_demo_course, declared_class
from autograder.schema import ERROR, FAILED, PASSED

from grading_setup import SECRET, TEST_LIMITS

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the jail is built from Linux namespaces"
)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = tmp_path_factory.mktemp("dropout_demo") / "course"
    build_demo_course(course, only=[])  # the kit's course, no convnets submission
    expected = declared_class(course, DROPOUT)
    run = grade(course, DROPOUT, secret=SECRET, limits=TEST_LIMITS, workers=2, progress=False,
                similarity=False)
    return expected, {r.student_id: r for r in run.results}


def test_each_submission_loses_exactly_the_tests_it_should(graded):
    expected, results = graded
    assert sorted(results) == sorted(expected)
    for student, result in results.items():
        lost = sorted(t.grade_id for t in result.tests if t.status != PASSED)
        assert lost == sorted(expected[student]), (
            student, [(t.grade_id, t.status, t.reason) for t in result.tests]
        )


def test_the_reasons_name_what_went_wrong(graded):
    _, results = graded
    tests = {t.grade_id: t for t in results["cheat_rebinds_judges"].tests}
    assert {t.status for t in tests.values()} == {FAILED}
    assert tests["test_dropout_forward"].reason.startswith("with p = 0.25 a fraction 1.000")
    refused = {t.grade_id: t for t in results["cheat_numeric_backward"].tests}
    assert refused["test_dropout_backward"].status == ERROR
    assert refused["test_dropout_backward"].reason.startswith(
        "called the provided routine eval_numerical_gradient_array, which this test refuses"
    )
    hang = {t.grade_id: t for t in results["crash_hangs"].tests}
    assert "did not finish within" in hang["test_dropout_backward"].reason
    untouched = {t.grade_id: t for t in results["release_untouched"].tests}
    assert all(t.reason.startswith("your code raised NotImplementedError")
               for t in untouched.values())
    assert results["honest_alice"].score == results["honest_alice"].max_score == 7
