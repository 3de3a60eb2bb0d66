"""Do the sandwich layers equal their layers run one after another, forwards and backwards?

Each stack is compared with a plain float64 twin built from loops below, and
every backward pass with numeric gradients of the stack's forward pass.
"""

import numpy as np
import pytest

from cs231n_lib import layer_utils, layers
from cs231n_lib.checks import rel_error
from cs231n_lib.gradient_check import eval_numerical_gradient_array
from cs231n_lib.layer_utils import (
    affine_bn_relu_backward,
    affine_bn_relu_forward,
    affine_relu_backward,
    affine_relu_forward,
    conv_bn_relu_backward,
    conv_bn_relu_forward,
    conv_relu_backward,
    conv_relu_forward,
    conv_relu_pool_backward,
    conv_relu_pool_forward,
)

# Stacks through ReLU and max pooling are piecewise smooth; with inputs away
# from the kinks and ties (fixed seeds), centered differences agree to ~1e-9.
# Batchnorm adds curvature, still well under 1e-7.
GRAD_TOL = 1e-7
# Vectorised float64 vs the loop twin: the same sums in another order.
TWIN_TOL = 1e-10
EPS = 1e-5


def assert_close(name, got, want, tol):
    assert np.shape(got) == np.shape(want), f"{name}: shape {np.shape(got)} vs {np.shape(want)}"
    err = rel_error(got, want)
    assert err <= tol, (
        f"{name} (shape {np.shape(got)}): rel error {err:.2e} > {tol:.0e}\n"
        f" got  {np.ravel(got)[:6]}\n want {np.ravel(want)[:6]}"
    )


# ---------------------------------------------------------------------------
# Plain loop twins, float64
# ---------------------------------------------------------------------------


def conv_twin(x, w, b, stride, pad):
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    Ho, Wo = 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride
    out = np.zeros((N, F, Ho, Wo))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    window = xp[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out


def max_pool_twin(x, ph, pw, stride):
    N, C, H, W = x.shape
    Ho, Wo = 1 + (H - ph) // stride, 1 + (W - pw) // stride
    out = np.zeros((N, C, Ho, Wo))
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    out[n, c, i, j] = x[n, c, i * stride:i * stride + ph,
                                        j * stride:j * stride + pw].max()
    return out


def channel_bn_twin(a, gamma, beta):
    """Per-channel batchnorm over every (n, i, j) position, one channel at a time."""
    out = np.zeros_like(a)
    means, variances = np.zeros(a.shape[1]), np.zeros(a.shape[1])
    for c in range(a.shape[1]):
        values = a[:, c].ravel()
        means[c] = values.sum() / values.size
        variances[c] = ((values - means[c]) ** 2).sum() / values.size
        out[:, c] = gamma[c] * (a[:, c] - means[c]) / np.sqrt(variances[c] + EPS) + beta[c]
    return out, means, variances


def relu_twin(a):
    return np.where(a > 0, a, 0.0)


# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------

CONV_PARAM = {"stride": 1, "pad": 1}
POOL_PARAM = {"pool_height": 2, "pool_width": 2, "stride": 2}


def affine_case(seed):
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal((4, 2, 3)), rng.standard_normal((6, 5)), rng.standard_normal(5)
    gamma, beta = rng.standard_normal(5), rng.standard_normal(5)
    return rng, x, w, b, gamma, beta


def conv_case(seed, N=2, C=2, H=4, W=4, F=3):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W))
    w, b = rng.standard_normal((F, C, 3, 3)), rng.standard_normal(F)
    gamma, beta = rng.standard_normal(F), rng.standard_normal(F)
    return rng, x, w, b, gamma, beta


def check_numeric(forward, args, grads, dout, names):
    """Compare ``grads`` with numeric gradients of ``forward(*args)`` for each named arg.

    A name of ``None`` skips that argument.
    """
    for k, (name, grad) in enumerate(zip(names, grads, strict=True)):
        if name is None:
            continue

        def f(v, k=k):
            return forward(*args[:k], v, *args[k + 1:])

        num = eval_numerical_gradient_array(f, args[k], dout)
        assert_close(name, grad, num, GRAD_TOL)


