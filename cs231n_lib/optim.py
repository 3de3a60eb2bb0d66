"""First-order update rules: SGD, SGD with momentum, RMSProp and Adam.

Every rule has one signature, ``update(w, dw, config=None) -> (next_w, config)``:

- ``w`` : ndarray of any shape, float32 or float64, the current weights;
- ``dw`` : ndarray of the shape and dtype of ``w``, the loss gradient;
- ``config`` : dict of hyperparameters and of the rule's state (moving
  averages, step count). ``None`` or missing keys get the rule's defaults.
  The dict is updated in place with the new state and returned, so the
  caller passes the same dict back on the next step.

``next_w`` is a new array of ``w``'s shape and dtype; ``w`` is not modified.
State arrays are created with ``w``'s dtype, so float32 training stays float32.
Unknown config keys are refused, so a misspelt ``learning_rat`` fails loudly
instead of silently training with the default.

Adam runs a compiled kernel (``cs231n_lib._im2col.adam_update``, the same
formula in one pass) when :mod:`cs231n_lib.fast_layers` uses the compiled
kernels, and the NumPy lines of :func:`adam` otherwise.

Imports: NumPy, ``cs231n_lib._validation`` and ``cs231n_lib.fast_layers``
(for its choice of compiled kernels).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from cs231n_lib import fast_layers
from cs231n_lib._validation import (
    as_float_array,
    check_int,
    check_params,
    check_real,
    check_same_dtype,
)

__all__ = ["sgd", "sgd_momentum", "rmsprop", "adam", "UPDATE_RULES", "get_update_rule"]

UpdateRule = Callable[..., tuple[np.ndarray, dict[str, Any]]]


# ---------------------------------------------------------------------------
# Checks shared by the rules
# ---------------------------------------------------------------------------


def _start(
    w: Any, dw: Any, config: dict[str, Any] | None, defaults: dict[str, Any],
    state: tuple[str, ...],
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Check ``w``, ``dw`` and ``config``; fill in defaults and zero state; return them.

    ``state`` names the arrays the rule keeps; they default to zeros like ``w``.
    """
    w = as_float_array("w", w)
    dw = as_float_array("dw", dw)
    check_same_dtype(w=w, dw=dw)
    if dw.shape != w.shape:
        raise ValueError(f"dw must have the shape of w, {w.shape}; got {dw.shape}")
    if config is None:
        config = {}
    check_params("config", config, required=(), optional=tuple(defaults) + state)
    for key, value in defaults.items():
        config.setdefault(key, value)
    for key in state:
        if key not in config:
            config[key] = np.zeros_like(w)
        name = f"config['{key}']"
        arr = as_float_array(name, config[key])
        if arr.shape != w.shape:
            raise ValueError(f"{name} must have the shape of w, {w.shape}; got {arr.shape}")
        if arr.dtype != w.dtype:
            raise TypeError(f"{name}.dtype={arr.dtype} must match w.dtype={w.dtype}")
    return w, dw, config


def _number(config: dict[str, Any], key: str, *, low: float, high: float,
            low_open: bool, high_open: bool) -> float:
    """``config[key]`` as a Python float in the given interval, else raise."""
    return check_real(f"config['{key}']", config[key], low, high,
                      low_open=low_open, high_open=high_open)


def _learning_rate(config: dict[str, Any]) -> float:
    return _number(config, "learning_rate", low=0, high=math.inf, low_open=False, high_open=True)


def _decay(config: dict[str, Any], key: str) -> float:
    """A moving-average coefficient: 1 would freeze the average forever."""
    return _number(config, key, low=0, high=1, low_open=False, high_open=True)


def _epsilon(config: dict[str, Any]) -> float:
    return _number(config, "epsilon", low=0, high=math.inf, low_open=True, high_open=True)


# ---------------------------------------------------------------------------
# The rules
# ---------------------------------------------------------------------------


