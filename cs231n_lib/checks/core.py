"""The one comparison rule of the course, and the machinery that names a mistake.

Both sides of grading compare through :func:`compare_value`: the notebooks'
visible checks (via :func:`report`) and the out-of-kernel grader
(``autograder/compare.py`` re-exports it). A result passes only if it is

1. a real ``numpy.ndarray`` (not a subclass, not None, not a list),
2. of the expected shape,
3. of the expected dtype: a float32 result for float64 inputs fails, with a
   message that says to compute in float64,
4. finite, and
5. within the relative-error threshold ``tol`` of the expected values,

so a visible check that passes means the grader's comparison passes on the
same inputs. A :class:`Verdict`'s ``reason`` never shows values (the grader
words its feedback from it); ``detail`` adds the worst element with both
values, which only the visible checks print.

A :class:`Hint` describes one known mistake: the sentence naming it, and the
answer the mistake gives (a thunk, evaluated only after a failure) or a
property of the wrong array. :func:`find_cause` picks the hint that matches,
or none: a cause is named only when the wrong answer is recognised.

Imports: NumPy; ``cs231n_lib.gradient_check`` inside :func:`numeric_gradient`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# How close a wrong answer must be to a mistake's answer to name the mistake.
MATCH = 1e-6


def rel_error(x: Any, y: Any) -> float:
    """Largest elementwise relative error between ``x`` and ``y``.

    ``max |x - y| / max(1e-8, |x| + |y|)``, the course's measure, computed in
    float64: about 1e-7 or less means two float64 computations agree; 1e-2 or
    more means a bug.

    Raises
    ------
    ValueError
        If the shapes differ.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"rel_error needs equal shapes; got {x.shape} and {y.shape}")
    if x.size == 0:
        return 0.0
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


@dataclass(frozen=True)
class Verdict:
    """The outcome of comparing one output (or a call's outputs) with the expected ones.

    Attributes
    ----------
    passed : bool
    rel_error : float or None
        The measured relative error, when values were compared.
    reason : str
        Why it failed, without any value of the output or the input; ``""``
        when it passed.
    detail : str
        The worst element with both values, for the visible checks only.
    """

    passed: bool
    rel_error: float | None
    reason: str
    detail: str = ""


def describe(value: Any) -> str:
    """``'an array of shape (2, 3) and dtype float64'``, or ``'a list'``: what a value is."""
    if type(value) is np.ndarray:
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    return f"a {type(value).__name__}"


def _dtype_advice(got: np.dtype, want: np.dtype) -> str:
    if want == np.float64 and got.kind == "f":
        return (": compute in float64, the dtype of the inputs (make buffers with "
                f"np.zeros_like(x) or dtype=x.dtype, not {got})")
    if want.kind == "f" and got.kind in "iub":
        return (f": an {got} array cannot hold these values (np.zeros(shape, dtype=int)?); "
                "make buffers with np.zeros_like(x) or dtype=x.dtype")
    return ""


def array_problem(name: str, got: Any, shape: tuple[int, ...] | None = None,
                  dtype: Any = None) -> str | None:
    """What keeps ``got`` from being a finite ndarray of ``shape`` and ``dtype``; None if nothing.

    The checks of the comparison rule before values are looked at, in order:
    None, the type (exactly ``numpy.ndarray``), the shape, the dtype, finiteness.
    ``shape`` and ``dtype`` of None are not checked.
    """
    if got is None:
        return (f"{name} is None: the function returned nothing "
                "(a missing `return`, or an unfinished TODO?)")
    if type(got) is not np.ndarray:
        what = "a NumPy array"
        if shape is not None and dtype is not None:
            what += f" of shape {tuple(shape)} and dtype {np.dtype(dtype)}"
        return f"{name} should be {what}; got {describe(got)}"
    if shape is not None and got.shape != tuple(shape):
        hint = ""
        if sorted(got.shape) == sorted(shape):
            hint = " (same sizes in another order: are axes transposed?)"
        return f"{name} has shape {got.shape}; expected {tuple(shape)}{hint}"
    if dtype is not None and got.dtype != np.dtype(dtype):
        want = np.dtype(dtype)
        return f"{name} has dtype {got.dtype}; expected {want}{_dtype_advice(got.dtype, want)}"
    if got.dtype.kind in "fc" and not np.all(np.isfinite(got)):
        bad = int(got.size - np.count_nonzero(np.isfinite(got)))
        return f"{name} contains {bad} NaN or infinite value(s)"
    return None


