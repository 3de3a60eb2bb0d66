"""Does a deliberately wrong implementation fail its visible check with the matching diagnosis?

The wrong versions are built from the model solutions in the source notebooks.
"""

import numpy as np
import pytest

from cs231n_lib import checks

from course_tools import (
    NOTEBOOKS,
    SOURCE,
    execute,
    hidden_check_messages,
    likely_cause,
    nbgrader_meta,
    read,
    solution_namespace,
    visible_check,
)


@pytest.fixture(scope="module")
def conv(env):
    return solution_namespace("01_convolution")


@pytest.fixture(scope="module")
def pool(env):
    return solution_namespace("02_pooling_and_fast_layers")


@pytest.fixture(scope="module")
def norm(env):
    return solution_namespace("04_spatial_normalization")


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((2, 3, 7, 7)), rng.standard_normal((3, 3, 3, 3)),
            rng.standard_normal(3))


def test_flipped_kernel_is_named(conv):
    right = conv["conv_forward_naive"]

    def flipped(x, w, b, conv_param):
        return right(x, w[:, :, ::-1, ::-1], b, conv_param)

    with pytest.raises(AssertionError, match="matches a convolution with the kernel flipped"):
        checks.check_conv_forward(flipped, *_inputs(), {"stride": 2, "pad": 1})


def test_ignored_stride_is_named_by_shape_and_by_values(conv):
    right = conv["conv_forward_naive"]

    def stride_one(x, w, b, conv_param):
        return right(x, w, b, {**conv_param, "stride": 1})

    def stride_one_cropped(x, w, b, conv_param):
        out, cache = stride_one(x, w, b, conv_param)
        return out[:, :, :4, :4], cache

    with pytest.raises(AssertionError, match=r"has shape \(2, 3, 7, 7\).*\n.*stride is ignored"):
        checks.check_conv_forward(stride_one, *_inputs(), {"stride": 2, "pad": 1})
    with pytest.raises(AssertionError, match="stride is ignored: the windows are 1 pixel apart"):
        checks.check_conv_forward(stride_one_cropped, *_inputs(), {"stride": 2, "pad": 1})


def test_max_pool_gradient_to_every_tie_is_named(pool):
    forward = pool["max_pool_forward_naive"]

    def to_every_tie(dout, cache):
        x, p = cache
        ph, pw, s = p["pool_height"], p["pool_width"], p["stride"]
        dx = np.zeros_like(x)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                window = x[:, :, i * s:i * s + ph, j * s:j * s + pw]
                is_max = window == window.max(axis=(2, 3), keepdims=True)
                share = is_max * dout[:, :, i:i + 1, j:j + 1]
                dx[:, :, i * s:i * s + ph, j * s:j * s + pw] += share
        return dx

    x = np.array([[[[1.0, 3.0, 0.0, 2.0], [3.0, 2.0, 2.0, 1.0],
                    [5.0, 0.0, 4.0, 4.0], [1.0, 5.0, 4.0, 0.0]]]])
    dout = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    checks.check_max_pool_backward(forward, pool["max_pool_backward_naive"], x, param, dout)
    with pytest.raises(AssertionError, match="spread over every tied maximum"):
        checks.check_max_pool_backward(forward, to_every_tie, x, param, dout)


def test_batch_statistics_in_test_mode_are_named(norm):
    right = norm["spatial_batchnorm_forward"]

    def batch_stats_always(x, gamma, beta, bn_param):
        return right(x, gamma, beta, {**bn_param, "mode": "train"})

    rng = np.random.default_rng(3)
    x = 2.0 * rng.standard_normal((2, 3, 2, 3)) - 1.0
    gamma, beta = np.array([1.5, 0.5, 2.0]), np.array([0.0, 1.0, -1.0])
    rm, rv = np.array([4.0, -2.0, 0.5]), np.array([9.0, 0.25, 2.0])
    expected, _ = right(x, gamma, beta, {"mode": "test", "running_mean": rm, "running_var": rv})
    checks.check_spatial_batchnorm_test_mode(right, x, gamma, beta, rm, rv, expected)
    with pytest.raises(AssertionError, match="test mode normalised with this batch's own mean"):
        checks.check_spatial_batchnorm_test_mode(batch_stats_always, x, gamma, beta, rm, rv,
                                                 expected)


