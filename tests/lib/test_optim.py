"""Does each update rule take the textbook step, keep its state and keep w's dtype?

The worked examples use small arrays whose first steps can be checked by hand;
later steps are written out with the textbook formulas in the test itself.
Every test runs on both backends: Adam has a compiled kernel beside its NumPy
lines (the two are compared directly in test_optim_kernel.py).
"""

import math

import numpy as np
import pytest

from cs231n_lib import optim
from cs231n_lib.optim import UPDATE_RULES, adam, get_update_rule, rmsprop, sgd, sgd_momentum

import numerics

# The rules are a few float64 operations; only rounding separates them from the
# formulas written here.
FORMULA_TOL = 1e-12
# float32 steps against float64 steps of the same rule.
FLOAT32_TOL = 1e-5
pytestmark = pytest.mark.usefixtures("backend")


def assert_close(name, got, want, tol=FORMULA_TOL):
    numerics.assert_close(name, got, want, tol)


# ---------------------------------------------------------------------------
# Worked examples
# ---------------------------------------------------------------------------


def test_sgd_worked_example_with_default_learning_rate():
    w, dw = np.array([1.0, -2.0, 0.5]), np.array([0.5, 1.0, -4.0])
    next_w, config = sgd(w, dw)
    assert config == {"learning_rate": 1e-2}
    assert_close("next_w", next_w, [0.995, -2.01, 0.54])
    np.testing.assert_array_equal(w, [1.0, -2.0, 0.5])  # w itself is not modified


def test_sgd_momentum_two_steps_by_hand():
    w = np.array([1.0, 2.0])
    config = {"learning_rate": 0.1}
    w1, config1 = sgd_momentum(w, np.array([1.0, -2.0]), config)
    assert config1 is config
    # v = 0.9 * 0 - 0.1 * [1, -2] = [-0.1, 0.2]
    assert_close("velocity 1", config["velocity"], [-0.1, 0.2])
    assert_close("w 1", w1, [0.9, 2.2])
    w2, _ = sgd_momentum(w1, np.array([0.5, 0.5]), config)
    # v = 0.9 * [-0.1, 0.2] - 0.1 * [0.5, 0.5] = [-0.14, 0.13]
    assert_close("velocity 2", config["velocity"], [-0.14, 0.13])
    assert_close("w 2", w2, [0.76, 2.33])
    assert config["momentum"] == 0.9


def test_sgd_momentum_zero_momentum_is_plain_sgd():
    rng = np.random.default_rng(0)
    w, dw = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    config = {"learning_rate": 0.05, "momentum": 0.0}
    sgd_momentum(w, rng.standard_normal((3, 2)), config)  # history that momentum 0 must forget
    next_w, _ = sgd_momentum(w, dw, config)
    assert_close("next_w", next_w, w - 0.05 * dw)


def test_rmsprop_two_steps():
    w, dw = np.array([1.0]), np.array([2.0])
    w1, config = rmsprop(w, dw)
    # cache = 0.01 * 2**2 = 0.04, step = 0.01 * 2 / sqrt(0.04) = 0.1
    assert_close("cache 1", config["cache"], [0.04])
    assert_close("w 1", w1, [0.9], tol=1e-7)  # epsilon = 1e-8 shifts the step by ~5e-8
    w2, _ = rmsprop(w1, dw, config)
    cache2 = 0.99 * 0.04 + 0.01 * 4.0
    assert_close("cache 2", config["cache"], [cache2])
    assert_close("w 2", w2, w1 - 0.01 * 2.0 / (math.sqrt(cache2) + 1e-8))


def test_adam_first_step_has_length_learning_rate():
    # After bias correction m_hat = dw and v_hat = dw**2 on step 1, so every
    # coordinate moves by learning_rate against the sign of its gradient.
    w, dw = np.array([1.0, -1.0, 3.0]), np.array([0.1, -0.2, 50.0])
    next_w, config = adam(w, dw)
    assert_close("next_w", next_w, w - 1e-3 * np.sign(dw), tol=1e-6)
    assert config["t"] == 1


