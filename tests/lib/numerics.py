"""Numerical helpers of the library tests, written here so the tests do not trust the lib's own."""

import numpy as np


def rel_err(a, b):
    """The course's relative error, written out here so the tests do not trust the lib's."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, f"shapes differ: {a.shape} vs {b.shape}"
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b)), initial=0.0))


def assert_close(name, got, want, tol):
    """Fail with both values when rel_err(got, want) exceeds tol."""
    err = rel_err(got, want)
    assert err <= tol, f"{name}: rel error {err:.2e} > {tol:.0e}\n got  {got}\n want {want}"


def numeric_grad(f, x, dout, h=1e-5):
    """Centered-difference gradient of sum(f(x) * dout) with respect to x (float64).

    The two outputs are subtracted elementwise before weighting, so outputs
    that a perturbation does not touch cancel exactly instead of adding
    rounding noise of the size of the whole sum.
    """
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        idx = it.multi_index
        old = x[idx]
        x[idx] = old + h
        plus = f(x).copy()
        x[idx] = old - h
        minus = f(x)
        x[idx] = old
        grad[idx] = np.sum((plus - minus) * dout) / (2 * h)
    return grad