def _worst(got: np.ndarray, want: np.ndarray) -> str:
    a = got.astype(np.float64)
    e = want.astype(np.float64)
    if a.ndim == 0:
        return f"got {float(a):.6g}, expected {float(e):.6g}"
    idx = np.unravel_index(np.argmax(np.abs(a - e) / np.maximum(1e-8, np.abs(a) + np.abs(e))),
                           a.shape)
    return (f"worst at index {tuple(int(i) for i in idx)}: "
            f"got {a[idx]:.6g}, expected {e[idx]:.6g}")


def _above(name: str, err: float, tol: float) -> str:
    return f"{name}: relative error {err:.2e} is above the threshold {tol:.0e}"


def compare_value(name: str, got: Any, want: Any, tol: float) -> Verdict:
    """Compare one output with the expected one, by the course's one rule.

    Parameters
    ----------
    name : str
        What the output is called in messages (``'dx'``, ``'conv_forward_naive out'``).
    got : object
        The output under test.
    want : ndarray, float, or a JSON-like value
        The expected output. An ndarray is compared by the five steps of the
        module docstring (integer arrays exactly); a float needs an int or a
        float (not a bool) within ``tol``; anything else must be equal.
    tol : float
        Largest relative error that passes.

    Returns
    -------
    Verdict
    """
    if isinstance(want, np.ndarray):
        problem = array_problem(name, got, want.shape, want.dtype)
        if problem is not None:
            return Verdict(False, None, problem)
        if want.dtype.kind in "fc":
            err = rel_error(got, want)
            if not err <= tol:
                return Verdict(False, err, _above(name, err, tol), _worst(got, want))
            return Verdict(True, err, "")
        if not np.array_equal(got, want):
            return Verdict(False, None, f"{name} differs from the expected values")
        return Verdict(True, 0.0, "")
    if isinstance(want, float):
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            return Verdict(False, None, f"{name} should be a number; got {describe(got)}")
        if not np.isfinite(got):
            return Verdict(False, None, f"{name} is {got}")
        err = rel_error(got, want)
        if not err <= tol:
            return Verdict(False, err, _above(name, err, tol),
                           f"got {float(got):.6g}, expected {want:.6g}")
        return Verdict(True, err, "")
    if got != want:
        return Verdict(False, None, f"{name} is {got!r}; expected {want!r}")
    return Verdict(True, None, "")


def compare_outputs(got: Sequence[Any], want: Sequence[Any], tol: float,
                    names: Sequence[str] = ()) -> Verdict:
    """Compare a call's outputs in order; the first failure decides the verdict.

    ``names[i]`` names output ``i`` in messages (``'output 3'`` when missing).
    A passing verdict carries the worst relative error over the outputs.
    """
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


def check_array(name: str, actual: Any, expected_shape: tuple[int, ...] | None = None,
                expected_dtype: Any = None) -> np.ndarray:
    """Check that ``actual`` is a finite ndarray of the given shape and dtype; return it.

    The first four steps of the comparison rule, for a value with no expected
    array to compare with. Raises AssertionError naming ``name`` and the problem.
    """
    problem = array_problem(name, actual, expected_shape, expected_dtype)
    if problem is not None:
        raise AssertionError(problem)
    return actual


