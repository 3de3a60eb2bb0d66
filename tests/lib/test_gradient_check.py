"""Do the numeric gradients match functions whose gradients are known in closed form?

Every check also confirms that ``x`` holds its original values afterwards,
since the functions perturb it in place.
"""

import numpy as np
import pytest

from cs231n_lib.checks import rel_error
from cs231n_lib.gradient_check import (
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    grad_check_sparse,
)

# Centered differences of a cubic with h = 1e-5: the truncation error is
# h**2 * f'''/6 = 1e-10 absolute, against gradients of order 1; rounding adds
# ~1e-11. 1e-8 relative is a safe bound that any indexing bug breaks.
GRAD_TOL = 1e-8


def cube_sum(x):
    return np.sum(x**3)


def make_x(seed, shape):
    # Entries away from 0 so the relative error of 3 x**2 is well conditioned.
    rng = np.random.default_rng(seed)
    return rng.uniform(0.5, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)


@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 2)])
def test_eval_numerical_gradient_of_cube_sum_is_3x_squared_and_x_is_restored(shape):
    x = make_x(0, shape)
    before = x.copy()
    grad = eval_numerical_gradient(cube_sum, x, verbose=False)
    assert grad.shape == x.shape and grad.dtype == x.dtype
    err = rel_error(grad, 3 * before**2)
    assert err < GRAD_TOL, f"shape {shape}: rel error {err:.2e}"
    np.testing.assert_array_equal(x, before)


def test_eval_numerical_gradient_verbose_prints_each_entry(capsys):
    x = np.array([[1.0, 2.0]])
    eval_numerical_gradient(cube_sum, x, verbose=True)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("(0, 0) 3.0") and lines[1].startswith("(0, 1) 12.0")
    eval_numerical_gradient(cube_sum, x, verbose=False)
    assert capsys.readouterr().out == ""


def test_eval_numerical_gradient_accepts_numpy_scalars_and_size_one_arrays():
    x = np.array([1.0, -2.0])
    grad = eval_numerical_gradient(lambda v: np.array([[np.sum(v**2)]]), x, verbose=False)
    assert rel_error(grad, 2 * x) < GRAD_TOL


def test_x_is_restored_when_f_raises():
    x = np.array([1.0, 2.0, 3.0])
    calls = []

    def f(v):
        calls.append(v.copy())
        if len(calls) == 2:  # on the x - h evaluation of the first entry
            raise RuntimeError("boom")
        return float(np.sum(v))

    with pytest.raises(RuntimeError, match="boom"):
        eval_numerical_gradient(f, x, verbose=False)
    np.testing.assert_array_equal(x, [1.0, 2.0, 3.0])
    assert calls[0][0] == 1.0 + 1e-5 and calls[1][0] == 1.0 - 1e-5


def test_eval_numerical_gradient_array_is_the_backward_pass():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((4, 3))
    x = make_x(2, (3, 2))
    df = rng.standard_normal((4, 2))
    before = x.copy()
    # f(x) = A @ x**2 (elementwise square): d sum(f * df) / dx = 2 x * (A.T @ df).
    grad = eval_numerical_gradient_array(lambda v: A @ v**2, x, df)
    err = rel_error(grad, 2 * before * (A.T @ df))
    assert err < GRAD_TOL, f"rel error {err:.2e}"
    np.testing.assert_array_equal(x, before)


def test_eval_numerical_gradient_array_copes_with_a_reused_output_buffer():
    # f writes into one buffer and returns it each time, as a layer with a
    # preallocated output might; f(x + h) must be copied before f(x - h).
    buf = np.empty(3)

    def f(v):
        np.multiply(v, v, out=buf)
        return buf

    x = np.array([1.0, 2.0, 3.0])
    grad = eval_numerical_gradient_array(f, x, np.ones(3))
    assert rel_error(grad, 2 * x) < GRAD_TOL


def test_grad_check_sparse_reports_small_errors_for_the_right_gradient(capsys):
    x = make_x(3, (6, 7))
    before = x.copy()
    errors = grad_check_sparse(cube_sum, x, 3 * x**2, num_checks=8, seed=0)
    assert len(errors) == 8 and max(errors) < GRAD_TOL, errors
    np.testing.assert_array_equal(x, before)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 8 and all(
        line.startswith("numerical: ") and "relative error: " in line for line in lines
    )


def test_grad_check_sparse_flags_a_wrong_gradient():
    x = make_x(4, (5, 5))
    # 2 x**2 instead of 3 x**2: every entry is off by a relative 1/5.
    errors = grad_check_sparse(cube_sum, x, 2 * x**2, num_checks=5, seed=1)
    np.testing.assert_allclose(errors, 0.2, rtol=1e-6)


def test_grad_check_sparse_is_reproducible_by_seed(capsys):
    x = make_x(5, (10, 10))
    wrong = 3 * x**2 + np.arange(100).reshape(10, 10)  # a different error at every entry
    first = grad_check_sparse(cube_sum, x, wrong, num_checks=6, seed=42)
    again = grad_check_sparse(cube_sum, x, wrong, num_checks=6, seed=np.random.default_rng(42))
    other = grad_check_sparse(cube_sum, x, wrong, num_checks=6, seed=43)
    assert first == again
    assert first != other


def test_bad_input_is_refused():
    with pytest.raises(TypeError, match="x must be a float32 or float64 array; got dtype int64"):
        eval_numerical_gradient(cube_sum, np.arange(3), verbose=False)
    with pytest.raises(TypeError, match="x must be a float32 or float64 array; got dtype int64"):
        eval_numerical_gradient_array(lambda v: v, np.arange(3), np.ones(3))
    with pytest.raises(TypeError, match="x must be a float32 or float64 array; got dtype int64"):
        grad_check_sparse(cube_sum, np.arange(3), np.ones(3))
    with pytest.raises(ValueError, match=r"h must be a finite step > 0; got 0"):
        eval_numerical_gradient(cube_sum, np.ones(2), h=0)
    with pytest.raises(TypeError, match=r"f must return a scalar; got an array of shape \(2,\)"):
        eval_numerical_gradient(lambda v: v * 2, np.ones(2), verbose=False)
    with pytest.raises(ValueError, match=r"df must have the shape of f\(x\); got df.shape=\(3,\) "
                                         r"and f\(x\).shape=\(2,\)"):
        eval_numerical_gradient_array(lambda v: v * 2, np.ones(2), np.ones(3))
    with pytest.raises(ValueError,
                       match=r"analytic_grad must have the shape of x, \(2,\); got \(3,\)"):
        grad_check_sparse(cube_sum, np.ones(2), np.ones(3))
    with pytest.raises(ValueError,
                       match=r"x must have at least one entry to check; got shape \(0,\)"):
        grad_check_sparse(cube_sum, np.ones(0), np.ones(0))
    with pytest.raises(ValueError, match="num_checks must be >= 0; got -1"):
        grad_check_sparse(cube_sum, np.ones(2), np.ones(2), num_checks=-1)