def _run_with_solution_edit(env, cwd, name, grade_id, old, new, upto_test):
    """Execute the source notebook up to one test cell, with one line of a solution replaced."""
    nb = read(SOURCE / f"{name}.ipynb")
    keep = []
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if meta.get("grade_id") == grade_id:
            assert old in cell.source
            cell.source = cell.source.replace(old, new)
        keep.append(cell)
        if meta.get("grade_id") == upto_test:
            break
    nb.cells = keep
    run = execute(nb, cwd, env, name)
    return next(c for c in run.cells if nbgrader_meta(c.cell).get("grade_id") == upto_test)


def test_flipped_kernel_diagnosis_shows_in_the_notebook(env, tmp_path):
    cell = _run_with_solution_edit(
        env, tmp_path, NOTEBOOKS[0], "conv_forward_naive",
        "out = np.zeros((N, F, Ho, Wo), dtype=x.dtype)",
        "out = np.zeros((N, F, Ho, Wo), dtype=x.dtype); w = w[:, :, ::-1, ::-1]",
        "test_conv_forward_same")
    assert [e for e, _ in cell.errors] == ["AssertionError"]
    message = cell.errors[0][1]
    assert "Likely cause: your output matches a convolution with the kernel flipped" in message
    assert "threshold 1e-07" in message


def test_test_mode_diagnosis_shows_in_the_notebook(env, tmp_path):
    cell = _run_with_solution_edit(
        env, tmp_path, NOTEBOOKS[3], "spatial_batchnorm_forward",
        'if mode == "train":', 'if mode in ("train", "test"):',
        "test_spatial_batchnorm_test_mode")
    assert [e for e, _ in cell.errors] == ["AssertionError"]
    assert "bn_param['running_mean'] and bn_param['running_var']" in cell.errors[0][1]


# ------------------------------------------------------------------------------------
# Wrong versions of the model solutions: the visible check names their mistake or
# nothing, and the grader's likely_cause, on the grader's own inputs, says the same.
# ------------------------------------------------------------------------------------

CONV, POOL, NET, NORM = NOTEBOOKS[0], NOTEBOOKS[1], NOTEBOOKS[2], NOTEBOOKS[3]


def _visible_cause(ns, name, grade_id):
    with pytest.raises(AssertionError) as raised:
        visible_check(ns, name, grade_id)
    message = str(raised.value)
    return message, likely_cause(message)


def _grader_causes(grade_id, student, name):
    """likely_cause of every student whose hidden checks fail (at least one must fail)."""
    failing = [m for m in hidden_check_messages(student, name, grade_id) if m]
    assert failing, f"{grade_id}: the hidden checks did not catch the mutant"
    return [likely_cause(m) for m in failing]


@pytest.fixture(scope="module")
def net(env):
    return solution_namespace(NET)


def test_missing_plus_one_at_stride_2_is_named_by_its_values(conv):
    edits = {"conv_forward_naive": [("Ho = 1 + (H + 2 * pad - HH) // stride",
                                     "Ho = (H + 2 * pad - HH) // stride"),
                                    ("Wo = 1 + (W + 2 * pad - WW) // stride",
                                     "Wo = (W + 2 * pad - WW) // stride")]}
    mutant = solution_namespace(CONV, edits)
    # Visible: 7x7 input, 3x3 filter, stride 2, pad 1 -- the size an unpadded conv gives.
    message, cause = _visible_cause(mutant, CONV, "test_conv_forward_stride")
    assert cause.startswith("the output is a row or a column short"), message
    causes = _grader_causes("test_conv_forward_stride", mutant, CONV)
    assert set(causes) <= {cause, None} and cause in causes, causes


