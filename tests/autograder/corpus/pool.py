"""Notebook 2: wrong and differently written max_pool_forward_naive and max_pool_backward_naive.

Imports: the corpus's constructors.
"""

from corpus import ALL_CELLS, NB2, mutant, variant

FWD, BWD = "max_pool_forward_naive", "max_pool_backward_naive"
TILED, OVERLAP, RECT = (
    "test_max_pool_forward_tiled",
    "test_max_pool_forward_overlapping",
    "test_max_pool_forward_rectangular",
)
B_TILED, B_OVERLAP, B_RECT, B_TIES = (
    "test_max_pool_backward_tiled",
    "test_max_pool_backward_overlapping",
    "test_max_pool_backward_rectangular",
    "test_max_pool_backward_ties",
)
FORWARD = (TILED, OVERLAP, RECT)

HO = "Ho = 1 + (H - ph) // stride"
WO = "Wo = 1 + (W - pw) // stride"
SIZES = 'ph, pw = pool_param["pool_height"], pool_param["pool_width"]'
STRIDE = 'stride = pool_param["stride"]'
MAX = "window.max(axis=(2, 3))"
SCATTER = "dx[n_idx, c_idx, top + row, left + col] += dout[:, :, i, j]"
ARGMAX = "first = np.argmax(window, axis=2)"

RESHAPE_ALWAYS = '''
def max_pool_forward_naive(x, pool_param):
    """Blocks by reshaping: right only when the windows tile the input exactly."""
    ph, pw = pool_param["pool_height"], pool_param["pool_width"]
    N, C, H, W = x.shape
    out = x.reshape(N, C, H // ph, ph, W // pw, pw).max(axis=(3, 5))
    return out, (x, pool_param)
'''

WINDOW_ASSIGN = '''
def max_pool_backward_naive(dout, cache):
    """Writes each window's gradient over the whole window, wiping its neighbours' share."""
    x, pool_param = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            flat = x[:, :, i * s:i * s + ph, j * s:j * s + pw].reshape(N, C, -1)
            mask = np.zeros_like(flat)
            first = np.argmax(flat, axis=2)
            np.put_along_axis(mask, first[:, :, None], 1.0, axis=2)
            g = dout[:, :, i, j][:, :, None, None]
            dx[:, :, i * s:i * s + ph, j * s:j * s + pw] = mask.reshape(N, C, ph, pw) * g
    return dx
'''

ALL_TIES = '''
def max_pool_backward_naive(dout, cache):
    """Routes the gradient to every pixel equal to the window's maximum."""
    x, pool_param = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            window = x[:, :, i * s:i * s + ph, j * s:j * s + pw]
            mask = window == window.max(axis=(2, 3), keepdims=True)
            g = dout[:, :, i, j][:, :, None, None]
            dx[:, :, i * s:i * s + ph, j * s:j * s + pw] += mask * g
    return dx
'''

UPSAMPLE = '''
def max_pool_backward_naive(dout, cache):
    """Upsamples dout with np.repeat: assumes the windows tile the input."""
    x, pool_param = cache
    ph, pw = pool_param["pool_height"], pool_param["pool_width"]
    N, C, H, W = x.shape
    out = x.reshape(N, C, H // ph, ph, W // pw, pw).max(axis=(3, 5))
    up = np.repeat(np.repeat(out, ph, axis=2), pw, axis=3)
    return (x == up) * np.repeat(np.repeat(dout, ph, axis=2), pw, axis=3)
'''

MUTANTS = [
    mutant(
        "pool_fwd_round", NB2, FWD, "round() for floor in the pooled size", FORWARD,
        (HO, "Ho = 1 + round((H - ph) / stride)"), (WO, "Wo = 1 + round((W - pw) / stride)"),
    ),
    mutant(
        "pool_fwd_ceil", NB2, FWD, "ceil for floor in the pooled size", FORWARD,
        (HO, "Ho = 1 + -(-(H - ph) // stride)"), (WO, "Wo = 1 + -(-(W - pw) // stride)"),
    ),
    mutant(
        "pool_fwd_no_plus_one", NB2, FWD, "missing +1 in output size", FORWARD,
        (HO, HO.replace("1 + ", "")), (WO, WO.replace("1 + ", "")),
    ),
    mutant(
        "pool_fwd_stride_is_window", NB2, FWD, "stride ignored", (OVERLAP, RECT),
        (STRIDE, "stride = ph"),
    ),
    mutant(
        "pool_fwd_square_window", NB2, FWD, "square window", (RECT,),
        (SIZES, 'ph = pw = pool_param["pool_height"]'),
    ),
    mutant(
        "pool_fwd_square_input", NB2, FWD, "square input (H for W)", FORWARD,
        (WO, WO.replace("(W -", "(H -")),
    ),
    mutant(
        "pool_fwd_mean", NB2, FWD, "mean for max", FORWARD,
        (MAX, "window.mean(axis=(2, 3))"),
    ),
    mutant(
        "pool_fwd_short_window", NB2, FWD, "window off by one", FORWARD,
        ("i * stride:i * stride + ph,", "i * stride:i * stride + ph - 1,"),
    ),
    mutant(
        "pool_fwd_reshape", NB2, FWD, "assumes tiling", FORWARD, code=RESHAPE_ALWAYS,
    ),
    mutant(
        "pool_bwd_assign", NB2, BWD, "= for +=", (B_OVERLAP, B_RECT),
        (SCATTER, SCATTER.replace("+=", "=")),
    ),
    mutant(
        "pool_bwd_window_assign", NB2, BWD, "= for += (whole window)", (B_OVERLAP, B_RECT),
        code=WINDOW_ASSIGN,
    ),
    mutant(
        "pool_bwd_all_ties", NB2, BWD, "gradient to all ties", (B_OVERLAP, B_RECT, B_TIES),
        code=ALL_TIES,
    ),
    mutant(
        "pool_bwd_last_tie", NB2, BWD, "tie rule (last maximum)", (B_OVERLAP, B_RECT, B_TIES),
        (ARGMAX, "first = ph * pw - 1 - np.argmax(window[:, :, ::-1], axis=2)"),
    ),
    mutant(
        "pool_bwd_column_major_tie", NB2, BWD, "tie rule (column-major)", (B_TIES,),
        ("].reshape(N, C, ph * pw)", "].transpose(0, 1, 3, 2).reshape(N, C, ph * pw)"),
        ("row, col = np.divmod(first, pw)", "col, row = np.divmod(first, ph)"),
    ),
    mutant(
        "pool_bwd_stride_is_window", NB2, BWD, "stride ignored", (B_OVERLAP, B_RECT),
        (STRIDE, "stride = ph"),
    ),
    mutant(
        "pool_bwd_unravel_by_height", NB2, BWD, "square window (unravel by ph)", (B_RECT,),
        ("row, col = np.divmod(first, pw)", "row, col = np.divmod(first, ph)"),
    ),
    mutant(
        "pool_bwd_upsample", NB2, BWD, "assumes tiling", (B_TILED, B_OVERLAP, B_RECT, B_TIES),
        code=UPSAMPLE,
    ),
]

