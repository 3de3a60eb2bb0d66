"""Relative error and the check helpers the notebooks call.

A check either prints a one-line report per compared array
(``name: relative error 3.2e-09 (threshold 1e-07) OK``) and returns None, or raises
``AssertionError`` whose message says what differs -- the shape, the dtype,
NaNs, or the worst element with both values -- and, when the wrong answer
matches a common mistake, a ``Likely cause:`` line naming it.

The diagnoses never contain a working version of a function the students
write. They compare a wrong answer with the library's provided fast layers
run on altered inputs (a flipped kernel, a zero bias, stride 1), or test a
property of it (which axes it normalised over, where its gradient landed).

Imports: NumPy; ``cs231n_lib.fast_layers``, ``cs231n_lib.layers`` and
``cs231n_lib.gradient_check`` inside the helpers that need them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "rel_error",
    "check_array",
    "check_close",
    "numeric_gradient",
    "check_conv_forward",
    "check_conv_backward",
    "check_max_pool_forward",
    "check_max_pool_backward",
    "check_spatial_batchnorm_forward",
    "check_spatial_batchnorm_test_mode",
    "check_spatial_groupnorm_forward",
    "check_norm_backward",
    "check_convnet_params",
    "check_initial_loss",
    "check_regularized_loss",
    "check_model_gradients",
]

# A candidate is an array (the answer a known mistake gives) or a predicate on
# the student's array; either comes with the sentence that names the mistake.
Candidate = tuple[Any, str]

_MATCH = 1e-6  # how close a wrong answer must be to a mistake's answer to name it


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
    return _compare(name, actual, expected, tol)


# ---------------------------------------------------------------------------
# The comparison every helper shares
# ---------------------------------------------------------------------------


def _worst(actual: np.ndarray, expected: np.ndarray) -> str:
    a = actual.astype(np.float64)
    e = expected.astype(np.float64)
    if a.ndim == 0:
        return f"got {float(a):.6g}, expected {float(e):.6g}"
    idx = np.unravel_index(np.argmax(np.abs(a - e) / np.maximum(1e-8, np.abs(a) + np.abs(e))),
                           a.shape)
    return (f"worst at index {tuple(int(i) for i in idx)}: "
            f"got {a[idx]:.6g}, expected {e[idx]:.6g}")


def _matches(actual: np.ndarray, candidate: Any) -> bool:
    if callable(candidate):
        try:
            return bool(candidate(actual))
        except Exception:  # noqa: BLE001 - a diagnosis must never hide the real failure
            return False
    candidate = np.asarray(candidate)
    return candidate.shape == actual.shape and rel_error(actual, candidate) <= _MATCH


def _generic_hint(actual: np.ndarray, expected: np.ndarray) -> str | None:
    a = actual.astype(np.float64).ravel()
    e = expected.astype(np.float64).ravel()
    if not np.any(a) and np.any(e):
        return ("every value is zero: is the array filled in (or accumulated into) "
                "before it is returned?")
    if np.any(e):
        k = float(a @ e / (e @ e))
        if abs(k - 1) > 1e-3 and np.any(a) and rel_error(a, k * e) <= _MATCH:
            if abs(k + 1) < 1e-6:
                return "the sign is flipped: every value is the negative of the expected one"
            return (f"every value is {k:.4g} times the expected one: a missing or extra "
                    "constant factor (an average where a sum belongs, or the reverse?)")
    return None


def _compare(name: str, actual: Any, expected: Any, tol: float,
             candidates: Sequence[Candidate] = (),
             shape_hints: Sequence[tuple[tuple[int, ...], str]] = ()) -> float:
    """Compare, print the one-line report, or raise with the likely cause."""
    expected = np.asarray(expected)
    check_array(name, actual)
    if actual.shape != expected.shape:
        for shape, hint in shape_hints:
            if tuple(actual.shape) == tuple(shape):
                raise AssertionError(
                    f"{name} has shape {actual.shape}; expected {expected.shape}.\n"
                    f"Likely cause: {hint}"
                )
        check_array(name, actual, expected.shape)
    err = rel_error(actual, expected)
    if err <= tol:
        print(f"{name}: relative error {err:.2e} (threshold {tol:.0e}) OK")
        return err
    cause = None
    for candidate, hint in candidates:
        if _matches(actual, candidate):
            cause = hint
            break
    if cause is None:
        cause = _generic_hint(actual, expected)
    message = (f"{name}: relative error {err:.2e} is above the threshold {tol:.0e}; "
               f"{_worst(actual, expected)}")
    if cause:
        message += f"\nLikely cause: {cause}"
    raise AssertionError(message)


def _pair(name: str, result: Any) -> tuple[Any, Any]:
    if not (isinstance(result, tuple) and len(result) == 2):
        raise AssertionError(
            f"{name} must return a pair (out, cache); got {type(result).__name__}"
            + ("" if result is not None else " (a missing `return`, or an unfinished TODO?)")
        )
    return result


def _grads(name: str, result: Any, names: Sequence[str]) -> tuple[Any, ...]:
    if len(names) == 1:
        return (result,)
    if not (isinstance(result, tuple) and len(result) == len(names)):
        raise AssertionError(
            f"{name} must return {len(names)} gradients ({', '.join(names)}); got "
            + (f"a tuple of {len(result)}" if isinstance(result, tuple)
               else type(result).__name__)
        )
    return result


def _unchanged(name: str, what: str, after: np.ndarray, before: np.ndarray) -> None:
    if not np.array_equal(after, before):
        raise AssertionError(
            f"{name} changed its input {what} in place; work on a copy (e.g. np.pad "
            "returns a new array) so the caller's data stays as it was"
        )


def _f64(*arrays: Any) -> list[np.ndarray]:
    return [np.array(a, dtype=np.float64) for a in arrays]


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
# Convolution
# ---------------------------------------------------------------------------


def _conv_out(H: int, W: int, HH: int, WW: int, stride: int, pad: int) -> tuple[int, int]:
    return 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride


def check_conv_forward(conv_forward: Callable, x: np.ndarray, w: np.ndarray, b: np.ndarray,
                       conv_param: Mapping[str, int], tol: float = 1e-7,
                       name: str = "conv_forward_naive") -> None:
    """Run ``conv_forward`` on float64 copies and compare with the fast layer.

    Parameters
    ----------
    conv_forward : callable
        ``conv_forward(x, w, b, conv_param) -> (out, cache)``.
    x : ndarray of shape (N, C, H, W)
    w : ndarray of shape (F, C, HH, WW)
    b : ndarray of shape (F,)
    conv_param : dict
        ``stride`` and ``pad``.
    tol : float
        Largest relative error that passes.

    Prints one line per compared array and returns None (a value would be
    read by nbgrader as partial credit); raises AssertionError on a mismatch.
    """
    from cs231n_lib.fast_layers import conv_forward_fast

    x, w, b = _f64(x, w, b)
    stride, pad = int(conv_param["stride"]), int(conv_param["pad"])
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho, Wo = _conv_out(H, W, HH, WW, stride, pad)
    args = [a.copy() for a in (x, w, b)]
    out, _ = _pair(name, conv_forward(*args, dict(conv_param)))
    for what, after, before in zip("xwb", args, (x, w, b), strict=True):
        _unchanged(name, what, after, before)

    def fast(xx, ww, bb, s=stride, p=pad):
        return conv_forward_fast(np.ascontiguousarray(xx), np.ascontiguousarray(ww), bb,
                                 {"stride": s, "pad": p})[0]

    expected = fast(x, w, b)
    shape_hints = [
        ((N, F) + _conv_out(H, W, HH, WW, 1, pad),
         "the stride is ignored: the output has the size of a stride-1 convolution; "
         "Ho = 1 + (H + 2*pad - HH) // stride"),
        ((N, F) + _conv_out(H, W, HH, WW, stride, 0),
         "the padding is ignored: pad x with conv_param['pad'] zeros on every side "
         "first; Ho = 1 + (H + 2*pad - HH) // stride"),
        ((N, F) + _conv_out(H, W, HH, WW, 1, 0),
         "both stride and padding are ignored: Ho = 1 + (H + 2*pad - HH) // stride"),
        ((N, F, Wo, Ho), "the output's H and W axes are swapped: out has shape (N, F, Ho, Wo)"),
        ((N, Ho, Wo, F), "the filters are on the last axis: out has shape (N, F, Ho, Wo)"),
        ((F, N, Ho, Wo), "N and F are swapped: out has shape (N, F, Ho, Wo)"),
    ]
    candidates: list[Candidate] = [
        (lambda: fast(x, w[:, :, ::-1, ::-1], b),
         "your output matches a convolution with the kernel flipped (a 'true' "
         "convolution). A conv layer computes cross-correlation: multiply each window "
         "by w[f] as it is, without flipping it"),
        (lambda: fast(x, w, np.zeros_like(b)),
         "the bias is missing: add b[f] to every output of filter f"),
        (lambda: fast(x, w, b, s=1)[:, :, :Ho, :Wo],
         "the stride is ignored: the windows are 1 pixel apart. Window (i, j) starts "
         "at row i*stride and column j*stride of the padded input"),
        (lambda: fast(np.pad(x, ((0, 0), (0, 0), (0, 2 * pad), (0, 2 * pad))), w, b, p=0),
         "all the zero padding is on one side: pad by conv_param['pad'] at the top, "
         "bottom, left and right"),
        (lambda: fast(x, w.transpose(0, 1, 3, 2), b),
         "the kernel is transposed: w[f, c, i, j] multiplies row i, column j of the window"),
        (lambda: expected.transpose(0, 1, 3, 2),
         "the output's H and W axes are swapped: write out[n, f, i, j] for the window "
         "starting at row i*stride, column j*stride"),
    ]
    _compare(f"{name} out", out, expected, tol,
                    _lazy(candidates, expected, tol), shape_hints)


def _lazy(candidates: Sequence[tuple[Callable[[], np.ndarray], str]], expected: np.ndarray,
          tol: float) -> list[Candidate]:
    """Turn 'make this wrong answer' thunks into predicates, skipping any that are right."""

    def predicate(make):
        def test(actual):
            wrong = make()
            return (wrong.shape == actual.shape and rel_error(wrong, expected) > tol
                    and rel_error(actual, wrong) <= _MATCH)
        return test

    return [(predicate(make), hint) for make, hint in candidates]


def check_conv_backward(conv_forward: Callable, conv_backward: Callable, x: np.ndarray,
                        w: np.ndarray, b: np.ndarray, conv_param: Mapping[str, int],
                        dout: np.ndarray, tol: float = 1e-7, reference: str = "numeric",
                        name: str = "conv_backward_naive") -> None:
    """Compare ``conv_backward``'s dx, dw, db with a reference gradient.

    Parameters
    ----------
    conv_forward, conv_backward : callable
        The student's pair; ``conv_backward(dout, cache) -> (dx, dw, db)``.
    x, w, b, conv_param : as for :func:`check_conv_forward`
    dout : ndarray of shape (N, F, Ho, Wo)
    reference : {'numeric', 'fast'}
        Centred differences of the fast forward pass (the course's gradient
        check), or the fast layer's analytic gradients.

    Prints the relative error of ``dx``, ``dw`` and ``db``; raises AssertionError
    on the first that is above ``tol``.
    """
    from cs231n_lib.fast_layers import conv_backward_fast, conv_forward_fast

    x, w, b, dout = _f64(x, w, b, dout)
    cp = {"stride": int(conv_param["stride"]), "pad": int(conv_param["pad"])}
    pad = cp["pad"]
    N, C, H, W = x.shape
    F = w.shape[0]
    _, cache = _pair(name.replace("backward", "forward"),
                     conv_forward(x.copy(), w.copy(), b.copy(), dict(conv_param)))
    dx, dw, db = _grads(name, conv_backward(dout.copy(), cache), ("dx", "dw", "db"))

    def fast_grads(ww):
        _, c = conv_forward_fast(x, np.ascontiguousarray(ww), b, cp)
        return conv_backward_fast(dout, c)

    if reference == "numeric":
        expected = (
            numeric_gradient(lambda v: conv_forward_fast(v, w, b, cp)[0], x.copy(), dout),
            numeric_gradient(lambda v: conv_forward_fast(x, v, b, cp)[0], w.copy(), dout),
            numeric_gradient(lambda v: conv_forward_fast(x, w, v, cp)[0], b.copy(), dout),
        )
    elif reference == "fast":
        expected = fast_grads(w)
    else:
        raise ValueError(f"reference must be 'numeric' or 'fast'; got {reference!r}")
    flipped = lambda: fast_grads(w[:, :, ::-1, ::-1])  # noqa: E731
    hints = {
        "dx": ([((N, C, H + 2 * pad, W + 2 * pad),
                 "dx has the padded input's shape: drop the padding from the gradient "
                 "(keep rows and columns pad .. pad+H-1) before returning it")],
               [(lambda: flipped()[0],
                 "dx matches the gradient of a convolution with the kernel flipped: use "
                 "w as the forward pass did")]),
        "dw": ([], [(lambda: expected[1][:, :, ::-1, ::-1],
                     "dw is flipped in both spatial axes: dw[f, c, i, j] gathers dout "
                     "times the input at offset (i, j) of each window")]),
        "db": ([((F, dout.shape[2], dout.shape[3]),
                 "db must have shape (F,): sum dout over N, Ho and Wo"),
                ((N, F), "db must have shape (F,): sum dout over N as well as Ho and Wo"),
                ((N,), "db must have shape (F,): sum dout over axes 0, 2 and 3")], []),
    }
    for what, actual, exp in zip(("dx", "dw", "db"), (dx, dw, db), expected, strict=True):
        shape_hints, candidates = hints[what]
        _compare(f"{name} {what}", actual, exp, tol,
                                _lazy(candidates, exp, tol), shape_hints)


# ---------------------------------------------------------------------------
# Max pooling
# ---------------------------------------------------------------------------


def _pool(pool_param: Mapping[str, int]) -> tuple[int, int, int]:
    return int(pool_param["pool_height"]), int(pool_param["pool_width"]), int(pool_param["stride"])


def check_max_pool_forward(pool_forward: Callable, x: np.ndarray,
                           pool_param: Mapping[str, int], tol: float = 1e-12,
                           name: str = "max_pool_forward_naive") -> None:
    """Run ``pool_forward(x, pool_param) -> (out, cache)`` and compare with the fast layer.

    ``x`` is (N, C, H, W); ``pool_param`` has ``pool_height``, ``pool_width``
    and ``stride``.
    """
    from cs231n_lib.fast_layers import avg_pool_forward_fast, max_pool_forward_fast

    (x,) = _f64(x)
    ph, pw, s = _pool(pool_param)
    N, C, H, W = x.shape
    Ho, Wo = 1 + (H - ph) // s, 1 + (W - pw) // s
    x_in = x.copy()
    out, _ = _pair(name, pool_forward(x_in, dict(pool_param)))
    _unchanged(name, "x", x_in, x)

    def fast(pp, xx=x, op=max_pool_forward_fast):
        return op(xx, {"pool_height": pp[0], "pool_width": pp[1], "stride": pp[2]})[0]

    expected = fast((ph, pw, s))
    shape_hints = [
        ((N, C, 1 + (H - ph), 1 + (W - pw)),
         "the stride is ignored: the output has the size of stride-1 pooling; "
         "Ho = 1 + (H - pool_height) // stride"),
        ((N, C, 1 + (H - pw) // s, 1 + (W - ph) // s),
         "pool_height and pool_width are swapped: pool_height counts rows (along H), "
         "pool_width counts columns (along W)"),
        ((N, C, H // ph, W // pw) if s != ph else (-1,),
         "the window size is used as the stride: Ho = 1 + (H - pool_height) // stride"),
        ((N, C, Wo, Ho), "the output's H and W axes are swapped: out has shape (N, C, Ho, Wo)"),
    ]
    candidates = [
        (lambda: fast((ph, pw, s), op=avg_pool_forward_fast),
         "your output is each window's mean (average pooling); max pooling keeps the "
         "largest value of each window"),
        (lambda: -fast((ph, pw, s), xx=-x),
         "your output is each window's minimum; max pooling keeps the largest value"),
        (lambda: fast((ph, pw, 1))[:, :, :Ho, :Wo],
         "the stride is ignored: the windows are 1 pixel apart. Window (i, j) starts at "
         "row i*stride, column j*stride"),
        (lambda: fast((pw, ph, s)),
         "pool_height and pool_width are swapped: pool_height counts rows (along H), "
         "pool_width counts columns (along W)"),
        (lambda: expected.transpose(0, 1, 3, 2),
         "the output's H and W axes are swapped: out[n, c, i, j] is the window starting "
         "at row i*stride, column j*stride"),
    ]
    _compare(f"{name} out", out, expected, tol, _lazy(candidates, expected, tol),
                    shape_hints)


def _window_slices(H: int, W: int, ph: int, pw: int, s: int):
    for i in range(1 + (H - ph) // s):
        for j in range(1 + (W - pw) // s):
            yield i, j, slice(i * s, i * s + ph), slice(j * s, j * s + pw)


def check_max_pool_backward(pool_forward: Callable, pool_backward: Callable, x: np.ndarray,
                            pool_param: Mapping[str, int], dout: np.ndarray,
                            tol: float = 1e-12, name: str = "max_pool_backward_naive") -> None:
    """Compare ``pool_backward(dout, cache) -> dx`` with the fast layer's gradient.

    The reference sends each window's gradient to its *first* maximum in
    row-major order (what ``np.argmax`` picks), and adds the gradients of
    overlapping windows.
    """
    from cs231n_lib.fast_layers import (
        avg_pool_backward_fast,
        avg_pool_forward_fast,
        max_pool_backward_fast,
        max_pool_forward_fast,
    )

    x, dout = _f64(x, dout)
    ph, pw, s = _pool(pool_param)
    pp = {"pool_height": ph, "pool_width": pw, "stride": s}
    _, cache = _pair(name.replace("backward", "forward"), pool_forward(x.copy(), dict(pool_param)))
    dx = pool_backward(dout.copy(), cache)
    out, fast_cache = max_pool_forward_fast(x, pp)
    expected = max_pool_backward_fast(dout, fast_cache)

    H, W = x.shape[2:]
    coverage = np.zeros(x.shape[2:], dtype=int)  # how many windows hold each pixel
    is_a_max = np.zeros(x.shape, dtype=bool)  # pixel equals the max of a window holding it
    for i, j, rows, cols in _window_slices(H, W, ph, pw, s):
        coverage[rows, cols] += 1
        is_a_max[:, :, rows, cols] |= x[:, :, rows, cols] == out[:, :, i, j, None, None]

    def all_ties(actual):
        extra = (actual != 0) & (expected == 0)
        return bool(extra.any()) and bool(is_a_max[extra].all()) and \
            np.count_nonzero(actual) > np.count_nonzero(expected)

    def last_tie(actual):
        moved = (actual != 0) != (expected != 0)
        return (bool(moved.any()) and np.count_nonzero(actual) == np.count_nonzero(expected)
                and bool(is_a_max[moved].all()))

    def overwritten(actual):
        wrong = ~np.isclose(actual, expected, rtol=1e-9, atol=1e-12)
        shared = np.broadcast_to(coverage > 1, actual.shape)
        return bool(wrong.any()) and bool(shared[wrong].all())

    def spread():
        _, c = avg_pool_forward_fast(x, pp)
        return avg_pool_backward_fast(dout, c)

    candidates: list[Candidate] = [
        (all_ties,
         "the gradient is spread over every tied maximum of a window. When a window's "
         "largest value appears more than once, send its gradient to one of them only: "
         "the first in row-major order, as np.argmax picks it"),
        (last_tie,
         "when a window's largest value appears more than once, the gradient goes to the "
         "wrong copy: send it to the first in row-major order, as np.argmax picks it"),
        (overwritten,
         "values are wrong only where windows overlap (stride < window size): a pixel can "
         "be the max of several windows, so add each window's gradient (+=) instead of "
         "assigning it (=)"),
        *_lazy([(spread, "the gradient is spread evenly over the whole window (average "
                 "pooling's backward pass); max pooling sends it to the window's maximum")],
               expected, tol),
    ]
    _compare(f"{name} dx", dx, expected, tol, candidates)


# ---------------------------------------------------------------------------
# Spatial batch and group normalisation
# ---------------------------------------------------------------------------


def _standardised_over(z: np.ndarray, axes: tuple[int, ...], atol: float = 1e-3) -> bool:
    """True if ``z`` has mean 0 and variance 1 over ``axes`` (for every other index)."""
    return bool(np.allclose(z.mean(axis=axes), 0, atol=atol)
                and np.allclose(z.var(axis=axes), 1, atol=atol * 10))


def _unscale(out: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
    C = out.shape[1]
    return (out - beta.reshape(1, C, 1, 1)) / gamma.reshape(1, C, 1, 1)


def _norm_candidates(gamma: np.ndarray, beta: np.ndarray, right: tuple[int, ...],
                     groups: int | None = None) -> list[Candidate]:
    """Predicates naming which statistics a wrong normalisation used."""

    def over(axes, G=None, interleaved=False):
        def test(actual):
            z = _unscale(actual, gamma, beta)
            if G is not None:
                N, C, H, W = z.shape
                if interleaved:  # group k = channels k, k+G, k+2G, ...
                    z = z.reshape(N, C // G, G, H, W).transpose(0, 2, 1, 3, 4)
                z = z.reshape(N, G, -1)
            return _standardised_over(z, axes)
        return test

    right_test = over(right, groups)
    # A finer normalisation also standardises the coarser groupings, so the
    # finer mistakes are tried first, then the right axes, then the rest.
    finer: list[Candidate] = [
        (over((2, 3)),
         "each channel of each image was normalised on its own (instance norm): "
         + ("a group holds C // G channels" if groups is not None
            else "batch statistics average over N, H and W together")),
    ]
    coarser: list[Candidate] = []
    if groups is None:
        finer.append((over((0,)),
                      "each pixel position has its own mean and variance (statistics over N "
                      "only); spatial batch norm shares them over N, H and W for each channel"))
        coarser.append((over((1, 2, 3)),
                        "all channels of an image were normalised together (layer norm); "
                        "spatial batch norm normalises each channel over N, H and W"))
    else:
        if gamma.reshape(-1).size % groups == 0:
            finer.append((over((2,), groups, interleaved=True),
                          "each group holds every G-th channel; a group is C // G "
                          "consecutive channels: reshape to (N, G, C // G, H, W)"))
        coarser.append((over((1, 2, 3)),
                        "all channels of an image were normalised together (layer norm): "
                        "the G groups are ignored"))
        coarser.append((over((0, 2, 3)),
                        "the statistics are batch norm's (over N, H and W); group norm uses "
                        "each image's own statistics, one pair per group"))
    right_hint: Candidate = (
        right_test,
        "the statistics are over the right axes but the values are off a little: is eps "
        "inside the square root, np.sqrt(var + eps), and is the variance the biased one "
        "(divide by the count)?")
    hints = finer + [right_hint] + coarser
    return hints


def _check_param_shape(name: str, gamma: np.ndarray, C: int, shape: tuple[int, ...]) -> None:
    if gamma.shape != shape:
        raise ValueError(f"{name} must have shape {shape} for C={C}; got {gamma.shape}")


def check_spatial_batchnorm_forward(forward: Callable, x: np.ndarray, gamma: np.ndarray,
                                    beta: np.ndarray, expected: np.ndarray, tol: float = 1e-7,
                                    name: str = "spatial_batchnorm_forward") -> None:
    """Train-mode check: compare ``forward(x, gamma, beta, {'mode': 'train'})`` with ``expected``.

    ``x`` is (N, C, H, W), ``gamma`` and ``beta`` are (C,); ``expected`` is the
    stored right answer. Also checks that the running averages appear in the
    bn_param dict with shape (C,).
    """
    x, gamma, beta, expected = _f64(x, gamma, beta, expected)
    C = x.shape[1]
    bn_param: dict[str, Any] = {"mode": "train"}
    out, _ = _pair(name, forward(x.copy(), gamma.copy(), beta.copy(), bn_param))
    _compare(f"{name} out", out, expected, tol,
                   _norm_candidates(gamma, beta, (0, 2, 3)))
    for key in ("running_mean", "running_var"):
        value = bn_param.get(key)
        if not isinstance(value, np.ndarray) or value.shape != (C,):
            got = "nothing" if value is None else f"shape {np.shape(value)}"
            raise AssertionError(
                f"{name}: after a train-mode call bn_param['{key}'] should be an array of "
                f"shape (C,) = ({C},), one value per channel; found {got}"
            )


def check_spatial_batchnorm_test_mode(forward: Callable, x: np.ndarray, gamma: np.ndarray,
                                      beta: np.ndarray, running_mean: np.ndarray,
                                      running_var: np.ndarray, expected: np.ndarray,
                                      tol: float = 1e-7,
                                      name: str = "spatial_batchnorm_forward") -> None:
    """Test-mode check: normalise with the stored running averages, and leave them alone.

    ``running_mean`` and ``running_var`` are (C,) and should be far from the
    batch's own statistics, so that using the batch's shows.
    """
    x, gamma, beta, rm, rv, expected = _f64(x, gamma, beta, running_mean, running_var, expected)
    bn_param = {"mode": "test", "running_mean": rm.copy(), "running_var": rv.copy()}
    out, _ = _pair(name, forward(x.copy(), gamma.copy(), beta.copy(), bn_param))
    batch_stats = (lambda a: _standardised_over(_unscale(a, gamma, beta), (0, 2, 3)),
                   "test mode normalised with this batch's own mean and variance; at test "
                   "time use bn_param['running_mean'] and bn_param['running_var'] instead")
    _compare(f"{name} test-mode out", out, expected, tol, [batch_stats])
    for key, before in (("running_mean", rm), ("running_var", rv)):
        if not np.array_equal(bn_param.get(key), before):
            raise AssertionError(
                f"{name}: test mode changed bn_param['{key}']; only train mode updates "
                "the running averages"
            )


def check_spatial_groupnorm_forward(forward: Callable, x: np.ndarray, gamma: np.ndarray,
                                    beta: np.ndarray, G: int, expected: np.ndarray,
                                    tol: float = 1e-7,
                                    name: str = "spatial_groupnorm_forward") -> None:
    """Compare ``forward(x, gamma, beta, G, {}) -> (out, cache)`` with ``expected``.

    ``gamma`` and ``beta`` have shape (1, C, 1, 1); the C channels form G
    groups of C // G consecutive channels.
    """
    x, gamma, beta, expected = _f64(x, gamma, beta, expected)
    _check_param_shape("gamma", gamma, x.shape[1], (1, x.shape[1], 1, 1))
    out, _ = _pair(name, forward(x.copy(), gamma.copy(), beta.copy(), G, {}))
    _compare(f"{name} out", out, expected, tol,
                    _norm_candidates(gamma, beta, (2,), groups=G))


def check_norm_backward(forward: Callable, backward: Callable, x: np.ndarray,
                        gamma: np.ndarray, beta: np.ndarray, dout: np.ndarray,
                        group_axes: Callable[[np.ndarray], np.ndarray],
                        tol: float = 1e-5, name: str = "backward") -> None:
    """Gradient check of a normalisation layer against centred differences.

    Parameters
    ----------
    forward : callable
        ``forward(x, gamma, beta) -> (out, cache)``, in train mode (wrap the
        student's function in a lambda that supplies the other arguments).
    backward : callable
        ``backward(dout, cache) -> (dx, dgamma, dbeta)``.
    x : ndarray of shape (N, C, H, W)
    gamma, beta : ndarrays of the shape the layer takes
    dout : ndarray of shape (N, C, H, W)
    group_axes : callable
        Maps an (N, C, H, W) array to (groups, members): each row holds the
        values normalised together, used to tell a missing mean path.

    Prints the relative error of ``dx``, ``dgamma`` and ``dbeta``; raises
    AssertionError on the first that is above ``tol``.
    """
    x, gamma, beta, dout = _f64(x, gamma, beta, dout)
    _, cache = _pair(name.replace("backward", "forward"),
                     forward(x.copy(), gamma.copy(), beta.copy()))
    grads = _grads(name, backward(dout.copy(), cache), ("dx", "dgamma", "dbeta"))
    expected = (
        numeric_gradient(lambda v: forward(v, gamma, beta)[0], x.copy(), dout),
        numeric_gradient(lambda v: forward(x, v, beta)[0], gamma.copy(), dout),
        numeric_gradient(lambda v: forward(x, gamma, v)[0], beta.copy(), dout),
    )
    mean_path = (lambda a: not np.allclose(group_axes(a).sum(axis=1), 0, atol=1e-8),
                 "dx misses the path through the mean and variance: within each group of "
                 "values normalised together dx must sum to zero, since adding a constant "
                 "to the whole group leaves the output unchanged")
    param_hint = ("{g} must have the shape of {p}, {shape}: sum over every axis where {p} "
                  "is broadcast")
    for what, actual, exp in zip(("dx", "dgamma", "dbeta"), grads, expected, strict=True):
        candidates = [mean_path] if what == "dx" else []
        shape_hints = []
        if what != "dx":
            p = what[1:]
            shape_hints = [(s, param_hint.format(g=what, p=p, shape=exp.shape))
                           for s in {(x.shape[1],), (1, x.shape[1], 1, 1), x.shape[1:],
                                     (1,) + x.shape[1:]} if s != exp.shape]
        _compare(f"{name} {what}", actual, exp, tol, candidates, shape_hints)


# ---------------------------------------------------------------------------
# The three-layer convnet
# ---------------------------------------------------------------------------


def check_convnet_params(model: Any, input_dim: tuple[int, int, int], num_filters: int,
                         filter_size: int, hidden_dim: int, num_classes: int,
                         weight_scale: float, dtype: Any = np.float32) -> None:
    """Check the names, shapes, dtype and scale of a ThreeLayerConvNet's parameters.

    The convolution keeps H and W (stride 1, pad (filter_size - 1) // 2) and
    the 2x2 max pool halves them, so W2 has F * (H // 2) * (W // 2) rows.
    """
    C, H, W = input_dim
    F, k = num_filters, filter_size
    shapes = {"W1": (F, C, k, k), "b1": (F,), "W2": (F * (H // 2) * (W // 2), hidden_dim),
              "b2": (hidden_dim,), "W3": (hidden_dim, num_classes), "b3": (num_classes,)}
    params = getattr(model, "params", None)
    if not isinstance(params, dict):
        raise AssertionError("model.params should be a dict of the six parameter arrays")
    missing = sorted(set(shapes) - set(params))
    if missing:
        raise AssertionError(f"model.params lacks {missing}; it should hold exactly "
                             f"{sorted(shapes)}")
    hints = {
        "W1": [((F, k, k, C), "W1 is (F, C, HH, WW): channels come second, as in conv_forward"),
               ((C, F, k, k), "W1 is (F, C, HH, WW): filters first, then channels")],
        "W2": [((F * H * W, hidden_dim),
                "W2's rows should count the features after the 2x2 max pool, which halves "
                "H and W: F * (H // 2) * (W // 2)"),
               ((hidden_dim, F * (H // 2) * (W // 2)),
                "W2 is (D, hidden_dim): affine_forward multiplies x (N, D) by w (D, M)")],
        "W3": [((num_classes, hidden_dim), "W3 is (hidden_dim, num_classes)")],
    }
    for key, shape in shapes.items():
        value = params[key]
        check_array(f"params['{key}']", value)
        if value.shape != shape:
            for wrong, hint in hints.get(key, []):
                if value.shape == wrong:
                    raise AssertionError(f"params['{key}'] has shape {value.shape}; expected "
                                         f"{shape}.\nLikely cause: {hint}")
            check_array(f"params['{key}']", value, shape)
        if value.dtype != np.dtype(dtype):
            raise AssertionError(
                f"params['{key}'] has dtype {value.dtype}; the model was asked for "
                f"{np.dtype(dtype)}: cast every parameter with .astype(dtype)"
            )
        if key.startswith("b") and np.any(value):
            raise AssertionError(f"params['{key}'] should start at zero")
        if key.startswith("W"):
            std = float(np.std(value))
            if not 0.8 * weight_scale < std < 1.2 * weight_scale:
                raise AssertionError(
                    f"params['{key}'] has standard deviation {std:.3g}; expected about "
                    f"weight_scale = {weight_scale:g}: draw it from a normal distribution "
                    "with mean 0 and standard deviation weight_scale"
                )
    print(f"params: names, shapes and dtype {np.dtype(dtype)} OK; weight standard deviations "
          f"within 20% of weight_scale = {weight_scale:g} OK")


def _loss_pair(model: Any, X: np.ndarray, y: np.ndarray) -> tuple[float, dict]:
    result = model.loss(X, y)
    if not (isinstance(result, tuple) and len(result) == 2):
        raise AssertionError("model.loss(X, y) must return a pair (loss, grads); got "
                             f"{type(result).__name__}")
    loss, grads = result
    if not np.isscalar(loss) and np.ndim(loss) != 0:
        raise AssertionError(f"the loss must be a scalar; got shape {np.shape(loss)}")
    if not math.isfinite(float(loss)):
        raise AssertionError(f"the loss is {float(loss)}")
    return float(loss), grads


def check_initial_loss(model: Any, X: np.ndarray, y: np.ndarray, num_classes: int = 10,
                       tol: float = 0.05) -> None:
    """With tiny weights and no regularisation, the loss should be about log(num_classes)."""
    loss, _ = _loss_pair(model, X, y)
    target = math.log(num_classes)
    if abs(loss - target) > tol:
        hint = ("it is far above: are the weights scaled by weight_scale, or is the "
                "regularisation (reg > 0?) included?" if loss > target else
                "it is below: the softmax loss of near-uniform scores is log(num_classes); "
                "are the scores computed from every layer?")
        raise AssertionError(f"initial loss {loss:.4f}; expected about log({num_classes}) = "
                             f"{target:.4f} (within {tol}); {hint}")
    print(f"initial loss {loss:.4f}, log({num_classes}) = {target:.4f}: within {tol} OK")


def check_regularized_loss(model: Any, X: np.ndarray, y: np.ndarray,
                           tol: float = 1e-6) -> None:
    """The loss must be the data loss plus ``0.5 * reg * sum(W**2)`` over W1, W2, W3.

    The data loss is the softmax loss of ``model.loss(X)``'s scores; the model
    must have attributes ``reg`` and ``params``.
    """
    from cs231n_lib.layers import softmax_loss

    scores = model.loss(X)
    check_array("model.loss(X) (the scores)", scores, (X.shape[0], model.params["W3"].shape[1]))
    data_loss, _ = softmax_loss(np.asarray(scores, dtype=np.float64), y)
    loss, _ = _loss_pair(model, X, y)
    reg = float(model.reg)
    squares = {k: float(np.sum(np.asarray(v, dtype=np.float64) ** 2))
               for k, v in model.params.items()}
    weights = sum(v for k, v in squares.items() if k.startswith("W"))
    everything = sum(squares.values())
    expected = data_loss + 0.5 * reg * weights
    candidates = [
        (data_loss, "the regularisation term is missing: add 0.5 * reg * sum(W**2) for "
                    "W1, W2 and W3"),
        (data_loss + reg * weights, "the regularisation term lacks the factor 0.5: use "
                                    "0.5 * reg * sum(W**2)"),
        (data_loss + 0.5 * reg * everything, "the biases are regularised too; only W1, W2 "
                                             "and W3 are"),
    ]
    candidates = [(c, h) for c, h in candidates if rel_error(c, expected) > tol]
    _compare(f"loss with reg={reg:g}", np.asarray(loss), np.asarray(expected), tol,
                    candidates)


def check_model_gradients(model: Any, X: np.ndarray, y: np.ndarray, tol: float = 1e-6,
                          h: float = 1e-6) -> None:
    """Compare ``model.loss``'s gradients with centred differences, one parameter at a time.

    The model should be float64 and the inputs small: every element of every
    parameter costs two loss evaluations.
    """
    _, grads = _loss_pair(model, X, y)
    if not isinstance(grads, dict):
        raise AssertionError(f"grads must be a dict keyed like model.params; got "
                             f"{type(grads).__name__}")
    reg = float(getattr(model, "reg", 0.0))
    for key in sorted(model.params):
        if key not in grads:
            raise AssertionError(f"grads lacks '{key}': return a gradient for every parameter")
        param = model.params[key]
        numeric = numeric_gradient(lambda _: model.loss(X, y)[0], param, 1.0, h=h)
        candidates: list[Candidate] = []
        if key.startswith("W") and reg:
            candidates = [
                (numeric - reg * param, f"grads['{key}'] lacks the regularisation "
                                        f"gradient: add reg * {key}"),
                (numeric + reg * param, f"grads['{key}'] has twice the regularisation "
                                        f"gradient: with the 0.5 factor in the loss it is "
                                        f"reg * {key}"),
            ]
        if key.startswith("b") and reg:
            candidates = [(numeric + reg * param,
                           f"grads['{key}'] includes a regularisation gradient, but biases "
                           "are not regularised")]
        _compare(f"grads['{key}']", grads[key], numeric, tol, candidates)
