"""The max-pooling checks of notebook 2, and the mistakes they can name.

The wrong answers come from the library's fast pooling on altered inputs
(average pooling, a negated input, stride 1) or from composing its
gradients window by window (assigned instead of added, every tie), never
from a naive pooling layer.

Imports: NumPy, ``cs231n_lib.checks.core``; ``cs231n_lib.fast_layers`` inside
the functions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from cs231n_lib.checks.core import MATCH, Hint, f64, pair, rel_error, report, unchanged

SIZE_RULE = "Ho = 1 + (H - pool_height) // stride"


def _pool(pool_param: Mapping[str, Any]) -> tuple[int, int, int]:
    return int(pool_param["pool_height"]), int(pool_param["pool_width"]), int(pool_param["stride"])


def _pp(ph: int, pw: int, s: int) -> dict[str, int]:
    return {"pool_height": ph, "pool_width": pw, "stride": s}


def _fast(x: np.ndarray, ph: int, pw: int, s: int, average: bool = False) -> np.ndarray:
    from cs231n_lib.fast_layers import avg_pool_forward_fast, max_pool_forward_fast

    op = avg_pool_forward_fast if average else max_pool_forward_fast
    return op(np.ascontiguousarray(x), _pp(ph, pw, s))[0]


def _windows(H: int, W: int, ph: int, pw: int, s: int) -> Iterator[tuple[int, int, slice, slice]]:
    """Output position (i, j) and its window's rows and columns, in row-major order."""
    for i in range(1 + (H - ph) // s):
        for j in range(1 + (W - pw) // s):
            yield i, j, slice(i * s, i * s + ph), slice(j * s, j * s + pw)


def pool_forward_hints(x: np.ndarray, pool_param: Mapping[str, int],
                       expected: np.ndarray) -> list[Hint]:
    """The known mistakes of ``max_pool_forward_naive`` on these float64 inputs.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    pool_param : dict
        ``pool_height``, ``pool_width`` and ``stride``.
    expected : ndarray of shape (N, C, Ho, Wo)
    """
    ph, pw, s = _pool(pool_param)
    N, C, H, W = x.shape
    Ho, Wo = 1 + (H - ph) // s, 1 + (W - pw) // s
    short = ("the output is a row or a column short: the 1 + in " + SIZE_RULE
             + " counts the first window")
    extra = ("the output has a row or a column too many: a window that would run past the "
             "edge is dropped, so " + SIZE_RULE + " rounds down (floor), never up (ceil) "
             "or to the nearest (round); and Wo is computed from W, Ho from H, even when "
             "the input is not square")
    hints = [
        Hint("the stride is ignored: the output has the size of stride-1 pooling; " + SIZE_RULE,
             answer=lambda: _fast(x, ph, pw, 1), shape=(N, C, 1 + H - ph, 1 + W - pw)),
        Hint("pool_height and pool_width are swapped: pool_height counts rows (along H), "
             "pool_width counts columns (along W)", answer=lambda: _fast(x, pw, ph, s),
             shape=(N, C, 1 + (H - pw) // s, 1 + (W - ph) // s)),
        Hint("the output's H and W axes are swapped: out has shape (N, C, Ho, Wo)",
             shape=(N, C, Wo, Ho)),
    ]
    # The window size as the stride: ph on both axes, pw on both, or ph along H and pw
    # along W. Each is named only by its values: the sizes alone often coincide with the
    # missing 1 + (issue 11).
    for sh, sw in dict.fromkeys(((ph, ph), (pw, pw), (ph, pw))):
        if (sh, sw) != (s, s):
            hints.append(Hint("the window size is used as the stride: " + SIZE_RULE,
                              answer=lambda sh=sh, sw=sw: _fast(x, ph, pw, 1)[:, :, ::sh, ::sw],
                              shape=(N, C, 1 + (H - ph) // sh, 1 + (W - pw) // sw)))
    # A size formula wrong on both axes in the way the sentence says; a shape that a W
    # computed from H (or H from W) also gives is left unnamed.
    square = {(Ho, 1 + (H - pw) // s), (1 + (W - ph) // s, Wo)}
    if Ho >= 2 and Wo >= 2 and (Ho - 1, Wo - 1) not in square:
        hints.append(Hint(short, answer=lambda: expected[:, :, :Ho - 1, :Wo - 1],
                          shape=(N, C, Ho - 1, Wo - 1)))
    # Only the shapes a ceil'd or round'd size rule gives on both axes. A W computed from H
    # can give one of them too (round(2.5) is 2), with the same values (numpy clips the
    # windows past the edge either way): the sentence names both mistakes, as the values
    # cannot tell them apart.
    for h, w in {(1 + -(-(H - ph) // s), 1 + -(-(W - pw) // s)),
                 (1 + round((H - ph) / s), 1 + round((W - pw) / s))}:
        if (h, w) != (Ho, Wo):
            hints.append(Hint(extra, test=lambda a: rel_error(a[:, :, :Ho, :Wo], expected)
                              <= MATCH, shape=(N, C, h, w)))
    hints += [
        Hint("your output is each window's mean (average pooling); max pooling keeps the "
             "largest value of each window", answer=lambda: _fast(x, ph, pw, s, average=True)),
        Hint("your output is each window's minimum; max pooling keeps the largest value",
             answer=lambda: -_fast(-x, ph, pw, s)),
        Hint("the stride is ignored: the windows are 1 pixel apart. Window (i, j) starts at "
             "row i*stride, column j*stride", answer=lambda: _fast(x, ph, pw, 1)[:, :, :Ho, :Wo]),
        Hint("pool_height and pool_width are swapped: pool_height counts rows (along H), "
             "pool_width counts columns (along W)", answer=lambda: _fast(x, pw, ph, s)),
        Hint("the output's H and W axes are swapped: out[n, c, i, j] is the window starting "
             "at row i*stride, column j*stride", answer=lambda: expected.transpose(0, 1, 3, 2)),
    ]
    return hints


def check_max_pool_forward(pool_forward: Callable, x: np.ndarray,
                           pool_param: Mapping[str, int], tol: float = 1e-12,
                           name: str = "max_pool_forward_naive") -> None:
    """Run ``pool_forward(x, pool_param) -> (out, cache)`` and compare with the fast layer.

    ``x`` is (N, C, H, W); ``pool_param`` has ``pool_height``, ``pool_width``
    and ``stride``. A maximum involves no arithmetic, so ``tol`` (1e-12) is
    stricter than the grader's 1e-7: passing here passes there.
    """
    (x,) = f64(x)
    ph, pw, s = _pool(pool_param)
    x_in = x.copy()
    out, _ = pair(name, pool_forward(x_in, dict(pool_param)))
    unchanged(name, "x", x_in, x)
    expected = _fast(x, ph, pw, s)
    report(f"{name} out", out, expected, tol, pool_forward_hints(x, pool_param, expected),
           pool_case_kinds(x, pool_param))


# ---------------------------------------------------------------------------
# Backward
# ---------------------------------------------------------------------------


def _window_grads(x: np.ndarray, ph: int, pw: int, s: int,
                  dout: np.ndarray) -> Iterator[tuple[slice, slice, np.ndarray]]:
    """Each window's rows, columns and its own gradient: the fast layer's dx for that window."""
    from cs231n_lib.fast_layers import max_pool_backward_fast, max_pool_forward_fast

    _, cache = max_pool_forward_fast(np.ascontiguousarray(x), _pp(ph, pw, s))
    for i, j, rows, cols in _windows(*x.shape[2:], ph, pw, s):
        kept = np.zeros_like(dout)
        kept[:, :, i, j] = dout[:, :, i, j]
        yield rows, cols, max_pool_backward_fast(kept, cache)


def _assigned(x: np.ndarray, ph: int, pw: int, s: int, dout: np.ndarray,
              whole_window: bool, column_major: bool = False) -> np.ndarray:
    """dx when each window's gradient is assigned (``=``) instead of added.

    ``whole_window``: the window's mask times its gradient is written over the
    whole window (zeros too); otherwise only the maximum's entry is written.
    """
    dx = np.zeros_like(x)
    order = list(_window_grads(x, ph, pw, s, dout))
    if column_major:
        order.sort(key=lambda t: (t[1].start, t[0].start))
    for rows, cols, g in order:
        if whole_window:
            dx[:, :, rows, cols] = g[:, :, rows, cols]
        else:
            dx[g != 0] = g[g != 0]
    return dx


def _every_tie(x: np.ndarray, out: np.ndarray, ph: int, pw: int, s: int,
               dout: np.ndarray) -> np.ndarray:
    """dx when each window's gradient goes to every copy of its maximum."""
    dx = np.zeros_like(x)
    for i, j, rows, cols in _windows(*x.shape[2:], ph, pw, s):
        is_max = x[:, :, rows, cols] == out[:, :, i, j, None, None]
        dx[:, :, rows, cols] += is_max * dout[:, :, i, j, None, None]
    return dx


def pool_backward_hints(x: np.ndarray, pool_param: Mapping[str, int], dout: np.ndarray,
                        expected: np.ndarray) -> list[Hint]:
    """The known mistakes of ``max_pool_backward_naive`` for ``dx``.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    pool_param : dict
    dout : ndarray of shape (N, C, Ho, Wo)
    expected : ndarray of shape (N, C, H, W)
        The right gradient.
    """
    from cs231n_lib.fast_layers import avg_pool_backward_fast, avg_pool_forward_fast

    ph, pw, s = _pool(pool_param)
    N, C, H, W = x.shape
    Ho, Wo = dout.shape[2:]
    out = _fast(x, ph, pw, s)
    is_a_max = np.zeros(x.shape, dtype=bool)  # pixel equals the max of a window holding it
    for i, j, rows, cols in _windows(H, W, ph, pw, s):
        is_a_max[:, :, rows, cols] |= x[:, :, rows, cols] == out[:, :, i, j, None, None]

    def last_tie(actual):
        moved = (actual != 0) != (expected != 0)
        return (bool(moved.any()) and np.count_nonzero(actual) == np.count_nonzero(expected)
                and bool(is_a_max[moved].all()))

    def spread():
        _, c = avg_pool_forward_fast(np.ascontiguousarray(x), _pp(ph, pw, s))
        return avg_pool_backward_fast(np.ascontiguousarray(dout), c)

    assign = ("a pixel can be the maximum of several windows, so add each window's gradient "
              "(+=) instead of assigning it (=)")
    covered = ((Ho - 1) * s + ph, (Wo - 1) * s + pw)
    return [
        Hint("dx must have the shape of x, (N, C, H, W): the rows and columns that no "
             "window covers get gradient 0", shape=(N, C) + covered),
        Hint("the gradient is spread over every tied maximum of a window. When a window's "
             "largest value appears more than once, send its gradient to one of them only: "
             "the first in row-major order, as np.argmax picks it",
             answer=lambda: _every_tie(x, out, ph, pw, s, dout)),
        Hint("when a window's largest value appears more than once, the gradient goes to the "
             "wrong copy: send it to the first in row-major order, as np.argmax picks it",
             test=last_tie),
        Hint("values are wrong only where windows overlap: " + assign,
             answer=lambda: _assigned(x, ph, pw, s, dout, whole_window=False)),
        Hint("values are wrong only where windows overlap: " + assign,
             answer=lambda: _assigned(x, ph, pw, s, dout, whole_window=False,
                                      column_major=True)),
        Hint("values are wrong where windows overlap: writing a window's gradient over the "
             "whole window erases what earlier windows sent there; " + assign,
             answer=lambda: _assigned(x, ph, pw, s, dout, whole_window=True)),
        Hint("the gradient is spread evenly over the whole window (average pooling's "
             "backward pass); max pooling sends it to the window's maximum", answer=spread),
    ]


def check_max_pool_backward(pool_forward: Callable, pool_backward: Callable, x: np.ndarray,
                            pool_param: Mapping[str, int], dout: np.ndarray,
                            tol: float = 1e-12, name: str = "max_pool_backward_naive") -> None:
    """Compare ``pool_backward(dout, cache) -> dx`` with the fast layer's gradient.

    The reference sends each window's gradient to its *first* maximum in
    row-major order (what ``np.argmax`` picks), and adds the gradients of
    overlapping windows.
    """
    from cs231n_lib.fast_layers import max_pool_backward_fast, max_pool_forward_fast

    x, dout = f64(x, dout)
    ph, pw, s = _pool(pool_param)
    _, cache = pair(name.replace("backward", "forward"), pool_forward(x.copy(), dict(pool_param)))
    dx = pool_backward(dout.copy(), cache)
    _, fast_cache = max_pool_forward_fast(x, _pp(ph, pw, s))
    expected = max_pool_backward_fast(dout, fast_cache)
    report(f"{name} dx", dx, expected, tol, pool_backward_hints(x, pool_param, dout, expected),
           pool_case_kinds(x, pool_param))


def pool_case_kinds(x: Any, pool_param: Mapping[str, Any]) -> list[str]:
    """The kinds of case these pooling inputs are, worded without their values."""
    kinds = []
    x = np.asarray(x)
    N, C, H, W = x.shape
    ph, pw, s = _pool(pool_param)
    if (H - ph) % s or (W - pw) % s:
        kinds.append("non-tiling input")
    if ph != pw:
        kinds.append("rectangular window")
    if H != W:
        kinds.append("non-square image")
    if s < max(ph, pw):
        kinds.append("overlapping windows")
    if s > max(ph, pw):
        kinds.append("a stride larger than the window")
    out = _fast(x.astype(np.float64), ph, pw, s)
    count = np.zeros(x.shape, dtype=int)  # windows whose maximum each pixel is
    tie = False
    for i, j, rows, cols in _windows(H, W, ph, pw, s):
        is_max = x[:, :, rows, cols] == out[:, :, i, j, None, None]
        tie = tie or bool((is_max.sum(axis=(2, 3)) > 1).any())
        count[:, :, rows, cols] += is_max
    if tie:
        kinds.append("ties in a window")
    if (count > 1).any():
        kinds.append("a pixel that is the maximum of two windows")
    if N == 1:
        kinds.append("a batch of one image")
    if C == 1:
        kinds.append("one channel")
    return kinds
