"""Sandwich layers: common stacks of layers as one forward and one backward call.

Each ``<stack>_forward`` runs its layers in order and returns ``(out, cache)``
with ``cache`` the tuple of the layers' caches; each ``<stack>_backward``
runs their backward passes in reverse and returns the gradients of the
forward's array arguments, in order. Convolutions and pooling use the fast
layers; shapes use N, C, H, W for inputs, F, HH, WW for filters and D, M for
affine layers.

Imports: ``cs231n_lib.layers``, ``cs231n_lib.fast_layers``, ``cs231n_lib.refusal``.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

import numpy as np

from cs231n_lib import refusal
from cs231n_lib.fast_layers import (
    _conv_backward,
    _conv_forward,
    conv_backward_fast,
    conv_forward_fast,
    max_pool_backward_fast,
    max_pool_forward_fast,
)
from cs231n_lib.layers import (
    affine_backward,
    affine_forward,
    batchnorm_backward_alt,
    batchnorm_forward,
    relu_backward,
    relu_forward,
)

__all__ = [
    "affine_relu_forward",
    "affine_relu_backward",
    "affine_bn_relu_forward",
    "affine_bn_relu_backward",
    "conv_relu_forward",
    "conv_relu_backward",
    "conv_relu_pool_forward",
    "conv_relu_pool_backward",
    "conv_bn_relu_forward",
    "conv_bn_relu_backward",
]

Grads3 = tuple[np.ndarray, np.ndarray, np.ndarray]
Grads5 = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


# ---------------------------------------------------------------------------
# Affine stacks
# ---------------------------------------------------------------------------


def affine_relu_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, tuple]:
    """Affine layer followed by a ReLU.

    Parameters
    ----------
    x : ndarray of shape (N, d_1, ..., d_k), float32 or float64
    w : ndarray of shape (D, M), D = d_1 * ... * d_k, same dtype as ``x``
    b : ndarray of shape (M,), same dtype as ``x``

    Returns
    -------
    out : ndarray of shape (N, M)
    cache : tuple
        ``(affine_cache, relu_cache)``.
    """
    a, fc_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    return out, (fc_cache, relu_cache)


def affine_relu_backward(dout: np.ndarray, cache: tuple) -> Grads3:
    """Backward pass of :func:`affine_relu_forward`.

    Parameters
    ----------
    dout : ndarray of shape (N, M)
    cache : tuple
        From :func:`affine_relu_forward`.

    Returns
    -------
    dx : ndarray of shape (N, d_1, ..., d_k)
    dw : ndarray of shape (D, M)
    db : ndarray of shape (M,)
    """
    fc_cache, relu_cache = cache
    da = relu_backward(dout, relu_cache)
    return affine_backward(da, fc_cache)


def affine_bn_relu_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
    bn_param: MutableMapping[str, Any],
) -> tuple[np.ndarray, tuple]:
    """Affine layer, batch normalization, ReLU.

    Parameters
    ----------
    x : ndarray of shape (N, d_1, ..., d_k), float32 or float64
    w : ndarray of shape (D, M), same dtype as ``x``
    b : ndarray of shape (M,), same dtype as ``x``
    gamma, beta : ndarray of shape (M,), same dtype as ``x``
        Batchnorm scale and shift.
    bn_param : dict
        As for :func:`cs231n_lib.layers.batchnorm_forward` (``mode`` required);
        its running statistics are updated in place in ``'train'`` mode.

    Returns
    -------
    out : ndarray of shape (N, M)
    cache : tuple
        ``(affine_cache, bn_cache, relu_cache)``.
    """
    a, fc_cache = affine_forward(x, w, b)
    a_bn, bn_cache = batchnorm_forward(a, gamma, beta, bn_param)
    out, relu_cache = relu_forward(a_bn)
    return out, (fc_cache, bn_cache, relu_cache)


def affine_bn_relu_backward(dout: np.ndarray, cache: tuple) -> Grads5:
    """Backward pass of :func:`affine_bn_relu_forward`.

    Parameters
    ----------
    dout : ndarray of shape (N, M)
    cache : tuple
        From :func:`affine_bn_relu_forward`.

    Returns
    -------
    dx : ndarray of shape (N, d_1, ..., d_k)
    dw : ndarray of shape (D, M)
    db : ndarray of shape (M,)
    dgamma : ndarray of shape (M,)
    dbeta : ndarray of shape (M,)
    """
    fc_cache, bn_cache, relu_cache = cache
    da_bn = relu_backward(dout, relu_cache)
    da, dgamma, dbeta = batchnorm_backward_alt(da_bn, bn_cache)
    dx, dw, db = affine_backward(da, fc_cache)
    return dx, dw, db, dgamma, dbeta


# ---------------------------------------------------------------------------
# Convolution stacks
# ---------------------------------------------------------------------------


def conv_relu_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: Mapping[str, int]
) -> tuple[np.ndarray, tuple]:
    """Convolution followed by a ReLU.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W), float32 or float64
    w : ndarray of shape (F, C, HH, WW), same dtype as ``x``
    b : ndarray of shape (F,), same dtype as ``x``
    conv_param : dict
        ``stride`` and ``pad``, as for :func:`cs231n_lib.fast_layers.conv_forward_fast`.

    Returns
    -------
    out : ndarray of shape (N, F, Ho, Wo)
    cache : tuple
        ``(conv_cache, relu_cache)``.

    Notes
    -----
    ``Ho = 1 + (H + 2*pad - HH) // stride`` and ``Wo = 1 + (W + 2*pad - WW) // stride``.
    """
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    out, relu_cache = relu_forward(a)
    return out, (conv_cache, relu_cache)


def conv_relu_backward(dout: np.ndarray, cache: tuple) -> Grads3:
    """Backward pass of :func:`conv_relu_forward`.

    Parameters
    ----------
    dout : ndarray of shape (N, F, Ho, Wo)
    cache : tuple
        From :func:`conv_relu_forward`.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
    dw : ndarray of shape (F, C, HH, WW)
    db : ndarray of shape (F,)
    """
    conv_cache, relu_cache = cache
    da = relu_backward(dout, relu_cache)
    return conv_backward_fast(da, conv_cache)


def conv_relu_pool_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: Mapping[str, int],
    pool_param: Mapping[str, int],
) -> tuple[np.ndarray, tuple]:
    """Convolution, ReLU, then max pooling.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W), float32 or float64
    w : ndarray of shape (F, C, HH, WW), same dtype as ``x``
    b : ndarray of shape (F,), same dtype as ``x``
    conv_param : dict
        ``stride`` and ``pad``; ``need_dx`` as for
        :func:`cs231n_lib.fast_layers.conv_forward_fast`.
    pool_param : dict
        ``pool_height``, ``pool_width`` and ``stride``.

    Returns
    -------
    out : ndarray of shape (N, F, Hp, Wp)
    cache : tuple
        ``(conv_cache, pool_cache, relu_cache)``.

    Notes
    -----
    With the conv output size ``Ho, Wo`` as in :func:`conv_relu_forward`,
    ``Hp = 1 + (Ho - pool_height) // pool_stride`` and
    ``Wp = 1 + (Wo - pool_width) // pool_stride``.

    The bias and the ReLU come after the pooling, on the smaller array. A
    channel's bias shifts every pixel of a window alike, so
    ``max(a + b) == max(a) + b`` with the same argmax; ReLU is monotone, so
    ``max(relu(a)) == relu(max(a))``, and the gradients agree too (a window
    whose maximum is <= 0 passes no gradient either way).
    """
    a, conv_cache = _conv_forward(x, w, b, conv_param, add_bias=False)
    p, pool_cache = max_pool_forward_fast(a, pool_param)
    p += conv_cache[2][:, None, None]  # b, checked and in w's dtype
    out, relu_cache = relu_forward(p)
    return out, (conv_cache, pool_cache, relu_cache)


def conv_relu_pool_backward(dout: np.ndarray, cache: tuple) -> Grads3:
    """Backward pass of :func:`conv_relu_pool_forward`.

    Parameters
    ----------
    dout : ndarray of shape (N, F, Hp, Wp)
    cache : tuple
        From :func:`conv_relu_pool_forward`.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W), or None if ``conv_param['need_dx']`` was False
    dw : ndarray of shape (F, C, HH, WW)
    db : ndarray of shape (F,)
    """
    conv_cache, pool_cache, relu_cache = cache
    dp = relu_backward(dout, relu_cache)
    # The bias was added to the pooled maps, so its gradient sums dp, a quarter of da's size.
    db = dp.reshape(dp.shape[0], dp.shape[1], -1).sum(axis=2).sum(axis=0)
    da = max_pool_backward_fast(dp, pool_cache)
    dx, dw, _ = _conv_backward(da, conv_cache, with_db=False)
    return dx, dw, db


def _spatial_bn_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: MutableMapping[str, Any]
) -> tuple[np.ndarray, tuple]:
    """Batch normalization of (N, C, H, W) maps, one mean and variance per channel.

    Every pixel of every example is a sample of its channel, so the maps are
    laid out as an (N*H*W, C) batch for :func:`batchnorm_forward`.
    """
    refusal.check("spatial_batchnorm")
    N, C, H, W = x.shape
    flat = x.transpose(0, 2, 3, 1).reshape(N * H * W, C)  # (N*H*W, C)
    out, bn_cache = batchnorm_forward(flat, gamma, beta, bn_param)
    out = out.reshape(N, H, W, C).transpose(0, 3, 1, 2)  # (N, C, H, W)
    return np.ascontiguousarray(out), bn_cache


def _spatial_bn_backward(dout: np.ndarray, cache: tuple) -> Grads3:
    """Backward pass of :func:`_spatial_bn_forward`."""
    refusal.check("spatial_batchnorm")
    N, C, H, W = dout.shape
    flat = dout.transpose(0, 2, 3, 1).reshape(N * H * W, C)  # (N*H*W, C)
    dx, dgamma, dbeta = batchnorm_backward_alt(flat, cache)
    dx = dx.reshape(N, H, W, C).transpose(0, 3, 1, 2)  # (N, C, H, W)
    return np.ascontiguousarray(dx), dgamma, dbeta


def conv_bn_relu_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
    conv_param: Mapping[str, int], bn_param: MutableMapping[str, Any],
) -> tuple[np.ndarray, tuple]:
    """Convolution, spatial batch normalization, ReLU.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W), float32 or float64
    w : ndarray of shape (F, C, HH, WW), same dtype as ``x``
    b : ndarray of shape (F,), same dtype as ``x``
    gamma, beta : ndarray of shape (F,), same dtype as ``x``
        Per-channel scale and shift of the conv output.
    conv_param : dict
        ``stride`` and ``pad``.
    bn_param : dict
        As for :func:`cs231n_lib.layers.batchnorm_forward` (``mode`` required),
        with ``running_mean`` and ``running_var`` of shape (F,); updated in
        place in ``'train'`` mode.

    Returns
    -------
    out : ndarray of shape (N, F, Ho, Wo)
    cache : tuple
        ``(conv_cache, bn_cache, relu_cache)``.

    Notes
    -----
    The batch statistics of channel ``f`` are taken over all N*Ho*Wo
    positions of the conv output. Output size as in :func:`conv_relu_forward`.
    """
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    F = a.shape[1]
    for name, v in (("gamma", gamma), ("beta", beta)):
        shape = np.shape(v)
        if shape != (F,):
            raise ValueError(
                f"{name} must have shape (F,) = ({F},), one entry per filter; got {shape}"
            )
    a_bn, bn_cache = _spatial_bn_forward(a, gamma, beta, bn_param)
    out, relu_cache = relu_forward(a_bn)
    return out, (conv_cache, bn_cache, relu_cache)


def conv_bn_relu_backward(dout: np.ndarray, cache: tuple) -> Grads5:
    """Backward pass of :func:`conv_bn_relu_forward`.

    Parameters
    ----------
    dout : ndarray of shape (N, F, Ho, Wo)
    cache : tuple
        From :func:`conv_bn_relu_forward`.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
    dw : ndarray of shape (F, C, HH, WW)
    db : ndarray of shape (F,)
    dgamma : ndarray of shape (F,)
    dbeta : ndarray of shape (F,)
    """
    conv_cache, bn_cache, relu_cache = cache
    da_bn = relu_backward(dout, relu_cache)
    da, dgamma, dbeta = _spatial_bn_backward(da_bn, bn_cache)
    dx, dw, db = conv_backward_fast(da, conv_cache)
    return dx, dw, db, dgamma, dbeta
