"""Do the provided layers compute the course's functions and gradients, in both dtypes?

Each layer is checked three ways: against numeric gradients (centered
differences, float64), against a plain loop twin written out below, and
against behaviour the course and the papers state (softmax loss near log C,
batchnorm output statistics, running-average formula).
"""

import math

import numpy as np
import pytest

from cs231n_lib.checks import rel_error
from cs231n_lib.gradient_check import eval_numerical_gradient, eval_numerical_gradient_array
from cs231n_lib.layers import (
    affine_backward,
    affine_forward,
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
    layernorm_backward,
    layernorm_forward,
    relu_backward,
    relu_forward,
    softmax_loss,
    svm_loss,
)

# Affine and ReLU are piecewise linear, so a centered difference is exact up to
# rounding (~1e-11 relative in float64); 1e-8 leaves room and still catches any bug.
LINEAR_GRAD_TOL = 1e-8
# Batchnorm, layernorm and the losses are curved: the h**2 truncation term
# (~1e-10) plus rounding stays well under 1e-7 on well-conditioned inputs.
CURVED_GRAD_TOL = 1e-7
# Vectorised float64 vs the loop twin: the same sums in another order.
TWIN_TOL = 1e-10
# float32 vs float64 results of the same layer: ~7 digits minus accumulation.
FLOAT32_TOL = 1e-4


def report(name, got, want):
    return (
        f"{name}: shapes {np.shape(got)} vs {np.shape(want)}, rel error "
        f"{rel_error(got, want):.2e}\n got  {np.ravel(got)[:6]}\n want {np.ravel(want)[:6]}"
    )


def assert_close(name, got, want, tol):
    err = rel_error(got, want)
    assert err <= tol, report(name, got, want) + f" (threshold {tol:.0e})"


# ---------------------------------------------------------------------------
# Plain loop twins, float64
# ---------------------------------------------------------------------------


def affine_twin(x, w, b):
    N = x.shape[0]
    flat = x.reshape(N, -1)
    D, M = w.shape
    out = np.zeros((N, M))
    for n in range(N):
        for m in range(M):
            out[n, m] = b[m] + sum(flat[n, d] * w[d, m] for d in range(D))
    return out


def affine_backward_twin(dout, x, w):
    N = x.shape[0]
    flat = x.reshape(N, -1)
    D, M = w.shape
    dflat, dw, db = np.zeros_like(flat), np.zeros_like(w), np.zeros(M)
    for n in range(N):
        for m in range(M):
            db[m] += dout[n, m]
            for d in range(D):
                dflat[n, d] += dout[n, m] * w[d, m]
                dw[d, m] += dout[n, m] * flat[n, d]
    return dflat.reshape(x.shape), dw, db


def softmax_loss_twin(x, y):
    N, C = x.shape
    loss, dx = 0.0, np.zeros((N, C))
    for n in range(N):
        top = max(x[n])
        total = sum(math.exp(s - top) for s in x[n])
        for c in range(C):
            p = math.exp(x[n, c] - top) / total
            dx[n, c] = (p - (c == y[n])) / N
        loss -= (x[n, y[n]] - top - math.log(total)) / N
    return loss, dx


def svm_loss_twin(x, y):
    N, C = x.shape
    loss, dx = 0.0, np.zeros((N, C))
    for n in range(N):
        for c in range(C):
            if c == y[n]:
                continue
            margin = x[n, c] - x[n, y[n]] + 1
            if margin > 0:
                loss += margin / N
                dx[n, c] += 1 / N
                dx[n, y[n]] -= 1 / N
    return loss, dx


def batchnorm_twin(x, gamma, beta, eps):
    """Per-feature loops; returns out and each feature's batch mean and biased variance."""
    N, D = x.shape
    out, means, variances = np.zeros((N, D)), np.zeros(D), np.zeros(D)
    for d in range(D):
        col = [float(v) for v in x[:, d]]
        mean = sum(col) / N
        var = sum((v - mean) ** 2 for v in col) / N
        means[d], variances[d] = mean, var
        for n in range(N):
            out[n, d] = gamma[d] * (col[n] - mean) / math.sqrt(var + eps) + beta[d]
    return out, means, variances


