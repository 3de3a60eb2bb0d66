"""Are the checks' diagnoses right or silent, and does the grader's likely_cause agree?

Each wrong implementation here changes one thing of a right one built from the
library's own layers, so these tests need no model solution (the wrong versions
of the students' loops, built from the source notebooks' solutions, are in
tests/assignments/test_course_diagnoses.py). A diagnosis is either the one
sentence of the mistake made, or none; never another mistake's.
"""

import re

import numpy as np
import pytest

from cs231n_lib import checks
from cs231n_lib.fast_layers import (
    max_pool_backward_fast,
    max_pool_forward_fast,
)
from cs231n_lib.layers import softmax_loss

RNG = np.random.default_rng(31)


def failure(check, *args, **kwargs) -> str:
    """The AssertionError message of a check that must fail."""
    with pytest.raises(AssertionError) as raised:
        check(*args, **kwargs)
    return str(raised.value)


def cause_of(message: str) -> str | None:
    found = re.search(r"\nLikely cause: (.*)$", message, flags=re.S)
    return found.group(1) if found else None


# ----------------------------------------------------------- the dtype rule


def test_a_float32_conv_output_fails_the_visible_check_with_compute_in_float64():
    from cs231n_lib.fast_layers import conv_forward_fast

    def float32_conv(x, w, b, conv_param):
        out, cache = conv_forward_fast(x, w, b, conv_param)
        return out.astype(np.float32), cache

    x, w, b = RNG.standard_normal((2, 3, 5, 5)), RNG.standard_normal((2, 3, 3, 3)), np.zeros(2)
    message = failure(checks.check_conv_forward, float32_conv, x, w, b, {"stride": 1, "pad": 1})
    assert "has dtype float32; expected float64: compute in float64" in message
    # The values alone would pass: only the dtype fails it, as in the grader.
    out32, _ = float32_conv(x, w, b, {"stride": 1, "pad": 1})
    assert checks.rel_error(out32, conv_forward_fast(x, w, b, {"stride": 1, "pad": 1})[0]) < 1e-6


# ------------------------------------------------------------- convolution

X7 = RNG.standard_normal((2, 3, 7, 7))
W3 = RNG.standard_normal((3, 3, 3, 3))
B3 = RNG.standard_normal(3)
STRIDE2 = {"stride": 2, "pad": 1}


def _cropped_conv(rows, cols, param=None):
    """A conv whose loops stop early: the right windows, too few of them."""
    from cs231n_lib.fast_layers import conv_forward_fast

    def forward(x, w, b, conv_param):
        out, cache = conv_forward_fast(x, w, b, param or conv_param)
        return out[:, :, :rows, :cols], cache
    return forward


def test_a_missing_plus_one_at_stride_2_is_not_called_ignored_padding():
    # 7x7, 3x3, stride 2, pad 1: the right output is 4x4; without the 1 + it is 3x3,
    # which is also the size of an unpadded convolution. The values decide.
    message = failure(checks.check_conv_forward, _cropped_conv(3, 3), X7, W3, B3, STRIDE2)
    assert "has shape (2, 3, 3, 3); expected (2, 3, 4, 4)" in message
    assert cause_of(message).startswith("the output is a row or a column short")
    assert "padding" not in cause_of(message)


def test_ignored_padding_of_the_same_size_is_still_named_by_its_values():
    unpadded = _cropped_conv(3, 3, {"stride": 2, "pad": 0})
    message = failure(checks.check_conv_forward, unpadded, X7, W3, B3, STRIDE2)
    assert cause_of(message).startswith("the padding is ignored")


def test_a_size_two_mistakes_share_gets_no_guess_when_the_values_match_neither():
    def neither(x, w, b, conv_param):
        return np.ones((2, 3, 3, 3)), None

    assert cause_of(failure(checks.check_conv_forward, neither, X7, W3, B3, STRIDE2)) is None


# ----------------------------------------------------------------- pooling

X7P = RNG.standard_normal((2, 3, 7, 5))
TILE = {"pool_height": 2, "pool_width": 2, "stride": 2}


def test_round_instead_of_floor_in_the_pooled_size_is_named():
    def ceil_pool(x, p):
        # Windows past the edge kept (clipped), as loops with a ceil'd size compute them.
        padded = np.pad(x, ((0, 0), (0, 0), (0, 1), (0, 1)), constant_values=-np.inf)
        return max_pool_forward_fast(padded, p)

    # 7x5 under 2x2 stride 2: floor gives 3x2, round/ceil 4x3.
    message = failure(checks.check_max_pool_forward, ceil_pool, X7P, TILE)
    assert "has shape (2, 3, 4, 3); expected (2, 3, 3, 2)" in message
    assert "rounds down (floor)" in cause_of(message)


