"""Compare a student's outputs with the reference's, in the grader's own process.

The rule is the course's one rule, :mod:`cs231n_lib.checks.core`, the same
the notebooks' visible checks apply: a real ``numpy.ndarray`` (not a
subclass), of the reference's shape and dtype (a float32 result for float64
inputs fails, and says to compute in float64), finite, within the test's
relative-error threshold. So a visible check that passes means this
comparison passes on the same inputs, and a difference between the two is
never a sign of tampering by itself.

Nothing here can be reached by student code: the student's outputs arrive as
plain arrays (read from ``.npy`` with ``allow_pickle=False``) and JSON values.
A :class:`Verdict`'s ``reason`` shows no value of the inputs or outputs
(``detail``, the worst element, is for the visible checks and is not shown here).

Imports: NumPy and ``cs231n_lib.checks.core``.
"""

from __future__ import annotations

import numpy as np

from cs231n_lib.checks.core import Verdict, compare_outputs, compare_value, rel_error

__all__ = ["Verdict", "compare_outputs", "compare_value", "relative_error"]


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """``max |a - b| / max(1e-8, |a| + |b|)``, computed in float64."""
    return rel_error(a, b)
