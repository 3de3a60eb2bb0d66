"""The convolution checks of notebook 1, and the mistakes they can name.

:func:`conv_forward_hints` and :func:`conv_backward_hints` list the known
mistakes for one set of inputs; the visible checks and the grader's
``likely_cause`` both use them. Every wrong answer is built from the
library's fast layers on altered inputs (a flipped kernel, a zero bias,
stride 1, an upstream gradient kept at one position), never from a naive
convolution.

Imports: NumPy, ``cs231n_lib.checks.core``; ``cs231n_lib.fast_layers`` inside
the functions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from cs231n_lib.checks.core import Hint, f64, grads, numeric_gradient, pair, report, unchanged

SIZE_RULE = "Ho = 1 + (H + 2*pad - HH) // stride"


def _conv_out(H: int, W: int, HH: int, WW: int, stride: int, pad: int) -> tuple[int, int]:
    return 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride


def _fast(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, pad: int) -> np.ndarray:
    from cs231n_lib.fast_layers import conv_forward_fast

    return conv_forward_fast(np.ascontiguousarray(x), np.ascontiguousarray(w), b,
                             {"stride": stride, "pad": pad})[0]


def _short(N: int, F: int, Ho: int, Wo: int, expected: np.ndarray) -> list[Hint]:
    """The output of loops that stop one window early: the size rule without its ``1 +``.

    Only the shape that formula gives on both axes, (Ho - 1, Wo - 1), is named: one axis
    short alone is another bug (a W computed from H, say).
    """
    sentence = ("the output is a row or a column short: the 1 + in " + SIZE_RULE
                + " counts the first window, and each stride adds one more")
    h, w = Ho - 1, Wo - 1
    if h < 1 or w < 1:
        return []
    return [Hint(sentence, answer=lambda: expected[:, :, :h, :w], shape=(N, F, h, w))]


def conv_forward_hints(x: np.ndarray, w: np.ndarray, b: np.ndarray,
                       conv_param: Mapping[str, int], expected: np.ndarray) -> list[Hint]:
    """The known mistakes of ``conv_forward_naive`` on these float64 inputs.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    w : ndarray of shape (F, C, HH, WW)
    b : ndarray of shape (F,)
    conv_param : dict
        ``stride`` and ``pad``.
    expected : ndarray of shape (N, F, Ho, Wo)
        The right output.
    """
    stride, pad = int(conv_param["stride"]), int(conv_param["pad"])
    N, _, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho, Wo = _conv_out(H, W, HH, WW, stride, pad)
    return [
        Hint("the stride is ignored: the output has the size of a stride-1 convolution; "
             + SIZE_RULE, answer=lambda: _fast(x, w, b, 1, pad),
             shape=(N, F) + _conv_out(H, W, HH, WW, 1, pad)),
        Hint("the padding is ignored: pad x with conv_param['pad'] zeros on every side "
             "first; " + SIZE_RULE, answer=lambda: _fast(x, w, b, stride, 0),
             shape=(N, F) + _conv_out(H, W, HH, WW, stride, 0)),
        Hint("both stride and padding are ignored: " + SIZE_RULE,
             answer=lambda: _fast(x, w, b, 1, 0), shape=(N, F) + _conv_out(H, W, HH, WW, 1, 0)),
        *_short(N, F, Ho, Wo, expected),
        Hint("the output's H and W axes are swapped: out has shape (N, F, Ho, Wo)",
             shape=(N, F, Wo, Ho)),
        Hint("the filters are on the last axis: out has shape (N, F, Ho, Wo)",
             shape=(N, Ho, Wo, F)),
        Hint("N and F are swapped: out has shape (N, F, Ho, Wo)", shape=(F, N, Ho, Wo)),
        # Same shape, wrong values.
        Hint("your output matches a convolution with the kernel flipped (a 'true' "
             "convolution). A conv layer computes cross-correlation: multiply each window "
             "by w[f] as it is, without flipping it",
             answer=lambda: _fast(x, w[:, :, ::-1, ::-1], b, stride, pad)),
        Hint("the bias is missing: add b[f] to every output of filter f",
             answer=lambda: _fast(x, w, np.zeros_like(b), stride, pad)),
        Hint("the stride is ignored: the windows are 1 pixel apart. Window (i, j) starts "
             "at row i*stride and column j*stride of the padded input",
             answer=lambda: _fast(x, w, b, 1, pad)[:, :, :Ho, :Wo]),
        Hint("all the zero padding is on one side: pad by conv_param['pad'] at the top, "
             "bottom, left and right",
             answer=lambda: _fast(np.pad(x, ((0, 0), (0, 0), (0, 2 * pad), (0, 2 * pad))),
                                  w, b, stride, 0)),
        Hint("the kernel is transposed: w[f, c, i, j] multiplies row i, column j of the window",
             answer=lambda: _fast(x, w.transpose(0, 1, 3, 2), b, stride, pad)),
        Hint("the output's H and W axes are swapped: write out[n, f, i, j] for the window "
             "starting at row i*stride, column j*stride",
             answer=lambda: expected.transpose(0, 1, 3, 2)),
    ]


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
        Largest relative error that passes (the grader's threshold, 1e-7).

    Prints one line per compared array and returns None (a value would be
    read by nbgrader as partial credit); raises AssertionError on a mismatch.
    """
    x, w, b = f64(x, w, b)
    stride, pad = int(conv_param["stride"]), int(conv_param["pad"])
    args = [a.copy() for a in (x, w, b)]
    out, _ = pair(name, conv_forward(*args, dict(conv_param)))
    for what, after, before in zip("xwb", args, (x, w, b), strict=True):
        unchanged(name, what, after, before)
    expected = _fast(x, w, b, stride, pad)
    report(f"{name} out", out, expected, tol, conv_forward_hints(x, w, b, conv_param, expected),
           conv_case_kinds(x, w, conv_param))