# --------------------------------------------------------------------------- variants

AS_STRIDED = '''
from numpy.lib.stride_tricks import as_strided


def max_pool_forward_naive(x, pool_param):
    """Every window at once as a strided view (the static checks report as_strided)."""
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    Ho, Wo = (H - ph) // s + 1, (W - pw) // s + 1
    sn, sc, sh, sw = x.strides
    windows = as_strided(x, (N, C, Ho, Wo, ph, pw), (sn, sc, s * sh, s * sw, sh, sw),
                         writeable=False)
    return windows.max(axis=(4, 5)), (x, pool_param)
'''

TILED_FAST_PATH = '''
def max_pool_forward_naive(x, pool_param):
    """A reshape when the windows tile (after cropping the leftover rows), loops otherwise."""
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    Ho, Wo = (H - ph) // s + 1, (W - pw) // s + 1
    if ph == pw == s:
        blocks = x[:, :, :Ho * ph, :Wo * pw].reshape(N, C, Ho, ph, Wo, pw)
        return blocks.max(axis=(3, 5)), (x, pool_param)
    out = np.empty((N, C, Ho, Wo))
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    out[n, c, i, j] = np.max(x[n, c, i * s:i * s + ph, j * s:j * s + pw])
    return out, (x, pool_param)
'''

SCALAR_BACKWARD = '''
def max_pool_backward_naive(dout, cache):
    """One window at a time; np.unravel_index of np.argmax finds the first maximum."""
    x, pool_param = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, Ho, Wo = dout.shape
    dx = np.zeros(x.shape)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    window = x[n, c, i * s:i * s + ph, j * s:j * s + pw]
                    r, q = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, i * s + r, j * s + q] += dout[n, c, i, j]
    return dx
'''

FIRST_MAX_MASK = '''
def max_pool_backward_naive(dout, cache):
    """A mask of the first maximum of each window: equal to the max, and the first such."""
    x, pool_param = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            flat = x[:, :, i * s:i * s + ph, j * s:j * s + pw].reshape(N, C, -1)
            is_max = flat == flat.max(axis=2, keepdims=True)
            first = is_max & (np.cumsum(is_max, axis=2) == 1)
            grad = first * dout[:, :, i, j][:, :, None]
            dx[:, :, i * s:i * s + ph, j * s:j * s + pw] += grad.reshape(N, C, ph, pw)
    return dx
'''

USES_MATH = '''
def max_pool_forward_naive(x, pool_param):
    """The pooled size with math.floor, imported in a cell of the student's own."""
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    Ho = math.floor((H - ph) / s) + 1
    Wo = math.floor((W - pw) / s) + 1
    out = np.zeros((N, C, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            out[:, :, i, j] = np.amax(x[:, :, i * s:i * s + ph, j * s:j * s + pw], axis=(2, 3))
    return out, (x, pool_param)
'''

VARIANTS = [
    variant("pool_fwd_as_strided", NB2, FWD, "as_strided windows", AS_STRIDED),
    variant("pool_fwd_tiled_fast_path", NB2, FWD, "reshape when tiled, scalar loops otherwise",
            TILED_FAST_PATH),
    variant("pool_bwd_unravel_index", NB2, BWD, "scalar loops, np.unravel_index",
            SCALAR_BACKWARD),
    variant("pool_bwd_first_max_mask", NB2, BWD, "first-maximum mask by cumsum",
            FIRST_MAX_MASK),
    variant("pool_fwd_import_cell", NB2, FWD, "import math in a cell the student added",
            USES_MATH, added=("import math\n",), depends=ALL_CELLS),
]

IMPLS = MUTANTS + VARIANTS