def assert_bias_before_bn_has_no_gradient(db):
    """Train-mode batchnorm subtracts the batch mean, which cancels any bias before it.

    The exact gradient is 0, so a relative error against the numeric one would
    only compare rounding noise; check the absolute size instead.
    """
    assert np.max(np.abs(db)) < 1e-10, f"db should be 0, got {db}"


# ---------------------------------------------------------------------------
# Affine stacks
# ---------------------------------------------------------------------------


def test_affine_relu_equals_twin_and_numeric_gradients():
    rng, x, w, b, _, _ = affine_case(0)
    out, cache = affine_relu_forward(x, w, b)
    assert_close("out", out, relu_twin(x.reshape(4, -1) @ w + b), TWIN_TOL)
    dout = rng.standard_normal(out.shape)
    grads = affine_relu_backward(dout, cache)
    check_numeric(lambda *a: affine_relu_forward(*a)[0], [x, w, b], grads, dout,
                  ["dx", "dw", "db"])


def test_affine_bn_relu_equals_twin_and_numeric_gradients():
    rng, x, w, b, gamma, beta = affine_case(1)
    bn_param = {"mode": "train", "momentum": 0.0}
    out, cache = affine_bn_relu_forward(x, w, b, gamma, beta, bn_param)
    a = x.reshape(4, -1) @ w + b
    mean, var = a.mean(axis=0), a.var(axis=0)
    want = relu_twin(gamma * (a - mean) / np.sqrt(var + EPS) + beta)
    assert_close("out", out, want, TWIN_TOL)
    # momentum 0: the running statistics are exactly this batch's.
    assert_close("running_mean", bn_param["running_mean"], mean, TWIN_TOL)
    assert_close("running_var", bn_param["running_var"], var, TWIN_TOL)

    dout = rng.standard_normal(out.shape)
    grads = affine_bn_relu_backward(dout, cache)
    assert len(grads) == 5
    check_numeric(
        lambda *a: affine_bn_relu_forward(*a, {"mode": "train"})[0],
        [x, w, b, gamma, beta], grads, dout, ["dx", "dw", None, "dgamma", "dbeta"],
    )
    assert_bias_before_bn_has_no_gradient(grads[2])


# ---------------------------------------------------------------------------
# Convolution stacks
# ---------------------------------------------------------------------------


def test_conv_relu_equals_twin_and_numeric_gradients():
    rng, x, w, b, _, _ = conv_case(2)
    out, cache = conv_relu_forward(x, w, b, CONV_PARAM)
    assert_close("out", out, relu_twin(conv_twin(x, w, b, 1, 1)), TWIN_TOL)
    dout = rng.standard_normal(out.shape)
    grads = conv_relu_backward(dout, cache)
    check_numeric(lambda *a: conv_relu_forward(*a, CONV_PARAM)[0], [x, w, b], grads, dout,
                  ["dx", "dw", "db"])


def test_conv_relu_pool_equals_twin_and_numeric_gradients():
    rng, x, w, b, _, _ = conv_case(3, H=6, W=6)
    out, cache = conv_relu_pool_forward(x, w, b, CONV_PARAM, POOL_PARAM)
    assert out.shape == (2, 3, 3, 3)
    want = max_pool_twin(relu_twin(conv_twin(x, w, b, 1, 1)), 2, 2, 2)
    assert_close("out", out, want, TWIN_TOL)
    dout = rng.standard_normal(out.shape)
    grads = conv_relu_pool_backward(dout, cache)
    check_numeric(lambda *a: conv_relu_pool_forward(*a, CONV_PARAM, POOL_PARAM)[0],
                  [x, w, b], grads, dout, ["dx", "dw", "db"])


