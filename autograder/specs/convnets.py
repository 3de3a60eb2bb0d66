"""Out-of-kernel tests of the ``convnets`` assignment, one per autograded test cell.

Each test draws fresh inputs of the same kind as its notebook cell (stride,
padding, window shapes) from the student's generator and compares every
output with the instructor's solution on the same inputs.

Imports: NumPy and ``autograder.specs.base``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autograder.specs.base import Case, TestSpec

ASSIGNMENT = "convnets"
NB1 = "01_convolution.ipynb"
NB2 = "02_pooling_and_fast_layers.ipynb"
NB3 = "03_three_layer_convnet.ipynb"
NB4 = "04_spatial_normalization.ipynb"

# --------------------------------------------------------------------------- drivers
# Drivers run inside the sandbox too: they use only their arguments, `ns` and `np`.


def drive_conv_forward(ns, x, w, b, conv_param):
    out, _ = ns["conv_forward_naive"](x, w, b, conv_param)
    return [out]


def drive_conv_backward(ns, x, w, b, conv_param, dout):
    _, cache = ns["conv_forward_naive"](x, w, b, conv_param)
    dx, dw, db = ns["conv_backward_naive"](dout, cache)
    return [dx, dw, db]


def drive_pool_forward(ns, x, pool_param):
    out, _ = ns["max_pool_forward_naive"](x, pool_param)
    return [out]


def drive_pool_backward(ns, x, pool_param, dout):
    _, cache = ns["max_pool_forward_naive"](x, pool_param)
    return [ns["max_pool_backward_naive"](dout, cache)]


def drive_convnet_params(ns, kwargs):
    # The course's model draws its weights from NumPy's global generator.
    np.random.seed(0)  # noqa: NPY002
    model = ns["ThreeLayerConvNet"](**kwargs)
    names = sorted(model.params)
    return [
        names,
        [list(model.params[k].shape) for k in names],
        [str(model.params[k].dtype) for k in names],
        [float(np.std(model.params[k])) for k in names],
    ]


def drive_convnet_loss(ns, kwargs, W1, b1, W2, b2, W3, b3, X, y):
    model = ns["ThreeLayerConvNet"](**kwargs)
    model.params = {"W1": W1, "b1": b1, "W2": W2, "b2": b2, "W3": W3, "b3": b3}
    if y is None:
        return [model.loss(X)]
    loss, grads = model.loss(X, y)
    return [float(loss)] + [grads[k] for k in ("W1", "b1", "W2", "b2", "W3", "b3")]


def drive_bn_forward(ns, x, gamma, beta, bn_param):
    bn_param = dict(bn_param)
    out, _ = ns["spatial_batchnorm_forward"](x, gamma, beta, bn_param)
    return [out, bn_param["running_mean"], bn_param["running_var"]]


def drive_bn_backward(ns, x, gamma, beta, dout):
    _, cache = ns["spatial_batchnorm_forward"](x, gamma, beta, {"mode": "train"})
    return list(ns["spatial_batchnorm_backward"](dout, cache))


def drive_gn_forward(ns, x, gamma, beta, G):
    out, _ = ns["spatial_groupnorm_forward"](x, gamma, beta, G, {"eps": 1e-5})
    return [out]


def drive_gn_backward(ns, x, gamma, beta, G, dout):
    _, cache = ns["spatial_groupnorm_forward"](x, gamma, beta, G, {"eps": 1e-5})
    return list(ns["spatial_groupnorm_backward"](dout, cache))


# --------------------------------------------------------------------------- inputs
# Each test draws a fixed list of case *kinds* and random sizes and values within each kind,
# so that every known bug family meets an input that exposes it, for every student (the
# mutation corpus in tests/autograder/corpus measures this). The kinds:
# - non-square images and kernels, each the wide way and the tall way (H for W, HH for WW);
# - N = 1 and C = 1 (squeezed axes), next to N, C > 1 (statistics over the wrong axes);
# - pooling sizes that do not tile, chosen so that round() and ceil() both give one window
#   more than floor: H - pool_height = stride * q + r with 2r > stride, or 2r = stride, q odd;
# - a pixel that is the largest of two or more overlapping windows (`=` for `+=`), ties
#   inside tiled, overlapping and rectangular windows, and a tie pattern whose first maximum
#   differs between row-major and column-major order;
# - large strides (windows with gaps), zero padding, and 1x1 and 5x5 kernels.
# Convolution sizes always tile: conv_forward_naive may assume it.

WIDE, TALL = "wide", "tall"


def _dims(rng: np.random.Generator, single: bool, low: int = 2, high: int = 3) -> list[int]:
    """N, C, F (or N, C): 1 each for a single image of one channel, else in [low, high]."""
    return (
        [1, 1, int(rng.integers(1, 3))]
        if single
        else [int(v) for v in rng.integers(low, high + 1, size=3)]
    )


def _pick(rng: np.random.Generator, options: list[int]) -> int:
    return int(options[int(rng.integers(len(options)))])


def _conv_sides(k: int, stride: int, pad: int) -> list[int]:
    """Input sides that `stride` tiles (side + 2*pad - k a multiple of stride), 2+ windows."""
    m0 = max(0, -(-(1 - k + 2 * pad) // stride))  # fewest steps giving side >= 1
    return [k - 2 * pad + stride * m for m in range(m0 + 1, m0 + 7)]


def _shape(rng: np.random.Generator, h_sides: list[int], w_sides: list[int], way: str) -> tuple:
    """(H, W) with W > H (wide) or W < H (tall), each from the small end of its list."""
    H = _pick(rng, h_sides[:3])
    ws = [w for w in w_sides if (w > H if way == WIDE else w < H)][:3]
    if not ws:  # the tall way from the smallest H: take the largest H and the smallest W
        H, ws = h_sides[3], [w for w in w_sides if w < h_sides[3]][:3]
    return H, _pick(rng, ws)


def _rect_kernel(rng: np.random.Generator, way: str, low: int = 1, high: int = 5) -> tuple:
    """(HH, WW) with WW > HH (wide) or WW < HH (tall)."""
    a, b = sorted(int(v) for v in rng.choice(np.arange(low, high + 1), size=2, replace=False))
    return (a, b) if way == WIDE else (b, a)


def conv_cases(rng: np.random.Generator, kinds: list[tuple], backward: bool) -> list[Case]:
    """One case per kind ``(stride, pad, (HH, WW) or "wide"/"tall", image way, single)``."""
    cases = []
    for stride, pad, kernel, way, single in kinds:
        N, C, F = _dims(rng, single)
        HH, WW = kernel if isinstance(kernel, tuple) else _rect_kernel(rng, kernel)
        H, W = _shape(rng, _conv_sides(HH, stride, pad), _conv_sides(WW, stride, pad), way)
        x = rng.standard_normal((N, C, H, W))
        w = rng.standard_normal((F, C, HH, WW))
        b = rng.standard_normal(F)
        cp = {"stride": stride, "pad": pad}
        if not backward:
            cases.append(((x, w, b, cp), {}))
            continue
        Ho, Wo = 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride
        cases.append(((x, w, b, cp, rng.standard_normal((N, F, Ho, Wo))), {}))
    return cases


TILE, UP, DOWN = "tile", "up", "down"


def _pool_side(rng: np.random.Generator, k: int, stride: int, kind: str) -> int:
    """An input side for window k: tiled exactly, or a remainder that round() rounds up or down.

    side - k = stride * q + r. "up": 2r > stride, or 2r = stride with q odd, so that round()
    (banker's or half-up) and ceil() both give one window more than floor. "down": 0 < r and
    round() gives floor (ceil still does not).
    """
    q = int(rng.integers(1, 4))
    if kind == TILE or stride == 1:
        return k + stride * q
    if kind == UP:
        above_half = list(range(stride // 2 + 1, stride))
        if stride % 2 == 0 and (not above_half or int(rng.integers(2)) == 0):
            return k + stride * (2 * (q // 2) + 1) + stride // 2  # q odd, r = stride / 2
        return k + stride * q + _pick(rng, above_half)
    if stride % 2 == 0:
        q = 2 * int(rng.integers(1, 3))  # even q: banker's round() of q + 1/2 goes down
    return k + stride * q + int(rng.integers(1, stride // 2 + 1))


def _windows(side: int, k: int, stride: int) -> list[int]:
    """For each position along one axis, how many windows cover it."""
    count = [0] * side
    for i in range(1 + (side - k) // stride):
        for p in range(i * stride, i * stride + k):
            count[p] += 1
    return count


def _plant_shared_max(rng: np.random.Generator, x: np.ndarray, ph: int, pw: int, s: int) -> None:
    """Make one pixel of each (image, channel) the largest of two or more overlapping windows."""
    _, _, H, W = x.shape
    rows, cols = _windows(H, ph, s), _windows(W, pw, s)
    shared_r = [r for r, n in enumerate(rows) if n >= 2]
    shared_c = [c for c, n in enumerate(cols) if n >= 2]
    covered_r = shared_r or [r for r, n in enumerate(rows) if n]
    covered_c = shared_c or [c for c, n in enumerate(cols) if n]
    for plane in x.reshape(-1, H, W):
        r, c = _pick(rng, covered_r), _pick(rng, covered_c)
        plane[r, c] = plane.max() + 1.0 + rng.uniform()


def _plant_cross_ties(rng: np.random.Generator, x: np.ndarray, ph: int, pw: int, s: int) -> None:
    """Windows (stride >= window) whose maximum sits at the top-right and bottom-left corners.

    The first maximum in row-major order is the top-right one; column-major order, or the
    last maximum, would pick the bottom-left one.
    """
    _, _, H, W = x.shape
    for i in range(1 + (H - ph) // s):
        for j in range(1 + (W - pw) // s):
            top, left = i * s, j * s
            peak = float(rng.integers(3, 5))
            x[:, :, top, left + pw - 1] = peak
            x[:, :, top + ph - 1, left] = peak


def pool_cases(rng: np.random.Generator, kinds: list[tuple], backward: bool) -> list[Case]:
    """One case per kind ``(ph, pw, stride, H kind, W kind, values, single)``.

    values: "normal"; "shared" (a planted maximum of overlapping windows); "ints" (small
    integers: ties everywhere); "relu" (mostly zeros); "cross" (corner ties, see
    :func:`_plant_cross_ties`).
    """
    cases = []
    for ph, pw, stride, h_kind, w_kind, values, single in kinds:
        N, C, _ = _dims(rng, single)
        H = _pool_side(rng, ph, stride, h_kind)
        W = _pool_side(rng, pw, stride, w_kind)
        for _ in range(20):  # non-square, so that H used for W shows
            if W != H:
                break
            W = _pool_side(rng, pw, stride, w_kind)
        if values in ("ints", "cross"):
            x = rng.integers(0, 3, size=(N, C, H, W)).astype(np.float64)
        elif values == "relu":
            x = np.maximum(rng.standard_normal((N, C, H, W)) - 0.5, 0.0)
        else:
            x = rng.standard_normal((N, C, H, W))
        if values == "shared":
            _plant_shared_max(rng, x, ph, pw, stride)
        elif values == "cross":
            _plant_cross_ties(rng, x, ph, pw, stride)
        pp = {"pool_height": ph, "pool_width": pw, "stride": stride}
        if not backward:
            cases.append(((x, pp), {}))
            continue
        Ho, Wo = 1 + (H - ph) // stride, 1 + (W - pw) // stride
        cases.append(((x, pp, rng.standard_normal((N, C, Ho, Wo))), {}))
    return cases


def _net_kwargs(
    rng: np.random.Generator, filter_size: int, odd: bool = False, single: bool = False
) -> dict[str, Any]:
    """A small network on non-square images; odd sides leave a row and a column unpooled."""
    sides = [5, 7, 9] if odd else [4, 6, 8]
    H, W = (int(v) for v in rng.choice(sides, size=2, replace=False))
    return {
        "input_dim": [1 if single else int(rng.integers(2, 4)), H, W],
        "num_filters": int(rng.integers(2, 5)),
        "filter_size": filter_size,
        "hidden_dim": int(rng.integers(3, 8)),
        "num_classes": int(rng.integers(2, 6)),
        "dtype": "float64",
    }


def _net_params(rng: np.random.Generator, kw: dict[str, Any], scale: float) -> list[np.ndarray]:
    C, H, W = kw["input_dim"]
    F, k, hid, cls = kw["num_filters"], kw["filter_size"], kw["hidden_dim"], kw["num_classes"]
    shapes = [(F, C, k, k), (F,), (F * (H // 2) * (W // 2), hid), (hid,), (hid, cls), (cls,)]
    return [scale * rng.standard_normal(s) for s in shapes]


# Filter sizes 3 and 5 (a hard-coded pad shows), odd sides, and one image of one channel.
NET_KINDS = [(3, False, False), (5, True, False), (3, False, True)]


def convnet_loss_cases(
    rng: np.random.Generator, with_labels: bool, reg: float, scale: float
) -> list[Case]:
    cases = []
    for filter_size, odd, single in NET_KINDS:
        kw = _net_kwargs(rng, filter_size, odd, single)
        kw["reg"] = reg
        N = 1 if single else int(rng.integers(2, 6))
        X = rng.standard_normal((N, *kw["input_dim"]))
        y = rng.integers(0, kw["num_classes"], size=N).tolist() if with_labels else None
        cases.append(((kw, *_net_params(rng, kw, scale), X, y), {}))
    return cases


def check_convnet_params(
    got: list[Any], want: list[Any], args: tuple[Any, ...]
) -> tuple[bool, str]:
    """Names, shapes and dtypes as the reference's; weights drawn at weight_scale, biases zero."""
    names, shapes, dtypes, stds = got
    if names != want[0]:
        return False, f"params has keys {names}; expected {want[0]}"
    for name, shape, ref in zip(names, shapes, want[1], strict=True):
        if shape != ref:
            return False, f"params[{name!r}] has shape {tuple(shape)}; expected {tuple(ref)}"
    for name, dtype, ref in zip(names, dtypes, want[2], strict=True):
        if dtype != ref:
            return False, f"params[{name!r}] has dtype {dtype}; expected {ref}"
    scale = args[0].get("weight_scale", 1e-3)
    for name, std in zip(names, stds, strict=True):
        if name.startswith("b") and std != 0.0:
            return False, f"params[{name!r}] should start at zero"
        if name.startswith("W") and not 0.5 * scale <= std <= 1.5 * scale:
            return (
                False,
                f"params[{name!r}] has standard deviation {std:.2e}; expected about {scale:.0e}",
            )
    return True, ""


def _params_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for filter_size, odd, single in [(3, False, True), (5, True, False)]:
        kw = _net_kwargs(rng, filter_size, odd, single)
        kw["weight_scale"] = float(rng.choice([1e-2, 3e-2, 1e-1]))
        # Big enough layers (144+ weights each) that the sample std is close to weight_scale.
        kw["num_filters"], kw["hidden_dim"] = 16, 32
        cases.append(((kw,), {}))
    return cases


def _feature_maps(rng: np.random.Generator, N: int, C: int, small: bool = True) -> np.ndarray:
    """Non-square maps with a mean and a scale per channel; one channel nearly constant."""
    H, W = (int(v) for v in rng.choice(np.arange(2, 6), size=2, replace=False))
    scale = rng.uniform(0.5, 3.0, C)
    if small:
        scale[int(rng.integers(C))] = rng.uniform(0.02, 0.1)  # eps matters in that channel
    shift = rng.standard_normal(C)
    return scale.reshape(1, C, 1, 1) * rng.standard_normal((N, C, H, W)) + shift.reshape(1, C, 1, 1)


# (N, C) of the batch-norm cases: a batch, one image, one channel.
BN_SIZES = [(None, None), (1, None), (None, 1)]


def _bn_size(rng: np.random.Generator, n: int | None, c: int | None) -> tuple[int, int]:
    return n or int(rng.integers(2, 5)), c or int(rng.integers(2, 5))


def bn_train_cases(rng: np.random.Generator) -> list[Case]:
    """Given running averages and momentum; then every default; then eps given, N=1; C=1."""
    cases = []
    for k, (n, c) in enumerate([(None, None), (None, None), (1, None), (None, 1)]):
        N, C = _bn_size(rng, n, c)
        x = _feature_maps(rng, N, C)
        bn: dict[str, Any] = {"mode": "train"}
        if k != 1:
            bn["momentum"] = float(rng.uniform(0.6, 0.95))
            bn["running_mean"] = rng.standard_normal(C)
            bn["running_var"] = rng.uniform(0.5, 2.0, C)
        if k == 2:
            bn["eps"] = float(rng.uniform(1e-3, 1e-2))
        cases.append(((x, rng.standard_normal(C), rng.standard_normal(C), bn), {}))
    return cases


def bn_test_cases(rng: np.random.Generator) -> list[Case]:
    """Running averages far from the batch's; a momentum to ignore; eps given in one case."""
    cases = []
    for k, (n, c) in enumerate(BN_SIZES):
        N, C = _bn_size(rng, n, c)
        x = _feature_maps(rng, N, C)
        bn: dict[str, Any] = {
            "mode": "test",
            "momentum": float(rng.uniform(0.6, 0.95)),
            "running_mean": 2.0 * rng.standard_normal(C),
            "running_var": rng.uniform(0.01, 3.0, C),
        }
        if k == 1:
            bn["eps"] = float(rng.uniform(1e-3, 1e-2))
        cases.append(((x, rng.standard_normal(C), rng.standard_normal(C), bn), {}))
    return cases


def bn_backward_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for n, c in BN_SIZES:
        N, C = _bn_size(rng, n, c)
        x = _feature_maps(rng, N, C, small=False)
        g, b = rng.standard_normal(C), rng.standard_normal(C)
        cases.append(((x, g, b, rng.standard_normal(x.shape)), {}))
    return cases


# (G, channels per group, N): groups of several channels (wrong axes and layouts show),
# layer norm (G = 1), instance norm (one channel a group), one channel, one image.
GN_KINDS = [(2, 2, None), (3, 2, 1), (1, 3, None), (2, 1, None), (1, 1, None)]


def gn_cases(rng: np.random.Generator, backward: bool) -> list[Case]:
    cases = []
    for G, per_group, n in GN_KINDS:
        C = G * per_group
        N = n or int(rng.integers(2, 4))
        x = _feature_maps(rng, N, C, small=not backward)
        gamma = rng.standard_normal((1, C, 1, 1))
        beta = rng.standard_normal((1, C, 1, 1))
        if backward:
            cases.append(((x, gamma, beta, G, rng.standard_normal(x.shape)), {}))
        else:
            cases.append(((x, gamma, beta, G), {}))
    return cases


# --------------------------------------------------------------------------- the tests

CONV_FWD = ("conv_forward_naive",)
CONV_BWD = ("conv_forward_naive", "conv_backward_naive")
POOL_FWD = ("max_pool_forward_naive",)
POOL_BWD = ("max_pool_forward_naive", "max_pool_backward_naive")
NET = ("ThreeLayerConvNet",)
GRAD_NAMES = ("loss", "dW1", "db1", "dW2", "db2", "dW3", "db3")

# Convolution kinds: (stride, pad, kernel (HH, WW) or its way, image way, single image).
CONV_SAME = [
    (1, 1, (3, 3), WIDE, False),
    (1, 1, (3, 3), TALL, True),
    (1, 0, (1, 1), WIDE, False),
    (1, 2, (5, 5), TALL, False),
]
CONV_STRIDE = [(2, 1, (3, 3), WIDE, False), (3, 2, WIDE, TALL, False), (4, 1, (2, 3), WIDE, True)]
CONV_RECT = [(1, 2, WIDE, TALL, False), (1, 2, TALL, WIDE, False), (2, 1, WIDE, WIDE, True)]
CONV_BACK1 = [(1, 1, (3, 3), WIDE, False), (1, 0, TALL, TALL, False), (1, 2, WIDE, WIDE, True)]
CONV_BACK2 = [(2, 1, (3, 3), TALL, False), (2, 2, (3, 5), WIDE, False), (2, 0, (1, 2), TALL, True)]

# Pooling kinds: (pool_height, pool_width, stride, H kind, W kind, values, single image).
POOL_TILED = [
    (2, 2, 2, TILE, TILE, "normal", False),
    (2, 2, 2, UP, UP, "normal", False),
    (2, 2, 2, DOWN, UP, "normal", True),
]
POOL_OVERLAP = [
    (3, 3, 2, UP, UP, "shared", False),
    (3, 3, 2, TILE, DOWN, "ints", False),
    (3, 3, 1, TILE, TILE, "shared", True),
    (3, 3, 2, DOWN, UP, "normal", False),
]
POOL_RECT = [
    (3, 2, 2, UP, UP, "shared", False),
    (3, 2, 2, TILE, UP, "ints", False),
    (2, 3, 2, UP, TILE, "shared", False),
    (1, 3, 3, UP, UP, "normal", True),
]
POOL_TIES = [
    (2, 2, 2, TILE, TILE, "ints", False),
    (2, 2, 2, UP, TILE, "relu", False),
    (2, 2, 2, TILE, UP, "cross", True),
    (3, 3, 1, TILE, TILE, "ints", False),
    (3, 2, 2, UP, TILE, "ints", False),
    (2, 3, 3, TILE, TILE, "cross", False),
]


def _conv(kinds: list[tuple], backward: bool) -> Any:
    return lambda r: conv_cases(r, kinds, backward)


def _pool(kinds: list[tuple], backward: bool) -> Any:
    return lambda r: pool_cases(r, kinds, backward)


TESTS: list[TestSpec] = [
    TestSpec(
        "test_conv_forward_same",
        NB1,
        drive_conv_forward,
        _conv(CONV_SAME, backward=False),
        names=("out",),
        needs=CONV_FWD,
    ),
    TestSpec(
        "test_conv_forward_stride",
        NB1,
        drive_conv_forward,
        _conv(CONV_STRIDE, backward=False),
        names=("out",),
        needs=CONV_FWD,
    ),
    TestSpec(
        "test_conv_forward_rectangular",
        NB1,
        drive_conv_forward,
        _conv(CONV_RECT, backward=False),
        names=("out",),
        needs=CONV_FWD,
    ),
    TestSpec(
        "test_conv_backward_stride1",
        NB1,
        drive_conv_backward,
        _conv(CONV_BACK1, backward=True),
        names=("dx", "dw", "db"),
        needs=CONV_BWD,
    ),
    TestSpec(
        "test_conv_backward_stride2",
        NB1,
        drive_conv_backward,
        _conv(CONV_BACK2, backward=True),
        names=("dx", "dw", "db"),
        needs=CONV_BWD,
    ),
    TestSpec(
        "test_max_pool_forward_tiled",
        NB2,
        drive_pool_forward,
        _pool(POOL_TILED, backward=False),
        names=("out",),
        needs=POOL_FWD,
    ),
    TestSpec(
        "test_max_pool_forward_overlapping",
        NB2,
        drive_pool_forward,
        _pool(POOL_OVERLAP, backward=False),
        names=("out",),
        needs=POOL_FWD,
    ),
    TestSpec(
        "test_max_pool_forward_rectangular",
        NB2,
        drive_pool_forward,
        _pool(POOL_RECT, backward=False),
        names=("out",),
        needs=POOL_FWD,
    ),
    TestSpec(
        "test_max_pool_backward_tiled",
        NB2,
        drive_pool_backward,
        _pool(POOL_TILED, backward=True),
        names=("dx",),
        needs=POOL_BWD,
    ),
    TestSpec(
        "test_max_pool_backward_overlapping",
        NB2,
        drive_pool_backward,
        _pool(POOL_OVERLAP, backward=True),
        names=("dx",),
        needs=POOL_BWD,
    ),
    TestSpec(
        "test_max_pool_backward_rectangular",
        NB2,
        drive_pool_backward,
        _pool(POOL_RECT, backward=True),
        names=("dx",),
        needs=POOL_BWD,
    ),
    TestSpec(
        "test_max_pool_backward_ties",
        NB2,
        drive_pool_backward,
        _pool(POOL_TIES, backward=True),
        names=("dx",),
        needs=POOL_BWD,
    ),
    TestSpec(
        "test_convnet_params",
        NB3,
        drive_convnet_params,
        _params_cases,
        custom=check_convnet_params,
        needs=NET,
    ),
    TestSpec(
        "test_convnet_scores",
        NB3,
        drive_convnet_loss,
        lambda r: convnet_loss_cases(r, with_labels=False, reg=0.0, scale=0.3),
        names=("scores",),
        needs=NET,
    ),
    TestSpec(
        "test_convnet_initial_loss",
        NB3,
        drive_convnet_loss,
        lambda r: convnet_loss_cases(r, with_labels=True, reg=0.0, scale=1e-3),
        names=GRAD_NAMES,
        needs=NET,
    ),
    TestSpec(
        "test_convnet_regularized_loss",
        NB3,
        drive_convnet_loss,
        lambda r: convnet_loss_cases(r, with_labels=True, reg=0.7, scale=0.3),
        names=GRAD_NAMES,
        needs=NET,
    ),
    TestSpec(
        "test_convnet_gradients",
        NB3,
        drive_convnet_loss,
        lambda r: convnet_loss_cases(r, with_labels=True, reg=0.1, scale=0.5),
        tol=1e-6,
        names=GRAD_NAMES,
        needs=NET,
    ),
    TestSpec(
        "test_spatial_batchnorm_train",
        NB4,
        drive_bn_forward,
        bn_train_cases,
        names=("out", "running_mean", "running_var"),
        needs=("spatial_batchnorm_forward",),
    ),
    TestSpec(
        "test_spatial_batchnorm_test_mode",
        NB4,
        drive_bn_forward,
        bn_test_cases,
        names=("out", "running_mean", "running_var"),
        needs=("spatial_batchnorm_forward",),
    ),
    TestSpec(
        "test_spatial_batchnorm_backward",
        NB4,
        drive_bn_backward,
        bn_backward_cases,
        tol=1e-6,
        names=("dx", "dgamma", "dbeta"),
        needs=("spatial_batchnorm_forward", "spatial_batchnorm_backward"),
    ),
    TestSpec(
        "test_spatial_groupnorm_forward",
        NB4,
        drive_gn_forward,
        lambda r: gn_cases(r, backward=False),
        names=("out",),
        needs=("spatial_groupnorm_forward",),
    ),
    TestSpec(
        "test_spatial_groupnorm_backward",
        NB4,
        drive_gn_backward,
        lambda r: gn_cases(r, backward=True),
        tol=1e-6,
        names=("dx", "dgamma", "dbeta"),
        needs=("spatial_groupnorm_forward", "spatial_groupnorm_backward"),
    ),
]