def sgd(
    w: np.ndarray, dw: np.ndarray, config: dict[str, Any] | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    """Vanilla stochastic gradient descent: ``next_w = w - learning_rate * dw``.

    Parameters
    ----------
    w : ndarray of any shape, float32 or float64
    dw : ndarray of the shape and dtype of ``w``
    config : dict, optional
        ``learning_rate`` : float >= 0, default 1e-2.

    Returns
    -------
    next_w : ndarray of the shape and dtype of ``w``
    config : dict
        The same dict, with defaults filled in.
    """
    w, dw, config = _start(w, dw, config, {"learning_rate": 1e-2}, state=())
    lr = _learning_rate(config)
    return w - lr * dw, config


def sgd_momentum(
    w: np.ndarray, dw: np.ndarray, config: dict[str, Any] | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    """Stochastic gradient descent with momentum.

    Parameters
    ----------
    w : ndarray of any shape, float32 or float64
    dw : ndarray of the shape and dtype of ``w``
    config : dict, optional
        - ``learning_rate`` : float >= 0, default 1e-2.
        - ``momentum`` : float in [0, 1), default 0.9; 0 gives plain SGD.
        - ``velocity`` : ndarray like ``w``, default zeros; the state.

    Returns
    -------
    next_w : ndarray of the shape and dtype of ``w``
    config : dict
        The same dict, ``velocity`` replaced by the new velocity.

    Notes
    -----
    ``v = momentum * v - learning_rate * dw``, then ``next_w = w + v``.
    """
    w, dw, config = _start(
        w, dw, config, {"learning_rate": 1e-2, "momentum": 0.9}, state=("velocity",)
    )
    lr = _learning_rate(config)
    mu = _decay(config, "momentum")
    v = mu * config["velocity"] - lr * dw
    config["velocity"] = v
    return w + v, config


def rmsprop(
    w: np.ndarray, dw: np.ndarray, config: dict[str, Any] | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    """RMSProp: divide the step by a moving root mean square of the gradient.

    Parameters
    ----------
    w : ndarray of any shape, float32 or float64
    dw : ndarray of the shape and dtype of ``w``
    config : dict, optional
        - ``learning_rate`` : float >= 0, default 1e-2.
        - ``decay_rate`` : float in [0, 1), default 0.99.
        - ``epsilon`` : float > 0, default 1e-8.
        - ``cache`` : ndarray like ``w``, default zeros; the moving mean of ``dw**2``.

    Returns
    -------
    next_w : ndarray of the shape and dtype of ``w``
    config : dict
        The same dict, ``cache`` replaced by the new moving mean.

    Notes
    -----
    ``cache = decay_rate * cache + (1 - decay_rate) * dw**2``, then
    ``next_w = w - learning_rate * dw / (sqrt(cache) + epsilon)``
    (Tieleman & Hinton, Coursera lecture 6.5, 2012).
    """
    w, dw, config = _start(
        w, dw, config, {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8},
        state=("cache",),
    )
    lr = _learning_rate(config)
    rho = _decay(config, "decay_rate")
    eps = _epsilon(config)
    cache = rho * config["cache"] + (1 - rho) * dw**2
    config["cache"] = cache
    return w - lr * dw / (np.sqrt(cache) + eps), config


def adam(
    w: np.ndarray, dw: np.ndarray, config: dict[str, Any] | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    """Adam: momentum and RMSProp together, with bias-corrected moving averages.

    Parameters
    ----------
    w : ndarray of any shape, float32 or float64
    dw : ndarray of the shape and dtype of ``w``
    config : dict, optional
        - ``learning_rate`` : float >= 0, default 1e-3.
        - ``beta1`` : float in [0, 1), default 0.9, decay of the first moment.
        - ``beta2`` : float in [0, 1), default 0.999, decay of the second moment.
        - ``epsilon`` : float > 0, default 1e-8.
        - ``m``, ``v`` : ndarray like ``w``, default zeros; the moving means
          of ``dw`` and ``dw**2``.
        - ``t`` : int >= 0, default 0; the number of steps taken so far.

    Returns
    -------
    next_w : ndarray of the shape and dtype of ``w``
    config : dict
        The same dict with the new ``m``, ``v`` and ``t + 1``.

    Notes
    -----
    Algorithm 1 of Kingma & Ba, "Adam: A Method for Stochastic Optimization"
    (ICLR 2015), https://arxiv.org/abs/1412.6980. ``t`` is incremented first,
    so the first step divides by ``1 - beta**1``::

        t += 1
        m = beta1 * m + (1 - beta1) * dw
        v = beta2 * v + (1 - beta2) * dw**2
        next_w = w - learning_rate * (m / (1 - beta1**t)) / (sqrt(v / (1 - beta2**t)) + epsilon)

    With the compiled kernels (see :func:`_compiled_adam`) the step is one pass
    in C, with the two bias corrections folded into scalars; the result differs
    from these NumPy lines only by rounding.
    """
    w, dw, config = _start(
        w, dw, config,
        {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "t": 0},
        state=("m", "v"),
    )
    lr = _learning_rate(config)
    beta1 = _decay(config, "beta1")
    beta2 = _decay(config, "beta2")
    eps = _epsilon(config)
    t = check_int("config['t']", config["t"], 0) + 1
    kernel = _compiled_adam()
    if kernel is not None:
        # The same formula in one compiled pass: ~5x faster than the NumPy lines below,
        # which make a dozen passes over arrays as big as the network's largest weight.
        next_w, m, v = kernel(w, dw, config["m"], config["v"], lr, beta1, beta2, eps, t)
        config.update(m=m, v=v, t=t)
        return next_w, config
    m = beta1 * config["m"] + (1 - beta1) * dw
    v = beta2 * config["v"] + (1 - beta2) * dw**2
    # Both moving means start at zero; dividing by 1 - beta**t removes that bias.
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    config.update(m=m, v=v, t=t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), config


def _compiled_adam() -> Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]] | None:
    """The compiled Adam step when the fast layers use the compiled kernels, else None.

    One switch, :func:`cs231n_lib.fast_layers.set_backend` (or ``CS231N_BACKEND``),
    picks compiled kernels or NumPy twins for the layers and for Adam alike. An
    extension built before the Adam kernel existed simply lacks it.
    """
    compiled = fast_layers.compiled_kernels()
    return getattr(compiled, "adam_update", None)


# ---------------------------------------------------------------------------
# Lookup by name
# ---------------------------------------------------------------------------

UPDATE_RULES: dict[str, UpdateRule] = {
    "sgd": sgd,
    "sgd_momentum": sgd_momentum,
    "rmsprop": rmsprop,
    "adam": adam,
}


def get_update_rule(name: str) -> UpdateRule:
    """Return the update rule called ``name``, one of the keys of :data:`UPDATE_RULES`.

    Raises
    ------
    ValueError
        If ``name`` is not a known rule; the message lists the valid names.
    """
    if not isinstance(name, str):
        raise TypeError(f"update rule name must be a str; got {type(name).__name__}")
    try:
        return UPDATE_RULES[name]
    except KeyError:
        raise ValueError(
            f"unknown update rule {name!r}; valid names are {sorted(UPDATE_RULES)}"
        ) from None
