# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled col2im: the one loop of the fast conv backward that NumPy cannot vectorise well.

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
