"""Do the fast conv and pool layers equal their plain loop twins, on both backends?

Thresholds: float64 fast vs loop twin <= 1e-10 relative error (the issue's
bar; the two differ only in summation order). Numeric gradients with
h = 1e-5 (centered differences) agree to <= 1e-7 on well-conditioned random inputs. float32
results must match the float64 ones to <= 1e-4 (about 7 significant digits
lost to rounding over sums of up to a few hundred terms).
"""

import numpy as np
import pytest

from cs231n_lib.fast_layers import (
    avg_pool_backward_fast,
    avg_pool_forward_fast,
    conv_backward_fast,
    conv_forward_fast,
    max_pool_backward_fast,
    max_pool_forward_fast,
)

import twins
from numerics import numeric_grad, rel_err

TWIN_TOL = 1e-10
GRAD_TOL = 1e-7
FLOAT32_TOL = 1e-4


def random_conv_case(seed):
    """A random conv problem whose stride tiles the padded input exactly."""
    rng = np.random.default_rng(seed)
    N, C, F = rng.integers(1, 4), rng.integers(1, 5), rng.integers(1, 5)
    HH, WW = rng.integers(1, 6, size=2)
    stride, pad = int(rng.integers(1, 4)), int(rng.integers(0, 4))
    # H = HH - 2*pad + stride*k for some k >= 0, and at least 1.
    k_min_h = max(0, -(-(1 - HH + 2 * pad) // stride))
    k_min_w = max(0, -(-(1 - WW + 2 * pad) // stride))
    H = HH - 2 * pad + stride * int(rng.integers(k_min_h, k_min_h + 4))
    W = WW - 2 * pad + stride * int(rng.integers(k_min_w, k_min_w + 4))
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((F, C, HH, WW))
    b = rng.standard_normal(F)
    return x, w, b, {"stride": stride, "pad": pad}


def random_pool_case(seed):
    rng = np.random.default_rng(1000 + seed)
    N, C = rng.integers(1, 4), rng.integers(1, 4)
    ph, pw = (int(v) for v in rng.integers(1, 5, size=2))
    stride = int(rng.integers(1, 4))
    H = ph + int(rng.integers(0, 7))
    W = pw + int(rng.integers(0, 7))
    x = rng.standard_normal((N, C, H, W))
    return x, {"pool_height": ph, "pool_width": pw, "stride": stride}


def describe(x, param):
    return f"x.shape={x.shape} param={param}"


# --- convolution -------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(30))
def test_conv_forward_and_backward_equal_loop_twin(seed, backend):
    x, w, b, cp = random_conv_case(seed)
    out, cache = conv_forward_fast(x, w, b, cp)
    want = twins.conv_forward_loops(x, w, b, cp["stride"], cp["pad"])
    err = rel_err(out, want)
    assert err <= TWIN_TOL, f"forward {describe(x, cp)} w.shape={w.shape}: rel error {err:.2e}"

    dout = np.random.default_rng(seed).standard_normal(out.shape)
    got = conv_backward_fast(dout, cache)
    wanted = twins.conv_backward_loops(dout, x, w, cp["stride"], cp["pad"])
    for name, g, e in zip(("dx", "dw", "db"), got, wanted, strict=True):
        err = rel_err(g, e)
        assert err <= TWIN_TOL, f"{name} {describe(x, cp)} w.shape={w.shape}: rel error {err:.2e}"


def test_conv_covers_the_issue_ranges():
    """The random cases above really include stride 1-3, pad 0-3, N=1 and non-square shapes."""
    cases = [random_conv_case(s) for s in range(30)]
    assert {c[3]["stride"] for c in cases} == {1, 2, 3}
    assert {c[3]["pad"] for c in cases} == {0, 1, 2, 3}
    assert any(c[0].shape[0] == 1 for c in cases)
    assert any(c[1].shape[2] != c[1].shape[3] for c in cases)
    assert any(c[0].shape[2] != c[0].shape[3] for c in cases)


@pytest.mark.parametrize(
    "cp", [{"stride": 1, "pad": 1}, {"stride": 2, "pad": 1}, {"stride": 3, "pad": 1}]
)
def test_conv_gradients_match_numeric(cp, backend):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, 7, 7))
    w = rng.standard_normal((3, 3, 3, 3))
    b = rng.standard_normal(3)
    out, cache = conv_forward_fast(x, w, b, cp)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = conv_backward_fast(dout, cache)
    assert (
        rel_err(dx, numeric_grad(lambda v: conv_forward_fast(v, w, b, cp)[0], x, dout)) <= GRAD_TOL
    )
    assert (
        rel_err(dw, numeric_grad(lambda v: conv_forward_fast(x, v, b, cp)[0], w, dout)) <= GRAD_TOL
    )
    assert (
        rel_err(db, numeric_grad(lambda v: conv_forward_fast(x, w, v, cp)[0], b, dout)) <= GRAD_TOL
    )


def test_conv_is_cross_correlation_on_a_hand_example():
    """Published behaviour: no kernel flip, zero padding, output size 1 + (H + 2p - HH) / s."""
    x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    w = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    out, _ = conv_forward_fast(x, w, np.array([0.5]), {"stride": 2, "pad": 0})
    # top-left window [[0, 1], [4, 5]] -> 0*1 + 1*2 + 4*3 + 5*4 + 0.5
    assert out.shape == (1, 1, 2, 2)
    assert out[0, 0, 0, 0] == 34.5
    padded, _ = conv_forward_fast(x, np.ones((1, 1, 3, 3)), np.zeros(1), {"stride": 1, "pad": 1})
    assert padded.shape == (1, 1, 4, 4)
    assert padded[0, 0, 0, 0] == 0 + 1 + 4 + 5  # the corner sees only 4 real pixels


def test_conv_float32_stays_float32(backend):
    x, w, b, cp = random_conv_case(3)
    out64, cache64 = conv_forward_fast(x, w, b, cp)
    out32, cache32 = conv_forward_fast(
        x.astype(np.float32), w.astype(np.float32), b.astype(np.float32), cp
    )
    assert out32.dtype == np.float32
    assert rel_err(out32, out64) <= FLOAT32_TOL
    dout = np.ones_like(out64)
    grads32 = conv_backward_fast(dout.astype(np.float32), cache32)
    grads64 = conv_backward_fast(dout, cache64)
    for g32, g64 in zip(grads32, grads64, strict=True):
        assert g32.dtype == np.float32
        assert rel_err(g32, g64) <= FLOAT32_TOL


def test_both_backends_give_identical_dx():
    from cs231n_lib import fast_layers

    x, w, b, cp = random_conv_case(11)
    out, cache = conv_forward_fast(x, w, b, cp)
    dout = np.random.default_rng(0).standard_normal(out.shape)
    previous = fast_layers.BACKEND
    try:
        fast_layers.set_backend("numpy")
        dx_numpy = conv_backward_fast(dout, cache)[0]
        try:
            fast_layers.set_backend("cython")
        except ImportError:
            pytest.skip("the compiled col2im is not built")
        dx_cython = conv_backward_fast(dout, cache)[0]
    finally:
        fast_layers.set_backend(previous)
    assert rel_err(dx_numpy, dx_cython) <= TWIN_TOL


# Cases where whole windows, rows or columns of cols lie in the padding.
PADDING_HEAVY = [
    ((1, 1, 2, 3), 1, 1, 4, 3),  # pad larger than the input: most windows see only zeros
    ((2, 2, 5, 4), 3, 2, 2, 2),
    ((1, 3, 1, 1), 3, 3, 1, 1),  # a single pixel in the middle of a 3x3 window
]


def _im2col_cases():
    for seed in range(12):
        x, w, _, cp = random_conv_case(seed)
        yield x, w.shape[2], w.shape[3], cp["pad"], cp["stride"]
    rng = np.random.default_rng(7)
    for shape, HH, WW, pad, stride in PADDING_HEAVY:
        yield rng.standard_normal(shape), HH, WW, pad, stride


def _im2col_laid_out(x, HH, WW, pad, stride, batch_major):
    """im2col as a new array (batch-major), or written, as the batch GEMM plan does, into
    a transposed view of an array laid out (C, HH, WW, N, Ho, Wo)."""
    from cs231n_lib import fast_layers

    if batch_major:
        return fast_layers._im2col(x, HH, WW, pad, stride)
    N, C, H, W = x.shape
    Ho, Wo = 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride
    rows = np.empty((C, HH, WW, N, Ho, Wo), dtype=x.dtype)
    return fast_layers._im2col(x, HH, WW, pad, stride, out=rows.transpose(3, 0, 1, 2, 4, 5))


@pytest.mark.parametrize("batch_major", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_im2col_equals_its_definition(backend, dtype, batch_major):
    for x, HH, WW, pad, stride in _im2col_cases():
        x = x.astype(dtype)
        got = _im2col_laid_out(x, HH, WW, pad, stride, batch_major)
        # The memory order the GEMMs rely on: (N, C, HH, WW, Ho, Wo) or (C, HH, WW, N, Ho, Wo).
        order = got if batch_major else got.transpose(1, 2, 3, 0, 4, 5)
        assert order.flags.c_contiguous, (batch_major, got.strides)
        case = f"x.shape={x.shape} window={HH}x{WW} pad={pad} stride={stride}"
        assert got.dtype == dtype, case
        # A pure copy: every entry must be exactly the pixel (or zero) it names.
        np.testing.assert_array_equal(
            got, twins.im2col_loops(x, HH, WW, pad, stride), err_msg=case
        )


def test_im2col_writes_into_a_given_strided_array(backend):
    # The batch GEMM plan hands im2col a transposed view of the rows above its ones row.
    from cs231n_lib import fast_layers

    for x, HH, WW, pad, stride in _im2col_cases():
        want = twins.im2col_loops(x, HH, WW, pad, stride)
        N, C, _, _, Ho, Wo = want.shape
        buf = np.full((C * HH * WW + 1, N * Ho * Wo), 7.0)
        view = buf[:-1].reshape(C, HH, WW, N, Ho, Wo).transpose(3, 0, 1, 2, 4, 5)
        got = fast_layers._im2col(x, HH, WW, pad, stride, out=view)
        assert got is view or np.shares_memory(got, buf)
        case = f"x.shape={x.shape} window={HH}x{WW} pad={pad} stride={stride}"
        np.testing.assert_array_equal(view, want, err_msg=case)
        np.testing.assert_array_equal(buf[-1], 7.0, err_msg=f"{case}: wrote past the view")


def test_im2col_refuses_a_wrong_out(backend):
    """Both twins refuse an out they would otherwise cast or broadcast into."""
    from cs231n_lib import fast_layers

    x = np.zeros((2, 1, 4, 4))  # 3x3 windows, no padding, stride 1: (2, 1, 3, 3, 2, 2)
    read_only = np.zeros((2, 1, 3, 3, 2, 2))
    read_only.flags.writeable = False
    wrong = {
        "shape": np.zeros((2, 1, 3, 3, 1, 2)),
        "dtype": np.zeros((2, 1, 3, 3, 2, 2), np.float32),
        "read-only": read_only,
    }
    if backend == "cython":  # the kernel writes the last axis with a unit stride
        wrong["strided last axis"] = np.zeros((2, 1, 3, 3, 2, 4))[..., ::2]
    for what, bad in wrong.items():
        with pytest.raises(ValueError, match=r"out must be a writeable float64 array of shape "
                                             r"\(2, 1, 3, 3, 2, 2\)"):
            fast_layers._im2col(x, 3, 3, 0, 1, bad)
            pytest.fail(f"accepted an out with the wrong {what}")
    ok = np.zeros((2, 1, 3, 3, 2, 2))
    assert fast_layers._im2col(x, 3, 3, 0, 1, ok) is ok


@pytest.mark.parametrize("batch_major", [True, False])
def test_col2im_is_the_adjoint_of_im2col(backend, batch_major):
    """<im2col(x), c> == <x, col2im(c)> for every x and c: the defining property."""
    from cs231n_lib import fast_layers

    rng = np.random.default_rng(3)
    for x, HH, WW, pad, stride in _im2col_cases():
        cols = _im2col_laid_out(x, HH, WW, pad, stride, batch_major)
        c = np.empty_like(cols)  # same memory order as cols: col2im reads either
        c[...] = rng.standard_normal(cols.shape)
        back = fast_layers._col2im(c, x.shape[2], x.shape[3], pad, stride)
        assert back.shape == x.shape and back.flags.c_contiguous
        lhs, rhs = np.sum(cols * c), np.sum(x * back)
        err = abs(lhs - rhs) / max(1.0, abs(lhs))
        case = f"x.shape={x.shape} window={HH}x{WW} pad={pad} stride={stride}"
        assert err <= TWIN_TOL, f"{case}: <im2col(x), c>={lhs} but <x, col2im(c)>={rhs}"


@pytest.mark.parametrize("min_pixels", [0, 10**9], ids=["per-image GEMMs", "one batch GEMM"])
def test_both_gemm_plans_equal_the_loop_twin(backend, min_pixels, monkeypatch):
    """The layer picks a GEMM plan by output size; force each plan on the same cases."""
    from cs231n_lib import fast_layers

    monkeypatch.setattr(fast_layers, "PER_IMAGE_MIN_PIXELS", min_pixels)
    for seed in range(8):
        x, w, b, cp = random_conv_case(seed)
        out, cache = conv_forward_fast(x, w, b, cp)
        assert (cache[4].ndim == 3) == (min_pixels == 0)
        want = twins.conv_forward_loops(x, w, b, cp["stride"], cp["pad"])
        assert rel_err(out, want) <= TWIN_TOL, describe(x, cp)
        dout = np.random.default_rng(seed).standard_normal(out.shape)
        got = conv_backward_fast(dout, cache)
        wanted = twins.conv_backward_loops(dout, x, w, cp["stride"], cp["pad"])
        for name, g, e in zip(("dx", "dw", "db"), got, wanted, strict=True):
            assert rel_err(g, e) <= TWIN_TOL, f"{name} {describe(x, cp)} plan={min_pixels}"
            assert g.flags.c_contiguous, f"{name} plan={min_pixels}"
        _, cache_skip = conv_forward_fast(x, w, b, dict(cp, need_dx=False))
        dx, dw, db = conv_backward_fast(dout, cache_skip)
        assert dx is None and rel_err(dw, wanted[1]) <= TWIN_TOL


def test_the_plan_follows_the_output_size():
    from cs231n_lib import fast_layers

    x = np.zeros((2, 1, 40, 40))
    w, b = np.zeros((1, 1, 3, 3)), np.zeros(1)
    _, big = conv_forward_fast(x, w, b, {"stride": 1, "pad": 1})  # 1600 pixels per image
    _, small = conv_forward_fast(x, w, b, {"stride": 3, "pad": 1})  # 14 x 14 = 196
    assert 196 < fast_layers.PER_IMAGE_MIN_PIXELS <= 1600
    assert big[4].shape == (2, 9, 1600)
    # The batch plan keeps a row of ones under its columns: the bias's input.
    assert small[4].shape == (9 + 1, 2 * 196)
    np.testing.assert_array_equal(small[4][-1], 1)


def test_need_dx_false_skips_only_dx(backend):
    x, w, b, cp = random_conv_case(5)
    out, cache = conv_forward_fast(x, w, b, cp)
    out_skip, cache_skip = conv_forward_fast(x, w, b, dict(cp, need_dx=False))
    np.testing.assert_array_equal(out_skip, out)
    dout = np.random.default_rng(5).standard_normal(out.shape)
    dx, dw, db = conv_backward_fast(dout, cache)
    none, dw_skip, db_skip = conv_backward_fast(dout, cache_skip)
    assert none is None and dx is not None
    np.testing.assert_array_equal(dw_skip, dw)
    np.testing.assert_array_equal(db_skip, db)


def test_need_dx_must_be_a_bool():
    x, w, b, cp = random_conv_case(5)
    with pytest.raises(TypeError, match=r"conv_param\['need_dx'\] must be True or False; got 'no'"):
        conv_forward_fast(x, w, b, dict(cp, need_dx="no"))


# --- pooling -----------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(30))
def test_max_pool_equals_loop_twin(seed, backend):
    x, pp = random_pool_case(seed)
    ph, pw, s = pp["pool_height"], pp["pool_width"], pp["stride"]
    out, cache = max_pool_forward_fast(x, pp)
    assert rel_err(out, twins.max_pool_forward_loops(x, ph, pw, s)) <= TWIN_TOL, describe(x, pp)
    dout = np.random.default_rng(seed).standard_normal(out.shape)
    dx = max_pool_backward_fast(dout, cache)
    assert rel_err(dx, twins.max_pool_backward_loops(dout, x, ph, pw, s)) <= TWIN_TOL, describe(
        x, pp
    )


@pytest.mark.parametrize("seed", range(30))
def test_avg_pool_equals_loop_twin(seed):
    x, pp = random_pool_case(seed)
    ph, pw, s = pp["pool_height"], pp["pool_width"], pp["stride"]
    out, cache = avg_pool_forward_fast(x, pp)
    assert rel_err(out, twins.avg_pool_forward_loops(x, ph, pw, s)) <= TWIN_TOL, describe(x, pp)
    dout = np.random.default_rng(seed).standard_normal(out.shape)
    dx = avg_pool_backward_fast(dout, cache)
    assert rel_err(dx, twins.avg_pool_backward_loops(dout, x, ph, pw, s)) <= TWIN_TOL, describe(
        x, pp
    )


def test_pool_cases_include_overlap_non_square_and_n1():
    cases = [random_pool_case(s)[1] for s in range(30)]
    assert any(p["stride"] < max(p["pool_height"], p["pool_width"]) for p in cases)  # overlapping
    assert any(p["pool_height"] != p["pool_width"] for p in cases)
    assert any(random_pool_case(s)[0].shape[0] == 1 for s in range(30))


@pytest.mark.parametrize(
    "pp",
    [
        {"pool_height": 2, "pool_width": 2, "stride": 2},  # tiling
        {"pool_height": 3, "pool_width": 3, "stride": 2},  # overlapping
        {"pool_height": 2, "pool_width": 3, "stride": 1},  # non-square, overlapping
    ],
)
@pytest.mark.parametrize(
    "forward,backward",
    [
        (max_pool_forward_fast, max_pool_backward_fast),
        (avg_pool_forward_fast, avg_pool_backward_fast),
    ],
)
def test_pool_gradients_match_numeric(pp, forward, backward, backend):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 2, 7, 8))
    out, cache = forward(x, pp)
    dout = rng.standard_normal(out.shape)
    dx = backward(dout, cache)
    assert rel_err(dx, numeric_grad(lambda v: forward(v, pp)[0], x, dout)) <= GRAD_TOL


def test_max_pool_tie_sends_gradient_to_first_maximum_only(backend):
    x = np.zeros((1, 1, 2, 2))
    out, cache = max_pool_forward_fast(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    dx = max_pool_backward_fast(np.ones_like(out), cache)
    np.testing.assert_array_equal(dx[0, 0], [[1.0, 0.0], [0.0, 0.0]])


def test_pool_output_size_drops_partial_windows():
    """Published behaviour (course naive layer, PyTorch): Ho = 1 + (H - ph) // stride."""
    out, _ = max_pool_forward_fast(
        np.ones((1, 1, 7, 6)), {"pool_height": 3, "pool_width": 2, "stride": 2}
    )
    assert out.shape == (1, 1, 3, 3)


def test_pool_float32_stays_float32(backend):
    x, pp = random_pool_case(4)
    for forward, backward in (
        (max_pool_forward_fast, max_pool_backward_fast),
        (avg_pool_forward_fast, avg_pool_backward_fast),
    ):
        out, cache = forward(x.astype(np.float32), pp)
        assert out.dtype == np.float32
        assert backward(np.ones_like(out), cache).dtype == np.float32


# --- bad input ---------------------------------------------------------------------

X = np.zeros((2, 3, 5, 5))
Wt = np.zeros((4, 3, 3, 3))
B = np.zeros(4)
CP = {"stride": 1, "pad": 1}
PP = {"pool_height": 2, "pool_width": 2, "stride": 2}


@pytest.mark.parametrize(
    "args,error,message",
    [
        (
            (np.zeros((3, 5, 5)), Wt, B, CP),
            ValueError,
            r"x must be 4-D \(N, C, H, W\); got shape \(3, 5, 5\)",
        ),
        (
            (X, np.zeros((4, 2, 3, 3)), B, CP),
            ValueError,
            r"w.shape\[1\]=2 .* must equal x.shape\[1\]=3",
        ),
        ((X, Wt, np.zeros(3), CP), ValueError, r"b must have shape \(F,\) = \(4,\).*got \(3,\)"),
        (
            (X, Wt, B, {"stride": 3, "pad": 0}),
            ValueError,
            r"conv_param\['stride'\]=3 does not tile H \+ 2\*pad - HH = 2",
        ),
        (
            (X, Wt, B, {"stride": 1, "pad": -1}),
            ValueError,
            r"conv_param\['pad'\] must be >= 0; got -1",
        ),
        (
            (X, Wt, B, {"stride": 0, "pad": 1}),
            ValueError,
            r"conv_param\['stride'\] must be >= 1; got 0",
        ),
        (
            (X, Wt, B, {"stride": 1.5, "pad": 1}),
            TypeError,
            r"conv_param\['stride'\] must be an integer",
        ),
        ((X, Wt, B, {"stride": 1}), ValueError, r"conv_param is missing key\(s\) \['pad'\]"),
        (
            (X, Wt, B, {"stride": 1, "pad": 1, "dilation": 2}),
            ValueError,
            r"conv_param has unknown key\(s\) \['dilation'\]",
        ),
        (
            (X.astype(np.int64), Wt, B, CP),
            TypeError,
            r"x must be a float32 or float64 array; got dtype int64",
        ),
        (
            (X, Wt.astype(np.float32), B, CP),
            TypeError,
            r"conv_forward_fast: w has dtype float32 but x has float64; arrays in a layer "
            r"must share a dtype \(cast with \.astype\(x\.dtype\)\); a model casts its input "
            r"instead: X\.astype\(self\.dtype\) in loss\(\)",
        ),
        ((X.tolist(), Wt, B, CP), TypeError, r"x must be a NumPy array; got list"),
        (
            (np.zeros((1, 3, 2, 2)), np.zeros((1, 3, 5, 5)), np.zeros(1), {"stride": 1, "pad": 1}),
            ValueError,
            r"the filter \(HH=5\) is larger than the padded input \(H \+ 2\*pad = 4\)",
        ),
    ],
)
def test_conv_forward_rejects_bad_input(args, error, message):
    with pytest.raises(error, match=message):
        conv_forward_fast(*args)


@pytest.mark.parametrize("forward", [max_pool_forward_fast, avg_pool_forward_fast])
@pytest.mark.parametrize(
    "x,pp,error,message",
    [
        (
            X,
            {"pool_height": 6, "pool_width": 2, "stride": 2},
            ValueError,
            r"pool_param\['pool_height'\]=6 is larger than the input height H=5",
        ),
        (
            X,
            {"pool_height": 2, "pool_width": 9, "stride": 2},
            ValueError,
            r"pool_param\['pool_width'\]=9 is larger than the input width W=5",
        ),
        (
            X,
            {"pool_height": 2, "pool_width": 2},
            ValueError,
            r"pool_param is missing key\(s\) \['stride'\]",
        ),
        (
            X.astype(np.int32),
            PP,
            TypeError,
            r"x must be a float32 or float64 array; got dtype int32",
        ),
        (np.zeros((5, 5)), PP, ValueError, r"x must be 4-D"),
    ],
)
def test_pool_forward_rejects_bad_input(forward, x, pp, error, message):
    with pytest.raises(error, match=message):
        forward(x, pp)


def test_backward_rejects_mismatched_dout():
    out, cache = conv_forward_fast(X, Wt, B, CP)
    with pytest.raises(
        ValueError,
        match=r"dout must have the forward output's shape \(2, 4, 5, 5\); got \(2, 4, 5\)",
    ):
        conv_backward_fast(np.zeros((2, 4, 5)), cache)
    pooled, pcache = max_pool_forward_fast(X, PP)
    with pytest.raises(ValueError, match=r"dout must have the forward output's shape"):
        max_pool_backward_fast(np.zeros((1, 1, 1, 1)), pcache)


# --- mixed dtypes ------------------------------------------------------------------
# The README's rule: the arrays meeting in a layer share one dtype. Each entry point,
# each array that can differ, each direction (float32 into float64 and the reverse).

OTHER = {np.dtype(np.float64): np.float32, np.dtype(np.float32): np.float64}


def _conv_case(dtype):
    return X.astype(dtype), Wt.astype(dtype), B.astype(dtype), CP


def _pool_case(dtype):
    return X.astype(dtype), PP


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("odd", ["w", "b"])
def test_conv_forward_refuses_a_parameter_of_another_dtype_than_x(backend, odd, dtype):
    x, w, b, cp = _conv_case(dtype)
    args = {"x": x, "w": w, "b": b}
    args[odd] = args[odd].astype(OTHER[x.dtype])
    theirs, ours = np.dtype(OTHER[x.dtype]).name, x.dtype.name
    message = (
        f"conv_forward_fast: {odd} has dtype {theirs} but x has {ours}; arrays in a layer "
        "must share a dtype (cast with .astype(x.dtype))"
    )
    if odd == "w":
        message += "; a model casts its input instead: X.astype(self.dtype) in loss()"
    with pytest.raises(TypeError) as caught:
        conv_forward_fast(args["x"], args["w"], args["b"], cp)
    assert str(caught.value) == message


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_conv_forward_names_every_array_that_differs_from_x(dtype):
    """x of one dtype with w and b of the other: the report the issue gave, both named."""
    x, w, b, cp = _conv_case(dtype)
    other = OTHER[x.dtype]
    with pytest.raises(TypeError, match=rf"conv_forward_fast: w and b have dtype "
                                        rf"{np.dtype(other).name} but x has {x.dtype.name}"):
        conv_forward_fast(x, w.astype(other), b.astype(other), cp)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_conv_relu_pool_forward_refuses_mixed_dtypes_too(dtype):
    """The sandwich layers reach the fast conv's check (conv_relu_pool_forward by its
    bias-after-pooling path), so they refuse the same calls with the same message."""
    from cs231n_lib.layer_utils import conv_relu_forward, conv_relu_pool_forward

    x, w, b, cp = _conv_case(dtype)
    w = w.astype(OTHER[x.dtype])
    with pytest.raises(TypeError, match=r"conv_forward_fast: w has dtype"):
        conv_relu_pool_forward(x, w, b, cp, PP)
    with pytest.raises(TypeError, match=r"conv_forward_fast: w has dtype"):
        conv_relu_forward(x, w, b, cp)


BACKWARD = {
    "conv_backward_fast": (lambda d: conv_forward_fast(*_conv_case(d)), conv_backward_fast),
    "max_pool_backward_fast": (
        lambda d: max_pool_forward_fast(*_pool_case(d)),
        max_pool_backward_fast,
    ),
    "avg_pool_backward_fast": (
        lambda d: avg_pool_forward_fast(*_pool_case(d)),
        avg_pool_backward_fast,
    ),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(BACKWARD))
def test_backward_refuses_a_dout_of_another_dtype_than_the_forward_x(backend, name, dtype):
    forward, backward = BACKWARD[name]
    out, cache = forward(dtype)
    other = np.dtype(OTHER[np.dtype(dtype)]).name
    message = (
        f"{name}: dout has dtype {other} but the forward pass's x has {np.dtype(dtype).name}; "
        f"arrays in a layer must share a dtype (cast with dout.astype(np.{np.dtype(dtype).name}))"
    )
    with pytest.raises(TypeError) as caught:
        backward(np.ones_like(out, dtype=other), cache)
    assert str(caught.value) == message
    # The dout of the right dtype goes through, and the gradients keep it.
    grads = backward(np.ones_like(out), cache)
    for g in grads if isinstance(grads, tuple) else (grads,):
        assert g.dtype == dtype


def test_every_public_fast_entry_point_is_covered_by_the_mixed_dtype_tests():
    """A new entry point that takes two arrays must be added above."""
    from cs231n_lib import fast_layers

    two_arrays = {"conv_forward_fast"} | set(BACKWARD)
    one_array = {"max_pool_forward_fast", "avg_pool_forward_fast"}
    layers = {n for n in fast_layers.__all__ if n.endswith(("_forward_fast", "_backward_fast"))}
    assert layers == two_arrays | one_array