def test_conv_bn_relu_equals_twin_and_numeric_gradients():
    rng, x, w, b, gamma, beta = conv_case(4)
    bn_param = {"mode": "train", "momentum": 0.0}
    out, cache = conv_bn_relu_forward(x, w, b, gamma, beta, CONV_PARAM, bn_param)
    normed, means, variances = channel_bn_twin(conv_twin(x, w, b, 1, 1), gamma, beta)
    assert_close("out", out, relu_twin(normed), TWIN_TOL)
    # One mean and variance per filter, over all N*Ho*Wo positions.
    assert_close("running_mean", bn_param["running_mean"], means, TWIN_TOL)
    assert_close("running_var", bn_param["running_var"], variances, TWIN_TOL)

    dout = rng.standard_normal(out.shape)
    grads = conv_bn_relu_backward(dout, cache)
    assert [g.shape for g in grads] == [x.shape, w.shape, b.shape, (3,), (3,)]
    check_numeric(
        lambda *a: conv_bn_relu_forward(*a, CONV_PARAM, {"mode": "train"})[0],
        [x, w, b, gamma, beta], grads, dout, ["dx", "dw", None, "dgamma", "dbeta"],
    )
    assert_bias_before_bn_has_no_gradient(grads[2])


def test_conv_bn_relu_test_mode_uses_running_stats():
    rng, x, w, b, gamma, beta = conv_case(5)
    running_mean, running_var = rng.standard_normal(3), rng.random(3) + 0.5
    bn_param = {"mode": "test", "running_mean": running_mean, "running_var": running_var}
    out, _ = conv_bn_relu_forward(x, w, b, gamma, beta, CONV_PARAM, bn_param)
    a = conv_twin(x, w, b, 1, 1)
    shape = (1, 3, 1, 1)
    want = relu_twin(gamma.reshape(shape) * (a - running_mean.reshape(shape))
                     / np.sqrt(running_var.reshape(shape) + EPS) + beta.reshape(shape))
    assert_close("out", out, want, TWIN_TOL)


def test_stacks_keep_float32():
    _, x, w, b, gamma, beta = (v.astype(np.float32) if isinstance(v, np.ndarray) else v
                               for v in conv_case(6))
    out, cache = conv_bn_relu_forward(x, w, b, gamma, beta, CONV_PARAM, {"mode": "train"})
    assert out.dtype == np.float32
    assert all(g.dtype == np.float32 for g in conv_bn_relu_backward(np.ones_like(out), cache))
    out, cache = conv_relu_pool_forward(x, w, b, CONV_PARAM, POOL_PARAM)
    assert out.dtype == np.float32
    assert all(g.dtype == np.float32 for g in conv_relu_pool_backward(np.ones_like(out), cache))
    xa, wa, ba = x.reshape(2, -1), np.ones((32, 3), np.float32), b
    out, cache = affine_relu_forward(xa, wa, ba)
    assert all(g.dtype == np.float32 for g in affine_relu_backward(np.ones_like(out), cache))


def test_conv_bn_relu_rejects_gamma_of_the_wrong_length():
    _, x, w, b, gamma, beta = conv_case(7)
    with pytest.raises(ValueError, match=r"gamma must have shape \(F,\) = \(3,\), one entry per "
                                         r"filter; got \(2,\)"):
        conv_bn_relu_forward(x, w, b, gamma[:2], beta, CONV_PARAM, {"mode": "train"})
    with pytest.raises(ValueError, match=r"beta must have shape \(F,\) = \(3,\)"):
        conv_bn_relu_forward(x, w, b, gamma, beta[:1], CONV_PARAM, {"mode": "train"})
    with pytest.raises(ValueError, match=r"bn_param is missing key\(s\) \['mode'\]"):
        conv_bn_relu_forward(x, w, b, gamma, beta, CONV_PARAM, {})


def test_errors_from_the_inner_layers_reach_the_caller():
    _, x, w, b, _, _ = conv_case(8)
    with pytest.raises(ValueError, match=r"conv_param is missing key\(s\) \['pad'\]"):
        conv_relu_forward(x, w, b, {"stride": 1})
    with pytest.raises(ValueError,
                       match=r"w.shape\[0\]=6 must equal D = prod\(x.shape\[1:\]\) = 32"):
        affine_relu_forward(x, np.zeros((6, 5)), np.zeros(5))


def test_spatial_batchnorm_is_not_public():
    # spatial_batchnorm_forward/backward are the students' exercise.
    for module in (layers, layer_utils):
        assert not hasattr(module, "spatial_batchnorm_forward"), module.__name__
        assert not hasattr(module, "spatial_batchnorm_backward"), module.__name__
    assert all(not name.startswith("_") for name in layer_utils.__all__)
    assert "_spatial_bn_forward" not in layer_utils.__all__
