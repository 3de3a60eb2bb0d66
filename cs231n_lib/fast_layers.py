"""Fast convolution and pooling layers, with the course's ``(out, cache)`` contracts.

Convolution is im2col plus GEMM (one per image when each image's product is
large enough, else one for the batch); its backward pass scatters the column
gradient back with col2im. Both are compiled
(``cs231n_lib._im2col``) when the extension was built, otherwise vectorised
NumPy (a strided view and its adjoint). The choice is made once,
at import, and recorded in ``BACKEND`` (``"cython"`` or ``"numpy"``); the
environment variable ``CS231N_BACKEND`` (``auto``, ``cython``, ``numpy``)
overrides it, and :func:`set_backend` switches it at run time (the benchmark
and the tests compare both paths in one process).

Max pooling runs a compiled one-pass kernel (first maximum and its index)
when the extension is built; its NumPy twin takes the max of strided slices
of the input, one slice per window offset. Both handle tiling and
overlapping windows alike; average pooling is the NumPy form only.

dtype policy: the arrays meeting in a layer share one dtype, float32 or
float64, and the result has it: ``x``, ``w`` and ``b`` of a convolution, and
in every backward pass ``dout`` and the forward pass's ``x``. A mismatch
raises TypeError naming the layer, both arrays and both dtypes: casting one
of them instead (to the parameters' dtype, or NumPy's promotion to float64)
would hide a forgotten ``astype`` and change the result's precision without
a word. Integer arrays are refused.

Memory: at import this module makes the C library keep freed memory for
reuse (:mod:`cs231n_lib._heap`; ``CS231N_KEEP_FREED_MEMORY=0`` opts out), so
repeated calls do not fault in fresh pages for every array they allocate.

Imports: NumPy, ``cs231n_lib._heap``, ``cs231n_lib._validation``,
``cs231n_lib.im2col``, ``cs231n_lib.refusal`` and the optional compiled kernel.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from types import ModuleType
from typing import Any

import numpy as np

from cs231n_lib import refusal
from cs231n_lib._heap import keep_freed_memory
from cs231n_lib._validation import (
    as_float_array,
    check_dout,
    check_int,
    check_ndim,
    check_params,
    check_same_dtype,
)
from cs231n_lib.im2col import col2im_numpy, im2col_numpy

__all__ = [
    "BACKEND",
    "set_backend",
    "compiled_kernels",
    "conv_forward_fast",
    "conv_backward_fast",
    "max_pool_forward_fast",
    "max_pool_backward_fast",
    "avg_pool_forward_fast",
    "avg_pool_backward_fast",
    "conv_output_size",
    "pool_output_size",
]

BACKENDS = ("cython", "numpy")

_FALLBACK_WARNING = (
    "cs231n_lib: the compiled col2im kernel (cs231n_lib._im2col) is not built ({err}); "
    "using the NumPy col2im, which is slower. Fix: install a C compiler "
    "(Debian/Ubuntu: `apt-get install gcc python3-dev`; macOS: `xcode-select --install`), "
    "then run `pip install -e .` in the kit's folder again (or `make test`). "
    "Set CS231N_BACKEND=numpy to choose the NumPy path without this warning."
)


def _load_compiled() -> ModuleType:
    from cs231n_lib import _im2col

    return _im2col


def _select_backend(requested: str) -> tuple[str, ModuleType | None]:
    requested = requested.strip().lower() or "auto"
    if requested not in ("auto",) + BACKENDS:
        raise ValueError(f"CS231N_BACKEND={requested!r} is not one of 'auto', 'cython', 'numpy'")
    if requested == "numpy":
        return "numpy", None
    try:
        return "cython", _load_compiled()
    except ImportError as err:
        if requested == "cython":
            raise ImportError(
                "CS231N_BACKEND=cython, but " + _FALLBACK_WARNING.format(err=err)
            ) from err
        warnings.warn(_FALLBACK_WARNING.format(err=err), RuntimeWarning, stacklevel=3)
        return "numpy", None


# The compiled kernels module, or None on the NumPy path.
BACKEND, _compiled = _select_backend(os.environ.get("CS231N_BACKEND", "auto"))


def _keep_freed_memory(setting: str) -> bool:
    setting = setting.strip() or "1"
    if setting not in ("0", "1"):
        raise ValueError(f"CS231N_KEEP_FREED_MEMORY={setting!r} must be '0' or '1'")
    return setting == "1" and keep_freed_memory()


# True when freed memory stays in the heap, so that repeated calls reuse warm pages
# instead of faulting in fresh ones (cs231n_lib._heap; glibc only).
KEEPS_FREED_MEMORY = _keep_freed_memory(os.environ.get("CS231N_KEEP_FREED_MEMORY", "1"))


def set_backend(name: str) -> str:
    """Switch between the compiled kernels and their NumPy twins; return the previous name.

    ``name`` is ``"cython"`` or ``"numpy"``. Asking for ``"cython"`` when the
    extension is not built raises ImportError with the fix.
    """
    global BACKEND, _compiled
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}; got {name!r}")
    previous = BACKEND
    if name == "numpy":
        BACKEND, _compiled = "numpy", None
    else:
        try:
            BACKEND, _compiled = "cython", _load_compiled()
        except ImportError as err:
            raise ImportError(_FALLBACK_WARNING.format(err=err)) from err
    return previous


def compiled_kernels() -> ModuleType | None:
    """The compiled kernels module (``cs231n_lib._im2col``) in use, or None on the NumPy path."""
    return _compiled


def _im2col(
    x: np.ndarray, HH: int, WW: int, pad: int, stride: int, out: np.ndarray | None = None
) -> np.ndarray:
    if _compiled is not None:
        return _compiled.im2col_6d(x, HH, WW, pad, stride, out)
    return im2col_numpy(x, HH, WW, pad, stride, out)


def _col2im(cols: np.ndarray, H: int, W: int, pad: int, stride: int) -> np.ndarray:
    if _compiled is not None:
        return _compiled.col2im_6d(cols, H, W, pad, stride)
    return col2im_numpy(cols, H, W, pad, stride)


# One GEMM per image writes the output in NCHW order directly, but a small
# product per image (few output pixels) runs far below the GEMM ceiling. Below
# this many output pixels per image, one GEMM over the whole batch plus a
# transpose of its result is faster (measured side by side on the issue's
# shapes: 256 pixels, the notebook's stride-2 layer, favours the batch GEMM;
# 1024, the training layer, favours per-image GEMMs).
PER_IMAGE_MIN_PIXELS = 512

# ---------------------------------------------------------------------------
# Output sizes and parameter checks
# ---------------------------------------------------------------------------


def conv_output_size(H: int, W: int, HH: int, WW: int, stride: int, pad: int) -> tuple[int, int]:
    """Output height and width of a convolution, or ValueError if it does not tile.

    ``Ho = 1 + (H + 2*pad - HH) / stride`` must be a whole number, and so must ``Wo``.
    """
    for what, size, k in (("H", H, HH), ("W", W, WW)):
        span = size + 2 * pad - k
        kname = "HH" if what == "H" else "WW"
        if span < 0:
            raise ValueError(
                f"the filter ({kname}={k}) is larger than the padded input "
                f"({what} + 2*pad = {size + 2 * pad})"
            )
        if span % stride:
            raise ValueError(
                f"conv_param['stride']={stride} does not tile "
                f"{what} + 2*pad - {kname} = {span}: choose stride and pad so that "
                f"({what} + 2*pad - {kname}) % stride == 0"
            )
    return 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride


def pool_output_size(H: int, W: int, ph: int, pw: int, stride: int) -> tuple[int, int]:
    """Output height and width of a pooling layer: ``1 + (H - pool_height) // stride``.

    Like the course's naive layer (and PyTorch), windows that would run past
    the edge are dropped; a window larger than the input is an error.
    """
    if ph > H:
        raise ValueError(f"pool_param['pool_height']={ph} is larger than the input height H={H}")
    if pw > W:
        raise ValueError(f"pool_param['pool_width']={pw} is larger than the input width W={W}")
    return 1 + (H - ph) // stride, 1 + (W - pw) // stride


def _conv_params(conv_param: Any) -> tuple[int, int]:
    check_params("conv_param", conv_param, required=("stride", "pad"), optional=("need_dx",))
    stride = check_int("conv_param['stride']", conv_param["stride"], 1)
    pad = check_int("conv_param['pad']", conv_param["pad"], 0)
    need_dx = conv_param.get("need_dx", True)
    if not isinstance(need_dx, (bool, np.bool_)):
        raise TypeError(f"conv_param['need_dx'] must be True or False; got {need_dx!r}")
    return stride, pad


def _pool_params(pool_param: Any) -> tuple[int, int, int]:
    check_params("pool_param", pool_param, required=("pool_height", "pool_width", "stride"))
    ph = check_int("pool_param['pool_height']", pool_param["pool_height"], 1)
    pw = check_int("pool_param['pool_width']", pool_param["pool_width"], 1)
    stride = check_int("pool_param['stride']", pool_param["stride"], 1)
    return ph, pw, stride


# ---------------------------------------------------------------------------
# Convolution
# ---------------------------------------------------------------------------


def conv_forward_fast(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: Mapping[str, int]
) -> tuple[np.ndarray, tuple]:
    """Convolution forward pass by im2col and one matrix product.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W), float32 or float64
    w : ndarray of shape (F, C, HH, WW), dtype of ``x``
    b : ndarray of shape (F,), dtype of ``x``
    conv_param : dict
        ``stride`` (int >= 1) and ``pad`` (int >= 0, zeros on every side);
        optionally ``need_dx`` (bool, default True): False when ``x`` needs no
        gradient (a network's input images), so the backward pass skips dx.

    Returns
    -------
    out : ndarray of shape (N, F, Ho, Wo), dtype of ``x``
    cache : tuple
        ``(x, w, b, conv_param, cols)``: the im2col matrix kept for the backward
        pass, (N, C*HH*WW, Ho*Wo) with one matrix per image when
        ``Ho*Wo >= PER_IMAGE_MIN_PIXELS``, else (C*HH*WW + 1, N*Ho*Wo) for the
        batch, its last row ones (the bias's input).

    Notes
    -----
    ``Ho = 1 + (H + 2*pad - HH) // stride`` and ``Wo = 1 + (W + 2*pad - WW) // stride``;
    a stride that does not tile the padded input exactly raises ValueError,
    and ``w`` or ``b`` of another dtype than ``x`` raises TypeError.
    Like the course (and every deep-learning library), this is
    cross-correlation: the kernel is not flipped.
    """
    return _conv_forward(x, w, b, conv_param, add_bias=True)


def _conv_forward(
    x: Any, w: Any, b: Any, conv_param: Any, add_bias: bool
) -> tuple[np.ndarray, tuple]:
    """:func:`conv_forward_fast`; with ``add_bias=False`` ``b`` is checked and cached, not added.

    ``add_bias=False`` is for a caller that adds the bias later on a smaller
    array, as ``conv_relu_pool_forward`` does after pooling.
    """
    refusal.check("conv_forward_fast")
    x = as_float_array("x", x)
    w = as_float_array("w", w)
    b = as_float_array("b", b)
    check_ndim("x", x, 4, "(N, C, H, W)")
    check_ndim("w", w, 4, "(F, C, HH, WW)")
    check_same_dtype(layer="conv_forward_fast", x=x, w=w, b=b)
    N, C, H, W = x.shape
    F, Cw, HH, WW = w.shape
    if Cw != C:
        raise ValueError(
            f"w.shape[1]={Cw} (filter channels) must equal x.shape[1]={C} (input channels)"
        )
    if b.shape != (F,):
        raise ValueError(f"b must have shape (F,) = ({F},), one bias per filter; got {b.shape}")
    stride, pad = _conv_params(conv_param)
    Ho, Wo = conv_output_size(H, W, HH, WW, stride, pad)

    K, P = C * HH * WW, Ho * Wo
    if P >= PER_IMAGE_MIN_PIXELS:
        cols = _im2col(x, HH, WW, pad, stride).reshape(N, K, P)  # (N, C, HH, WW, Ho, Wo)
        # (F, K) @ (K, P) for each image: the stacked result (N, F, P) is already NCHW.
        out = np.matmul(w.reshape(F, K), cols)
        if add_bias:
            out += b[:, None]
    else:
        # One GEMM for the batch, with a row of ones under the columns and b (or zeros)
        # beside w: the product then includes the bias, and the backward pass's dw
        # product yields db as its last column, with no pass of their own over the maps.
        cols = np.empty((K + 1, N * P), dtype=x.dtype)
        cols[K] = 1
        # Rows 0..K-1 are (C, HH, WW, N, Ho, Wo) in memory; im2col fills them through a view.
        _im2col(
            x, HH, WW, pad, stride,
            out=cols[:K].reshape(C, HH, WW, N, Ho, Wo).transpose(3, 0, 1, 2, 4, 5),
        )
        w_aug = np.empty((F, K + 1), dtype=x.dtype)
        w_aug[:, :K] = w.reshape(F, K)
        w_aug[:, K] = b if add_bias else 0
        out = w_aug @ cols  # (F, N*P)
        out = np.ascontiguousarray(out.reshape(F, N, P).transpose(1, 0, 2))  # (N, F, P)
    return out.reshape(N, F, Ho, Wo), (x, w, b, dict(conv_param), cols)


def conv_backward_fast(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Convolution backward pass.

    Parameters
    ----------
    dout : ndarray of shape (N, F, Ho, Wo), dtype of the forward pass's ``x``
        Upstream gradient.
    cache : tuple
        From :func:`conv_forward_fast`.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W), or None
        None when the forward pass had ``conv_param['need_dx'] = False``.
    dw : ndarray of shape (F, C, HH, WW)
    db : ndarray of shape (F,)
    """
    return _conv_backward(dout, cache, with_db=True)


def _conv_backward(
    dout: Any, cache: tuple, with_db: bool
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray | None]:
    """:func:`conv_backward_fast`; with ``with_db=False`` db is None (not computed).

    ``with_db=False`` is for ``conv_relu_pool_backward``, which sums db over the
    pooled gradient.
    """
    refusal.check("conv_backward_fast")
    x, w, b, conv_param, cols = cache
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    stride, pad = conv_param["stride"], conv_param["pad"]
    Ho, Wo = conv_output_size(H, W, HH, WW, stride, pad)
    K, P = C * HH * WW, Ho * Wo
    dout = check_dout(dout, (N, F, Ho, Wo), x.dtype, layer="conv_backward_fast").reshape(N, F, P)
    need_dx = conv_param.get("need_dx", True)

    w_mat = w.reshape(F, K)
    if cols.ndim == 3:  # one matrix per image, (N, K, P)
        # (K, P) @ (P, F) for each image, summed over the batch: dw transposed. BLAS
        # reads dout's transposed view in place, and this order of the same product
        # ran ~15% faster in float32 than (F, P) @ (P, K) (side by side, training shape).
        dw_t = np.matmul(cols, dout.transpose(0, 2, 1)).sum(axis=0)  # (K, F)
        dw = np.ascontiguousarray(dw_t.T).reshape(w.shape)
        # The contiguous axis first: faster than sum(axis=(0, 2)).
        db = dout.sum(axis=2).sum(axis=0) if with_db else None
        if not need_dx:
            return None, dw, db
        dcols6 = np.matmul(w_mat.T, dout).reshape(N, C, HH, WW, Ho, Wo)
    else:  # one matrix for the batch, (K + 1, N*P), its last row ones
        dout_mat = np.ascontiguousarray(dout.transpose(1, 0, 2)).reshape(F, N * P)
        dw_aug = dout_mat @ cols.T  # (F, K + 1): against the row of ones, db
        dw = np.ascontiguousarray(dw_aug[:, :K]).reshape(w.shape)
        db = dw_aug[:, K].copy() if with_db else None
        if not need_dx:
            return None, dw, db
        # (K, N*P) is (C, HH, WW, N, Ho, Wo) in memory; col2im reads it through a view.
        dcols6 = (w_mat.T @ dout_mat).reshape(C, HH, WW, N, Ho, Wo).transpose(3, 0, 1, 2, 4, 5)
    dx = _col2im(dcols6, H, W, pad, stride)
    return dx, dw, db


# ---------------------------------------------------------------------------
# Pooling
# ---------------------------------------------------------------------------


def _window(a: np.ndarray, i: int, j: int, stride: int, Ho: int, Wo: int) -> np.ndarray:
    """The (N, C, Ho, Wo) strided slice holding offset (i, j) of every window."""
    return a[:, :, i : i + stride * (Ho - 1) + 1 : stride, j : j + stride * (Wo - 1) + 1 : stride]


def _pool_input(x: Any, pool_param: Any) -> tuple[np.ndarray, int, int, int, int, int]:
    x = as_float_array("x", x)
    check_ndim("x", x, 4, "(N, C, H, W)")
    ph, pw, stride = _pool_params(pool_param)
    Ho, Wo = pool_output_size(x.shape[2], x.shape[3], ph, pw, stride)
    return x, ph, pw, stride, Ho, Wo


def max_pool_forward_fast(x: np.ndarray, pool_param: Mapping[str, int]) -> tuple[np.ndarray, tuple]:
    """Max-pooling forward pass for any window and stride.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W), float32 or float64
    pool_param : dict
        ``pool_height``, ``pool_width``, ``stride`` (ints >= 1).

    Returns
    -------
    out : ndarray of shape (N, C, Ho, Wo), dtype of ``x``
    cache : tuple
        ``(x_shape, x_dtype, argmax, pool_param)``: ``argmax`` (N, C, Ho, Wo)
        is the row-major position of each window's first maximum.

    Notes
    -----
    ``Ho = 1 + (H - pool_height) // stride``, ``Wo = 1 + (W - pool_width) // stride``.
    Ties go to the first maximum in row-major window order, as ``np.argmax``
    would pick, so the backward pass sends each window's gradient to one pixel.
    """
    refusal.check("max_pool_forward_fast")
    x, ph, pw, stride, Ho, Wo = _pool_input(x, pool_param)
    if _compiled is not None and ph * pw <= 256:
        out, argmax = _compiled.max_pool_argmax(x, ph, pw, stride)
        return out, (x.shape, x.dtype, argmax, dict(pool_param))
    out = _window(x, 0, 0, stride, Ho, Wo).copy()
    # ph*pw <= 256 windows fit a uint8 index; larger windows need more bits.
    argmax = np.zeros(out.shape, dtype=np.uint8 if ph * pw <= 256 else np.int32)
    greater = np.empty(out.shape, dtype=bool)
    for k in range(1, ph * pw):
        i, j = divmod(k, pw)
        view = _window(x, i, j, stride, Ho, Wo)
        # Strictly greater keeps the earlier offset on ties.
        np.greater(view, out, out=greater)
        np.copyto(out, view, where=greater)
        argmax[greater] = k
    return out, (x.shape, x.dtype, argmax, dict(pool_param))


def max_pool_backward_fast(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """Max-pooling backward pass: each window's gradient goes to its first maximum.

    Parameters
    ----------
    dout : ndarray of shape (N, C, Ho, Wo), dtype of the forward pass's ``x``
    cache : tuple
        From :func:`max_pool_forward_fast`.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
        Overlapping windows add their gradients into shared pixels.
    """
    refusal.check("max_pool_backward_fast")
    x_shape, dtype, argmax, pool_param = cache
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dout = check_dout(dout, argmax.shape, dtype, layer="max_pool_backward_fast")
    if _compiled is not None and argmax.dtype == np.uint8:
        return _compiled.max_pool_scatter(dout, argmax, tuple(x_shape), ph, pw, stride)
    Ho, Wo = argmax.shape[2:]
    dx = np.zeros(x_shape, dtype=dtype)
    for k in range(ph * pw):
        i, j = divmod(k, pw)
        _window(dx, i, j, stride, Ho, Wo)[...] += np.where(argmax == k, dout, 0)
    return dx


def avg_pool_forward_fast(x: np.ndarray, pool_param: Mapping[str, int]) -> tuple[np.ndarray, tuple]:
    """Average-pooling forward pass for any window and stride.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W), float32 or float64
    pool_param : dict
        ``pool_height``, ``pool_width``, ``stride`` (ints >= 1).

    Returns
    -------
    out : ndarray of shape (N, C, Ho, Wo), dtype of ``x``
    cache : tuple
        ``(x_shape, x_dtype, pool_param)``.

    Notes
    -----
    Output size as in :func:`max_pool_forward_fast`.
    """
    refusal.check("avg_pool_forward_fast")
    x, ph, pw, stride, Ho, Wo = _pool_input(x, pool_param)
    out = np.zeros((x.shape[0], x.shape[1], Ho, Wo), dtype=x.dtype)
    for k in range(ph * pw):
        i, j = divmod(k, pw)
        out += _window(x, i, j, stride, Ho, Wo)
    out /= ph * pw
    return out, (x.shape, x.dtype, dict(pool_param))


def avg_pool_backward_fast(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """Average-pooling backward pass: each window spreads its gradient evenly.

    Parameters
    ----------
    dout : ndarray of shape (N, C, Ho, Wo), dtype of the forward pass's ``x``
    cache : tuple
        From :func:`avg_pool_forward_fast`.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
    """
    refusal.check("avg_pool_backward_fast")
    x_shape, dtype, pool_param = cache
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    Ho, Wo = pool_output_size(x_shape[2], x_shape[3], ph, pw, stride)
    dout = check_dout(
        dout, (x_shape[0], x_shape[1], Ho, Wo), dtype, layer="avg_pool_backward_fast"
    )
    share = dout / dtype.type(ph * pw)
    dx = np.zeros(x_shape, dtype=dtype)
    for k in range(ph * pw):
        i, j = divmod(k, pw)
        _window(dx, i, j, stride, Ho, Wo)[...] += share
    return dx
