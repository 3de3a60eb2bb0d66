"""Does a deliberately wrong implementation fail its visible check with the matching diagnosis?

The wrong versions are built from the model solutions in the source notebooks.
"""

import numpy as np
import pytest

from cs231n_lib import checks

from course_tools import NOTEBOOKS, SOURCE, execute, nbgrader_meta, read, solution_namespace


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
