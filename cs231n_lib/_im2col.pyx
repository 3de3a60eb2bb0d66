# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled kernels: im2col and col2im of the fast conv, max pooling with its argmax,
the Adam update, and the refusal latch that :mod:`cs231n_lib.refusal` sets.

Nothing else lives here. Each ``def`` checks and allocates in Python; its
loop runs in a ``cdef`` function over typed memoryviews of a fused
float32/float64 type, without the GIL. The columns are laid out
(N, C, HH, WW, Ho, Wo), so one image's block is the (C*HH*WW, Ho*Wo) matrix
of its GEMM and the product comes out in NCHW order with no transpose.
"""

from libc.math cimport sqrt, sqrtf
from libc.string cimport memcpy, memset

import numpy as np

ctypedef fused real:
    float
    double


# --- the refusal latch (cs231n_lib.refusal): bits are only ever set, never cleared ---------------
# A C variable, not a module attribute, so that code in a graded process cannot simply reset it.
# Bit numbers follow cs231n_lib.refusal.ROUTINES.
cdef unsigned long long _refused_bits = 0
cdef unsigned long long _called_bits = 0
cdef enum:
    CONV_FORWARD_BIT = 1
    CONV_BACKWARD_BIT = 2
    MAX_POOL_FORWARD_BIT = 4
    MAX_POOL_BACKWARD_BIT = 8


def _latch_refuse(unsigned long long bits):
    global _refused_bits
    _refused_bits |= bits


def _latch_state():
    return _refused_bits, _called_bits


def _latch_forget_calls():
    global _called_bits
    _called_bits = 0


def _latch_check(unsigned long long bit, str name):
    global _called_bits
    if _refused_bits & bit:
        _called_bits |= bit
        from cs231n_lib.refusal import RefusedCall, message
        raise RefusedCall(message(name))


cdef inline (Py_ssize_t, Py_ssize_t) _inside(Py_ssize_t shift, Py_ssize_t stride,
                                             Py_ssize_t size, Py_ssize_t count) noexcept nogil:
    # The outputs o in [lo, hi), 0 <= lo <= hi <= count, whose input o*stride + shift lies
    # in [0, size); shift = window offset - pad. Those outside read (or drop) the padding.
    cdef Py_ssize_t lo = 0, hi = 0
    if shift < 0:
        lo = (-shift + stride - 1) // stride
    if size - shift > 0:
        hi = (size - shift - 1) // stride + 1
    if hi > count:
        hi = count
    if lo > hi:
        lo = hi
    return lo, hi


cdef void _im2col_kernel(const real[:, :, :, ::1] x, real[:, :, :, :, :, :] cols,
                         Py_ssize_t pad, Py_ssize_t stride) noexcept nogil:
    # cols[n, c, i, j, ho, wo] = x[n, c, ho*stride + i - pad, wo*stride + j - pad], or 0 in
    # the padding: the padded copy of x is never made. Each (ho) row of the output is
    # written left to right through a pointer; with stride 1 its inside part is a memcpy.
    cdef Py_ssize_t N = cols.shape[0], C = cols.shape[1], HH = cols.shape[2], WW = cols.shape[3]
    cdef Py_ssize_t Ho = cols.shape[4], Wo = cols.shape[5], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t n, c, i, j, ho, wo, row, lo, hi, shift
    cdef real* dst
    cdef const real* src
    for n in range(N):
        for c in range(C):
            for i in range(HH):
                for j in range(WW):
                    # The output columns whose input column is inside x, for this j.
                    shift = j - pad
                    lo, hi = _inside(shift, stride, W, Wo)
                    for ho in range(Ho):
                        dst = &cols[n, c, i, j, ho, 0]
                        row = ho * stride + i - pad
                        if row < 0 or row >= H:
                            memset(dst, 0, Wo * sizeof(real))
                            continue
                        src = &x[n, c, row, 0]
                        memset(dst, 0, lo * sizeof(real))
                        if stride == 1:
                            memcpy(dst + lo, src + lo + shift, (hi - lo) * sizeof(real))
                        else:
                            for wo in range(lo, hi):
                                dst[wo] = src[wo * stride + shift]
                        memset(dst + hi, 0, (Wo - hi) * sizeof(real))


cdef void _col2im_kernel(const real[:, :, :, :, :, :] cols, real[:, :, :, ::1] dx,
                         Py_ssize_t pad, Py_ssize_t stride) noexcept nogil:
    # The adjoint of _im2col_kernel: each entry goes back to the pixel it was read from,
    # overlapping windows add up, and entries that came from the padding are dropped.
    # Each (ho) row is read left to right through a pointer, as in _im2col_kernel.
    cdef Py_ssize_t N = cols.shape[0], C = cols.shape[1], HH = cols.shape[2], WW = cols.shape[3]
    cdef Py_ssize_t Ho = cols.shape[4], Wo = cols.shape[5], H = dx.shape[2], W = dx.shape[3]
    cdef Py_ssize_t n, c, i, j, ho, wo, row, lo, hi, shift
    cdef const real* src
    cdef real* dst
    for n in range(N):
        for c in range(C):
            for i in range(HH):
                for j in range(WW):
                    shift = j - pad
                    lo, hi = _inside(shift, stride, W, Wo)
                    for ho in range(Ho):
                        row = ho * stride + i - pad
                        if row < 0 or row >= H:
                            continue
                        src = &cols[n, c, i, j, ho, 0]
                        dst = &dx[n, c, row, 0]
                        for wo in range(lo, hi):
                            dst[wo * stride + shift] += src[wo]


# Typed entry points: Cython picks the float or double version from the arrays' dtype,
# so the wrappers below need no branch per dtype.
def _im2col_run(const real[:, :, :, ::1] x, real[:, :, :, :, :, :] cols, Py_ssize_t pad,
                Py_ssize_t stride):
    with nogil:
        _im2col_kernel(x, cols, pad, stride)


def _col2im_run(const real[:, :, :, :, :, :] cols, real[:, :, :, ::1] dx, Py_ssize_t pad,
                Py_ssize_t stride):
    with nogil:
        _col2im_kernel(cols, dx, pad, stride)


def _max_pool_run(const real[:, :, :, ::1] x, real[:, :, :, ::1] out,
                  unsigned char[:, :, :, ::1] argmax, Py_ssize_t ph, Py_ssize_t pw,
                  Py_ssize_t stride):
    with nogil:
        _max_pool_kernel(x, out, argmax, ph, pw, stride)


def _max_pool_back_run(const real[:, :, :, ::1] dout, const unsigned char[:, :, :, ::1] argmax,
                       real[:, :, :, ::1] dx, Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t stride):
    with nogil:
        _max_pool_back_kernel(dout, argmax, dx, ph, pw, stride)


def _check_real(name, a, ndim=None, layout="", bint strided=False):
    # A float32/float64 ndarray with ndim axes (any number when ndim is None), C-contiguous
    # unless strided. Column arrays (strided=True) may be transposed views: the kernels walk
    # them a row at a time and need only the last axis contiguous.
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array; got {type(a).__name__}")
    if a.dtype != np.float32 and a.dtype != np.float64:
        raise TypeError(f"{name} must be float32 or float64; got dtype {a.dtype}")
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D {layout}; got shape {a.shape}")
    if not strided or a.ndim == 0 or a.strides[a.ndim - 1] != a.itemsize:  # (no [-1]: wraparound is off)
        a = np.ascontiguousarray(a)
    return a


def im2col_6d(x, Py_ssize_t HH, Py_ssize_t WW, Py_ssize_t pad, Py_ssize_t stride, out=None):
    """The windows of a zero-padded input, copied out for the convolution's GEMMs.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W), float32 or float64
    HH, WW : int
        Window height and width.
    pad, stride : int
        Zeros on every side, and the step between windows (>= 1).
    out : ndarray of shape (N, C, HH, WW, Ho, Wo), optional
        Written instead of a new array: ``x``'s dtype, any strides with a
        contiguous last axis (the batch GEMM passes a transposed view of rows
        laid out (C, HH, WW, N, Ho, Wo)).

    Returns
    -------
    cols : ndarray of shape (N, C, HH, WW, Ho, Wo), dtype of ``x``
        ``cols[n, c, i, j, ho, wo] == xp[n, c, ho*stride + i, wo*stride + j]`` where ``xp`` is
        ``x`` padded; ``Ho = 1 + (H + 2*pad - HH) // stride`` and ``Wo`` likewise.
        ``out`` if given, else a new C-contiguous array: one GEMM's matrix per image.
    """
    if _refused_bits & CONV_FORWARD_BIT:
        _latch_check(CONV_FORWARD_BIT, 'conv_forward_fast')
    x = _check_real("x", x, 4, "(N, C, H, W)")
    N, C, H, W = x.shape
    if stride < 1 or pad < 0 or HH < 1 or WW < 1 or HH > H + 2 * pad or WW > W + 2 * pad:
        raise ValueError(
            f"bad window {HH}x{WW}, pad {pad}, stride {stride} for x of shape {x.shape}")
    Ho, Wo = 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride
    if out is not None:
        if (not isinstance(out, np.ndarray) or out.shape != (N, C, HH, WW, Ho, Wo)
                or out.dtype != x.dtype or out.strides[5] != out.itemsize
                or not out.flags.writeable):
            raise ValueError(
                f"out must be a writeable {x.dtype} array of shape {(N, C, HH, WW, Ho, Wo)} "
                f"with a contiguous last axis")
        cols = out
    else:
        cols = np.empty((N, C, HH, WW, Ho, Wo), dtype=x.dtype)
    _im2col_run(x, cols, pad, stride)
    return cols


def col2im_6d(cols, Py_ssize_t H, Py_ssize_t W, Py_ssize_t pad, Py_ssize_t stride):
    """Sum columns back into the image: the adjoint of :func:`im2col_6d`.

    Parameters
    ----------
    cols : ndarray of shape (N, C, HH, WW, Ho, Wo), float32 or float64
        Any strides with a contiguous last axis (either layout of :func:`im2col_6d`).
    H, W : int
        Height and width of the unpadded input.
    pad, stride : int

    Returns
    -------
    dx : ndarray of shape (N, C, H, W), same dtype as ``cols``, C-contiguous
    """
    if _refused_bits & CONV_BACKWARD_BIT:
        _latch_check(CONV_BACKWARD_BIT, 'conv_backward_fast')
    cols = _check_real("cols", cols, 6, "(N, C, HH, WW, Ho, Wo)", strided=True)
    N, C, HH, WW, Ho, Wo = cols.shape
    if stride < 1 or pad < 0 or (Ho - 1) * stride + HH > H + 2 * pad or (Wo - 1) * stride + WW > W + 2 * pad:
        raise ValueError(f"cols of shape {cols.shape} do not fit H={H}, W={W}, pad={pad}, stride={stride}")
    dx = np.zeros((N, C, H, W), dtype=cols.dtype)
    _col2im_run(cols, dx, pad, stride)
    return dx


cdef inline void _window_offsets(Py_ssize_t* offset, Py_ssize_t ph, Py_ssize_t pw,
                                 Py_ssize_t W) noexcept nogil:
    # offset[k]: how far window position k (row-major, k < ph*pw <= 256) lies from the
    # window's corner in one (H, W) plane of width W.
    cdef Py_ssize_t k
    for k in range(ph * pw):
        offset[k] = (k // pw) * W + k % pw


cdef void _max_pool_kernel(const real[:, :, :, ::1] x, real[:, :, :, ::1] out,
                           unsigned char[:, :, :, ::1] argmax, Py_ssize_t ph, Py_ssize_t pw,
                           Py_ssize_t stride) noexcept nogil:
    # One pass over the windows; strictly greater keeps the first maximum (np.argmax's rule).
    cdef Py_ssize_t N = out.shape[0], C = out.shape[1], Ho = out.shape[2], Wo = out.shape[3]
    cdef Py_ssize_t W = x.shape[3], K = ph * pw
    cdef Py_ssize_t n, c, ho, wo, k, best_k
    cdef Py_ssize_t offset[256]
    cdef const real* corner
    cdef real* dst
    cdef unsigned char* index
    cdef real best, v
    _window_offsets(offset, ph, pw, W)
    for n in range(N):
        for c in range(C):
            for ho in range(Ho):
                dst = &out[n, c, ho, 0]
                index = &argmax[n, c, ho, 0]
                for wo in range(Wo):
                    corner = &x[n, c, ho * stride, wo * stride]
                    best = corner[0]
                    best_k = 0
                    for k in range(1, K):
                        v = corner[offset[k]]
                        if v > best:
                            best = v
                            best_k = k
                    dst[wo] = best
                    index[wo] = <unsigned char>best_k


cdef void _max_pool_back_kernel(const real[:, :, :, ::1] dout,
                                const unsigned char[:, :, :, ::1] argmax, real[:, :, :, ::1] dx,
                                Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t stride) noexcept nogil:
    # The forward pass's offset table turns each argmax into a pixel without a division.
    cdef Py_ssize_t N = dout.shape[0], C = dout.shape[1], Ho = dout.shape[2], Wo = dout.shape[3]
    cdef Py_ssize_t W = dx.shape[3]
    cdef Py_ssize_t n, c, ho, wo
    cdef Py_ssize_t offset[256]
    cdef const real* src
    cdef const unsigned char* index
    cdef real* row
    _window_offsets(offset, ph, pw, W)
    for n in range(N):
        for c in range(C):
            for ho in range(Ho):
                src = &dout[n, c, ho, 0]
                index = &argmax[n, c, ho, 0]
                row = &dx[n, c, ho * stride, 0]
                for wo in range(Wo):
                    row[wo * stride + offset[index[wo]]] += src[wo]


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
    if _refused_bits & MAX_POOL_FORWARD_BIT:
        _latch_check(MAX_POOL_FORWARD_BIT, 'max_pool_forward_fast')
    x = _check_real("x", x, 4, "(N, C, H, W)")
    if ph * pw > 256 or ph > x.shape[2] or pw > x.shape[3] or stride < 1:
        raise ValueError(f"bad window {ph}x{pw} stride {stride} for x of shape {x.shape}")
    N, C, H, W = x.shape
    Ho, Wo = 1 + (H - ph) // stride, 1 + (W - pw) // stride
    out = np.empty((N, C, Ho, Wo), dtype=x.dtype)
    argmax = np.empty((N, C, Ho, Wo), dtype=np.uint8)
    _max_pool_run(x, out, argmax, ph, pw, stride)
    return out, argmax


def max_pool_scatter(dout, argmax, tuple x_shape, Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t stride):
    """Send each window's gradient to its first maximum; overlapping windows add up.

    Parameters
    ----------
    dout : ndarray of shape (N, C, Ho, Wo), float32 or float64
    argmax : ndarray of shape (N, C, Ho, Wo), uint8
        From :func:`max_pool_argmax`; every entry below ``ph * pw``.
    x_shape : tuple
        (N, C, H, W) of the pooled input.
    ph, pw, stride : int
        The window and stride of the forward pass.

    Returns
    -------
    dx : ndarray of shape ``x_shape``, dtype of ``dout``
    """
    if _refused_bits & MAX_POOL_BACKWARD_BIT:
        _latch_check(MAX_POOL_BACKWARD_BIT, 'max_pool_backward_fast')
    dout = _check_real("dout", dout, 4, "(N, C, Ho, Wo)")
    if not isinstance(argmax, np.ndarray) or argmax.dtype != np.uint8 or argmax.shape != dout.shape:
        raise ValueError("argmax must be a uint8 array of dout's shape")
    if len(x_shape) != 4 or x_shape[:2] != dout.shape[:2] or ph * pw > 256 or stride < 1 or (
            (dout.shape[2] - 1) * stride + ph > x_shape[2]
            or (dout.shape[3] - 1) * stride + pw > x_shape[3]):
        raise ValueError(f"windows {ph}x{pw} stride {stride} of dout {dout.shape} do not fit "
                         f"x_shape {x_shape}")
    # The kernel writes where argmax points: an index past the window would write out of bounds.
    if argmax.size and argmax.max() >= ph * pw:
        raise ValueError(f"argmax has an index >= ph * pw = {ph * pw}")
    argmax = np.ascontiguousarray(argmax)
    dx = np.zeros(x_shape, dtype=dout.dtype)
    _max_pool_back_run(dout, argmax, dx, ph, pw, stride)
    return dx


# Adam walks its arrays in blocks of this many entries: the first loop writes a block of the
# new moments, the second reads them back while they are still in the L1 cache. Each loop
# touches few enough arrays for the compiler to vectorise it (it checks that they do not
# overlap); one loop over all seven arrays stayed scalar and ran 3x slower.
cdef enum:
    ADAM_BLOCK = 2048


cdef void _adam_moments(const real* dw, const real* m, const real* v, real* m_out,
                        real* v_out, Py_ssize_t n, real beta1, real rest1, real beta2,
                        real rest2) noexcept nogil:
    # rest = 1 - beta, rounded once from double as NumPy's float32 arithmetic does.
    cdef Py_ssize_t k
    cdef real g
    for k in range(n):
        g = dw[k]
        m_out[k] = beta1 * m[k] + rest1 * g
        v_out[k] = beta2 * v[k] + rest2 * (g * g)


cdef void _adam_apply(const real* w, const real* m, const real* v, real* w_out, Py_ssize_t n,
                      real step, real eps) noexcept nogil:
    cdef Py_ssize_t k
    for k in range(n):
        if real is float:
            w_out[k] = w[k] - step * m[k] / (sqrtf(v[k]) + eps)
        else:
            w_out[k] = w[k] - step * m[k] / (sqrt(v[k]) + eps)


def _adam_run(const real[::1] w, const real[::1] dw, const real[::1] m, const real[::1] v,
              real[::1] w_out, real[::1] m_out, real[::1] v_out, double beta1, double beta2,
              double step, double eps):
    cdef Py_ssize_t n = w.shape[0], start = 0, size
    with nogil:
        while start < n:
            size = ADAM_BLOCK if n - start > ADAM_BLOCK else n - start
            _adam_moments(&dw[start], &m[start], &v[start], &m_out[start], &v_out[start], size,
                          <real>beta1, <real>(1 - beta1), <real>beta2, <real>(1 - beta2))
            _adam_apply(&w[start], &m_out[start], &v_out[start], &w_out[start], size,
                        <real>step, <real>eps)
            start += size


def adam_update(w, dw, m, v, double learning_rate, double beta1, double beta2, double epsilon,
                Py_ssize_t t):
    """One Adam step in a single pass over the arrays; the inputs are not modified.

    Parameters
    ----------
    w, dw, m, v : ndarrays of one shape and one dtype, float32 or float64
        Weights, gradient, and the moving means of ``dw`` and ``dw**2``.
    learning_rate, beta1, beta2, epsilon : float
        Checked by :func:`cs231n_lib.optim.adam`, the only caller.
    t : int >= 1
        The step being taken, for the bias correction.

    Returns
    -------
    next_w, next_m, next_v : new ndarrays of ``w``'s shape and dtype
    """
    shape = np.shape(w)  # before _check_real, which makes a 0-d array 1-d
    arrays = [_check_real(name, a) for name, a in (("w", w), ("dw", dw), ("m", m), ("v", v))]
    dtype = arrays[0].dtype
    for name, a, given in zip(("dw", "m", "v"), arrays[1:], (dw, m, v)):
        if np.shape(given) != shape or a.dtype != dtype:
            raise ValueError(f"{name} must have w's shape {shape} and dtype {dtype}; "
                             f"got {np.shape(given)} {a.dtype}")
    if t < 1:
        raise ValueError(f"t must be >= 1 (the step being taken); got {t}")
    w_out, m_out, v_out = (np.empty(shape, dtype=dtype) for _ in range(3))
    if w_out.size:
        # lr * (m / c1) / (sqrt(v / c2) + eps) == (lr * sqrt(c2) / c1) * m / (sqrt(v) + eps * sqrt(c2))
        # with c = 1 - beta**t: the bias corrections become two scalars.
        c1, root_c2 = 1.0 - beta1 ** t, (1.0 - beta2 ** t) ** 0.5
        flat = [a.reshape(-1) for a in arrays + [w_out, m_out, v_out]]
        _adam_run(*flat, beta1, beta2, learning_rate * root_c2 / c1, epsilon * root_c2)
    return w_out, m_out, v_out