# ---------------------------------------------------------------------------
# Backward
# ---------------------------------------------------------------------------


def _fast_grads(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, pad: int,
                dout: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from cs231n_lib.fast_layers import conv_backward_fast, conv_forward_fast

    _, cache = conv_forward_fast(np.ascontiguousarray(x), np.ascontiguousarray(w), b,
                                 {"stride": stride, "pad": pad})
    return conv_backward_fast(np.ascontiguousarray(dout), cache)


def _kept(dout: np.ndarray, where: tuple) -> np.ndarray:
    """``dout`` with every entry outside ``where`` set to zero."""
    kept = np.zeros_like(dout)
    kept[where] = dout[where]
    return kept


def _overwritten_dx(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, pad: int,
                    dout: np.ndarray) -> np.ndarray:
    """dx when each window's share is assigned (``=``) instead of added into dx_pad.

    Each pixel keeps the share of the last window that covers it, in the
    row-major order of the loops over output positions. A window's share is
    the fast layer's dx for ``dout`` kept at that one position.
    """
    N, C, H, W = x.shape
    _, _, HH, WW = w.shape
    _, _, Ho, Wo = dout.shape
    dx_pad = np.zeros((N, C, H + 2 * pad, W + 2 * pad))
    for i in range(Ho):
        for j in range(Wo):
            share = _fast_grads(x, w, b, stride, pad, _kept(dout, np.s_[:, :, i, j]))[0]
            share = np.pad(share, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
            rows = slice(i * stride, i * stride + HH)
            cols = slice(j * stride, j * stride + WW)
            dx_pad[:, :, rows, cols] = share[:, :, rows, cols]
    return dx_pad[:, :, pad:pad + H, pad:pad + W]


def conv_backward_hints(x: np.ndarray, w: np.ndarray, b: np.ndarray,
                        conv_param: Mapping[str, int], dout: np.ndarray,
                        expected: tuple[np.ndarray, np.ndarray, np.ndarray]
                        ) -> dict[str, list[Hint]]:
    """The known mistakes of ``conv_backward_naive``, for ``dx``, ``dw`` and ``db``.

    Parameters
    ----------
    x, w, b, conv_param : as for :func:`conv_forward_hints`
    dout : ndarray of shape (N, F, Ho, Wo)
    expected : (dx, dw, db)
        The right gradients, of shapes (N, C, H, W), (F, C, HH, WW) and (F,).
    """
    stride, pad = int(conv_param["stride"]), int(conv_param["pad"])
    N, C, H, W = x.shape
    F = w.shape[0]
    Ho, Wo = dout.shape[2:]

    def kept(where):
        return lambda: _fast_grads(x, w, b, stride, pad, _kept(dout, where))

    assign = "accumulate with += instead of assigning with ="
    return {
        "dx": [
            Hint("dx has the padded input's shape: drop the padding from the gradient "
                 "(keep rows and columns pad .. pad+H-1) before returning it",
                 shape=(N, C, H + 2 * pad, W + 2 * pad)),
            Hint("dx matches the gradient of a convolution with the kernel flipped: use "
                 "w as the forward pass did",
                 answer=lambda: _fast_grads(x, w[:, :, ::-1, ::-1], b, stride, pad, dout)[0]),
            Hint("dx is assigned where windows overlap: a pixel of the padded input lies in "
                 "several windows and receives a share from each, so " + assign
                 + " (dx_pad[...] += ...)",
                 answer=lambda: _overwritten_dx(x, w, b, stride, pad, dout)),
        ],
        "dw": [
            Hint("dw is flipped in both spatial axes: dw[f, c, i, j] gathers dout "
                 "times the input at offset (i, j) of each window",
                 answer=lambda: expected[1][:, :, ::-1, ::-1]),
            Hint("dw holds only the last output position's share: every window adds to dw, "
                 "so " + assign + " over all output positions",
                 answer=lambda: kept(np.s_[:, :, Ho - 1, Wo - 1])()[1]),
            Hint("dw holds only the last image's share: " + assign + " over every image "
                 "of the batch", answer=lambda: kept(np.s_[N - 1])()[1]),
            Hint("dw holds only one window's share, the last image's last position: "
                 + assign + " over every image and output position",
                 answer=lambda: kept(np.s_[N - 1, :, Ho - 1, Wo - 1])()[1]),
        ],
        "db": [
            Hint("db must have shape (F,): sum dout over N, Ho and Wo", shape=(F, Ho, Wo)),
            Hint("db must have shape (F,): sum dout over N as well as Ho and Wo", shape=(N, F)),
            Hint("db must have shape (F,): sum dout over axes 0, 2 and 3", shape=(N,)),
            Hint("db holds only the last output position's share: " + assign
                 + " over all output positions", answer=lambda: dout[:, :, -1, -1].sum(axis=0)),
            Hint("db holds only the last image's share: " + assign + " over every image",
                 answer=lambda: dout[-1].sum(axis=(1, 2))),
        ],
    }


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
    tol : float
        Largest relative error that passes (the grader's threshold, 1e-7).
    reference : {'numeric', 'fast'}
        Centred differences of the fast forward pass (the course's gradient
        check), or the fast layer's analytic gradients.

    Prints the relative error of ``dx``, ``dw`` and ``db``; raises AssertionError
    on the first that is above ``tol``.
    """
    from cs231n_lib.fast_layers import conv_forward_fast

    if reference not in ("numeric", "fast"):
        raise ValueError(f"reference must be 'numeric' or 'fast'; got {reference!r}")
    x, w, b, dout = f64(x, w, b, dout)
    stride, pad = int(conv_param["stride"]), int(conv_param["pad"])
    cp = {"stride": stride, "pad": pad}
    _, cache = pair(name.replace("backward", "forward"),
                    conv_forward(x.copy(), w.copy(), b.copy(), dict(conv_param)))
    got = grads(name, conv_backward(dout.copy(), cache), ("dx", "dw", "db"))
    if reference == "numeric":
        expected = (
            numeric_gradient(lambda v: conv_forward_fast(v, w, b, cp)[0], x.copy(), dout),
            numeric_gradient(lambda v: conv_forward_fast(x, v, b, cp)[0], w.copy(), dout),
            numeric_gradient(lambda v: conv_forward_fast(x, w, v, cp)[0], b.copy(), dout),
        )
    else:
        expected = _fast_grads(x, w, b, stride, pad, dout)
    hints = conv_backward_hints(x, w, b, conv_param, dout, expected)
    for what, actual, exp in zip(("dx", "dw", "db"), got, expected, strict=True):
        report(f"{name} {what}", actual, exp, tol, hints[what],
               conv_case_kinds(x, w, conv_param))


def conv_case_kinds(x: Any, w: Any, conv_param: Mapping[str, Any]) -> list[str]:
    """The kinds of case these convolution inputs are, worded without their values."""
    kinds = []
    N, C, H, W = np.shape(x)
    F, _, HH, WW = np.shape(w)
    stride, pad = int(conv_param["stride"]), int(conv_param["pad"])
    if H != W:
        kinds.append("non-square image")
    if HH != WW:
        kinds.append("rectangular filter")
    if stride > 1:
        kinds.append("stride above 1")
    if stride < max(HH, WW):
        kinds.append("overlapping windows")
    if stride > max(HH, WW):
        kinds.append("a stride larger than the filter")
    if pad > 0:
        kinds.append("zero padding")
    if (H + 2 * pad - HH) % stride or (W + 2 * pad - WW) % stride:
        kinds.append("non-tiling input")
    if N == 1:
        kinds.append("a batch of one image")
    if C == 1:
        kinds.append("one input channel")
    if F == 1:
        kinds.append("one filter")
    return kinds