def _assigning_whole_window(dout, cache):
    """Writes each window's routed gradient over the whole window, zeros included."""
    x, p = cache
    ph, pw, s = p["pool_height"], p["pool_width"], p["stride"]
    _, fast_cache = max_pool_forward_fast(x, p)
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            kept = np.zeros_like(dout)
            kept[:, :, i, j] = dout[:, :, i, j]
            g = max_pool_backward_fast(kept, fast_cache)
            rows, cols = slice(i * s, i * s + ph), slice(j * s, j * s + pw)
            dx[:, :, rows, cols] = g[:, :, rows, cols]
    return dx


def test_assigning_over_the_whole_window_in_a_3x2_window_is_named():
    # 3 rows by 2 columns, stride 2: rows overlap, so smooth data makes shared maxima.
    x = np.cumsum(RNG.standard_normal((2, 2, 9, 6)), axis=2)
    param = {"pool_height": 3, "pool_width": 2, "stride": 2}
    dout = RNG.standard_normal((2, 2, 4, 3))
    message = failure(checks.check_max_pool_backward, lambda x, p: (None, (x, p)),
                      _assigning_whole_window, x, param, dout)
    assert "erases what earlier windows sent there" in cause_of(message)


# ---------------------------------------------------------- normalisation


def _norm(x, labels, gamma, beta, ddof=0, eps=1e-5, eps_outside=False):
    """Normalise x within each block of labels, then scale and shift per channel."""
    z = np.empty_like(x)
    for block in np.unique(labels):
        sel = labels == block
        v = x[sel]
        std = np.sqrt(v.var(ddof=ddof)) + eps if eps_outside else np.sqrt(v.var(ddof=ddof) + eps)
        z[sel] = (v - v.mean()) / std
    C = x.shape[1]
    return gamma.reshape(1, C, 1, 1) * z + beta.reshape(1, C, 1, 1)


XG = 2.0 * RNG.standard_normal((3, 6, 3, 4)) - 1.0
GG = RNG.standard_normal((1, 6, 1, 1))
BG = RNG.standard_normal((1, 6, 1, 1))
G = 2


def _groups(kind):
    return checks.norm.partition(kind, XG.shape, G)


GN_RIGHT = _norm(XG, _groups("group"), GG, BG)


def _over(labels, **kw):
    return lambda x, g, b, G, p: (_norm(x, labels, g, b, **kw), None)


