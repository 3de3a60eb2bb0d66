"""Affine, ReLU, the two classification losses, batch and layer normalization.

Every layer follows the course's contract: ``<op>_forward(x, ..., param)``
returns ``(out, cache)`` and ``<op>_backward(dout, cache)`` returns the
gradients in the order of the forward's array arguments. Shapes use N for the
batch, D for features, M for outputs and C for classes.

dtype policy: a layer with parameters computes in their dtype (w and b, or
gamma and beta, must agree); ``x`` and ``dout`` are converted to it, as the
course's models do with ``X.astype(self.dtype)``. A layer without parameters
keeps the dtype of ``x``. float32 stays float32; integer ``x`` is refused.

The normalisation layers take ``gamma`` and ``beta`` as the original course's
did (see :func:`_norm_params`): a float32 or float64 array is used as it is;
an integer array becomes float64; a scalar (a Python int or float, a NumPy
scalar, a 0-d array) stands for that value in every feature, in float64.
Promotion happens before the dtype rule above, so float64 ``x`` with
``gamma=np.asarray([3, 4, 5])`` computes in float64, and float32 ``x`` with an
integer or scalar ``gamma`` computes in float64 too (as NumPy's own promotion
of int64 with float32 would); pass float32 arrays to stay in float32.

Imports: NumPy and ``cs231n_lib._validation``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, MutableMapping
from typing import Any

import numpy as np

from cs231n_lib._validation import (
    as_float_array,
    check_dout,
    check_ndim,
    check_params,
    check_real,
    check_same_dtype,
    to_dtype,
)

__all__ = [
    "affine_forward",
    "affine_backward",
    "relu_forward",
    "relu_backward",
    "softmax_loss",
    "svm_loss",
    "batchnorm_forward",
    "batchnorm_backward",
    "batchnorm_backward_alt",
    "layernorm_forward",
    "layernorm_backward",
]

BN_MODES = ("train", "test")


# ---------------------------------------------------------------------------
# Shared checks
# ---------------------------------------------------------------------------


def _check_vector(name: str, a: np.ndarray, length: int, letter: str) -> None:
    if a.shape != (length,):
        raise ValueError(f"{name} must have shape ({letter},) = ({length},); got {a.shape}")


def _norm_param(name: str, value: Any, D: int) -> tuple[np.ndarray, bool]:
    """One of gamma or beta as an array of shape (D,); True if it was promoted.

    float32 and float64 arrays pass unchanged (their shape is checked later);
    integer arrays become float64; a scalar (Python int or float, NumPy
    scalar, 0-d array) becomes ``np.full(D, value)`` in float64. Booleans,
    complex numbers, strings and objects are refused: none is a harmless
    stand-in for a real scale or shift.
    """
    if isinstance(value, np.ndarray) and value.ndim > 0:
        if value.dtype in (np.float32, np.float64):
            return value, False
        if value.dtype.kind in "iu":
            return value.astype(np.float64), True
        raise TypeError(
            f"{name} must be an array of real numbers (float32, float64 or integer) or a "
            f"real number; got an array of dtype {value.dtype}"
        )
    scalar = value.item() if isinstance(value, (np.ndarray, np.generic)) else value
    if isinstance(scalar, bool) or not isinstance(scalar, (int, float)):
        raise TypeError(
            f"{name} must be an array of real numbers (float32, float64 or integer) or a "
            f"real number; got {type(value).__name__} {value!r}"
        )
    return np.full(D, float(scalar), dtype=np.float64), True


def _norm_params(gamma: Any, beta: Any, D: int) -> tuple[np.ndarray, np.ndarray, np.dtype]:
    """gamma and beta of a normalisation layer over D features, and the dtype it computes in.

    The promotion rule of the module docstring; then both must share one dtype,
    and the message says which of them was promoted when they do not.
    """
    gamma, gamma_promoted = _norm_param("gamma", gamma, D)
    beta, beta_promoted = _norm_param("beta", beta, D)
    if gamma.dtype != beta.dtype and (gamma_promoted or beta_promoted):
        promoted, kept = ("gamma", "beta") if gamma_promoted else ("beta", "gamma")
        raise TypeError(
            f"{promoted} was promoted to float64 (an integer array or a scalar), but "
            f"{kept}.dtype={(beta if gamma_promoted else gamma).dtype}: they must share "
            f"one dtype; pass {promoted} as an array of {kept}'s dtype"
        )
    return gamma, beta, check_same_dtype(gamma=gamma, beta=beta)


def _check_scores_labels(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    x = as_float_array("x", x)
    check_ndim("x", x, 2, "(N, C) scores")
    N, C = x.shape
    if N == 0 or C == 0:
        raise ValueError(f"x must hold at least one example and one class; got shape {x.shape}")
    y = np.asarray(y)
    if y.dtype.kind not in "iu":
        raise TypeError(f"y must hold integer class labels; got dtype {y.dtype}")
    if y.shape != (N,):
        raise ValueError(f"y must have shape (N,) = ({N},), one label per row of x; got {y.shape}")
    low, high = int(y.min()), int(y.max())
    if low < 0 or high >= C:
        bad = low if low < 0 else high
        raise ValueError(f"y must hold labels in [0, C) = [0, {C}); got label {bad}")
    return x, y


# ---------------------------------------------------------------------------
# Affine and ReLU
# ---------------------------------------------------------------------------


def affine_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, tuple]:
    """Fully connected layer: ``out = x.reshape(N, D) @ w + b``.

    Parameters
    ----------
    x : ndarray of shape (N, d_1, ..., d_k), float32 or float64
        Each example is flattened to ``D = d_1 * ... * d_k`` features.
    w : ndarray of shape (D, M)
    b : ndarray of shape (M,), dtype of ``w``

    Returns
    -------
    out : ndarray of shape (N, M), dtype of ``w`` (``x`` is converted to it)
    cache : tuple
        ``(x, w, b)``, with ``x`` in the dtype of ``w``.
    """
    x = as_float_array("x", x)
    w = as_float_array("w", w)
    b = as_float_array("b", b)
    x = to_dtype(x, check_same_dtype(w=w, b=b))
    if x.ndim < 2:
        raise ValueError(
            f"x must have shape (N, d_1, ..., d_k) with k >= 1; got shape {x.shape}"
        )
    check_ndim("w", w, 2, "(D, M)")
    N = x.shape[0]
    D = math.prod(x.shape[1:])
    if w.shape[0] != D:
        raise ValueError(f"w.shape[0]={w.shape[0]} must equal D = prod(x.shape[1:]) = {D}")
    _check_vector("b", b, w.shape[1], "M")
    out = x.reshape(N, D) @ w + b
    return out, (x, w, b)


def affine_backward(
    dout: np.ndarray, cache: tuple
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of :func:`affine_forward`.

    Parameters
    ----------
    dout : ndarray of shape (N, M)
        Upstream gradient, dtype of the forward input.
    cache : tuple
        From :func:`affine_forward`.

    Returns
    -------
    dx : ndarray of shape (N, d_1, ..., d_k), the shape of the forward ``x``
    dw : ndarray of shape (D, M)
    db : ndarray of shape (M,)
    """
    x, w, _ = cache
    N = x.shape[0]
    dout = check_dout(dout, (N, w.shape[1]), x.dtype)
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(N, -1).T @ dout  # (D, N) @ (N, M)
    db = dout.sum(axis=0)
    return dx, dw, db


