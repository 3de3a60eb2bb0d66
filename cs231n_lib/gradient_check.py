"""Numerical gradients by centered differences, to check analytic backward passes.

Each function nudges one entry of ``x`` at a time **in place**, calls ``f``,
and puts the entry back, so ``f`` may close over ``x`` (the usual
``lambda _: model.loss(X, y)[0]`` with ``x`` being one of the model's
parameter arrays works). ``x`` holds its original values again on return,
even when ``f`` raises.

Use float64 ``x``: a centered difference with ``h = 1e-5`` has a truncation
error of order ``h**2 = 1e-10`` but a rounding error of order
``machine_eps / h``, which is about 1e-11 in float64 and about 1e-2 in float32,
so float32 gradients are only good to a couple of digits. Integer ``x`` is
refused, since ``x + h`` could not be stored in it.

Imports: NumPy, ``cs231n_lib._validation``, ``cs231n_lib.refusal``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from cs231n_lib import refusal
from cs231n_lib._validation import as_float_array, check_int

__all__ = ["eval_numerical_gradient", "eval_numerical_gradient_array", "grad_check_sparse"]


def _check_step(h: Any) -> float:
    if isinstance(h, (bool, np.bool_)) or not isinstance(h, (int, float, np.number)):
        raise TypeError(f"h must be a real number; got {h!r}")
    if not (math.isfinite(float(h)) and h > 0):
        raise ValueError(f"h must be a finite step > 0; got {h!r}")
    return float(h)


def _scalar(value: Any) -> float:
    """``f``'s output as a float, with a useful message when it is not a scalar."""
    arr = np.asarray(value)
    if arr.size != 1:
        raise TypeError(
            f"f must return a scalar; got an array of shape {arr.shape} "
            "(use eval_numerical_gradient_array for array-valued functions)"
        )
    return float(arr.reshape(()))


def _centered_difference(
    f: Callable[[np.ndarray], Any], x: np.ndarray, ix: tuple[int, ...], h: float
) -> tuple[Any, Any]:
    """``(f(x + h e_ix), f(x - h e_ix))``, restoring ``x[ix]`` afterwards.

    The first value is copied because ``f`` may return a view of a buffer it
    overwrites on the second call.
    """
    old = x[ix]
    try:
        x[ix] = old + h
        plus = np.copy(f(x))
        x[ix] = old - h
        minus = f(x)
    finally:
        x[ix] = old
    return plus, minus


def eval_numerical_gradient(
    f: Callable[[np.ndarray], Any], x: np.ndarray, verbose: bool = True, h: float = 1e-5
) -> np.ndarray:
    """Gradient of a scalar function by centered differences, one entry of ``x`` at a time.

    Parameters
    ----------
    f : callable
        ``f(x) -> float``, a scalar (a Python or NumPy scalar, or a size-1 array).
    x : ndarray of any shape, float64 (float32 works, with about 2 correct digits)
        The point; modified in place during the call and restored.
    verbose : bool, default True
        Print each index and its gradient entry as it is computed.
    h : float, default 1e-5
        Step size.

    Returns
    -------
    grad : ndarray of the shape and dtype of ``x``
        ``grad[i] = (f(x + h e_i) - f(x - h e_i)) / (2 h)``.
    """
    refusal.check("eval_numerical_gradient")
    x = as_float_array("x", x)
    h = _check_step(h)
    grad = np.zeros_like(x)
    for ix in np.ndindex(x.shape):
        plus, minus = _centered_difference(f, x, ix, h)
        grad[ix] = (_scalar(plus) - _scalar(minus)) / (2 * h)
        if verbose:
            print(ix, grad[ix])
    return grad


def eval_numerical_gradient_array(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, df: np.ndarray, h: float = 1e-5
) -> np.ndarray:
    """Gradient of ``sum(f(x) * df)`` for an array-valued ``f``: a backward pass, numerically.

    Parameters
    ----------
    f : callable
        ``f(x) -> ndarray`` of some shape S, for example ``lambda x: relu_forward(x)[0]``.
    x : ndarray of any shape, float64 (float32 works, with about 2 correct digits)
        Modified in place during the call and restored.
    df : ndarray of shape S
        The upstream gradient ``dout`` that weights ``f``'s outputs.
    h : float, default 1e-5
        Step size.

    Returns
    -------
    grad : ndarray of the shape and dtype of ``x``
        ``grad[i] = sum((f(x + h e_i) - f(x - h e_i)) * df) / (2 h)``, which is
        what ``<op>_backward(df, cache)`` should return for ``x``.

    Notes
    -----
    The two outputs are subtracted before they are weighted and summed, so
    outputs that do not depend on ``x[i]`` cancel exactly.
    """
    refusal.check("eval_numerical_gradient_array")
    x = as_float_array("x", x)
    df = np.asarray(df)
    h = _check_step(h)
    grad = np.zeros_like(x)
    for ix in np.ndindex(x.shape):
        plus, minus = _centered_difference(f, x, ix, h)
        minus = np.asarray(minus)
        if plus.shape != df.shape or minus.shape != df.shape:
            raise ValueError(
                f"df must have the shape of f(x); got df.shape={df.shape} "
                f"and f(x).shape={minus.shape}"
            )
        grad[ix] = np.sum((plus - minus) * df) / (2 * h)
    return grad


def grad_check_sparse(
    f: Callable[[np.ndarray], Any],
    x: np.ndarray,
    analytic_grad: np.ndarray,
    num_checks: int = 10,
    h: float = 1e-5,
    seed: int | np.random.Generator | None = None,
) -> list[float]:
    """Compare an analytic gradient with centered differences at a few random entries.

    Cheaper than :func:`eval_numerical_gradient` for large ``x``: only
    ``num_checks`` entries are evaluated (with repetition possible).

    Parameters
    ----------
    f : callable
        ``f(x) -> float``, a scalar.
    x : ndarray of any shape, float64 (float32 works, with about 2 correct digits)
        Modified in place during the call and restored.
    analytic_grad : ndarray of the shape of ``x``
        The gradient under test.
    num_checks : int, default 10
        How many random entries to check.
    h : float, default 1e-5
        Step size.
    seed : int or numpy.random.Generator, optional
        Passed to :func:`numpy.random.default_rng` to pick the entries.

    Returns
    -------
    errors : list of float
        The relative error ``|num - ana| / max(1e-8, |num| + |ana|)`` of each
        checked entry, in the order printed.
    """
    x = as_float_array("x", x)
    analytic_grad = np.asarray(analytic_grad)
    if analytic_grad.shape != x.shape:
        raise ValueError(
            f"analytic_grad must have the shape of x, {x.shape}; got {analytic_grad.shape}"
        )
    if x.size == 0:
        raise ValueError(f"x must have at least one entry to check; got shape {x.shape}")
    num_checks = check_int("num_checks", num_checks, 0)
    h = _check_step(h)
    rng = np.random.default_rng(seed)
    errors = []
    for _ in range(num_checks):
        ix = tuple(int(rng.integers(n)) for n in x.shape)
        plus, minus = _centered_difference(f, x, ix, h)
        numerical = (_scalar(plus) - _scalar(minus)) / (2 * h)
        analytic = float(analytic_grad[ix])
        err = abs(numerical - analytic) / max(1e-8, abs(numerical) + abs(analytic))
        print(f"numerical: {numerical:f} analytic: {analytic:f}, relative error: {err:e}")
        errors.append(err)
    return errors