# ---------------------------------------------------------------------------
# Naming the mistake
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Hint:
    """One known mistake and how to recognise it.

    Attributes
    ----------
    sentence : str
        Names the mistake and the fix; it never contains values of the inputs.
    answer : callable, optional
        ``answer() -> ndarray``: what the mistake gives on these inputs, built
        from the library's layers on altered inputs. A mistake whose answer is
        the right one (a flipped kernel that is symmetric) is never named.
    test : callable, optional
        ``test(actual) -> bool``: a property only this mistake gives.
    shape : tuple of int, optional
        The shape the mistake gives, when it differs from the right shape.
        With neither ``answer`` nor ``test`` the shape alone recognises it.
    """

    sentence: str
    answer: Callable[[], Any] | None = None
    test: Callable[[np.ndarray], bool] | None = None
    shape: tuple[int, ...] | None = None

    def confirmed(self, actual: np.ndarray, expected: np.ndarray, tol: float) -> bool:
        """True if ``answer`` or ``test`` recognise ``actual`` (False if it has neither)."""
        try:
            if self.answer is not None:
                wrong = np.asarray(self.answer())
                if wrong.shape != actual.shape:
                    return False
                if wrong.shape == expected.shape and rel_error(wrong, expected) <= tol:
                    return False
                return rel_error(actual, wrong) <= MATCH
            if self.test is not None:
                return bool(self.test(actual))
        except Exception:  # noqa: BLE001 - a diagnosis must never hide the real failure
            return False
        return False


def generic_hint(actual: np.ndarray, expected: np.ndarray, reveal: bool = True) -> str | None:
    """All zeros, the sign flipped, or a constant factor; None if none of these.

    The factor is named only for arrays of two or more elements (any number
    is a multiple of another), and only when ``reveal`` is true: the factor
    is computed from the inputs.
    """
    a = actual.astype(np.float64).ravel()
    e = expected.astype(np.float64).ravel()
    if not np.any(e):
        return None
    if not np.any(a):
        return ("every value is zero: is the array filled in (or accumulated into) "
                "before it is returned?")
    if rel_error(a, -e) <= MATCH:
        return "the sign is flipped: every value is the negative of the expected one"
    k = float(a @ e / (e @ e))
    if a.size >= 2 and abs(k - 1) > 1e-3 and rel_error(a, k * e) <= MATCH:
        factor = f"{k:.4g} times the expected one" if reveal else "the same multiple of the " \
            "expected one"
        return (f"every value is {factor}: a missing or extra constant factor (an average "
                "where a sum belongs, or the reverse?)")
    return None


def find_cause(actual: Any, expected: Any, tol: float, hints: Sequence[Hint] = (),
               reveal: bool = True) -> str | None:
    """The sentence of the mistake ``actual`` shows, or None when none is recognised.

    A wrong shape is matched against the hints that give that shape: the one
    mistake whose answer or test confirms it wins (None if the values fit two);
    otherwise the shape names a mistake only if every hint giving it is a
    shape-only hint with one sentence. Right shape, wrong values: the first hint
    (without a shape) that recognises ``actual``, else :func:`generic_hint`.
    A wrong dtype or non-finite values get no cause: the verdict says it.
    """
    if type(actual) is not np.ndarray or not isinstance(expected, np.ndarray):
        return None
    if actual.shape != expected.shape:
        same = [h for h in hints if h.shape is not None and tuple(h.shape) == actual.shape]
        confirmed = {h.sentence for h in same if h.confirmed(actual, expected, tol)}
        if confirmed:  # two mistakes the values both fit: say nothing
            return confirmed.pop() if len(confirmed) == 1 else None
        # No values confirm a mistake: the shape alone names one only when every hint of
        # that shape is a shape-only hint with the same sentence. A hint whose answer or
        # test is refuted by the values is evidence against its mistake, and two mistakes
        # of one shape need the values to tell them apart.
        if any(h.answer is not None or h.test is not None for h in same):
            return None
        sentences = {h.sentence for h in same}
        return sentences.pop() if len(sentences) == 1 else None
    if actual.dtype != expected.dtype or array_problem("", actual) is not None:
        return None
    for hint in hints:
        if (hint.shape is None or tuple(hint.shape) == expected.shape) and \
                hint.confirmed(actual, expected, tol):
            return hint.sentence
    return generic_hint(actual, expected, reveal)


