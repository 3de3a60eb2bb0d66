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


def _size(rng: np.random.Generator, k: int, stride: int, pad: int) -> int:
    """An input side that `stride` tiles exactly: side + 2*pad - k is a multiple of stride."""
    k_min = max(0, -(-(1 - k + 2 * pad) // stride))  # smallest step count giving side >= 1
    return k - 2 * pad + stride * int(rng.integers(k_min + 1, k_min + 4))


def conv_cases(
    rng: np.random.Generator, stride: int, pad: int, square: bool, backward: bool
) -> list[Case]:
    cases = []
    for _ in range(2):
        N, C, F = (int(v) for v in rng.integers(1, 4, size=3))
        HH = 3 if square else int(rng.integers(2, 5))
        WW = 3 if square else int(rng.choice([v for v in range(1, 6) if v != HH]))
        H = _size(rng, HH, stride, pad)
        W = _size(rng, WW, stride, pad) if not square else H
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


def pool_cases(
    rng: np.random.Generator, ph: int, pw: int, stride: int, backward: bool, ties: bool = False
) -> list[Case]:
    cases = []
    for _ in range(2):
        N, C = (int(v) for v in rng.integers(1, 4, size=2))
        H = ph + stride * int(rng.integers(1, 4)) + int(rng.integers(0, stride))
        W = pw + stride * int(rng.integers(1, 4)) + int(rng.integers(0, stride))
        # Small integers make most windows hold their maximum more than once.
        x = (
            rng.integers(0, 3, size=(N, C, H, W)).astype(np.float64)
            if ties
            else rng.standard_normal((N, C, H, W))
        )
        pp = {"pool_height": ph, "pool_width": pw, "stride": stride}
        if not backward:
            cases.append(((x, pp), {}))
            continue
        Ho, Wo = 1 + (H - ph) // stride, 1 + (W - pw) // stride
        cases.append(((x, pp, rng.standard_normal((N, C, Ho, Wo))), {}))
    return cases


def _net_kwargs(rng: np.random.Generator) -> dict[str, Any]:
    C = int(rng.integers(1, 4))
    H, W = (2 * int(v) for v in rng.integers(2, 5, size=2))
    return {
        "input_dim": [C, H, W],
        "num_filters": int(rng.integers(2, 5)),
        "filter_size": int(rng.choice([1, 3, 5])),
        "hidden_dim": int(rng.integers(3, 8)),
        "num_classes": int(rng.integers(2, 6)),
        "dtype": "float64",
    }


def _net_params(rng: np.random.Generator, kw: dict[str, Any], scale: float) -> list[np.ndarray]:
    C, H, W = kw["input_dim"]
    F, k, hid, cls = kw["num_filters"], kw["filter_size"], kw["hidden_dim"], kw["num_classes"]
    shapes = [(F, C, k, k), (F,), (F * (H // 2) * (W // 2), hid), (hid,), (hid, cls), (cls,)]
    return [scale * rng.standard_normal(s) for s in shapes]


def convnet_loss_cases(
    rng: np.random.Generator, with_labels: bool, reg: float, scale: float
) -> list[Case]:
    cases = []
    for _ in range(2):
        kw = _net_kwargs(rng)
        kw["reg"] = reg
        N = int(rng.integers(2, 6))
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
    kw = _net_kwargs(rng)
    kw["weight_scale"] = float(rng.choice([1e-2, 3e-2, 1e-1]))
    # Big enough layers that the sample standard deviation is close to weight_scale.
    kw["num_filters"], kw["hidden_dim"] = 16, 32
    return [((kw,), {})]


def bn_train_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for _ in range(2):
        N, C, H, W = (int(v) for v in rng.integers(2, 5, size=4))
        x = 3.0 * rng.standard_normal((N, C, H, W)) + rng.standard_normal(C).reshape(1, C, 1, 1)
        bn = {
            "mode": "train",
            "momentum": float(rng.uniform(0.5, 0.95)),
            "running_mean": rng.standard_normal(C),
            "running_var": rng.uniform(0.5, 2.0, C),
        }
        cases.append(((x, rng.standard_normal(C), rng.standard_normal(C), bn), {}))
    return cases


def bn_test_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for _ in range(2):
        N, C, H, W = (int(v) for v in rng.integers(2, 5, size=4))
        x = 2.0 * rng.standard_normal((N, C, H, W))
        bn = {
            "mode": "test",
            "running_mean": rng.standard_normal(C),
            "running_var": rng.uniform(0.5, 3.0, C),
        }
        cases.append(((x, rng.standard_normal(C), rng.standard_normal(C), bn), {}))
    return cases


def bn_backward_cases(rng: np.random.Generator) -> list[Case]:
    N, C, H, W = (int(v) for v in rng.integers(2, 5, size=4))
    x = 2.0 * rng.standard_normal((N, C, H, W)) + 1.0
    return [
        ((x, rng.standard_normal(C), rng.standard_normal(C), rng.standard_normal((N, C, H, W))), {})
    ]


def gn_cases(rng: np.random.Generator, backward: bool) -> list[Case]:
    G = int(rng.integers(1, 4))
    C = G * int(rng.integers(1, 4))
    N, H, W = (int(v) for v in rng.integers(2, 5, size=3))
    x = 2.0 * rng.standard_normal((N, C, H, W)) - 1.0
    gamma = rng.standard_normal((1, C, 1, 1))
    beta = rng.standard_normal((1, C, 1, 1))
    if backward:
        return [((x, gamma, beta, G, rng.standard_normal((N, C, H, W))), {})]
    return [((x, gamma, beta, G), {})]


# --------------------------------------------------------------------------- the tests

CONV_FWD = ("conv_forward_naive",)
CONV_BWD = ("conv_forward_naive", "conv_backward_naive")
POOL_FWD = ("max_pool_forward_naive",)
POOL_BWD = ("max_pool_forward_naive", "max_pool_backward_naive")
NET = ("ThreeLayerConvNet",)
GRAD_NAMES = ("loss", "dW1", "db1", "dW2", "db2", "dW3", "db3")

TESTS: list[TestSpec] = [
    TestSpec(
        "test_conv_forward_same",
        NB1,
        drive_conv_forward,
        lambda r: conv_cases(r, 1, 1, square=True, backward=False),
        names=("out",),
        needs=CONV_FWD,
    ),
    TestSpec(
        "test_conv_forward_stride",
        NB1,
        drive_conv_forward,
        lambda r: (
            conv_cases(r, 2, 1, square=True, backward=False)
            + conv_cases(r, 3, 2, square=False, backward=False)
        ),
        names=("out",),
        needs=CONV_FWD,
    ),
    TestSpec(
        "test_conv_forward_rectangular",
        NB1,
        drive_conv_forward,
        lambda r: conv_cases(r, 1, 2, square=False, backward=False),
        names=("out",),
        needs=CONV_FWD,
    ),
    TestSpec(
        "test_conv_backward_stride1",
        NB1,
        drive_conv_backward,
        lambda r: conv_cases(r, 1, 1, square=False, backward=True),
        names=("dx", "dw", "db"),
        needs=CONV_BWD,
    ),
    TestSpec(
        "test_conv_backward_stride2",
        NB1,
        drive_conv_backward,
        lambda r: conv_cases(r, 2, 1, square=False, backward=True),
        names=("dx", "dw", "db"),
        needs=CONV_BWD,
    ),
    TestSpec(
        "test_max_pool_forward_tiled",
        NB2,
        drive_pool_forward,
        lambda r: pool_cases(r, 2, 2, 2, backward=False),
        names=("out",),
        needs=POOL_FWD,
    ),
    TestSpec(
        "test_max_pool_forward_overlapping",
        NB2,
        drive_pool_forward,
        lambda r: pool_cases(r, 3, 3, 2, backward=False),
        names=("out",),
        needs=POOL_FWD,
    ),
    TestSpec(
        "test_max_pool_forward_rectangular",
        NB2,
        drive_pool_forward,
        lambda r: pool_cases(r, 3, 2, 2, backward=False),
        names=("out",),
        needs=POOL_FWD,
    ),
    TestSpec(
        "test_max_pool_backward_tiled",
        NB2,
        drive_pool_backward,
        lambda r: pool_cases(r, 2, 2, 2, backward=True),
        names=("dx",),
        needs=POOL_BWD,
    ),
    TestSpec(
        "test_max_pool_backward_overlapping",
        NB2,
        drive_pool_backward,
        lambda r: pool_cases(r, 3, 3, 2, backward=True),
        names=("dx",),
        needs=POOL_BWD,
    ),
    TestSpec(
        "test_max_pool_backward_rectangular",
        NB2,
        drive_pool_backward,
        lambda r: pool_cases(r, 3, 2, 2, backward=True),
        names=("dx",),
        needs=POOL_BWD,
    ),
    TestSpec(
        "test_max_pool_backward_ties",
        NB2,
        drive_pool_backward,
        lambda r: pool_cases(r, 2, 2, 2, backward=True, ties=True),
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
