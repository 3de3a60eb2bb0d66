"""What an out-of-kernel test is: a driver, inputs chosen by the grader, a threshold.

A *driver* is a small trusted function ``driver(ns, *args) -> list`` that
calls the code under test, found by name in namespace ``ns``, and returns its
outputs. The same driver runs twice: in the sandbox on the student's
namespace (its source is sent there), and in the grader on the reference
namespace built from the instructor's solution cells. Only the outputs
cross back, as data.

Inputs are drawn per student: the generator's seed is an HMAC of the
course secret, the student id and the test's grade id, so neighbours'
inputs differ and nobody can precompute them without the secret.

Imports: NumPy and the standard library.
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

Case = tuple[tuple[Any, ...], dict[str, Any]]
# custom(student_outputs, reference_outputs, args) -> (passed, reason)
CustomCheck = Callable[[list[Any], list[Any], tuple[Any, ...]], tuple[bool, str]]


@dataclass(frozen=True)
class TestSpec:
    """The out-of-kernel twin of one autograded test cell.

    Attributes
    ----------
    grade_id : str
        The nbgrader grade id of the test cell this test shadows.
    notebook : str
        File name of the notebook holding it.
    driver : callable
        ``driver(ns, *args, **kwargs) -> list`` of outputs.
    make_cases : callable
        ``make_cases(rng) -> list of (args, kwargs)``: the inputs, drawn from
        the per-student generator.
    tol : float
        Largest relative error accepted on every floating output.
    names : tuple of str
        Names of the outputs, for messages ("dx", "dw", ...).
    custom : callable, optional
        Replaces the output comparison (for outputs that are random by design).
    needs : tuple of str
        Names the student's code must define (a missing one means MISSING).
    """

    grade_id: str
    notebook: str
    driver: Callable[..., list[Any]]
    make_cases: Callable[[np.random.Generator], list[Case]]
    tol: float = 1e-7
    names: tuple[str, ...] = ()
    custom: CustomCheck | None = None
    needs: tuple[str, ...] = ()

    def driver_source(self) -> str:
        """The driver as source for the sandbox, defining ``run``."""
        body = textwrap.dedent(inspect.getsource(self.driver))
        return f"import numpy as np\n\n{body}\nrun = {self.driver.__name__}\n"


def student_rng(secret: str, student_id: str, grade_id: str) -> np.random.Generator:
    """The generator of one student's inputs for one test."""
    digest = hmac.new(
        secret.encode(), f"{student_id}\0{grade_id}".encode(), hashlib.sha256
    ).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "little"))