def test_assigning_instead_of_adding_in_conv_backward_gets_a_hint(conv):
    for old, new, what in (
        ("dx_pad[:, :, top:top + HH, left:left + WW] += np.tensordot",
         "dx_pad[:, :, top:top + HH, left:left + WW] = np.tensordot", "dx is assigned"),
        ("dw += np.tensordot(g, window", "dw = np.tensordot(g, window",
         "dw holds only the last output position's share"),
    ):
        mutant = solution_namespace(CONV, {"conv_backward_naive": [(old, new)]})
        message, cause = _visible_cause(mutant, CONV, "test_conv_backward_stride1")
        assert cause is not None and cause.startswith(what), message
        causes = _grader_causes("test_conv_backward_stride1", mutant, CONV)
        assert set(causes) <= {cause, None} and cause in causes, causes


def test_a_float32_conv_fails_the_visible_check_and_the_grader_alike(conv):
    mutant = solution_namespace(CONV, {"conv_forward_naive": [
        ("out = np.zeros((N, F, Ho, Wo), dtype=x.dtype)",
         "out = np.zeros((N, F, Ho, Wo), dtype=np.float32)")]})
    message, _ = _visible_cause(mutant, CONV, "test_conv_forward_same")
    assert "has dtype float32; expected float64: compute in float64" in message
    messages = hidden_check_messages(mutant, CONV, "test_conv_forward_same", students=[0])
    assert messages[0] and "compute in float64" in messages[0], messages


GN_FORWARD = "spatial_groupnorm_forward"


@pytest.mark.parametrize("edits, family", [
    # Blocks of G consecutive values, across the groups: no known family.
    ([("groups = x.reshape(N, G, -1)", "groups = x.reshape(N, -1, G)")], None),
    # Statistics across the groups (axis 1), for each position: no known family.
    ([("mean = groups.mean(axis=2, keepdims=True)", "mean = groups.mean(axis=1, keepdims=True)"),
      ("std = np.sqrt(groups.var(axis=2, keepdims=True) + eps)",
       "std = np.sqrt(groups.var(axis=1, keepdims=True) + eps)")], None),
    # Each group's statistics over the whole batch.
    ([("mean = groups.mean(axis=2, keepdims=True)",
       "mean = groups.mean(axis=(0, 2), keepdims=True)"),
      ("std = np.sqrt(groups.var(axis=2, keepdims=True) + eps)",
       "std = np.sqrt(groups.var(axis=(0, 2), keepdims=True) + eps)")], "over the whole batch"),
    # Each channel alone (instance norm).
    ([("groups = x.reshape(N, G, -1)", "groups = x.reshape(N, x.shape[1], -1)")],
     "instance norm"),
])
def test_group_norm_over_the_wrong_values_is_named_right_or_not_at_all(norm, edits, family):
    mutant = solution_namespace(NORM, {GN_FORWARD: edits})
    message, cause = _visible_cause(mutant, NORM, "test_spatial_groupnorm_forward")
    assert "relative error" in message
    assert cause is None or "right values" not in cause, message
    if family is None:
        assert cause is None, message
    else:
        assert cause is not None and family in cause, message
    # With one channel per group (G = C) a group over the whole batch is batch norm's
    # channel: then either sentence names the same mistake.
    same = {"over the whole batch": ("over the whole batch", "batch norm's")}.get(family,
                                                                                (family,))
    for got in _grader_causes("test_spatial_groupnorm_forward", mutant, NORM):
        assert got is None or (family is not None and any(f in got for f in same)), got


def test_sum_squared_regularisation_is_named_and_the_gradients_are_not_blamed(net):
    mutant = solution_namespace(NET, {"ThreeLayerConvNet": [
        ("np.sum(W3 * W3)", "np.sum(W3) ** 2")]})
    message, cause = _visible_cause(mutant, NET, "test_convnet_regularized_loss")
    assert "np.sum(W3)**2" in cause and "constant factor" not in cause, message
    message, cause = _visible_cause(mutant, NET, "test_convnet_gradients")
    assert "grads['W3']" not in message and "np.sum(W3)**2" in cause, message
    causes = _grader_causes("test_convnet_regularized_loss", mutant, NET)
    assert set(causes) <= {cause, None} and cause in causes, causes


