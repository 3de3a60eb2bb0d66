"""Notebook 1: wrong and differently written conv_forward_naive and conv_backward_naive.

Imports: the corpus's constructors.
"""

from corpus import ALL_CELLS, NB1, mutant, variant

FWD, BWD = "conv_forward_naive", "conv_backward_naive"
SAME, STRIDE, RECT = (
    "test_conv_forward_same",
    "test_conv_forward_stride",
    "test_conv_forward_rectangular",
)
BACK1, BACK2 = "test_conv_backward_stride1", "test_conv_backward_stride2"
FORWARD = (SAME, STRIDE, RECT)
BACKWARD = (BACK1, BACK2)

TENSORDOT = "np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3]))"
STEP = "top, left = i * stride, j * stride"
WO = "Wo = 1 + (W + 2 * pad - WW) // stride"
CROP = "dx = dx_pad[:, :, pad:pad + H, pad:pad + W]"

MUTANTS = [
    mutant(
        "conv_fwd_flipped_kernel", NB1, FWD, "flipped kernel", FORWARD,
        (TENSORDOT, TENSORDOT.replace(", w,", ", w[:, :, ::-1, ::-1],")),
    ),
    mutant(
        "conv_fwd_no_bias", NB1, FWD, "missing bias", FORWARD,
        (TENSORDOT + " + b", TENSORDOT),
    ),
    mutant(
        "conv_fwd_first_bias", NB1, FWD, "bias broadcast", FORWARD,
        (TENSORDOT + " + b", TENSORDOT + " + b[0]"),
    ),
    mutant(
        "conv_fwd_stride_ignored", NB1, FWD, "stride ignored", (STRIDE, RECT),
        (STEP, "top, left = i, j"),
    ),
    mutant(
        "conv_fwd_no_plus_one", NB1, FWD, "missing +1 in output size", FORWARD,
        ("Ho = 1 + (H + 2 * pad", "Ho = (H + 2 * pad"), (WO, WO.replace("1 + ", "")),
    ),
    mutant(
        "conv_fwd_square_input", NB1, FWD, "square input (H for W)", FORWARD,
        (WO, WO.replace("(W +", "(H +")),
    ),
    mutant(
        "conv_fwd_square_kernel", NB1, FWD, "square kernel (HH for WW)", (STRIDE, RECT),
        ("left:left + WW]", "left:left + HH]"),
    ),
    mutant(
        "conv_fwd_one_sided_pad", NB1, FWD, "one-sided padding", FORWARD,
        ("(pad, pad), (pad, pad)))", "(0, 2 * pad), (0, 2 * pad)))"),
    ),
    mutant(
        "conv_fwd_float32", NB1, FWD, "float32 result", FORWARD,
        ("dtype=x.dtype", "dtype=np.float32"),
    ),
    mutant(
        "conv_fwd_first_channel", NB1, FWD, "channels ignored", FORWARD,
        (TENSORDOT, "np.tensordot(window[:, 0], w[:, 0], axes=([1, 2], [1, 2]))"),
    ),
    mutant(
        "conv_bwd_dx_assign", NB1, BWD, "= for +=", BACKWARD,
        ("left:left + WW] += np.tensordot(g, w", "left:left + WW] = np.tensordot(g, w"),
    ),
    mutant(
        "conv_bwd_dw_assign", NB1, BWD, "= for +=", BACKWARD,
        ("dw += np.tensordot", "dw = np.tensordot"),
    ),
    mutant(
        "conv_bwd_negative_crop", NB1, BWD, "zero padding (pad:-pad crop)", BACKWARD,
        (CROP, "dx = dx_pad[:, :, pad:-pad, pad:-pad]"),
    ),
    mutant(
        "conv_bwd_flipped_kernel", NB1, BWD, "flipped kernel", BACKWARD,
        ("np.tensordot(g, w,", "np.tensordot(g, w[:, :, ::-1, ::-1],"),
    ),
    mutant(
        "conv_bwd_stride_ignored", NB1, BWD, "stride ignored", (BACK2,),
        (STEP, "top, left = i, j"),
    ),
    mutant(
        "conv_bwd_square_input", NB1, BWD, "square input (H for W)", BACKWARD,
        (CROP, "dx = dx_pad[:, :, pad:pad + H, pad:pad + H]"),
    ),
    mutant(
        "conv_bwd_db_axes", NB1, BWD, "wrong axes", BACKWARD,
        ("db = dout.sum(axis=(0, 2, 3))", "db = dout.sum(axis=(1, 2, 3))"),
    ),
]

# --------------------------------------------------------------------------- variants

