"""Do the check helpers pass right answers, and name the mistake in wrong ones?

The "right" implementations here are thin wrappers around the library's own layers
(the checks' references), so these tests need no model solution; each wrong one
changes exactly one thing.
"""

import math

import numpy as np
import pytest

from cs231n_lib import checks
from cs231n_lib.fast_layers import (
    avg_pool_forward_fast,
    conv_backward_fast,
    conv_forward_fast,
    max_pool_backward_fast,
    max_pool_forward_fast,
)
from cs231n_lib.layer_utils import (
    affine_relu_backward,
    affine_relu_forward,
    conv_relu_pool_backward,
    conv_relu_pool_forward,
)
from cs231n_lib.layers import affine_backward, affine_forward, softmax_loss

RNG = np.random.default_rng(12)
X = RNG.standard_normal((2, 3, 7, 7))
W = RNG.standard_normal((4, 3, 3, 3))
B = RNG.standard_normal(4)
CONV = {"stride": 2, "pad": 1}
DOUT = RNG.standard_normal((2, 4, 4, 4))


def conv_right(x, w, b, conv_param):
    return conv_forward_fast(x, w, b, conv_param)


def conv_back_right(dout, cache):
    return conv_backward_fast(dout, cache)


# ----------------------------------------------------------------- basics


def test_rel_error_measures_the_worst_element():
    assert checks.rel_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert checks.rel_error([1.0, 3.0], [1.0, 1.0]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="equal shapes"):
        checks.rel_error(np.zeros(2), np.zeros(3))