def batchnorm_backward_twin(dout, x, gamma, eps):
    """dx from the Jacobian of x_hat written entry by entry (Ioffe & Szegedy, 2015).

    d x_hat[i] / d x[j] = (delta_ij - 1/N - x_hat[i] * x_hat[j] / N) / sqrt(var + eps)
    within one feature; features do not interact.
    """
    N, D = x.shape
    dx = np.zeros((N, D))
    for d in range(D):
        mean = x[:, d].mean()
        std = math.sqrt(((x[:, d] - mean) ** 2).mean() + eps)
        x_hat = (x[:, d] - mean) / std
        for j in range(N):
            for i in range(N):
                jac = ((i == j) - 1 / N - x_hat[i] * x_hat[j] / N) / std
                dx[j, d] += dout[i, d] * gamma[d] * jac
    return dx


def layernorm_twin(x, gamma, beta, eps):
    N, D = x.shape
    out = np.zeros((N, D))
    for n in range(N):
        mean = sum(x[n]) / D
        var = sum((v - mean) ** 2 for v in x[n]) / D
        for d in range(D):
            out[n, d] = gamma[d] * (x[n, d] - mean) / math.sqrt(var + eps) + beta[d]
    return out


# ---------------------------------------------------------------------------
# Affine
# ---------------------------------------------------------------------------

AFFINE_SHAPES = [((2, 3), 4), ((3, 2, 3), 5), ((2, 4, 2, 3), 3), ((1, 1), 1)]


@pytest.mark.parametrize("x_shape, M", AFFINE_SHAPES)
def test_affine_forward_and_backward_equal_loop_twin(x_shape, M):
    rng = np.random.default_rng(0)
    D = math.prod(x_shape[1:])
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal((D, M)), rng.standard_normal(M)
    out, cache = affine_forward(x, w, b)
    assert out.shape == (x_shape[0], M)
    assert_close("out", out, affine_twin(x, w, b), TWIN_TOL)
    dout = rng.standard_normal(out.shape)
    for name, got, want in zip(
        ("dx", "dw", "db"), affine_backward(dout, cache), affine_backward_twin(dout, x, w),
        strict=True,
    ):
        assert got.shape == want.shape, f"{name} shape {got.shape} != {want.shape}"
        assert_close(name, got, want, TWIN_TOL)


def test_affine_backward_matches_numeric_gradient():
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((4, 2, 3)), rng.standard_normal((6, 5)), rng.standard_normal(5)
    dout = rng.standard_normal((4, 5))
    _, cache = affine_forward(x, w, b)
    dx, dw, db = affine_backward(dout, cache)
    assert_close("dx", dx, eval_numerical_gradient_array(
        lambda v: affine_forward(v, w, b)[0], x, dout), LINEAR_GRAD_TOL)
    assert_close("dw", dw, eval_numerical_gradient_array(
        lambda v: affine_forward(x, v, b)[0], w, dout), LINEAR_GRAD_TOL)
    assert_close("db", db, eval_numerical_gradient_array(
        lambda v: affine_forward(x, w, v)[0], b, dout), LINEAR_GRAD_TOL)


def test_affine_keeps_float32_and_agrees_with_float64():
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), rng.standard_normal(2)
    dout = rng.standard_normal((3, 2))
    out64, cache64 = affine_forward(x, w, b)
    out32, cache32 = affine_forward(*(a.astype(np.float32) for a in (x, w, b)))
    assert out32.dtype == np.float32
    assert_close("out float32", out32, out64, FLOAT32_TOL)
    grads32 = affine_backward(dout.astype(np.float32), cache32)
    for name, g32, g64 in zip(("dx", "dw", "db"), grads32, affine_backward(dout, cache64),
                              strict=True):
        assert g32.dtype == np.float32, f"{name} dtype {g32.dtype}"
        assert_close(name, g32, g64, FLOAT32_TOL)


def test_affine_rejects_bad_input():
    x, w, b = np.zeros((2, 3, 4)), np.zeros((7, 5)), np.zeros(5)
    with pytest.raises(ValueError,
                       match=r"w.shape\[0\]=7 must equal D = prod\(x.shape\[1:\]\) = 12"):
        affine_forward(x, w, b)
    with pytest.raises(ValueError, match=r"b must have shape \(M,\) = \(5,\); got \(4,\)"):
        affine_forward(x, np.zeros((12, 5)), np.zeros(4))
    with pytest.raises(ValueError,
                       match=r"x must have shape \(N, d_1, ..., d_k\).*got shape \(3,\)"):
        affine_forward(np.zeros(3), np.zeros((1, 5)), b)
    with pytest.raises(ValueError, match=r"w must be 2-D \(D, M\); got shape \(12,\)"):
        affine_forward(x, np.zeros(12), b)
    with pytest.raises(TypeError, match="x must be a float32 or float64 array; got dtype int64"):
        affine_forward(np.zeros((2, 12), dtype=np.int64), np.zeros((12, 5)), b)
    with pytest.raises(TypeError, match=r"w.dtype=float32, b.dtype=float64: these must share"):
        affine_forward(np.zeros((2, 12)), np.zeros((12, 5), dtype=np.float32), b)
    _, cache = affine_forward(np.zeros((2, 12)), np.zeros((12, 5)), b)
    with pytest.raises(ValueError, match=r"dout must have the forward output's shape \(2, 5\)"):
        affine_backward(np.zeros((5, 2)), cache)


