"""Does the grader's comparison refuse look-alikes, wrong dtypes, wrong shapes and NaNs?"""

import numpy as np
import pytest

from autograder.compare import compare_outputs, compare_value, relative_error

REF = np.array([[1.0, 2.0], [3.0, 4.0]])


def test_equal_arrays_pass_with_their_error():
    v = compare_value("out", REF + 1e-12, REF, 1e-7)
    assert v.passed and v.rel_error == pytest.approx(relative_error(REF + 1e-12, REF))


@pytest.mark.parametrize(
    "got,phrase",
    [
        (REF.tolist(), "should be an array of shape (2, 2) and dtype float64; got a list"),
        (REF.astype(np.float32), "has dtype float32; expected float64"),
        (REF.T.reshape(4), "has shape (4,); expected (2, 2)"),
        (np.full((2, 2), np.nan), "contains NaN"),
        (REF * 1.01, "relative error 5.0e-03 is above 1e-07"),
        (REF.view(type("Sub", (np.ndarray,), {})), "got a Sub"),
    ],
)
def test_wrong_outputs_fail_with_a_reason(got, phrase):
    v = compare_value("out", got, REF, 1e-7)
    assert not v.passed
    assert phrase in v.reason


def test_numbers_and_json_values():
    assert compare_value("loss", 2.3025851, 2.302585093, 1e-7).passed
    assert not compare_value("loss", True, 1.0, 1e-7).passed
    assert not compare_value("names", ["W1"], ["W1", "b1"], 1e-7).passed


def test_output_count_and_first_failure_named():
    assert "returned 1 value(s); expected 3" in compare_outputs([REF], [REF, REF, REF], 1e-7).reason
    v = compare_outputs([REF, REF * 2], [REF, REF], 1e-7, names=("dx", "dw"))
    assert not v.passed and v.reason.startswith("dw:")