LOOPS_MANUAL_PAD = '''
def conv_forward_naive(x, w, b, conv_param):
    """One output number at a time, images padded by hand."""
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    S, P = conv_param["stride"], conv_param["pad"]
    xp = np.zeros((N, C, H + 2 * P, W + 2 * P))
    xp[:, :, P:P + H, P:P + W] = x
    Ho = (H + 2 * P - HH) // S + 1
    Wo = (W + 2 * P - WW) // S + 1
    out = np.zeros((N, F, Ho, Wo))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    patch = xp[n, :, i * S:i * S + HH, j * S:j * S + WW]
                    out[n, f, i, j] = np.sum(patch * w[f]) + b[f]
    print("conv_forward_naive: out", out.shape)  # print debugging left in
    cache = (x, w, b, conv_param)
    return out, cache
'''

KERNEL_OFFSETS = '''
def conv_forward_naive(x, w, b, conv_param):
    """Loop over the kernel's offsets instead of the output: one einsum per offset."""
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho = (H + 2 * pad - HH) // stride + 1
    Wo = (W + 2 * pad - WW) // stride + 1
    xp = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)], mode="constant")
    out = np.broadcast_to(b[None, :, None, None], (N, F, Ho, Wo)).copy()
    for di in range(HH):
        for dj in range(WW):
            # every output position's pixel at offset (di, dj) -> (N, C, Ho, Wo)
            pix = xp[:, :, di:di + stride * Ho:stride, dj:dj + stride * Wo:stride]
            out += np.einsum("nchw,fc->nfhw", pix, w[:, :, di, dj])
    return out, (x, w, b, conv_param)
'''

BACKWARD_LOOPS = '''
def conv_backward_naive(dout, cache):
    """Scalar loops in the order n, f, i, j; the padding comes off at the end."""
    x, w, b, conv_param = cache
    s, p = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho, Wo = dout.shape[2], dout.shape[3]
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    dxp = np.zeros(xp.shape)
    dw = np.zeros(w.shape)
    db = np.zeros(F)
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    g = dout[n, f, i, j]
                    db[f] += g
                    dw[f] += g * xp[n, :, i * s:i * s + HH, j * s:j * s + WW]
                    dxp[n, :, i * s:i * s + HH, j * s:j * s + WW] += g * w[f]
    dx = dxp[:, :, p:p + H, p:p + W]
    return dx, dw, db
'''

BACKWARD_OFFSETS = '''
def conv_backward_naive(dout, cache):
    """Loop over the kernel's offsets; float64 buffers made with np.zeros."""
    x, w, b, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, Ho, Wo = dout.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=np.float64)
    dw = np.zeros((F, C, HH, WW), dtype=np.float64)
    for di in range(HH):
        for dj in range(WW):
            rows = slice(di, di + stride * Ho, stride)
            cols = slice(dj, dj + stride * Wo, stride)
            dw[:, :, di, dj] = np.einsum("nfhw,nchw->fc", dout, xp[:, :, rows, cols])
            dxp[:, :, rows, cols] += np.einsum("nfhw,fc->nchw", dout, w[:, :, di, dj])
    db = np.einsum("nfhw->f", dout)
    if pad:
        dxp = dxp[:, :, pad:-pad, pad:-pad]
    return dxp, dw, db
'''

HELPER_CELL = '''
def pad_images(x, pad):
    """Zeros around each image of a (N, C, H, W) batch."""
    N, C, H, W = x.shape
    out = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=x.dtype)
    out[:, :, pad:pad + H, pad:pad + W] = x
    return out


def output_size(size, k, stride, pad):
    return 1 + (size + 2 * pad - k) // stride
'''

USES_HELPERS = '''
def conv_forward_naive(x, w, b, conv_param):
    """Uses the helpers of the cell above."""
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho, Wo = output_size(H, HH, stride, pad), output_size(W, WW, stride, pad)
    xp = pad_images(x, pad)
    out = np.zeros((N, F, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            window = xp[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
            out[:, :, i, j] = window.reshape(N, -1) @ w.reshape(F, -1).T + b
    return out, (x, w, b, conv_param)
'''

VARIANTS = [
    variant("conv_fwd_loops_manual_pad", NB1, FWD, "scalar loops, manual padding, a print",
            LOOPS_MANUAL_PAD),
    variant("conv_fwd_kernel_offsets", NB1, FWD, "loops over the kernel, einsum, np.pad",
            KERNEL_OFFSETS),
    variant("conv_bwd_scalar_loops", NB1, BWD, "scalar loops in the order n, f, i, j",
            BACKWARD_LOOPS),
    variant("conv_bwd_kernel_offsets", NB1, BWD, "loops over the kernel, float64 buffers",
            BACKWARD_OFFSETS),
    variant("conv_fwd_helper_cell", NB1, FWD, "helpers in a cell the student added",
            USES_HELPERS, added=(HELPER_CELL,), depends=ALL_CELLS),
]

IMPLS = MUTANTS + VARIANTS