def test_affine_computes_in_the_parameters_dtype():
    """The course's models feed float64 data to float32 parameters: the layer works in float32."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4))
    w32, b32 = rng.standard_normal((4, 2)).astype(np.float32), np.ones(2, np.float32)
    out, cache = affine_forward(x, w32, b32)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, x.astype(np.float32) @ w32 + b32)
    dx, dw, db = affine_backward(np.ones((3, 2)), cache)  # float64 dout, converted too
    assert dx.dtype == dw.dtype == db.dtype == np.float32


# ---------------------------------------------------------------------------
# ReLU
# ---------------------------------------------------------------------------


def away_from_zero(rng, shape, margin=1e-2):
    """Normal samples none of which sits within ``margin`` of the ReLU kink."""
    x = rng.standard_normal(shape)
    x[np.abs(x) < margin] = 0.5
    return x


def test_relu_equals_twin_and_numeric_gradient():
    rng = np.random.default_rng(3)
    x = away_from_zero(rng, (3, 4, 5))
    out, cache = relu_forward(x)
    twin = np.array([max(v, 0.0) for v in x.ravel()]).reshape(x.shape)
    assert_close("out", out, twin, 0.0)
    dout = rng.standard_normal(x.shape)
    dx = relu_backward(dout, cache)
    dx_twin = np.array([g if v > 0 else 0.0 for v, g in zip(x.ravel(), dout.ravel(), strict=True)])
    assert_close("dx twin", dx, dx_twin.reshape(x.shape), 0.0)
    dx_num = eval_numerical_gradient_array(lambda v: relu_forward(v)[0], x, dout)
    assert_close("dx numeric", dx, dx_num, LINEAR_GRAD_TOL)


def test_relu_kink_gets_zero_gradient_and_float32_stays_float32():
    x = np.array([-1.0, 0.0, 2.0], dtype=np.float32)
    out, cache = relu_forward(x)
    dx = relu_backward(np.ones(3, dtype=np.float32), cache)
    assert out.dtype == dx.dtype == np.float32
    np.testing.assert_array_equal(out, [0, 0, 2])
    np.testing.assert_array_equal(dx, [0, 0, 1])


def test_relu_rejects_bad_input():
    with pytest.raises(TypeError, match="x must be a float32 or float64 array; got dtype int"):
        relu_forward(np.arange(3))
    with pytest.raises(TypeError, match="x must be a NumPy array; got list"):
        relu_forward([1.0, -1.0])
    _, cache = relu_forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"dout must have the forward output's shape \(2, 3\)"):
        relu_backward(np.zeros((3, 2)), cache)


# ---------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------

LOSSES = [(softmax_loss, softmax_loss_twin), (svm_loss, svm_loss_twin)]


@pytest.mark.parametrize("loss_fn, twin", LOSSES, ids=["softmax", "svm"])
@pytest.mark.parametrize("N, C", [(1, 1), (1, 4), (7, 3), (20, 10)])
def test_loss_equals_loop_twin(loss_fn, twin, N, C):
    rng = np.random.default_rng(N * 100 + C)
    x, y = 3 * rng.standard_normal((N, C)), rng.integers(0, C, size=N)
    loss, dx = loss_fn(x, y)
    loss_want, dx_want = twin(x, y)
    assert isinstance(loss, float)
    assert abs(loss - loss_want) <= TWIN_TOL * max(1.0, abs(loss_want)), (loss, loss_want)
    assert_close("dx", dx, dx_want, TWIN_TOL)


@pytest.mark.parametrize("loss_fn", [softmax_loss, svm_loss], ids=["softmax", "svm"])
def test_loss_gradient_matches_numeric_gradient(loss_fn):
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((10, 5)), rng.integers(0, 5, size=10)
    _, dx = loss_fn(x, y)
    dx_num = eval_numerical_gradient(lambda v: loss_fn(v, y)[0], x, verbose=False)
    assert_close("dx", dx, dx_num, CURVED_GRAD_TOL)


def test_softmax_loss_of_small_scores_is_log_C():
    # Near-zero scores give a near-uniform softmax, so each example costs -log(1/C).
    rng = np.random.default_rng(5)
    for C in (3, 10, 100):
        x = 1e-3 * rng.standard_normal((50, C))
        loss, _ = softmax_loss(x, rng.integers(0, C, size=50))
        assert abs(loss - math.log(C)) < 1e-2, f"C={C}: loss {loss}, log C {math.log(C)}"


def test_svm_loss_of_equal_scores_is_C_minus_1():
    # Every wrong class sits exactly at margin 1 when all scores are equal.
    x = np.full((4, 6), 0.25)
    loss, _ = svm_loss(x, np.array([0, 5, 2, 2]))
    assert loss == pytest.approx(5.0)


def test_softmax_loss_does_not_overflow_on_large_scores():
    x = np.array([[1000.0, 0.0], [0.0, 1000.0]])
    loss, dx = softmax_loss(x, np.array([1, 1]))
    # Example 0 costs 1000 + log(1 + e**-1000) = 1000, example 1 costs log(1 + e**-1000) = 0.
    assert loss == pytest.approx(500.0)
    assert np.all(np.isfinite(dx))
    np.testing.assert_allclose(dx, [[0.5, -0.5], [0.0, 0.0]], atol=1e-12)


@pytest.mark.parametrize("loss_fn", [softmax_loss, svm_loss], ids=["softmax", "svm"])
def test_loss_float32_stays_float32(loss_fn):
    rng = np.random.default_rng(6)
    x, y = rng.standard_normal((5, 4)), rng.integers(0, 4, size=5)
    loss32, dx32 = loss_fn(x.astype(np.float32), y)
    loss64, dx64 = loss_fn(x, y)
    assert dx32.dtype == np.float32
    assert abs(loss32 - loss64) <= FLOAT32_TOL * abs(loss64)
    assert_close("dx float32", dx32, dx64, FLOAT32_TOL)


@pytest.mark.parametrize("loss_fn", [softmax_loss, svm_loss], ids=["softmax", "svm"])
def test_loss_rejects_bad_labels_and_scores(loss_fn):
    x = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"y must hold labels in \[0, C\) = \[0, 4\); got label 4"):
        loss_fn(x, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match=r"got label -1"):
        loss_fn(x, np.array([0, -1, 1]))
    with pytest.raises(TypeError, match="y must hold integer class labels; got dtype float64"):
        loss_fn(x, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"y must have shape \(N,\) = \(3,\).*got \(2,\)"):
        loss_fn(x, np.array([0, 1]))
    with pytest.raises(ValueError, match=r"x must be 2-D \(N, C\) scores; got shape \(3,\)"):
        loss_fn(np.zeros(3), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"at least one example and one class; got shape \(0, 4\)"):
        loss_fn(np.zeros((0, 4)), np.array([], dtype=int))
    with pytest.raises(TypeError, match="x must be a float32 or float64 array"):
        loss_fn(np.zeros((3, 4), dtype=np.int32), np.array([0, 1, 2]))


# ---------------------------------------------------------------------------
# Batch normalization
# ---------------------------------------------------------------------------


def bn_case(seed, N=8, D=5):
    rng = np.random.default_rng(seed)
    x = 4 * rng.standard_normal((N, D)) + 10
    return rng, x, rng.standard_normal(D), rng.standard_normal(D)


@pytest.mark.parametrize("N, D", [(2, 1), (8, 5), (30, 3)])
def test_batchnorm_train_forward_equals_loop_twin(N, D):
    _, x, gamma, beta = bn_case(7, N, D)
    out, _ = batchnorm_forward(x, gamma, beta, {"mode": "train", "eps": 1e-5})
    want, _, _ = batchnorm_twin(x, gamma, beta, 1e-5)
    assert_close("out", out, want, TWIN_TOL)


def test_batchnorm_train_output_has_mean_beta_and_std_gamma():
    rng, x, _, _ = bn_case(8, N=200, D=3)
    gamma, beta = np.array([1.0, 2.0, 3.0]), np.array([0.0, 11.0, -5.0])
    out, _ = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    np.testing.assert_allclose(out.mean(axis=0), beta, atol=1e-10)
    # eps = 1e-5 against a variance of ~16 shrinks the std by ~3e-7 relative.
    np.testing.assert_allclose(out.std(axis=0), gamma, rtol=1e-6)


def test_batchnorm_running_stats_follow_momentum_formula():
    rng, x1, gamma, beta = bn_case(9)
    x2 = rng.standard_normal(x1.shape) - 3
    bn_param = {"mode": "train", "momentum": 0.7}
    batchnorm_forward(x1, gamma, beta, bn_param)
    _, mean1, var1 = batchnorm_twin(x1, gamma, beta, 1e-5)
    # Starting from zeros, one step leaves (1 - momentum) * batch statistics.
    assert_close("running_mean after 1", bn_param["running_mean"], 0.3 * mean1, TWIN_TOL)
    assert_close("running_var after 1", bn_param["running_var"], 0.3 * var1, TWIN_TOL)
    batchnorm_forward(x2, gamma, beta, bn_param)
    _, mean2, var2 = batchnorm_twin(x2, gamma, beta, 1e-5)
    assert_close("running_mean after 2", bn_param["running_mean"],
                 0.7 * 0.3 * mean1 + 0.3 * mean2, TWIN_TOL)
    assert_close("running_var after 2", bn_param["running_var"],
                 0.7 * 0.3 * var1 + 0.3 * var2, TWIN_TOL)
    assert set(bn_param) == {"mode", "momentum", "running_mean", "running_var"}


def test_batchnorm_default_momentum_is_0_9_and_stats_are_created_as_zeros():
    _, x, gamma, beta = bn_case(10)
    bn_param = {"mode": "test"}
    out, _ = batchnorm_forward(x, gamma, beta, bn_param)
    np.testing.assert_array_equal(bn_param["running_mean"], np.zeros(5))
    np.testing.assert_array_equal(bn_param["running_var"], np.zeros(5))
    # Test mode with zero mean and zero variance: x / sqrt(eps), scaled and shifted.
    assert_close("out", out, gamma * x / math.sqrt(1e-5) + beta, TWIN_TOL)
    bn_param["mode"] = "train"
    batchnorm_forward(x, gamma, beta, bn_param)
    assert_close("running_mean", bn_param["running_mean"], 0.1 * x.mean(axis=0), TWIN_TOL)


def test_batchnorm_test_mode_uses_running_stats_not_batch_stats():
    rng, x, gamma, beta = bn_case(11)
    running_mean, running_var = rng.standard_normal(5), rng.random(5) + 0.5
    bn_param = {"mode": "test", "running_mean": running_mean.copy(),
                "running_var": running_var.copy()}
    out, _ = batchnorm_forward(x, gamma, beta, bn_param)
    want = gamma * (x - running_mean) / np.sqrt(running_var + 1e-5) + beta
    assert_close("out", out, want, TWIN_TOL)
    # Nothing moves in test mode, and each example is normalized on its own.
    np.testing.assert_array_equal(bn_param["running_mean"], running_mean)
    np.testing.assert_array_equal(bn_param["running_var"], running_var)
    alone, _ = batchnorm_forward(x[:1], gamma, beta, bn_param)
    assert_close("one example alone", alone, out[:1], TWIN_TOL)


def test_batchnorm_test_mode_after_training_approaches_population_stats():
    # The course's sanity check: after many training batches, test-mode output
    # of fresh data is close to zero mean and unit std when gamma=1, beta=0.
    rng = np.random.default_rng(12)
    D = 3
    bn_param = {"mode": "train"}
    for _ in range(60):
        batchnorm_forward(5 * rng.standard_normal((100, D)) + 2, np.ones(D), np.zeros(D), bn_param)
    bn_param["mode"] = "test"
    out, _ = batchnorm_forward(5 * rng.standard_normal((500, D)) + 2, np.ones(D), np.zeros(D),
                               bn_param)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=0.15)
    np.testing.assert_allclose(out.std(axis=0), 1, atol=0.15)


@pytest.mark.parametrize("backward", [batchnorm_backward, batchnorm_backward_alt])
def test_batchnorm_backward_matches_numeric_gradient_and_twin(backward):
    rng, x, gamma, beta = bn_case(13, N=6, D=4)
    dout = rng.standard_normal(x.shape)
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    dx, dgamma, dbeta = backward(dout, cache)

    def fwd(x_, g_, b_):
        return batchnorm_forward(x_, g_, b_, {"mode": "train"})[0]

    assert_close("dx", dx, eval_numerical_gradient_array(
        lambda v: fwd(v, gamma, beta), x, dout), CURVED_GRAD_TOL)
    assert_close("dgamma", dgamma, eval_numerical_gradient_array(
        lambda v: fwd(x, v, beta), gamma, dout), CURVED_GRAD_TOL)
    assert_close("dbeta", dbeta, eval_numerical_gradient_array(
        lambda v: fwd(x, gamma, v), beta, dout), CURVED_GRAD_TOL)
    assert_close("dx twin", dx, batchnorm_backward_twin(dout, x, gamma, 1e-5), TWIN_TOL)


def test_batchnorm_backward_and_alt_agree():
    rng, x, gamma, beta = bn_case(14, N=50, D=20)
    dout = rng.standard_normal(x.shape)
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    for name, a, b in zip(("dx", "dgamma", "dbeta"),
                          batchnorm_backward(dout, cache), batchnorm_backward_alt(dout, cache),
                          strict=True):
        assert_close(name, a, b, TWIN_TOL)


@pytest.mark.parametrize("backward", [batchnorm_backward, batchnorm_backward_alt])
def test_batchnorm_test_mode_backward_matches_numeric_gradient(backward):
    rng, x, gamma, beta = bn_case(15, N=4, D=3)
    stats = {"running_mean": rng.standard_normal(3), "running_var": rng.random(3) + 0.5}
    dout = rng.standard_normal(x.shape)
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "test", **stats})
    dx, _, _ = backward(dout, cache)
    dx_num = eval_numerical_gradient_array(
        lambda v: batchnorm_forward(v, gamma, beta, {"mode": "test", **stats})[0], x, dout)
    assert_close("dx", dx, dx_num, LINEAR_GRAD_TOL)


def test_batchnorm_float32_stays_float32_including_running_stats():
    rng, x, gamma, beta = bn_case(16)
    dout = rng.standard_normal(x.shape)
    f32 = [a.astype(np.float32) for a in (x, gamma, beta)]
    bn32, bn64 = {"mode": "train", "momentum": np.float64(0.5)}, {"mode": "train", "momentum": 0.5}
    out32, cache32 = batchnorm_forward(*f32, bn32)
    out64, cache64 = batchnorm_forward(x, gamma, beta, bn64)
    assert out32.dtype == np.float32
    assert bn32["running_mean"].dtype == bn32["running_var"].dtype == np.float32
    assert_close("out", out32, out64, FLOAT32_TOL)
    for backward in (batchnorm_backward, batchnorm_backward_alt):
        for name, g32, g64 in zip(("dx", "dgamma", "dbeta"),
                                  backward(dout.astype(np.float32), cache32),
                                  backward(dout, cache64), strict=True):
            assert g32.dtype == np.float32, f"{backward.__name__} {name}: {g32.dtype}"
            assert_close(name, g32, g64, 1e-3)


def test_batchnorm_rejects_bad_params():
    x, g, b = np.zeros((4, 3)), np.ones(3), np.zeros(3)
    with pytest.raises(ValueError, match=r"bn_param has unknown key\(s\) \['layernorm'\]"):
        batchnorm_forward(x, g, b, {"mode": "train", "layernorm": 1})
    with pytest.raises(ValueError, match=r"bn_param is missing key\(s\) \['mode'\]"):
        batchnorm_forward(x, g, b, {})
    with pytest.raises(ValueError,
                       match=r"bn_param\['mode'\] must be 'train' or 'test'; got 'eval'"):
        batchnorm_forward(x, g, b, {"mode": "eval"})
    with pytest.raises(ValueError, match=r"bn_param\['eps'\] must be in \(0, inf\); got 0"):
        batchnorm_forward(x, g, b, {"mode": "train", "eps": 0})
    with pytest.raises(ValueError, match=r"bn_param\['momentum'\] must be in \[0, 1\]; got 1.5"):
        batchnorm_forward(x, g, b, {"mode": "train", "momentum": 1.5})
    with pytest.raises(TypeError, match=r"bn_param\['momentum'\] must be a real number; got '0.9'"):
        batchnorm_forward(x, g, b, {"mode": "train", "momentum": "0.9"})
    with pytest.raises(TypeError, match="bn_param must be a dict; got NoneType"):
        batchnorm_forward(x, g, b, None)
    with pytest.raises(ValueError,
                       match=r"bn_param\['running_mean'\] must have shape \(D,\) = \(3,\)"):
        batchnorm_forward(x, g, b, {"mode": "test", "running_mean": np.zeros(4)})
    with pytest.raises(TypeError, match=r"bn_param\['running_var'\].dtype=float32 must match"):
        batchnorm_forward(x, g, b, {"mode": "test", "running_var": np.zeros(3, np.float32)})
    with pytest.raises(ValueError, match=r"gamma must have shape \(D,\) = \(3,\); got \(4,\)"):
        batchnorm_forward(x, np.ones(4), b, {"mode": "train"})
    with pytest.raises(TypeError, match=r"gamma.dtype=float32, beta.dtype=float64"):
        batchnorm_forward(x, g.astype(np.float32), b, {"mode": "train"})
    with pytest.raises(ValueError, match=r"x must be 2-D \(N, D\); got shape \(4, 3, 1\)"):
        batchnorm_forward(x[..., None], g, b, {"mode": "train"})
    with pytest.raises(ValueError, match=r"at least one example in 'train' mode; got N=0"):
        batchnorm_forward(np.zeros((0, 3)), g, b, {"mode": "train"})
    _, cache = batchnorm_forward(x, g, b, {"mode": "train"})
    for backward in (batchnorm_backward, batchnorm_backward_alt):
        with pytest.raises(ValueError, match=r"dout must have the forward output's shape \(4, 3\)"):
            backward(np.zeros((3, 4)), cache)


# ---------------------------------------------------------------------------
# Layer normalization
# ---------------------------------------------------------------------------


def test_layernorm_forward_equals_twin_and_normalizes_each_example():
    rng = np.random.default_rng(17)
    x = 3 * rng.standard_normal((4, 6)) + 5
    gamma, beta = rng.standard_normal(6), rng.standard_normal(6)
    out, _ = layernorm_forward(x, gamma, beta, {"eps": 1e-5})
    assert_close("out", out, layernorm_twin(x, gamma, beta, 1e-5), TWIN_TOL)
    plain, _ = layernorm_forward(x, np.ones(6), np.zeros(6), {})
    np.testing.assert_allclose(plain.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(plain.std(axis=1), 1, rtol=1e-5)


def test_layernorm_backward_matches_numeric_gradient():
    rng = np.random.default_rng(18)
    x = 2 * rng.standard_normal((4, 5)) - 1
    gamma, beta = rng.standard_normal(5), rng.standard_normal(5)
    dout = rng.standard_normal(x.shape)
    _, cache = layernorm_forward(x, gamma, beta, {})
    dx, dgamma, dbeta = layernorm_backward(dout, cache)
    assert_close("dx", dx, eval_numerical_gradient_array(
        lambda v: layernorm_forward(v, gamma, beta, {})[0], x, dout), CURVED_GRAD_TOL)
    assert_close("dgamma", dgamma, eval_numerical_gradient_array(
        lambda v: layernorm_forward(x, v, beta, {})[0], gamma, dout), CURVED_GRAD_TOL)
    assert_close("dbeta", dbeta, eval_numerical_gradient_array(
        lambda v: layernorm_forward(x, gamma, v, {})[0], beta, dout), CURVED_GRAD_TOL)


def test_layernorm_float32_and_bad_params():
    x = np.random.default_rng(19).standard_normal((3, 4)).astype(np.float32)
    g, b = np.ones(4, np.float32), np.zeros(4, np.float32)
    out, cache = layernorm_forward(x, g, b, {})
    assert out.dtype == np.float32
    assert all(a.dtype == np.float32 for a in layernorm_backward(np.ones_like(x), cache))
    with pytest.raises(ValueError, match=r"ln_param has unknown key\(s\) \['mode'\]"):
        layernorm_forward(x, g, b, {"mode": "train"})
    with pytest.raises(ValueError, match=r"ln_param\['eps'\] must be in \(0, inf\); got -1"):
        layernorm_forward(x, g, b, {"eps": -1})
    with pytest.raises(ValueError, match=r"beta must have shape \(D,\) = \(4,\); got \(3,\)"):
        layernorm_forward(x, g, b[:3], {})


# ---------------------------------------------------------------------------
# gamma and beta as the original course passed them
# ---------------------------------------------------------------------------

PROMOTED = [
    ("int array gamma", np.asarray([3, 4, 5]), np.zeros(3)),
    ("int array beta", np.array([3.0, 4.0, 5.0]), np.asarray([1, 0, -2])),
    ("np.float64 scalar gamma", np.float64(2.5), np.zeros(3)),
    ("np.float32 scalar gamma", np.float32(2.5), np.zeros(3)),
    ("np.int64 scalar beta", np.ones(3), np.int64(-1)),
    ("Python numbers", 2, 0.5),
    ("0-d array gamma", np.array(1.5), np.zeros(3)),
]


def _as_float_params(gamma, beta, D=3):
    """The float64 arrays the promoted gamma and beta stand for."""
    return (np.broadcast_to(np.asarray(gamma, dtype=np.float64), (D,)).copy(),
            np.broadcast_to(np.asarray(beta, dtype=np.float64), (D,)).copy())


@pytest.mark.parametrize("label, gamma, beta", PROMOTED, ids=[p[0] for p in PROMOTED])
def test_batchnorm_promotes_integer_and_scalar_params_to_float64(label, gamma, beta):
    rng = np.random.default_rng(20)
    x, dout = 3 * rng.standard_normal((6, 3)) + 1, rng.standard_normal((6, 3))
    g64, b64 = _as_float_params(gamma, beta)
    for mode in ("train", "test"):
        stats = {"running_mean": np.array([0.5, -1.0, 2.0]), "running_var": np.ones(3)}
        got_param, want_param = {"mode": mode, **stats}, {"mode": mode, **dict(stats)}
        out, cache = batchnorm_forward(x, gamma, beta, got_param)
        want, want_cache = batchnorm_forward(x, g64, b64, want_param)
        assert out.dtype == np.float64, label
        # The same arithmetic on the same float64 values: equal to the last bit.
        np.testing.assert_array_equal(out, want)
        np.testing.assert_array_equal(got_param["running_var"], want_param["running_var"])
        for backward in (batchnorm_backward, batchnorm_backward_alt):
            for name, g, w in zip(("dx", "dgamma", "dbeta"), backward(dout, cache),
                                  backward(dout, want_cache), strict=True):
                assert g.shape == w.shape, f"{label} {backward.__name__} {name}"
                np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("label, gamma, beta", PROMOTED, ids=[p[0] for p in PROMOTED])
def test_layernorm_promotes_integer_and_scalar_params_to_float64(label, gamma, beta):
    rng = np.random.default_rng(21)
    x, dout = 2 * rng.standard_normal((4, 3)) - 1, rng.standard_normal((4, 3))
    out, cache = layernorm_forward(x, gamma, beta, {})
    want, want_cache = layernorm_forward(x, *_as_float_params(gamma, beta), {})
    assert out.dtype == np.float64, label
    np.testing.assert_array_equal(out, want)
    for g, w in zip(layernorm_backward(dout, cache), layernorm_backward(dout, want_cache),
                    strict=True):
        np.testing.assert_array_equal(g, w)


def test_course_notebook_call_with_an_integer_gamma():
    """The original course's batchnorm notebook passes gamma and beta as integer arrays."""
    x = np.random.default_rng(22).standard_normal((200, 3)) * 4 + 7
    out, _ = batchnorm_forward(x, np.asarray([3, 4, 5]), np.asarray([1, 2, 3]), {"mode": "train"})
    np.testing.assert_allclose(out.mean(axis=0), [1, 2, 3], atol=1e-12)
    np.testing.assert_allclose(out.std(axis=0), [3, 4, 5], rtol=1e-6)