def report(name: str, actual: Any, expected: Any, tol: float,
           hints: Sequence[Hint] = (), case: Sequence[str] = ()) -> float:
    """The visible check: compare, print the one-line report, or raise with the likely cause.

    Prints ``name: relative error 3.2e-09 (threshold 1e-07) OK`` and returns
    the error when ``actual`` passes :func:`compare_value`. Otherwise raises
    AssertionError: the verdict's reason, the worst element, what is special about
    the inputs (``case``, the topic's case kinds: "(the failing case: non-square image)"),
    and a ``Likely cause:`` line when a hint recognises the wrong answer.
    """
    expected = np.asarray(expected)
    verdict = compare_value(name, actual, expected, tol)
    if verdict.passed:
        err = verdict.rel_error or 0.0
        print(f"{name}: relative error {err:.2e} (threshold {tol:.0e}) OK")
        return err
    message = verdict.reason + (f"; {verdict.detail}" if verdict.detail else "")
    if case:
        message += f" (the failing case: {', '.join(case)})"
    cause = find_cause(actual, expected, tol, hints, reveal=True)
    if cause:
        message += f"\nLikely cause: {cause}"
    raise AssertionError(message)


def check_close(name: str, actual: Any, expected: Any, tol: float = 1e-7) -> float:
    """Assert that ``actual`` matches ``expected`` by the comparison rule, within ``tol``.

    Prints ``name: relative error 3.2e-09 (threshold 1e-07) OK`` on success and
    returns the error. On failure the message gives what differs (shape, dtype,
    NaNs, or the error, the threshold and the worst element with both values).
    """
    return report(name, actual, expected, tol)


def numeric_gradient(f: Callable[[np.ndarray], Any], x: np.ndarray, df: Any,
                     h: float = 1e-5) -> np.ndarray:
    """Centred-difference gradient of ``sum(f(x) * df)`` with respect to ``x``, in float64.

    The library's own ``gradient_check`` functions, for a scalar ``df`` (a
    loss) or an array one (a layer's upstream gradient). ``x`` is perturbed
    in place, one element at a time, and restored; keep the arrays small.
    """
    from cs231n_lib.gradient_check import eval_numerical_gradient, eval_numerical_gradient_array

    if np.ndim(df) == 0:
        grad = eval_numerical_gradient(f, x, verbose=False, h=h) * float(df)
    else:
        grad = eval_numerical_gradient_array(f, x, np.asarray(df, dtype=np.float64), h=h)
    return np.asarray(grad, dtype=np.float64)


# ---------------------------------------------------------------------------
# Small helpers of the topic modules
# ---------------------------------------------------------------------------


def pair(name: str, result: Any) -> tuple[Any, Any]:
    """``result`` as ``(out, cache)``, or AssertionError saying what came back instead."""
    if not (isinstance(result, tuple) and len(result) == 2):
        raise AssertionError(
            f"{name} must return a pair (out, cache); got {type(result).__name__}"
            + ("" if result is not None else " (a missing `return`, or an unfinished TODO?)")
        )
    return result


def grads(name: str, result: Any, names: Sequence[str]) -> tuple[Any, ...]:
    """``result`` as a tuple of ``len(names)`` gradients, or AssertionError."""
    if len(names) == 1:
        return (result,)
    if not (isinstance(result, tuple) and len(result) == len(names)):
        raise AssertionError(
            f"{name} must return {len(names)} gradients ({', '.join(names)}); got "
            + (f"a tuple of {len(result)}" if isinstance(result, tuple)
               else type(result).__name__)
        )
    return result


def unchanged(name: str, what: str, after: np.ndarray, before: np.ndarray) -> None:
    """AssertionError if the function under test wrote into its input ``what``."""
    if not np.array_equal(after, before):
        raise AssertionError(
            f"{name} changed its input {what} in place; work on a copy (e.g. np.pad "
            "returns a new array) so the caller's data stays as it was"
        )


def f64(*arrays: Any) -> list[np.ndarray]:
    """Float64 copies: every check runs the code under test on float64 inputs."""
    return [np.array(a, dtype=np.float64) for a in arrays]