def test_adam_two_steps_written_out():
    w = np.array([1.0, -1.0])
    g1, g2 = np.array([0.1, -0.2]), np.array([0.3, 0.1])
    lr, b1, b2, eps = 1e-2, 0.8, 0.9, 1e-8
    config = {"learning_rate": lr, "beta1": b1, "beta2": b2}
    w1, _ = adam(w, g1, config)
    w2, _ = adam(w1, g2, config)

    m1, v1 = (1 - b1) * g1, (1 - b2) * g1**2
    want_w1 = w - lr * (m1 / (1 - b1)) / (np.sqrt(v1 / (1 - b2)) + eps)
    m2, v2 = b1 * m1 + (1 - b1) * g2, b2 * v1 + (1 - b2) * g2**2
    want_w2 = want_w1 - lr * (m2 / (1 - b1**2)) / (np.sqrt(v2 / (1 - b2**2)) + eps)
    assert_close("w 2", w2, want_w2)
    assert_close("m", config["m"], m2)
    assert_close("v", config["v"], v2)
    assert config["t"] == 2


def test_adam_resumes_from_a_given_step_count():
    # A config saved after 5 steps: the next step uses t = 6 in the bias correction.
    rng = np.random.default_rng(1)
    w, dw = rng.standard_normal(4), rng.standard_normal(4)
    m, v = rng.standard_normal(4), rng.random(4)
    next_w, config = adam(w, dw, {"m": m.copy(), "v": v.copy(), "t": 5})
    m6 = 0.9 * m + 0.1 * dw
    v6 = 0.999 * v + 0.001 * dw**2
    want = w - 1e-3 * (m6 / (1 - 0.9**6)) / (np.sqrt(v6 / (1 - 0.999**6)) + 1e-8)
    assert_close("next_w", next_w, want)
    assert config["t"] == 6


# ---------------------------------------------------------------------------
# Defaults, state, dtype
# ---------------------------------------------------------------------------

DEFAULTS = {
    "sgd": {"learning_rate": 1e-2},
    "sgd_momentum": {"learning_rate": 1e-2, "momentum": 0.9},
    "rmsprop": {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8},
    "adam": {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "t": 1},
}
STATE = {"sgd": (), "sgd_momentum": ("velocity",), "rmsprop": ("cache",), "adam": ("m", "v")}


@pytest.mark.parametrize("name", sorted(UPDATE_RULES))
@pytest.mark.parametrize("empty_dict", [False, True], ids=["None", "empty"])
def test_config_gets_defaults_and_state_arrays(name, empty_dict):
    # The Solver passes an empty dict, a notebook passes None: both get defaults.
    w, dw = np.ones((2, 3)), np.full((2, 3), 0.5)
    _, config = UPDATE_RULES[name](w, dw, {} if empty_dict else None)
    scalars = {k: v for k, v in config.items() if k not in STATE[name]}
    assert scalars == DEFAULTS[name]  # adam's t has already advanced to 1
    assert sorted(k for k in config if k in STATE[name]) == sorted(STATE[name])
    for key in STATE[name]:
        assert config[key].shape == w.shape and config[key].dtype == w.dtype, key


@pytest.mark.parametrize("name", sorted(UPDATE_RULES))
def test_user_values_are_kept_and_w_is_not_modified(name):
    w, dw = np.array([1.0, 2.0]), np.array([0.5, -0.5])
    config = {"learning_rate": 0.123}
    next_w, returned = UPDATE_RULES[name](w, dw, config)
    assert returned is config and config["learning_rate"] == 0.123
    np.testing.assert_array_equal(w, [1.0, 2.0])
    assert next_w is not w