def relu_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rectified linear unit, elementwise ``max(x, 0)``.

    Parameters
    ----------
    x : ndarray of any shape, float32 or float64

    Returns
    -------
    out : ndarray of the shape and dtype of ``x``
    cache : ndarray
        ``x`` itself.
    """
    x = as_float_array("x", x)
    return np.maximum(x, 0), x


def relu_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """Backward pass of :func:`relu_forward`.

    Parameters
    ----------
    dout : ndarray of the forward input's shape and dtype
    cache : ndarray
        The forward input ``x``.

    Returns
    -------
    dx : ndarray of the shape of ``x``
        ``dout`` where ``x > 0``, zero elsewhere (the kink at 0 gets gradient 0).
    """
    x = cache
    dout = check_dout(dout, x.shape, x.dtype)
    return np.where(x > 0, dout, 0)


# ---------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------


def softmax_loss(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy loss of a softmax over class scores, and its gradient.

    Parameters
    ----------
    x : ndarray of shape (N, C), float32 or float64
        ``x[i, j]`` is the score of class ``j`` for example ``i``.
    y : ndarray of shape (N,), integer
        ``y[i]`` in ``[0, C)`` is the label of example ``i``.

    Returns
    -------
    loss : float
        ``-mean_i log softmax(x[i])[y[i]]``.
    dx : ndarray of shape (N, C), dtype of ``x``
        Gradient of ``loss`` with respect to ``x``.

    Notes
    -----
    The row maximum is subtracted before exponentiating: softmax does not
    change under a shift, and the largest exponent becomes ``exp(0) = 1``, so
    large scores cannot overflow.
    """
    x, y = _check_scores_labels(x, y)
    N = x.shape[0]
    rows = np.arange(N)
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -float(log_probs[rows, y].mean())
    dx = np.exp(log_probs)
    dx[rows, y] -= 1
    dx /= N
    return loss, dx


