"""Relative error and the check helpers the notebooks call.

A check either returns quietly with a one-line report or raises
``AssertionError`` whose message says what differs: the shape, the dtype,
NaNs, or the worst element with both values. Notebooks build their
assignment-specific diagnoses on top of these.

Imports: NumPy only.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def rel_error(x: Any, y: Any) -> float:
    """Largest elementwise relative error between ``x`` and ``y``.

    ``max |x - y| / max(1e-8, |x| + |y|)``, the course's measure: about 1e-7
    or less means two float64 computations agree; 1e-2 or more means a bug.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"rel_error needs equal shapes; got {x.shape} and {y.shape}")
    if x.size == 0:
        return 0.0
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def check_array(name: str, actual: Any, expected_shape: tuple[int, ...] | None = None,
                expected_dtype: Any = None) -> np.ndarray:
    """Check that ``actual`` is a finite ndarray of the given shape and dtype.

    Raises AssertionError naming ``name`` and the problem; returns the array.
    ``None`` gets its own message because an unfinished function returns it.
    """
    if actual is None:
        raise AssertionError(
            f"{name} is None: the function returned nothing "
            "(a missing `return`, or an unfinished TODO?)"
        )
    if not isinstance(actual, np.ndarray):
        raise AssertionError(f"{name} must be a NumPy array; got {type(actual).__name__}")
    if expected_shape is not None and actual.shape != tuple(expected_shape):
        hint = ""
        if sorted(actual.shape) == sorted(expected_shape):
            hint = " (same sizes in another order: are axes transposed?)"
        raise AssertionError(
            f"{name} has shape {actual.shape}; expected {tuple(expected_shape)}{hint}"
        )
    if expected_dtype is not None and actual.dtype != np.dtype(expected_dtype):
        raise AssertionError(
            f"{name} has dtype {actual.dtype}; expected {np.dtype(expected_dtype)}"
        )
    if actual.dtype.kind in "fc" and not np.all(np.isfinite(actual)):
        bad = int(np.size(actual) - np.count_nonzero(np.isfinite(actual)))
        raise AssertionError(f"{name} has {bad} NaN or infinite value(s)")
    return actual


def check_close(name: str, actual: Any, expected: Any, tol: float = 1e-7) -> float:
    """Assert that ``actual`` matches ``expected`` to relative error ``tol``.

    Prints ``name: relative error 3.2e-09 (threshold 1e-07) OK`` on success and
    returns the error. On failure the message gives the error, the threshold
    and the worst element's index with both values.
    """
    expected = np.asarray(expected)
    actual = check_array(name, actual, expected.shape)
    err = rel_error(actual, expected)
    if not err <= tol:
        a = actual.astype(np.float64)
        e = expected.astype(np.float64)
        worst = np.unravel_index(
            np.argmax(np.abs(a - e) / np.maximum(1e-8, np.abs(a) + np.abs(e))), a.shape
        )
        raise AssertionError(
            f"{name}: relative error {err:.2e} is above the threshold {tol:.0e}; "
            f"worst at index {tuple(int(i) for i in worst)}: "
            f"got {a[worst]:.6g}, expected {e[worst]:.6g}"
        )
    print(f"{name}: relative error {err:.2e} (threshold {tol:.0e}) OK")
    return err
