"""im2col by strides, and the NumPy col2im that backs up the compiled one.

The columns are indexed (n, c, i, j, ho, wo) and stored in one of two
orders. Batch-major, (N, C, HH, WW, Ho, Wo), a new array: reshaped to
(N, C*HH*WW, Ho*Wo), image n's block is the right-hand matrix of its own
GEMM, and ``w.reshape(F, -1) @ cols`` gives (N, F, Ho*Wo), already NCHW.
Otherwise (C, HH, WW, N, Ho, Wo), written through a transposed view passed
as ``out``: reshaped to (C*HH*WW, N*Ho*Wo), one GEMM covers the batch, and
its (F, N, Ho*Wo) product is transposed once.
``im2col_numpy`` copies the windows out of an ``as_strided`` view of the
padded input; ``col2im_numpy`` is its adjoint: it adds every column entry
back to the pixel it came from and drops the padding.

Imports: NumPy and ``cs231n_lib.refusal``.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from cs231n_lib import refusal


def pad_input(x: np.ndarray, pad: int) -> np.ndarray:
    """Zero-pad the two spatial axes of ``x`` (N, C, H, W) by ``pad`` on each side."""
    if pad == 0:
        return x
    N, C, H, W = x.shape
    xp = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=x.dtype)
    xp[:, :, pad : pad + H, pad : pad + W] = x
    return xp


def im2col_view(xp: np.ndarray, HH: int, WW: int, stride: int) -> np.ndarray:
    """A read-only strided view of the windows of a padded input.

    Parameters
    ----------
    xp : ndarray of shape (N, C, Hp, Wp)
        The already padded input.
    HH, WW : int
        Window height and width.
    stride : int

    Returns
    -------
    view : ndarray of shape (N, C, HH, WW, Ho, Wo)
        ``view[n, c, i, j, ho, wo] == xp[n, c, ho*stride + i, wo*stride + j]``,
        with ``Ho = 1 + (Hp - HH) // stride`` and ``Wo`` likewise.
    """
    xp = np.ascontiguousarray(xp)
    N, C, Hp, Wp = xp.shape
    Ho = 1 + (Hp - HH) // stride
    Wo = 1 + (Wp - WW) // stride
    sN, sC, sH, sW = xp.strides
    # Moving one window step is `stride` pixels; moving inside a window is one pixel.
    return as_strided(
        xp,
        shape=(N, C, HH, WW, Ho, Wo),
        strides=(sN, sC, sH, sW, stride * sH, stride * sW),
        writeable=False,
    )


def im2col_numpy(
    x: np.ndarray,
    HH: int,
    WW: int,
    pad: int,
    stride: int,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """The windows of ``x`` zero-padded by ``pad``, copied out; shape (N, C, HH, WW, Ho, Wo).

    The NumPy twin of the compiled ``im2col_6d``: a new C-contiguous array,
    or, given ``out`` (that shape, ``x``'s dtype, any strides), written there and
    returned. An ``out`` of another shape or dtype raises ValueError, as the
    compiled kernel does: ``np.copyto`` would broadcast or cast into it silently.
    """
    refusal.check("conv_forward_fast")
    view = im2col_view(pad_input(x, pad), HH, WW, stride)
    if out is None:
        return np.ascontiguousarray(view)
    if (
        not isinstance(out, np.ndarray)
        or out.shape != view.shape
        or out.dtype != x.dtype
        or not out.flags.writeable
    ):
        raise ValueError(f"out must be a writeable {x.dtype} array of shape {view.shape}")
    np.copyto(out, view)
    return out


def col2im_numpy(cols: np.ndarray, H: int, W: int, pad: int, stride: int) -> np.ndarray:
    """Sum columns back into the image: the adjoint of :func:`im2col_numpy`.

    One vectorised add per window offset (HH*WW of them), each into a strided
    slice of the padded gradient, so overlapping windows accumulate.

    Parameters
    ----------
    cols : ndarray of shape (N, C, HH, WW, Ho, Wo)
    H, W : int
        Height and width of the unpadded input.
    pad, stride : int

    Returns
    -------
    dx : ndarray of shape (N, C, H, W), same dtype as ``cols``, C-contiguous
    """
    refusal.check("conv_backward_fast")
    N, C, HH, WW, Ho, Wo = cols.shape
    xp = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=cols.dtype)
    for i in range(HH):
        for j in range(WW):
            # cols[:, :, i, j] is (N, C, Ho, Wo), the shape of the target slice.
            xp[:, :, i : i + stride * Ho : stride, j : j + stride * Wo : stride] += cols[:, :, i, j]
    if pad == 0:
        return xp
    return np.ascontiguousarray(xp[:, :, pad : pad + H, pad : pad + W])
