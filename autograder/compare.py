"""Compare a student's outputs with the reference's, in the grader's own process.

Nothing here can be reached by student code: the student's outputs arrive as
plain arrays (read from ``.npy`` with ``allow_pickle=False``) and JSON values.
An array must be a real ``numpy.ndarray`` with the reference's dtype and
shape, and finite, before its values are looked at.

Imports: NumPy only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Verdict:
    passed: bool
    rel_error: float | None
    reason: str


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """``max |a - b| / max(1e-8, |a| + |b|)``, computed in float64."""
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def _describe(value: Any) -> str:
    if type(value) is np.ndarray:
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    return f"a {type(value).__name__}"


def compare_value(name: str, got: Any, want: Any, tol: float) -> Verdict:
    """Compare one output with its reference."""
    if isinstance(want, np.ndarray):
        if type(got) is not np.ndarray:
            return Verdict(False, None, f"{name} should be {_describe(want)}; got {_describe(got)}")
        if got.dtype != want.dtype:
            return Verdict(False, None, f"{name} has dtype {got.dtype}; expected {want.dtype}")
        if got.shape != want.shape:
            return Verdict(False, None, f"{name} has shape {got.shape}; expected {want.shape}")
        if got.dtype.kind in "fc" and not np.all(np.isfinite(got)):
            return Verdict(False, None, f"{name} contains NaN or infinite values")
        if got.dtype.kind in "fc":
            err = relative_error(got, want)
            if not err <= tol:
                return Verdict(False, err, f"{name}: relative error {err:.1e} is above {tol:.0e}")
            return Verdict(True, err, "")
        if not np.array_equal(got, want):
            return Verdict(False, None, f"{name} differs from the expected values")
        return Verdict(True, 0.0, "")
    if isinstance(want, float):
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            return Verdict(False, None, f"{name} should be a number; got {_describe(got)}")
        err = relative_error(np.array(got), np.array(want))
        if not err <= tol:
            return Verdict(False, err, f"{name}: relative error {err:.1e} is above {tol:.0e}")
        return Verdict(True, err, "")
    if got != want:
        return Verdict(False, None, f"{name} is {got!r}; expected {want!r}")
    return Verdict(True, None, "")


def compare_outputs(
    got: list[Any], want: list[Any], tol: float, names: tuple[str, ...] = ()
) -> Verdict:
    """Compare a call's outputs, in order; the first failure decides the reason."""
    if len(got) != len(want):
        return Verdict(False, None, f"returned {len(got)} value(s); expected {len(want)}")
    worst: float | None = None
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        name = names[i] if i < len(names) else f"output {i + 1}"
        verdict = compare_value(name, g, w, tol)
        if not verdict.passed:
            return verdict
        if verdict.rel_error is not None:
            worst = verdict.rel_error if worst is None else max(worst, verdict.rel_error)
    return Verdict(True, worst, "")
