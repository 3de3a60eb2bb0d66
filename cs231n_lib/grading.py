"""Per-student inputs for hidden tests: ``grading_rng(seed)``.

A hidden test that draws its inputs from ``grading_rng(seed)`` gets, in the notebook,
``np.random.default_rng(seed)``: the same inputs on every run, as a seeded generator gives.
When the kit's out-of-kernel grader runs the test for a student, the same call returns a
generator derived from the course secret, the student's id and ``seed``, so that neighbours'
inputs differ and nobody can compute them ahead without the secret. The test's expected
values must then be computed from those inputs (a reference implementation), not written out.

Imports: NumPy and the standard library.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import numpy as np

_derive: Callable[[int], np.random.Generator] | None = None


def grading_rng(seed: int) -> np.random.Generator:
    """The generator of a test's inputs.

    Parameters
    ----------
    seed : int
        The test's own seed; two tests with different seeds get independent inputs.

    Returns
    -------
    numpy.random.Generator
        ``np.random.default_rng(seed)`` in a notebook; a per-student generator when graded.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"grading_rng(seed): seed must be an int, got {seed!r}")
    if _derive is not None:
        return _derive(int(seed))
    return np.random.default_rng(int(seed))


@contextlib.contextmanager
def derive_with(derive: Callable[[int], np.random.Generator]) -> Iterator[None]:
    """While the block runs, ``grading_rng(seed)`` returns ``derive(seed)`` (the grader's hook)."""
    global _derive
    previous, _derive = _derive, derive
    try:
        yield
    finally:
        _derive = previous