def test_promotion_rule_for_float32_x():
    """float32 parameters keep a float32 layer; a promoted parameter makes it float64."""
    x = np.random.default_rng(23).standard_normal((5, 3)).astype(np.float32)
    out, _ = batchnorm_forward(x, np.ones(3, np.float32), np.zeros(3, np.float32),
                               {"mode": "train"})
    assert out.dtype == np.float32
    out, _ = layernorm_forward(x, np.asarray([1, 2, 3]), 0.0, {})
    assert out.dtype == np.float64
    with pytest.raises(TypeError, match=r"beta was promoted to float64 .* but "
                                        r"gamma.dtype=float32: they must share one dtype"):
        batchnorm_forward(x, np.ones(3, np.float32), 0, {"mode": "train"})


@pytest.mark.parametrize("gamma, received", [
    ("3", "got str '3'"),
    (np.array(["a", "b", "c"]), "got an array of dtype <U1"),
    (np.array([1, 2, 3], dtype=object), "got an array of dtype object"),
    (np.array([True, False, True]), "got an array of dtype bool"),
    (np.array([1 + 2j, 1, 1]), "got an array of dtype complex128"),
    (True, "got bool True"),
    ([1.0, 2.0, 3.0], "got list"),
])
def test_norm_layers_refuse_non_real_gamma(gamma, received):
    x = np.zeros((4, 3))
    expectation = (r"gamma must be an array of real numbers \(float32, float64 or integer\) "
                   r"or a real number; ")
    with pytest.raises(TypeError, match=expectation + received):
        batchnorm_forward(x, gamma, np.zeros(3), {"mode": "train"})
    with pytest.raises(TypeError, match=expectation + received):
        layernorm_forward(x, gamma, np.zeros(3), {})
