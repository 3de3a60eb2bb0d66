# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled kernels: col2im of the fast conv backward, and max pooling with its argmax.

Nothing else lives here. ``col2im_6d`` checks and allocates in Python; the
loop runs in a ``cdef`` function over typed memoryviews of a fused
float32/float64 type, without the GIL.
"""

import numpy as np

ctypedef fused real:
    float
    double


cdef void _col2im_kernel(const real[:, :, :, :, :, ::1] cols,
                         real[:, :, :, ::1] xp,
                         Py_ssize_t stride) noexcept nogil:
    # cols is (C, HH, WW, N, Ho, Wo): each entry is one input pixel's share of
    # one output position; overlapping windows add into the same pixel.
    cdef Py_ssize_t C = cols.shape[0], HH = cols.shape[1], WW = cols.shape[2]
    cdef Py_ssize_t N = cols.shape[3], Ho = cols.shape[4], Wo = cols.shape[5]
    cdef Py_ssize_t c, i, j, n, ho, wo, row
    for c in range(C):
        for i in range(HH):
            for j in range(WW):
                for n in range(N):
                    for ho in range(Ho):
                        row = ho * stride + i
                        for wo in range(Wo):
                            xp[n, c, row, wo * stride + j] += cols[c, i, j, n, ho, wo]


def col2im_6d(cols, Py_ssize_t H, Py_ssize_t W, Py_ssize_t pad, Py_ssize_t stride):
    """Sum columns back into a padded image: the adjoint of the strided im2col.

    Parameters
    ----------
    cols : ndarray of shape (C, HH, WW, N, Ho, Wo), float32 or float64, C-contiguous
    H, W : int
        Height and width of the unpadded input.
    pad, stride : int

    Returns
    -------
    dx : ndarray of shape (N, C, H, W), same dtype as ``cols``
    """
    if not isinstance(cols, np.ndarray):
        raise TypeError(f"cols must be a NumPy array; got {type(cols).__name__}")
    if cols.dtype != np.float32 and cols.dtype != np.float64:
        raise TypeError(f"cols must be float32 or float64; got dtype {cols.dtype}")
    if cols.ndim != 6:
        raise ValueError(f"cols must be 6-D (C, HH, WW, N, Ho, Wo); got shape {cols.shape}")
    C, HH, WW, N, Ho, Wo = cols.shape
    if (Ho - 1) * stride + HH > H + 2 * pad or (Wo - 1) * stride + WW > W + 2 * pad:
        raise ValueError(f"cols of shape {cols.shape} do not fit H={H}, W={W}, pad={pad}, stride={stride}")
    cols = np.ascontiguousarray(cols)
    xp = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=cols.dtype)
    cdef float[:, :, :, :, :, ::1] c32
    cdef double[:, :, :, :, :, ::1] c64
    cdef float[:, :, :, ::1] x32
    cdef double[:, :, :, ::1] x64
    if cols.dtype == np.float32:
        c32 = cols
        x32 = xp
        with nogil:
            _col2im_kernel(c32, x32, stride)
    else:
        c64 = cols
        x64 = xp
        with nogil:
            _col2im_kernel(c64, x64, stride)
    if pad == 0:
        return xp
    return xp[:, :, pad:pad + H, pad:pad + W]


cdef void _max_pool_kernel(const real[:, :, :, ::1] x, real[:, :, :, ::1] out,
                           unsigned char[:, :, :, ::1] argmax, Py_ssize_t ph, Py_ssize_t pw,
                           Py_ssize_t stride) noexcept nogil:
    # One pass over the windows; strictly greater keeps the first maximum (np.argmax's rule).
    cdef Py_ssize_t N = out.shape[0], C = out.shape[1], Ho = out.shape[2], Wo = out.shape[3]
    cdef Py_ssize_t n, c, ho, wo, i, j, best_k
    cdef real best, v
    for n in range(N):
        for c in range(C):
            for ho in range(Ho):
                for wo in range(Wo):
                    best = x[n, c, ho * stride, wo * stride]
                    best_k = 0
                    for i in range(ph):
                        for j in range(pw):
                            v = x[n, c, ho * stride + i, wo * stride + j]
                            if v > best:
                                best = v
                                best_k = i * pw + j
                    out[n, c, ho, wo] = best
                    argmax[n, c, ho, wo] = <unsigned char>best_k


cdef void _max_pool_back_kernel(const real[:, :, :, ::1] dout,
                                const unsigned char[:, :, :, ::1] argmax, real[:, :, :, ::1] dx,
                                Py_ssize_t pw, Py_ssize_t stride) noexcept nogil:
    cdef Py_ssize_t N = dout.shape[0], C = dout.shape[1], Ho = dout.shape[2], Wo = dout.shape[3]
    cdef Py_ssize_t n, c, ho, wo, k
    for n in range(N):
        for c in range(C):
            for ho in range(Ho):
                for wo in range(Wo):
                    k = argmax[n, c, ho, wo]
                    dx[n, c, ho * stride + k // pw, wo * stride + k % pw] += dout[n, c, ho, wo]


def _check_float(name, a):
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array; got {type(a).__name__}")
    if a.dtype != np.float32 and a.dtype != np.float64:
        raise TypeError(f"{name} must be float32 or float64; got dtype {a.dtype}")
    if a.ndim != 4:
        raise ValueError(f"{name} must be 4-D (N, C, H, W); got shape {a.shape}")
    return np.ascontiguousarray(a)


def max_pool_argmax(x, Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t stride):
    """Max pooling with the index of each window's first maximum.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W), float32 or float64
    ph, pw, stride : int
        Window height and width (ph * pw <= 256) and stride; windows past the edge are dropped.

    Returns
    -------
    out : ndarray of shape (N, C, Ho, Wo), dtype of ``x``
    argmax : ndarray of shape (N, C, Ho, Wo), uint8
        Row-major position of the first maximum in each window.
    """
    x = _check_float("x", x)
    if ph * pw > 256 or ph > x.shape[2] or pw > x.shape[3] or stride < 1:
        raise ValueError(f"bad window {ph}x{pw} stride {stride} for x of shape {x.shape}")
    N, C, H, W = x.shape
    Ho, Wo = 1 + (H - ph) // stride, 1 + (W - pw) // stride
    out = np.empty((N, C, Ho, Wo), dtype=x.dtype)
    argmax = np.empty((N, C, Ho, Wo), dtype=np.uint8)
    cdef float[:, :, :, ::1] x32, o32
    cdef double[:, :, :, ::1] x64, o64
    cdef unsigned char[:, :, :, ::1] am = argmax
    if x.dtype == np.float32:
        x32, o32 = x, out
        with nogil:
            _max_pool_kernel(x32, o32, am, ph, pw, stride)
    else:
        x64, o64 = x, out
        with nogil:
            _max_pool_kernel(x64, o64, am, ph, pw, stride)
    return out, argmax


def max_pool_scatter(dout, argmax, tuple x_shape, Py_ssize_t pw, Py_ssize_t stride):
    """Send each window's gradient to its first maximum; overlapping windows add up.

    Returns
    -------
    dx : ndarray of shape ``x_shape``, dtype of ``dout``
    """
    dout = _check_float("dout", dout)
    if not isinstance(argmax, np.ndarray) or argmax.dtype != np.uint8 or argmax.shape != dout.shape:
        raise ValueError("argmax must be a uint8 array of dout's shape")
    argmax = np.ascontiguousarray(argmax)
    dx = np.zeros(x_shape, dtype=dout.dtype)
    cdef float[:, :, :, ::1] d32, x32
    cdef double[:, :, :, ::1] d64, x64
    cdef const unsigned char[:, :, :, ::1] am = argmax
    if dout.dtype == np.float32:
        d32, x32 = dout, dx
        with nogil:
            _max_pool_back_kernel(d32, am, x32, pw, stride)
    else:
        d64, x64 = dout, dx
        with nogil:
            _max_pool_back_kernel(d64, am, x64, pw, stride)
    return dx