def svm_loss(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean multiclass hinge (SVM) loss with margin 1, and its gradient.

    Parameters
    ----------
    x : ndarray of shape (N, C), float32 or float64
        Class scores.
    y : ndarray of shape (N,), integer
        Labels in ``[0, C)``.

    Returns
    -------
    loss : float
        ``mean_i sum_{j != y[i]} max(0, x[i, j] - x[i, y[i]] + 1)``.
    dx : ndarray of shape (N, C), dtype of ``x``
        Gradient of ``loss`` with respect to ``x`` (a margin of exactly 0
        counts as inactive).
    """
    x, y = _check_scores_labels(x, y)
    N = x.shape[0]
    rows = np.arange(N)
    margins = np.maximum(0, x - x[rows, y][:, None] + 1)
    margins[rows, y] = 0
    loss = float(margins.sum()) / N
    active = margins > 0
    dx = active.astype(x.dtype)
    dx[rows, y] -= active.sum(axis=1, dtype=x.dtype)
    dx /= N
    return loss, dx


# ---------------------------------------------------------------------------
# Batch normalization
# ---------------------------------------------------------------------------


def _running_stat(
    bn_param: MutableMapping[str, Any], key: str, D: int, dtype: np.dtype
) -> np.ndarray:
    """``bn_param[key]``, checked, or new zeros of shape (D,) stored into ``bn_param``."""
    if key not in bn_param:
        bn_param[key] = np.zeros(D, dtype=dtype)
    name = f"bn_param['{key}']"
    stat = as_float_array(name, bn_param[key])
    _check_vector(name, stat, D, "D")
    if stat.dtype != dtype:
        raise TypeError(f"{name}.dtype={stat.dtype} must match gamma.dtype={dtype}")
    return stat


def batchnorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: MutableMapping[str, Any]
) -> tuple[np.ndarray, tuple]:
    """Batch normalization: normalize each feature over the batch, then scale and shift.

    Parameters
    ----------
    x : ndarray of shape (N, D), float32 or float64
    gamma : ndarray of shape (D,), or a scalar; ``x`` is converted to its dtype
        Per-feature scale. float32 and float64 arrays are used as they are;
        an integer array is promoted to float64; a scalar (Python int or
        float, NumPy scalar, 0-d array) means that value for every feature,
        in float64.
    beta : ndarray of shape (D,), or a scalar; promoted as ``gamma``
        Per-feature shift; after promotion it must share ``gamma``'s dtype.
    bn_param : dict
        Read and updated in place. Keys:

        - ``mode`` : ``'train'`` or ``'test'``, required.
        - ``eps`` : float, default 1e-5, added to the variance.
        - ``momentum`` : float in [0, 1], default 0.9.
        - ``running_mean``, ``running_var`` : ndarray of shape (D,), dtype of
          ``gamma`` after promotion; created as zeros when absent and stored back.

    Returns
    -------
    out : ndarray of shape (N, D), dtype of ``gamma`` after promotion
        ``gamma * x_hat + beta``.
    cache : tuple
        ``(mode, centered, x_hat, gamma, inv_std)``: ``centered`` (N, D) is
        ``x`` minus the mean used, ``x_hat`` (N, D) the normalized input,
        ``inv_std`` (D,) ``1 / sqrt(var + eps)`` of the statistics used.

    Notes
    -----
    In ``'train'`` mode the batch mean and the biased batch variance
    (divided by N) normalize ``x``, and the running statistics move towards
    them: ``running = momentum * running + (1 - momentum) * batch_stat``.
    In ``'test'`` mode the running statistics normalize ``x`` and nothing is
    updated, so each example's output does not depend on the rest of the batch.
    """
    x = as_float_array("x", x)
    check_ndim("x", x, 2, "(N, D)")
    N, D = x.shape
    gamma, beta, dtype = _norm_params(gamma, beta, D)
    x = to_dtype(x, dtype)
    _check_vector("gamma", gamma, D, "D")
    _check_vector("beta", beta, D, "D")
    check_params(
        "bn_param", bn_param, required=("mode",),
        optional=("eps", "momentum", "running_mean", "running_var"),
    )
    mode = bn_param["mode"]
    if mode not in BN_MODES:
        raise ValueError(f"bn_param['mode'] must be 'train' or 'test'; got {mode!r}")
    # eps > 0 keeps a constant feature (zero variance) from dividing by zero.
    eps = check_real("bn_param['eps']", bn_param.get("eps", 1e-5), 0, math.inf,
                     low_open=True, high_open=True)
    momentum = check_real("bn_param['momentum']", bn_param.get("momentum", 0.9), 0, 1)
    running_mean = _running_stat(bn_param, "running_mean", D, x.dtype)
    running_var = _running_stat(bn_param, "running_var", D, x.dtype)

    if mode == "train":
        if N == 0:
            raise ValueError("x must hold at least one example in 'train' mode; got N=0")
        mean = x.mean(axis=0)
        centered = x - mean  # (N, D)
        var = (centered**2).mean(axis=0)
        inv_std = 1 / np.sqrt(var + eps)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mean
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    else:
        centered = x - running_mean
        inv_std = 1 / np.sqrt(running_var + eps)
    x_hat = centered * inv_std
    out = gamma * x_hat + beta
    return out, (mode, centered, x_hat, gamma, inv_std)


def _bn_param_grads(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check ``dout`` against a batchnorm cache; return ``(dout, dgamma, dbeta)``."""
    x_hat = cache[2]
    dout = check_dout(dout, x_hat.shape, x_hat.dtype)
    return dout, (dout * x_hat).sum(axis=0), dout.sum(axis=0)


def batchnorm_backward(
    dout: np.ndarray, cache: tuple
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of :func:`batchnorm_forward`, one step of the graph at a time.

    The forward pass is unrolled into mean, centering, variance, inverse
    standard deviation and scaling, and the chain rule is applied to each step
    in reverse. :func:`batchnorm_backward_alt` gives the same result from the
    simplified closed form.

    Parameters
    ----------
    dout : ndarray of shape (N, D)
        Upstream gradient, dtype of the forward input.
    cache : tuple
        From :func:`batchnorm_forward`.

    Returns
    -------
    dx : ndarray of shape (N, D)
    dgamma : ndarray of shape (D,)
    dbeta : ndarray of shape (D,)

    Notes
    -----
    In ``'test'`` mode the statistics are constants, so ``dx = dout * gamma * inv_std``.
    """
    mode, centered, _, gamma, inv_std = cache
    dout, dgamma, dbeta = _bn_param_grads(dout, cache)
    dx_hat = dout * gamma
    if mode == "test":
        return dx_hat * inv_std, dgamma, dbeta
    N = centered.shape[0]
    dinv_std = (dx_hat * centered).sum(axis=0)
    dcentered = dx_hat * inv_std
    # inv_std = (var + eps)**-1/2, so d inv_std / d var = -inv_std**3 / 2.
    dvar = dinv_std * (-0.5) * inv_std**3
    # var = mean(centered**2) over the batch.
    dcentered += centered * (2 * dvar / N)
    # centered = x - mean, and mean = sum(x) / N.
    dmean = -dcentered.sum(axis=0)
    dx = dcentered + dmean / N
    return dx, dgamma, dbeta


def batchnorm_backward_alt(
    dout: np.ndarray, cache: tuple
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of :func:`batchnorm_forward` from the simplified closed form.

    Parameters
    ----------
    dout : ndarray of shape (N, D)
        Upstream gradient, dtype of the forward input.
    cache : tuple
        From :func:`batchnorm_forward`.

    Returns
    -------
    dx : ndarray of shape (N, D)
    dgamma : ndarray of shape (D,)
    dbeta : ndarray of shape (D,)

    Notes
    -----
    With ``g = dout * gamma``, per feature::

        dx = inv_std / N * (N * g - sum_n g - x_hat * sum_n (g * x_hat))

    the two sums being the gradient's paths through the batch mean and
    the batch variance. In ``'test'`` mode ``dx = g * inv_std``.
    """
    mode, _, x_hat, gamma, inv_std = cache
    dout, dgamma, dbeta = _bn_param_grads(dout, cache)
    dx_hat = dout * gamma
    if mode == "test":
        return dx_hat * inv_std, dgamma, dbeta
    N = x_hat.shape[0]
    dx = (inv_std / N) * (
        N * dx_hat - dx_hat.sum(axis=0) - x_hat * (dx_hat * x_hat).sum(axis=0)
    )
    return dx, dgamma, dbeta


# ---------------------------------------------------------------------------
# Layer normalization
# ---------------------------------------------------------------------------


def layernorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, ln_param: Mapping[str, Any]
) -> tuple[np.ndarray, tuple]:
    """Layer normalization: normalize each example over its features, then scale and shift.

    Parameters
    ----------
    x : ndarray of shape (N, D), float32 or float64
    gamma : ndarray of shape (D,), or a scalar; ``x`` is converted to its dtype
        Per-feature scale, promoted as in :func:`batchnorm_forward`: an
        integer array or a scalar becomes float64.
    beta : ndarray of shape (D,), or a scalar; promoted as ``gamma``
    ln_param : dict
        ``eps`` : float, default 1e-5, added to the variance. No other key.

    Returns
    -------
    out : ndarray of shape (N, D), dtype of ``gamma`` after promotion
    cache : tuple
        ``(x_hat, gamma, inv_std)``: ``x_hat`` (N, D) the normalized input,
        ``inv_std`` (N, 1) each example's ``1 / sqrt(var + eps)``.

    Notes
    -----
    The statistics are per example (mean and biased variance over the D
    features), so train and test behave alike and there is no running state.
    """
    x = as_float_array("x", x)
    check_ndim("x", x, 2, "(N, D)")
    D = x.shape[1]
    gamma, beta, dtype = _norm_params(gamma, beta, D)
    x = to_dtype(x, dtype)
    _check_vector("gamma", gamma, D, "D")
    _check_vector("beta", beta, D, "D")
    check_params("ln_param", ln_param, required=(), optional=("eps",))
    eps = check_real("ln_param['eps']", ln_param.get("eps", 1e-5), 0, math.inf,
                     low_open=True, high_open=True)
    if D == 0:
        raise ValueError("x must have at least one feature to normalize; got D=0")
    centered = x - x.mean(axis=1, keepdims=True)
    inv_std = 1 / np.sqrt((centered**2).mean(axis=1, keepdims=True) + eps)  # (N, 1)
    x_hat = centered * inv_std
    return gamma * x_hat + beta, (x_hat, gamma, inv_std)


def layernorm_backward(
    dout: np.ndarray, cache: tuple
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of :func:`layernorm_forward`.

    Parameters
    ----------
    dout : ndarray of shape (N, D)
        Upstream gradient, dtype of the forward input.
    cache : tuple
        From :func:`layernorm_forward`.

    Returns
    -------
    dx : ndarray of shape (N, D)
    dgamma : ndarray of shape (D,)
    dbeta : ndarray of shape (D,)

    Notes
    -----
    The batchnorm closed form with the roles of the axes swapped: with
    ``g = dout * gamma``, per example::

        dx = inv_std / D * (D * g - sum_d g - x_hat * sum_d (g * x_hat))
    """
    x_hat, gamma, inv_std = cache
    dout = check_dout(dout, x_hat.shape, x_hat.dtype)
    D = x_hat.shape[1]
    dx_hat = dout * gamma
    dx = (inv_std / D) * (
        D * dx_hat
        - dx_hat.sum(axis=1, keepdims=True)
        - x_hat * (dx_hat * x_hat).sum(axis=1, keepdims=True)
    )
    return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)
