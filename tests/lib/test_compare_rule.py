"""Does the course's comparison rule refuse look-alikes, wrong dtypes, wrong shapes and NaNs,
and do the notebooks' visible checks (which the grader runs as the test cells) apply it?"""

import numpy as np
import pytest

from cs231n_lib import checks
from cs231n_lib.checks.core import compare_outputs, compare_value
from cs231n_lib.checks.core import rel_error as relative_error

REF = np.array([[1.0, 2.0], [3.0, 4.0]])


def test_equal_arrays_pass_with_their_error():
    v = compare_value("out", REF + 1e-12, REF, 1e-7)
    assert v.passed and v.rel_error == pytest.approx(relative_error(REF + 1e-12, REF))


WRONG = [
    (REF.tolist(), "should be a NumPy array of shape (2, 2) and dtype float64; got a list"),
    (None, "is None: the function returned nothing"),
    (REF.astype(np.float32), "has dtype float32; expected float64: compute in float64"),
    (REF.astype(np.int64), "has dtype int64; expected float64"),
    (REF.T.reshape(4), "has shape (4,); expected (2, 2)"),
    (np.full((2, 2), np.nan), "contains 4 NaN or infinite value(s)"),
    (REF * 1.01, "relative error 4.98e-03 is above the threshold 1e-07"),
    (REF.view(type("Sub", (np.ndarray,), {})), "got a Sub"),
]


@pytest.mark.parametrize("got,phrase", WRONG)
def test_wrong_outputs_fail_with_a_reason(got, phrase):
    v = compare_value("out", got, REF, 1e-7)
    assert not v.passed
    assert phrase in v.reason


@pytest.mark.parametrize("got,phrase", WRONG)
def test_the_visible_check_fails_the_same_outputs_the_same_way(got, phrase):
    """One rule on both sides: check_close raises exactly where the grader fails."""
    with pytest.raises(AssertionError) as raised:
        checks.check_close("out", got, REF)
    assert phrase in str(raised.value)


def test_a_float32_result_that_is_close_still_fails_both_sides():
    """Today's float32 conv output is within 1e-7 in value; the dtype decides, on both sides."""
    got = REF.astype(np.float32)
    assert relative_error(got, REF) <= 1e-7
    assert not compare_value("out", got, REF, 1e-7).passed
    with pytest.raises(AssertionError, match="compute in float64"):
        checks.check_close("out", got, REF)


def test_the_reason_shows_no_values_but_the_visible_check_does():
    got = REF.copy()
    got[1, 0] = 3.5
    v = compare_value("out", got, REF, 1e-7)
    assert "3.5" not in v.reason and "got 3.5, expected 3" in v.detail
    with pytest.raises(AssertionError, match=r"worst at index \(1, 0\): got 3.5, expected 3"):
        checks.check_close("out", got, REF)


def test_numbers_and_json_values():
    assert compare_value("loss", 2.3025851, 2.302585093, 1e-7).passed
    assert not compare_value("loss", True, 1.0, 1e-7).passed
    assert "is nan" in compare_value("loss", float("nan"), 1.0, 1e-7).reason
    assert not compare_value("names", ["W1"], ["W1", "b1"], 1e-7).passed


def test_output_count_and_first_failure_named():
    assert "returned 1 value(s); expected 3" in compare_outputs([REF], [REF, REF, REF], 1e-7).reason
    v = compare_outputs([REF, REF * 2], [REF, REF], 1e-7, names=("dx", "dw"))
    assert not v.passed and v.reason.startswith("dw:")