@pytest.mark.parametrize("labels, expected_cause", [
    # Within a group, each pixel normalised over the group's channels: a finer split
    # that also has mean 0 and variance 1 over the group, but is no group norm.
    ((np.arange(3)[:, None, None, None] * 100 + (np.arange(6) // 3)[None, :, None, None] * 20
      + np.arange(12).reshape(1, 1, 3, 4)), None),
    # Blocks of G values that run across the groups.
    (np.arange(XG.size).reshape(XG.shape) // G, None),
    (checks.norm.partition("instance", XG.shape), "instance norm"),
    (checks.norm.partition("layer", XG.shape), "the G groups are ignored"),
    (checks.norm.partition("channel", XG.shape), "batch norm's"),
    (checks.norm.partition("group_over_batch", XG.shape, G), "over the whole batch"),
    (checks.norm.partition("interleaved", XG.shape, G), "every G-th channel"),
])
def test_group_norm_over_the_wrong_values_is_named_or_not_at_all(labels, expected_cause):
    message = failure(checks.check_spatial_groupnorm_forward, _over(labels), XG, GG, BG, G,
                      GN_RIGHT)
    assert "relative error" in message
    cause = cause_of(message)
    # The old diagnosis said "right axes, values off a little" at relative error 1.0.
    assert cause is None or "right values" not in cause, cause
    if expected_cause is None:
        assert cause is None, cause
    else:
        assert expected_cause in cause, cause


@pytest.mark.parametrize("kw, expected_cause", [
    ({"ddof": 1}, "unbiased"),
    ({"eps_outside": True}, "eps inside the square root"),
    ({"eps": 1e-3}, "eps inside the square root"),
])
def test_group_norm_over_the_right_values_with_the_scale_off_a_little(kw, expected_cause):
    message = failure(checks.check_spatial_groupnorm_forward, _over(_groups("group"), **kw),
                      XG, GG, BG, G, GN_RIGHT)
    assert expected_cause in cause_of(message)


XB = 3.0 * RNG.standard_normal((4, 3, 2, 3)) + 2.0
GB, BB = np.array([1.5, 0.5, 2.0]), np.array([0.0, 1.0, -1.0])
BN_LABELS = checks.norm.partition("channel", XB.shape)


def _bn_with(running):
    def forward(x, gamma, beta, bn_param):
        bn_param["running_mean"], bn_param["running_var"] = running(x)
        return _norm(x, BN_LABELS, gamma, beta), None
    return forward


@pytest.mark.parametrize("running, message", [
    (lambda x: (0.1 * x.mean(axis=(0, 2, 3)), 0.1 * x.var(axis=(0, 2, 3))), None),
    (lambda x: (0.9 * x.mean(axis=(0, 2, 3)), 0.1 * x.var(axis=(0, 2, 3))),
     "weighs the batch by momentum"),
    (lambda x: (0.1 * x.mean(axis=(0, 2, 3)), 0.1 * x.var(axis=(0, 2, 3), ddof=1)),
     "averages the unbiased variance"),
    (lambda x: (np.zeros(3), np.zeros(3)), "was not updated"),
])
def test_running_averages_are_compared_as_the_grader_compares_them(running, message):
    expected = _norm(XB, BN_LABELS, GB, BB)
    if message is None:
        checks.check_spatial_batchnorm_forward(_bn_with(running), XB, GB, BB, expected)
        return
    assert message in failure(checks.check_spatial_batchnorm_forward, _bn_with(running), XB,
                              GB, BB, expected)


# ------------------------------------------------------------ the convnet


class SumSquaredNet:
    """A model whose loss regularises W3 by np.sum(W3)**2, with the right gradients."""

    def __init__(self, reg=0.5, seed=4):
        rng = np.random.default_rng(seed)
        self.reg = reg
        self.params = {"W1": 0.3 * rng.standard_normal((2, 3, 3, 3)), "b1": np.zeros(2),
                       "W2": 0.3 * rng.standard_normal((2 * 2 * 2, 4)), "b2": np.zeros(4),
                       "W3": 0.3 * rng.standard_normal((4, 3)), "b3": np.zeros(3)}

    def loss(self, X, y=None):
        from cs231n_lib.layer_utils import (
            affine_relu_backward,
            affine_relu_forward,
            conv_relu_pool_backward,
            conv_relu_pool_forward,
        )
        from cs231n_lib.layers import affine_backward, affine_forward

        p = self.params
        a, c1 = conv_relu_pool_forward(X, p["W1"], p["b1"], {"stride": 1, "pad": 1},
                                       {"pool_height": 2, "pool_width": 2, "stride": 2})
        h, c2 = affine_relu_forward(a, p["W2"], p["b2"])
        scores, c3 = affine_forward(h, p["W3"], p["b3"])
        if y is None:
            return scores
        loss, ds = softmax_loss(scores, y)
        loss += 0.5 * self.reg * (np.sum(p["W1"] ** 2) + np.sum(p["W2"] ** 2)
                                  + np.sum(p["W3"]) ** 2)
        grads = {}
        dh, grads["W3"], grads["b3"] = affine_backward(ds, c3)
        da, grads["W2"], grads["b2"] = affine_relu_backward(dh, c2)
        _, grads["W1"], grads["b1"] = conv_relu_pool_backward(da, c1)
        for k in ("W1", "W2", "W3"):
            grads[k] += self.reg * p[k]
        return loss, grads


XN = RNG.standard_normal((2, 3, 4, 4))
YN = np.array([0, 2])


def test_sum_squared_regularisation_is_named_not_a_constant_factor():
    message = failure(checks.check_regularized_loss, SumSquaredNet(), XN, YN)
    cause = cause_of(message)
    assert "np.sum(W3)**2" in cause and "constant factor" not in cause


def test_the_gradient_check_blames_the_loss_not_grads_w3():
    message = failure(checks.check_model_gradients, SumSquaredNet(), XN, YN)
    assert message.startswith("loss with reg=0.5 (checked before its gradients)")
    assert "grads['W3']" not in message and "np.sum(W3)**2" in cause_of(message)


def test_a_scalar_gets_no_constant_factor_hint():
    message = failure(checks.check_close, "loss", np.asarray(2.7), np.asarray(2.3))
    assert cause_of(message) is None


# --------------------------------------------- the grader's likely_cause API

NO_VALUES = re.compile(r"\d\.\d")  # a sentence never quotes a number from the inputs


def _conv_case():
    x, w, b = RNG.standard_normal((2, 2, 7, 5)), RNG.standard_normal((3, 2, 3, 3)), \
        RNG.standard_normal(3)
    return x, w, b, {"stride": 2, "pad": 1}


def test_likely_cause_gives_the_visible_checks_sentence_without_values():
    from cs231n_lib.fast_layers import conv_forward_fast

    x, w, b, cp = _conv_case()
    want = conv_forward_fast(x, w, b, cp)[0]
    flipped = conv_forward_fast(x, np.ascontiguousarray(w[:, :, ::-1, ::-1]), b, cp)[0]
    cause = checks.likely_cause("conv_forward", [flipped], [want], (x, w, b, cp))
    visible = cause_of(failure(checks.check_conv_forward,
                               lambda *a: (flipped, None), x, w, b, cp))
    assert cause == visible and "kernel flipped" in cause
    assert not NO_VALUES.search(cause)
    # By name as well as by position; right outputs and junk give no cause.
    named = {"x": x, "w": w, "b": b, "conv_param": cp}
    assert checks.likely_cause("conv_forward", [flipped], [want], named) == cause
    assert checks.likely_cause("conv_forward", [want], [want], named) is None
    assert checks.likely_cause("conv_forward", ["junk"], [want], named) is None
    assert checks.likely_cause("conv_forward", [np.ones(3)], [want], named) is None


def test_likely_cause_words_a_constant_factor_without_the_factor():
    from cs231n_lib.fast_layers import conv_forward_fast

    x, w, b, cp = _conv_case()
    want = conv_forward_fast(x, w, b, cp)[0]
    cause = checks.likely_cause("conv_forward", [0.37 * want], [want], (x, w, b, cp))
    assert "the same multiple" in cause and "0.37" not in cause


def test_likely_cause_for_the_loss_and_the_gradients():
    net = SumSquaredNet()
    kwargs = {"reg": net.reg}
    wrong_loss, grads = net.loss(XN, YN)
    right_net = SumSquaredNet()
    right_loss = float(softmax_loss(right_net.loss(XN), YN)[0]) + 0.5 * net.reg * sum(
        float(np.sum(net.params[k] ** 2)) for k in ("W1", "W2", "W3"))
    order = ("W1", "b1", "W2", "b2", "W3", "b3")
    want = [right_loss] + [grads[k] for k in order]
    inputs = (kwargs, *(net.params[k] for k in order), XN, YN)
    got = [float(wrong_loss)] + [grads[k] for k in order]
    assert "np.sum(W3)**2" in checks.likely_cause("convnet_loss", got, want, inputs)
    no_reg_grad = [right_loss] + [grads[k] - (net.reg * net.params[k] if k == "W2" else 0)
                                  for k in order]
    assert "grads['W2'] lacks the regularisation gradient" in checks.likely_cause(
        "convnet_loss", no_reg_grad, want, inputs, tol=1e-6)


def test_likely_cause_refuses_unknown_topics_and_wrong_inputs():
    with pytest.raises(ValueError, match="topic must be one of"):
        checks.likely_cause("conv", [], [], ())
    with pytest.raises(ValueError, match=r"inputs of 'max_pool_forward' are \('x', "
                                         r"'pool_param'\); got 1 value"):
        checks.likely_cause("max_pool_forward", [], [], (X7P,))


@pytest.mark.parametrize("topic, inputs, kinds", [
    ("max_pool_forward", (np.zeros((1, 1, 7, 6)), TILE), {"non-tiling input", "non-square image",
                                                          "ties in a window",
                                                          "a batch of one image"}),
    ("max_pool_backward", (RNG.standard_normal((2, 2, 7, 6)),
                           {"pool_height": 3, "pool_width": 2, "stride": 2}, None),
     {"rectangular window", "overlapping windows"}),
    ("conv_forward", (np.zeros((2, 3, 6, 4)), np.zeros((2, 3, 3, 5)), np.zeros(2),
                      {"stride": 1, "pad": 2}), {"non-square image", "rectangular filter"}),
    ("convnet_loss", ({"input_dim": [3, 8, 6], "reg": 0.1}, *[None] * 6, np.zeros((1, 3, 8, 6)),
                      None), {"non-square image", "regularised", "a batch of one image"}),
    ("spatial_groupnorm", (np.zeros((2, 4, 3, 3)), None, None, 1), {"one group (G = 1)"}),
])
def test_case_kinds_name_what_is_special(topic, inputs, kinds):
    got = checks.case_kinds(topic, inputs)
    assert kinds <= set(got), got
    assert checks.case_kind(topic, inputs) == ", ".join(got)


def test_case_kinds_tell_a_tiling_untied_input_from_the_rest():
    x = RNG.standard_normal((2, 3, 6, 6))
    assert checks.case_kinds("max_pool_forward", (x, TILE)) == ()