@pytest.mark.parametrize("name", sorted(UPDATE_RULES))
def test_float32_stays_float32_even_with_float64_scalars(name):
    rng = np.random.default_rng(2)
    w, dw = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    # NumPy float64 scalars would upcast float32 arrays if used as they are.
    cfg32 = {"learning_rate": np.float64(1e-2)}
    cfg64 = {"learning_rate": 1e-2}
    w32, w64 = w.astype(np.float32), w.copy()
    for _ in range(3):
        w32, cfg32 = UPDATE_RULES[name](w32, dw.astype(np.float32), cfg32)
        w64, cfg64 = UPDATE_RULES[name](w64, dw, cfg64)
    assert w32.dtype == np.float32
    for key in STATE[name]:
        assert cfg32[key].dtype == np.float32, key
    assert_close("w float32", w32, w64, FLOAT32_TOL)


# ---------------------------------------------------------------------------
# Lookup and bad input
# ---------------------------------------------------------------------------


def test_update_rules_lookup():
    assert UPDATE_RULES == {"sgd": sgd, "sgd_momentum": sgd_momentum, "rmsprop": rmsprop,
                            "adam": adam}
    for name, rule in UPDATE_RULES.items():
        assert get_update_rule(name) is rule
    with pytest.raises(ValueError, match=r"unknown update rule 'adagrad'; valid names are "
                                         r"\['adam', 'rmsprop', 'sgd', 'sgd_momentum'\]"):
        get_update_rule("adagrad")
    with pytest.raises(TypeError, match="update rule name must be a str; got function"):
        get_update_rule(optim.sgd)


@pytest.mark.parametrize("name", sorted(UPDATE_RULES))
def test_unknown_config_key_is_named(name):
    with pytest.raises(ValueError, match=r"config has unknown key\(s\) \['learning_rat'\]"):
        UPDATE_RULES[name](np.ones(2), np.ones(2), {"learning_rat": 1e-3})


@pytest.mark.parametrize("name", sorted(UPDATE_RULES))
def test_bad_arrays_are_refused(name):
    rule = UPDATE_RULES[name]
    with pytest.raises(TypeError, match="w must be a float32 or float64 array; got dtype int64"):
        rule(np.ones(2, dtype=np.int64), np.ones(2))
    with pytest.raises(TypeError, match=r"w.dtype=float32, dw.dtype=float64"):
        rule(np.ones(2, dtype=np.float32), np.ones(2))
    with pytest.raises(ValueError, match=r"dw must have the shape of w, \(2,\); got \(3,\)"):
        rule(np.ones(2), np.ones(3))
    with pytest.raises(ValueError,
                       match=r"config\['learning_rate'\] must be in \[0, inf\); got -1"):
        rule(np.ones(2), np.ones(2), {"learning_rate": -1})
    with pytest.raises(TypeError, match="config must be a dict; got list"):
        rule(np.ones(2), np.ones(2), [])


def test_bad_state_and_hyperparameters_are_refused():
    w = np.ones(2)
    with pytest.raises(ValueError, match=r"config\['velocity'\] must have the shape of w, \(2,\)"):
        sgd_momentum(w, w, {"velocity": np.zeros(3)})
    with pytest.raises(TypeError, match=r"config\['cache'\].dtype=float32 must match w.dtype"):
        rmsprop(w, w, {"cache": np.zeros(2, np.float32)})
    with pytest.raises(ValueError, match=r"config\['momentum'\] must be in \[0, 1\); got 1"):
        sgd_momentum(w, w, {"momentum": 1})
    with pytest.raises(ValueError, match=r"config\['epsilon'\] must be in \(0, inf\); got 0"):
        adam(w, w, {"epsilon": 0})
    with pytest.raises(ValueError, match=r"config\['t'\] must be >= 0; got -1"):
        adam(w, w, {"t": -1})
    with pytest.raises(TypeError, match=r"config\['beta2'\] must be a real number; got None"):
        adam(w, w, {"beta2": None})