def test_round_in_the_pooled_size_fails_the_visible_non_tiling_check(pool):
    mutant = solution_namespace(POOL, {"max_pool_forward_naive": [
        ("Ho = 1 + (H - ph) // stride", "Ho = 1 + round((H - ph) / stride)"),
        ("Wo = 1 + (W - pw) // stride", "Wo = 1 + round((W - pw) / stride)")]})
    message, cause = _visible_cause(mutant, POOL, "test_max_pool_forward_tiled")
    assert "rounds down (floor)" in cause, message
    causes = _grader_causes("test_max_pool_forward_rectangular", mutant, POOL)
    assert set(causes) <= {cause, None}, causes


def test_a_square_input_assumption_fails_the_visible_non_square_checks(net):
    mutant = solution_namespace(NET, {"ThreeLayerConvNet": [
        ("F * (H // 2) * (W // 2), hidden_dim", "F * (H // 2) * (H // 2), hidden_dim")]})
    message, cause = _visible_cause(mutant, NET, "test_convnet_params")
    assert "assume a square image" in cause, message
    # The square visible inputs alone would not have caught it.
    mutant["np"].random.seed(231)
    model = mutant["ThreeLayerConvNet"](input_dim=(3, 8, 8), dtype=np.float64)
    checks.check_convnet_params(model, input_dim=(3, 8, 8), num_filters=32, filter_size=7,
                                hidden_dim=100, num_classes=10, weight_scale=1e-3,
                                dtype=np.float64)


# ------------------------------------------------------------------------------------
# The namespace the course promises: bare-name calls of the library's layers.
# ------------------------------------------------------------------------------------

BARE_BATCHNORM = '''
def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    flat = x.transpose(0, 2, 3, 1).reshape(-1, C)
    out, cache = batchnorm_forward(flat, gamma, beta, bn_param)
    return out.reshape(N, H, W, C).transpose(0, 3, 1, 2), cache
'''
BARE_BATCHNORM_BACKWARD = '''
def spatial_batchnorm_backward(dout, cache):
    N, C, H, W = dout.shape
    dx, dgamma, dbeta = batchnorm_backward_alt(dout.transpose(0, 2, 3, 1).reshape(-1, C), cache)
    return dx.reshape(N, H, W, C).transpose(0, 3, 1, 2), dgamma, dbeta
'''


def test_notebook_4_setup_provides_the_vector_layers_by_bare_name(env):
    mutant = solution_namespace(NORM, {
        "spatial_batchnorm_forward": [(None, BARE_BATCHNORM)],
        "spatial_batchnorm_backward": [(None, BARE_BATCHNORM_BACKWARD)]})
    for grade_id in ("test_spatial_batchnorm_train", "test_spatial_batchnorm_test_mode",
                     "test_spatial_batchnorm_backward"):
        visible_check(mutant, NORM, grade_id)


@pytest.mark.parametrize("name, names", [
    (NORM, ("batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt",
            "layernorm_forward", "layernorm_backward")),
    (NET, ("relu_forward", "relu_backward", "affine_forward", "affine_backward", "softmax_loss",
           "affine_relu_forward", "affine_relu_backward", "conv_relu_forward",
           "conv_relu_backward", "conv_relu_pool_forward", "conv_relu_pool_backward")),
])
def test_the_graders_prelude_defines_the_promised_names(name, names):
    """The grader runs the setup's top-level imports before a student's cells."""
    from autograder.intake import prelude

    ns: dict = {}
    exec(prelude(read(SOURCE / f"{name}.ipynb").cells), ns)  # noqa: S102 - our own course
    missing = [n for n in names if not callable(ns.get(n))]
    assert not missing, missing
    markdown = "\n".join(c.source for c in read(SOURCE / f"{name}.ipynb").cells
                         if c.cell_type == "markdown")
    unnamed = [n for n in names if f"`{n}`" not in markdown and f"`{n}(" not in markdown]
    assert not unnamed, f"the notebook text should say it provides {unnamed}"
