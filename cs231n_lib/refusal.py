"""Refusing the provided answers while a student's own layer is being graded.

The autograder's jail calls :func:`refuse` before it runs a test of, say, a student's
``conv_forward_naive``: from then on every routine of the kit that would compute that answer
(``conv_forward_fast``, the sandwich layers built on it, the compiled im2col kernel under it)
raises :class:`RefusedCall` in that process and in every process it forks, however the call is
written (a bare name, ``globals()[...]``, ``getattr`` with a computed string, a reference
taken before the latch was set). A refusal is a latch: nothing clears it.

Where the compiled extension is built, the latch is a C variable inside it, which the compiled
kernels check too; otherwise it lives in this module (a plain Python process, weaker: code that
knows where to look could reset it). Outside the autograder nothing is ever refused.

Imports: the standard library; the optional compiled kernel.
"""

from __future__ import annotations

from collections.abc import Iterable

# One bit per routine, in this order (the compiled kernel uses the same bit numbers).
ROUTINES = (
    "conv_forward_fast",
    "conv_backward_fast",
    "max_pool_forward_fast",
    "max_pool_backward_fast",
    "avg_pool_forward_fast",
    "avg_pool_backward_fast",
    "eval_numerical_gradient",
    "eval_numerical_gradient_array",
    "spatial_batchnorm",
)
_BIT = {name: 1 << i for i, name in enumerate(ROUTINES)}


class RefusedCall(RuntimeError):
    """A refused routine was called: the test in progress grades the student's own version."""


try:  # the compiled latch, when the extension was built
    from cs231n_lib import _im2col as _latch
except ImportError:  # pragma: no cover - exercised by the no-compiler install test
    _latch = None

_py_refused = 0
_py_called = 0


def _bits(names: Iterable[str]) -> int:
    if isinstance(names, str):
        names = [names]
    bits = 0
    for name in names:
        if name not in _BIT:
            raise ValueError(f"routine {name!r} cannot be refused; known: {', '.join(ROUTINES)}")
        bits |= _BIT[name]
    return bits


def refuse(names: Iterable[str]) -> None:
    """Refuse ``names`` (from :data:`ROUTINES`) in this process and its children, for good."""
    global _py_refused
    bits = _bits(names)
    _py_refused |= bits
    if _latch is not None:
        _latch._latch_refuse(bits)


def refused() -> list[str]:
    """The routines refused in this process."""
    bits = _py_refused | (_latch._latch_state()[0] if _latch is not None else 0)
    return [name for name in ROUTINES if bits & _BIT[name]]


def called() -> list[str]:
    """The refused routines that were called (and raised) since :func:`forget_calls`."""
    bits = _py_called | (_latch._latch_state()[1] if _latch is not None else 0)
    return [name for name in ROUTINES if bits & _BIT[name]]


def forget_calls() -> None:
    """Start a new record of refused calls (the jail does this at the start of every test)."""
    global _py_called
    _py_called = 0
    if _latch is not None:
        _latch._latch_forget_calls()


def check(name: str) -> None:
    """Raise :class:`RefusedCall` if ``name`` is refused; the kit's routines call this first."""
    global _py_called
    bit = _BIT[name]
    if _latch is not None:
        _latch._latch_check(bit, name)  # raises, and records the call, when refused
    if _py_refused & bit:
        _py_called |= bit
        raise RefusedCall(message(name))


def message(name: str) -> str:
    """The sentence a refused call raises with (the grader's reason quotes it)."""
    kind = "routine" if name.startswith("eval_numerical_gradient") else "fast layer"
    return (
        f"called the provided {kind} {name}, which this test refuses: "
        "it grades your own implementation"
    )
