"""Does the compiled Adam step agree with Adam's NumPy lines, and refuse what it cannot take?"""

import numpy as np
import pytest

from cs231n_lib import fast_layers, optim
from cs231n_lib.optim import adam

from numerics import assert_close

pytest.importorskip("cs231n_lib._im2col", reason="the compiled kernels are not built")

# float64: the same formula up to the order of a few operations.
FORMULA_TOL = 1e-12
# float32 against float32: a few roundings of values of order 1.
FLOAT32_TOL = 1e-5
# The step next_w - w, float64: subtracting a step (~1e-3) from w (~1) leaves
# ~1e-13 relative rounding in the step.
STEP_TOL = 1e-10


def _adam_on(backend_name, w, dw, config):
    previous = fast_layers.set_backend(backend_name)
    try:
        return adam(w, dw, {k: (v.copy() if isinstance(v, np.ndarray) else v)
                            for k, v in config.items()})
    finally:
        fast_layers.set_backend(previous)


@pytest.mark.parametrize("shape", [(), (0,), (7,), (3, 5), (8192, 3), (2, 3, 4, 5)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
def test_compiled_adam_matches_numpy_twin(shape, dtype, layout):
    rng = np.random.default_rng(len(shape) + 10 * np.dtype(dtype).itemsize)
    w, dw, m = (rng.standard_normal(shape).astype(dtype) for _ in range(3))
    v = rng.random(shape).astype(dtype)
    if layout == "transposed":
        w, dw, m, v = (a.T for a in (w, dw, m, v))
    config = {"learning_rate": 1e-2, "beta1": 0.8, "beta2": 0.99, "m": m, "v": v, "t": 3}
    kept = {k: a.copy() for k, a in (("w", w), ("dw", dw), ("m", m), ("v", v))}

    got_w, got = _adam_on("cython", w, dw, config)
    want_w, want = _adam_on("numpy", w, dw, config)

    where = f"shape {shape}, {np.dtype(dtype).name}, {layout}"
    assert got_w.shape == w.shape and got_w.dtype == w.dtype, where
    assert got["t"] == want["t"] == 4
    if not w.size:
        return
    tol = FORMULA_TOL if dtype == np.float64 else FLOAT32_TOL
    assert_close(f"next_w ({where})", got_w, want_w, tol)
    assert_close(f"m ({where})", got["m"], want["m"], tol)
    assert_close(f"v ({where})", got["v"], want["v"], tol)
    if dtype == np.float64:
        assert_close(f"step ({where})", got_w - w, want_w - w, STEP_TOL)
    for name, given in (("w", w), ("dw", dw), ("m", m), ("v", v)):  # none was written to
        np.testing.assert_array_equal(given, kept[name], err_msg=name)


def test_compiled_adam_refuses_mismatched_arrays():
    from cs231n_lib._im2col import adam_update as kernel
    w = np.ones(3)
    with pytest.raises(ValueError, match=r"v must have w's shape \(3,\) and dtype float64"):
        kernel(w, w, w, np.ones(4), 1e-3, 0.9, 0.999, 1e-8, 1)
    with pytest.raises(TypeError, match="dw must be float32 or float64; got dtype int64"):
        kernel(w, np.ones(3, dtype=np.int64), w, w, 1e-3, 0.9, 0.999, 1e-8, 1)
    with pytest.raises(ValueError, match="t must be >= 1"):
        kernel(w, w, w, w, 1e-3, 0.9, 0.999, 1e-8, 0)


def test_adam_follows_the_backend_switch():
    previous = fast_layers.set_backend("numpy")
    try:
        assert optim._compiled_adam() is None
        fast_layers.set_backend("cython")
        assert optim._compiled_adam() is fast_layers.compiled_kernels().adam_update
    finally:
        fast_layers.set_backend(previous)