@pytest.mark.parametrize("value, kwargs, message", [
    (None, {}, "returned nothing"),
    ([1.0], {}, "should be a NumPy array; got a list"),
    (np.zeros((3, 2)), {"expected_shape": (2, 3)}, "are axes transposed"),
    (np.zeros(2, np.float32), {"expected_dtype": np.float64}, "dtype float32; expected float64"),
    (np.array([1.0, np.nan]), {}, "1 NaN or infinite"),
])
def test_check_array_names_the_problem(value, kwargs, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_array("out", value, **kwargs)


def test_check_close_reports_threshold_and_worst_element(capsys):
    assert checks.check_close("out", np.ones(3), np.ones(3)) == 0.0
    assert capsys.readouterr().out == "out: relative error 0.00e+00 (threshold 1e-07) OK\n"
    with pytest.raises(AssertionError, match=r"above the threshold 1e-07; worst at index \(1,\): "
                                             r"got 3, expected 1"):
        checks.check_close("out", np.array([1.0, 3.0]), np.ones(2))


@pytest.mark.parametrize("factor, message", [(0.0, "every value is zero"),
                                             (-1.0, "sign is flipped"),
                                             (0.5, "0.5 times the expected")])
def test_generic_hints(factor, message):
    expected = np.arange(1.0, 5.0)
    with pytest.raises(AssertionError, match=message):
        checks.check_close("out", factor * expected, expected)


def test_numeric_gradient_of_a_square():
    x = np.array([1.0, -2.0, 3.0])
    grad = checks.numeric_gradient(lambda v: v**2, x, np.ones(3))
    np.testing.assert_allclose(grad, 2 * x, rtol=1e-8)
    np.testing.assert_array_equal(x, [1.0, -2.0, 3.0])  # restored


# ------------------------------------------------------------ convolution


def test_conv_forward_passes_a_right_answer(capsys):
    checks.check_conv_forward(conv_right, X, W, B, CONV)
    assert "threshold 1e-07) OK" in capsys.readouterr().out


def _wrong_conv(change):
    def forward(x, w, b, conv_param):
        x, w, b, conv_param = change(x, w, b, dict(conv_param))
        return conv_forward_fast(x, w, b, conv_param)
    return forward


@pytest.mark.parametrize("forward, message", [
    (_wrong_conv(lambda x, w, b, p: (x, np.ascontiguousarray(w[:, :, ::-1, ::-1]), b, p)),
     "kernel flipped"),
    (_wrong_conv(lambda x, w, b, p: (x, w, 0 * b, p)), "the bias is missing"),
    (_wrong_conv(lambda x, w, b, p: (x, w, b, {**p, "stride": 1})),
     r"shape \(2, 4, 7, 7\).*\n.*the stride is ignored"),
    (_wrong_conv(lambda x, w, b, p: (x, w, b, {**p, "pad": 0})),
     r"\n.*the padding is ignored"),
    (_wrong_conv(lambda x, w, b, p: (x, np.ascontiguousarray(w.transpose(0, 1, 3, 2)), b, p)),
     "the kernel is transposed"),
    (lambda x, w, b, p: (conv_forward_fast(x, w, b, p)[0].transpose(0, 1, 3, 2), None),
     "H and W axes are swapped"),
    (lambda x, w, b, p: (conv_forward_fast(x, w, b, {**p, "stride": 1})[0][:, :, :4, :4], None),
     "the windows are 1 pixel apart"),
    (lambda x, w, b, p: (conv_forward_fast(np.pad(x, ((0, 0), (0, 0), (0, 2), (0, 2))), w, b,
                                           {**p, "pad": 0})[0], None),
     "padding is on one side"),
    (lambda x, w, b, p: conv_forward_fast(x, w, b, p)[0], r"must return a pair \(out, cache\)"),
])
def test_conv_forward_names_the_mistake(forward, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_conv_forward(forward, X, W, B, CONV)


def test_conv_forward_notices_input_changed_in_place():
    def scribbles(x, w, b, p):
        out = conv_forward_fast(x.copy(), w, b, p)
        x[0, 0, 0, 0] = 99.0
        return out

    with pytest.raises(AssertionError, match="changed its input x in place"):
        checks.check_conv_forward(scribbles, X, W, B, CONV)


@pytest.mark.parametrize("reference", ["numeric", "fast"])
def test_conv_backward_passes_a_right_answer(reference, capsys):
    checks.check_conv_backward(conv_right, conv_back_right, X, W, B, CONV, DOUT,
                               reference=reference)
    out = capsys.readouterr().out
    assert out.count("OK") == 3 and "dx" in out and "dw" in out and "db" in out


def _wrong_back(change):
    def backward(dout, cache):
        return change(*conv_backward_fast(dout, cache))
    return backward


@pytest.mark.parametrize("backward, message", [
    (_wrong_back(lambda dx, dw, db: (np.pad(dx, ((0, 0), (0, 0), (1, 1), (1, 1))), dw, db)),
     "padded input's shape"),
    (_wrong_back(lambda dx, dw, db: (dx, dw[:, :, ::-1, ::-1], db)), "dw is flipped"),
    (_wrong_back(lambda dx, dw, db: (dx, dw / 2, db)), "0.5 times"),
    (_wrong_back(lambda dx, dw, db: (dx, dw, np.ones((4, 4, 4)))), r"db must have shape \(F,\)"),
    (_wrong_back(lambda dx, dw, db: (dx, dw)), "must return 3 gradients"),
])
def test_conv_backward_names_the_mistake(backward, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_conv_backward(conv_right, backward, X, W, B, CONV, DOUT, reference="fast")


def test_conv_backward_names_a_flipped_kernel_in_dx():
    def backward(dout, cache):
        x, w, b, p, _ = cache
        _, flipped = conv_forward_fast(x, np.ascontiguousarray(w[:, :, ::-1, ::-1]), b, p)
        return conv_backward_fast(dout, flipped)[0], *conv_backward_fast(dout, cache)[1:]

    with pytest.raises(AssertionError, match="dx matches the gradient of a convolution with the "
                                             "kernel flipped"):
        checks.check_conv_backward(conv_right, backward, X, W, B, CONV, DOUT, reference="fast")


# ---------------------------------------------------------------- pooling

XP = RNG.standard_normal((2, 3, 7, 6))
RECT = {"pool_height": 3, "pool_width": 2, "stride": 2}
OVERLAP = {"pool_height": 3, "pool_width": 3, "stride": 2}
TIES = np.array([[[[1.0, 3.0, 0.0, 2.0], [3.0, 2.0, 2.0, 1.0],
                   [5.0, 0.0, 4.0, 4.0], [1.0, 5.0, 4.0, 0.0]]]])
TILE = {"pool_height": 2, "pool_width": 2, "stride": 2}


def test_max_pool_forward_passes_a_right_answer(capsys):
    checks.check_max_pool_forward(max_pool_forward_fast, XP, RECT)
    assert "threshold 1e-12) OK" in capsys.readouterr().out


@pytest.mark.parametrize("forward, message", [
    (avg_pool_forward_fast, "mean \\(average pooling\\)"),
    (lambda x, p: (-max_pool_forward_fast(-x, p)[0], None), "minimum"),
    (lambda x, p: max_pool_forward_fast(x, {**p, "stride": 1}), "stride is ignored"),
    (lambda x, p: max_pool_forward_fast(
        x, {**p, "pool_height": p["pool_width"], "pool_width": p["pool_height"]}),
     "pool_height and pool_width are swapped"),
])
def test_max_pool_forward_names_the_mistake(forward, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_max_pool_forward(forward, XP, RECT)


def _route(x, p, dout, pick):
    """A max-pool backward whose choice among a window's maxima is ``pick(mask)``."""
    ph, pw, s = p["pool_height"], p["pool_width"], p["stride"]
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            win = x[:, :, i * s:i * s + ph, j * s:j * s + pw]
            mask = pick(win == win.max(axis=(2, 3), keepdims=True))
            dx[:, :, i * s:i * s + ph, j * s:j * s + pw] += mask * dout[:, :, i:i + 1, j:j + 1]
    return dx


def _last_only(mask):
    flat = mask.reshape(mask.shape[0], mask.shape[1], -1)
    last = flat.shape[2] - 1 - np.argmax(flat[:, :, ::-1], axis=2)
    out = np.zeros_like(flat)
    np.put_along_axis(out, last[:, :, None], True, axis=2)
    return out.reshape(mask.shape)


def _assigning(dout, cache):
    x, p = cache
    ph, pw, s = p["pool_height"], p["pool_width"], p["stride"]
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            win = dx[:, :, i * s:i * s + ph, j * s:j * s + pw]
            xw = x[:, :, i * s:i * s + ph, j * s:j * s + pw]
            mask = xw == xw.max(axis=(2, 3), keepdims=True)
            win[mask] = np.broadcast_to(dout[:, :, i:i + 1, j:j + 1], win.shape)[mask]
    return dx


def _keep_input(x, p):
    return max_pool_forward_fast(x, p)[0], (x, p)


@pytest.mark.parametrize("x, param, backward, message", [
    (TIES, TILE, lambda d, c: _route(*c, d, lambda m: m), "spread over every tied maximum"),
    (TIES, TILE, lambda d, c: _route(*c, d, _last_only), "goes to the wrong copy"),
    (RNG.standard_normal((2, 2, 7, 7)), OVERLAP, _assigning, r"instead of\s+assigning it"),
    (RNG.standard_normal((2, 2, 6, 6)), TILE,
     lambda d, c: _route(*c, d, lambda m: np.ones_like(m)) / 4, "spread evenly"),
])
def test_max_pool_backward_names_the_mistake(x, param, backward, message):
    from cs231n_lib.fast_layers import pool_output_size

    dout = RNG.standard_normal(x.shape[:2] + pool_output_size(*x.shape[2:], param["pool_height"],
                                                              param["pool_width"],
                                                              param["stride"]))
    # The same forward with the right backward passes; the wrong one is named.
    checks.check_max_pool_backward(max_pool_forward_fast, max_pool_backward_fast, x, param, dout)
    with pytest.raises(AssertionError, match=message):
        checks.check_max_pool_backward(_keep_input, backward, x, param, dout)


# ---------------------------------------------------------- normalisation


def _normalise(x, gamma, beta, axes, eps=1e-5):
    shape = [1] * 4
    shape[1] = x.shape[1]
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return gamma.reshape(shape) * (x - mean) / np.sqrt(var + eps) + beta.reshape(shape)


XB = 3.0 * RNG.standard_normal((4, 3, 5, 6)) + 2.0
GAMMA, BETA = np.array([1.5, 0.5, 2.0]), np.array([0.0, 1.0, -1.0])
EXPECTED_BN = _normalise(XB, GAMMA, BETA, (0, 2, 3))


def _bn(axes, eps=1e-5, record=True):
    def forward(x, gamma, beta, bn_param):
        if record:  # from no running averages, with the default momentum 0.9
            bn_param["running_mean"] = 0.1 * x.mean(axis=(0, 2, 3))
            bn_param["running_var"] = 0.1 * x.var(axis=(0, 2, 3))
        return _normalise(x, gamma, beta, axes, eps), None
    return forward


def test_spatial_batchnorm_forward_passes_a_right_answer(capsys):
    checks.check_spatial_batchnorm_forward(_bn((0, 2, 3)), XB, GAMMA, BETA, EXPECTED_BN)
    assert "OK" in capsys.readouterr().out


@pytest.mark.parametrize("forward, message", [
    (_bn((2, 3)), "instance norm"),
    (_bn((0,)), "statistics over N only"),
    (_bn((1, 2, 3)), "layer norm"),
    (_bn((0, 2, 3), eps=1e-3), "eps inside the square root"),
    (_bn((0, 2, 3), record=False), r"bn_param\['running_mean'\] should be an array"),
])
def test_spatial_batchnorm_forward_names_the_mistake(forward, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_spatial_batchnorm_forward(forward, XB, GAMMA, BETA, EXPECTED_BN)


def test_spatial_batchnorm_test_mode():
    rm, rv = np.array([4.0, -2.0, 0.5]), np.array([9.0, 0.25, 2.0])
    c = (1, 3, 1, 1)
    expected = (GAMMA.reshape(c) * (XB - rm.reshape(c)) / np.sqrt(rv.reshape(c) + 1e-5)
                + BETA.reshape(c))

    def right(x, gamma, beta, bn_param):
        m, v = bn_param["running_mean"].reshape(c), bn_param["running_var"].reshape(c)
        return gamma.reshape(c) * (x - m) / np.sqrt(v + 1e-5) + beta.reshape(c), None

    def updates(x, gamma, beta, bn_param):
        result = right(x, gamma, beta, bn_param)
        bn_param["running_mean"] = bn_param["running_mean"] * 0.9
        return result

    checks.check_spatial_batchnorm_test_mode(right, XB, GAMMA, BETA, rm, rv, expected)
    with pytest.raises(AssertionError, match="batch's own mean and variance"):
        checks.check_spatial_batchnorm_test_mode(_bn((0, 2, 3)), XB, GAMMA, BETA, rm, rv,
                                                 expected)
    with pytest.raises(AssertionError, match="test mode changed bn_param"):
        checks.check_spatial_batchnorm_test_mode(updates, XB, GAMMA, BETA, rm, rv, expected)


def _gn(x, gamma, beta, G, interleaved=False, eps=1e-5):
    N, C, H, W = x.shape
    if interleaved:
        x = x.reshape(N, C // G, G, H, W).transpose(0, 2, 1, 3, 4)
    groups = x.reshape(N, G, -1)
    z = (groups - groups.mean(axis=2, keepdims=True)) / np.sqrt(
        groups.var(axis=2, keepdims=True) + eps)
    if interleaved:
        z = z.reshape(N, G, C // G, H, W).transpose(0, 2, 1, 3, 4)
    return gamma * z.reshape(N, C, H, W) + beta


XG = 2.0 * RNG.standard_normal((2, 6, 3, 4)) - 1.0
GG = RNG.standard_normal((1, 6, 1, 1))
BG = RNG.standard_normal((1, 6, 1, 1))


@pytest.mark.parametrize("forward, message", [
    (lambda x, g, b, G, p: (_gn(x, g, b, G, interleaved=True), None), "every G-th channel"),
    (lambda x, g, b, G, p: (_gn(x, g, b, 1), None), "the G groups are ignored"),
    (lambda x, g, b, G, p: (_gn(x, g, b, x.shape[1]), None), "instance norm"),
    (lambda x, g, b, G, p: (_normalise(x, g, b, (0, 2, 3)), None), "batch norm's"),
])
def test_spatial_groupnorm_forward_names_the_mistake(forward, message):
    expected = _gn(XG, GG, BG, 2)
    checks.check_spatial_groupnorm_forward(lambda x, g, b, G, p: (_gn(x, g, b, G), None),
                                           XG, GG, BG, 2, expected)
    with pytest.raises(AssertionError, match=message):
        checks.check_spatial_groupnorm_forward(forward, XG, GG, BG, 2, expected)


def _gn_backward(dout, cache, with_mean_path=True):
    x, gamma, G = cache
    N, C, H, W = x.shape
    groups = x.reshape(N, G, -1)
    std = np.sqrt(groups.var(axis=2, keepdims=True) + 1e-5)
    xh = (groups - groups.mean(axis=2, keepdims=True)) / std
    dxh = (dout * gamma).reshape(N, G, -1)
    if with_mean_path:
        m = xh.shape[2]
        dx = (m * dxh - dxh.sum(axis=2, keepdims=True)
              - xh * (dxh * xh).sum(axis=2, keepdims=True)) / (m * std)
    else:
        dx = dxh / std
    dgamma = (dout * xh.reshape(x.shape)).sum(axis=(0, 2, 3), keepdims=True)
    return dx.reshape(x.shape), dgamma, dout.sum(axis=(0, 2, 3), keepdims=True)


def test_norm_backward_passes_and_names_the_missing_mean_path(capsys):
    def forward(x, g, b):
        return _gn(x, g, b, 2), (x, g, 2)

    dout = RNG.standard_normal(XG.shape)
    rows = lambda a: a.reshape(a.shape[0] * 2, -1)  # noqa: E731
    checks.check_norm_backward(forward, _gn_backward, XG, GG, BG, dout, rows, name="gn_backward")
    assert capsys.readouterr().out.count("OK") == 3
    with pytest.raises(AssertionError, match="misses part of the path through the mean"):
        checks.check_norm_backward(forward, lambda d, c: _gn_backward(d, c, False), XG, GG, BG,
                                   dout, rows, name="gn_backward")

    def squeezed(dout, cache):
        dx, dgamma, dbeta = _gn_backward(dout, cache)
        return dx, dgamma.reshape(-1), dbeta

    with pytest.raises(AssertionError, match=r"dgamma must have the shape of gamma, \(1, 6, 1"):
        checks.check_norm_backward(forward, squeezed, XG, GG, BG, dout, rows, name="gn_backward")


# ---------------------------------------------------------- the convnet


class TinyNet:
    """The three-layer convnet, assembled from the library's layers, with switchable bugs."""

    def __init__(self, reg=0.0, half=True, reg_biases=False, grad_reg=1.0, pool=True,
                 scale=1e-3, dtype=np.float64, seed=0):
        rng = np.random.default_rng(seed)
        F, C, H, k, hid, cls = 4, 3, 8, 3, 6, 5
        rows = F * (H // 2) ** 2 if pool else F * H * H
        self.params = {"W1": scale * rng.standard_normal((F, C, k, k)), "b1": np.zeros(F),
                       "W2": scale * rng.standard_normal((rows, hid)), "b2": np.zeros(hid),
                       "W3": scale * rng.standard_normal((hid, cls)), "b3": np.zeros(cls)}
        self.params = {n: v.astype(dtype) for n, v in self.params.items()}
        self.reg, self.half, self.reg_biases, self.grad_reg = reg, half, reg_biases, grad_reg

    def loss(self, X, y=None):
        p = self.params
        a, c1 = conv_relu_pool_forward(X, p["W1"], p["b1"], {"stride": 1, "pad": 1},
                                       {"pool_height": 2, "pool_width": 2, "stride": 2})
        h, c2 = affine_relu_forward(a, p["W2"], p["b2"])
        scores, c3 = affine_forward(h, p["W3"], p["b3"])
        if y is None:
            return scores
        loss, ds = softmax_loss(scores, y)
        names = list(p) if self.reg_biases else ["W1", "W2", "W3"]
        loss += (0.5 if self.half else 1.0) * self.reg * sum(np.sum(p[n] ** 2) for n in names)
        grads = {}
        dh, grads["W3"], grads["b3"] = affine_backward(ds, c3)
        da, grads["W2"], grads["b2"] = affine_relu_backward(dh, c2)
        _, grads["W1"], grads["b1"] = conv_relu_pool_backward(da, c1)
        for n in ("W1", "W2", "W3"):
            grads[n] += self.grad_reg * self.reg * p[n]
        return loss, grads


XN = RNG.standard_normal((3, 3, 8, 8))
YN = np.array([0, 3, 4])
ARGS = dict(input_dim=(3, 8, 8), num_filters=4, filter_size=3, hidden_dim=6, num_classes=5,
            weight_scale=1e-3, dtype=np.float64)


def test_convnet_params(capsys):
    checks.check_convnet_params(TinyNet(scale=1e-3), **ARGS)
    assert "OK" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="halves H and W"):
        checks.check_convnet_params(TinyNet(pool=False), **ARGS)
    with pytest.raises(AssertionError, match="standard deviation 0.9.*about weight_scale"):
        checks.check_convnet_params(TinyNet(scale=1.0), **ARGS)
    with pytest.raises(AssertionError, match="cast every parameter"):
        checks.check_convnet_params(TinyNet(dtype=np.float32), **ARGS)


def test_initial_loss(capsys):
    checks.check_initial_loss(TinyNet(), XN, YN, num_classes=5)
    assert f"log(5) = {math.log(5):.4f}" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="far above"):
        checks.check_initial_loss(TinyNet(scale=1.0), XN, YN, num_classes=5)


@pytest.mark.parametrize("net, message", [
    (TinyNet(reg=0.5, scale=0.1, half=False), "lacks the factor 0.5"),
    (TinyNet(reg=0.0, scale=0.1), None),
])
def test_regularized_loss(net, message):
    if message is None:
        checks.check_regularized_loss(net, XN, YN)
        return
    with pytest.raises(AssertionError, match=message):
        checks.check_regularized_loss(net, XN, YN)


def test_regularized_loss_names_missing_term_and_regularised_biases():
    net = TinyNet(reg=0.5, scale=0.1)
    net.params["b2"] += 0.3
    checks.check_regularized_loss(net, XN, YN)
    net.reg_biases = True
    with pytest.raises(AssertionError, match="biases are regularised"):
        checks.check_regularized_loss(net, XN, YN)
    # A model whose loss is the data loss alone, although reg = 0.5.
    no_reg = TinyNet(reg=0.5, scale=0.1)
    scores_of = no_reg.loss
    no_reg.loss = lambda X, y=None: scores_of(X) if y is None else (
        softmax_loss(scores_of(X), y)[0], {})
    with pytest.raises(AssertionError, match="regularisation term is missing"):
        checks.check_regularized_loss(no_reg, XN, YN)


@pytest.mark.parametrize("grad_reg, message", [
    (1.0, None), (0.0, "lacks the regularisation gradient"), (2.0, "twice the regularisation"),
])
def test_model_gradients(grad_reg, message):
    net = TinyNet(reg=0.3, scale=0.3, grad_reg=grad_reg, seed=3)
    X, y = XN[:2, :, :, :], YN[:2]
    if message is None:
        checks.check_model_gradients(net, X, y)
        return
    with pytest.raises(AssertionError, match=message):
        checks.check_model_gradients(net, X, y)


# --- the regulariser's share of the gradients (the net's hidden test) -------------------------

def _reg_grads(reg, rng):
    params = {"W1": rng.standard_normal((3, 2)), "b1": rng.standard_normal(2)}
    data = {k: rng.standard_normal(v.shape) for k, v in params.items()}
    right = {"W1": data["W1"] + reg * params["W1"], "b1": data["b1"].copy()}
    return params, data, right


def test_the_right_regularisation_gradient_passes():
    params, data, right = _reg_grads(2.0, np.random.default_rng(0))
    checks.check_regularization_gradient(right, data, params, reg=2.0)


@pytest.mark.parametrize("mistake, words", [
    ("missing", "lacks the regularisation gradient: add reg * W1"),
    ("twice", "twice the regularisation gradient"),
    ("sum squared", "np.sum(W1)**2"),
    ("bias regularised", "biases are not regularised"),
])
def test_a_wrong_regularisation_gradient_is_named(mistake, words):
    reg = 2.0
    params, data, right = _reg_grads(reg, np.random.default_rng(1))
    wrong = {k: v.copy() for k, v in right.items()}
    if mistake == "missing":
        wrong["W1"] = data["W1"]
    elif mistake == "twice":
        wrong["W1"] = data["W1"] + 2 * reg * params["W1"]
    elif mistake == "sum squared":
        wrong["W1"] = data["W1"] + reg * np.sum(params["W1"])
    else:
        wrong["b1"] = data["b1"] + reg * params["b1"]
    with pytest.raises(AssertionError) as raised:
        checks.check_regularization_gradient(wrong, data, params, reg=reg)
    assert f"Likely cause: grads['{'b1' if 'bias' in mistake else 'W1'}']" in str(raised.value)
    assert words in str(raised.value)
