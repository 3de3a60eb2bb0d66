"""The spatial batch norm and group norm checks of notebook 4, and the mistakes they name.

A wrong normalisation is recognised by a property of the student's output,
never by running a reference layer: with ``gamma`` and ``beta`` undone,
``z = (out - beta) / gamma`` is *exactly* a normalisation over some
partition of the values when, within every block of it, z is an increasing
affine function of x with mean 0 and variance 1. Exactness matters: a finer
normalisation (instance norm) also has mean 0 and variance 1 over the
coarser blocks, but is not affine in x within them, so each wrong partition
is told apart from the others and from the right one.

Imports: NumPy and ``cs231n_lib.checks.core``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from cs231n_lib.checks.core import (
    MATCH,
    Hint,
    f64,
    grads,
    numeric_gradient,
    pair,
    rel_error,
    report,
)

# Partitions of an (N, C, H, W) array, by the index each value's block gets.
PARTITIONS: dict[str, Callable[[int, int, int, int, int], np.ndarray]] = {
    "channel": lambda N, C, H, W, G: np.broadcast_to(np.arange(C)[None, :, None, None],
                                                     (N, C, H, W)),
    "instance": lambda N, C, H, W, G: np.arange(N * C).reshape(N, C, 1, 1) + np.zeros(
        (1, 1, H, W), dtype=int),
    "pixel": lambda N, C, H, W, G: np.broadcast_to(np.arange(C * H * W).reshape(1, C, H, W),
                                                   (N, C, H, W)),
    "layer": lambda N, C, H, W, G: np.broadcast_to(np.arange(N)[:, None, None, None],
                                                   (N, C, H, W)),
    "group": lambda N, C, H, W, G: np.broadcast_to(
        (np.arange(N)[:, None] * G + np.arange(C)[None, :] // (C // G))[:, :, None, None],
        (N, C, H, W)),
    "interleaved": lambda N, C, H, W, G: np.broadcast_to(
        (np.arange(N)[:, None] * G + np.arange(C)[None, :] % G)[:, :, None, None],
        (N, C, H, W)),
    "group_over_batch": lambda N, C, H, W, G: np.broadcast_to(
        (np.arange(C) // (C // G))[None, :, None, None], (N, C, H, W)),
}


def partition(kind: str, shape: tuple[int, ...], G: int | None = None) -> np.ndarray:
    """Block labels of ``kind`` for an (N, C, H, W) array; ``G`` for the group kinds."""
    N, C, H, W = shape
    return np.ascontiguousarray(PARTITIONS[kind](N, C, H, W, G or 1), dtype=np.int64)


def labels_of(group_axes: Callable[[np.ndarray], np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    """Block labels from a ``group_axes`` map (array -> (groups, members)) as notebooks pass."""
    rows = np.asarray(group_axes(np.arange(int(np.prod(shape))).reshape(shape)))
    labels = np.empty(int(np.prod(shape)), dtype=np.int64)
    labels[rows.reshape(rows.shape[0], -1)] = np.arange(rows.shape[0])[:, None]
    return labels.reshape(shape)


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    pairs = np.unique(np.stack([a.ravel(), b.ravel()]), axis=1).shape[1]
    return pairs == len(np.unique(a)) == len(np.unique(b))


def _block_fit(z: np.ndarray, x: np.ndarray, labels: np.ndarray):
    """Per block: is z affine in x, its slope, mean and variance; None if a block is too small."""
    L = labels.ravel()
    z, x = z.ravel().astype(np.float64), x.ravel().astype(np.float64)
    count = np.bincount(L)
    if count.min() < 2:
        return None
    xc = x - (np.bincount(L, x) / count)[L]
    mean_z = np.bincount(L, z) / count
    zc = z - mean_z[L]
    sxx = np.bincount(L, xc * xc)
    if np.any(sxx <= 0):
        return None
    slope = np.bincount(L, xc * zc) / sxx
    scale = 1.0 + float(np.max(np.abs(z)))
    affine = float(np.max(np.abs(zc - slope[L] * xc))) <= 1e-6 * scale
    return affine, slope, mean_z, np.bincount(L, zc * zc) / count, count, scale


def normalised_over(z: np.ndarray, x: np.ndarray, labels: np.ndarray, atol: float = 1e-3) -> bool:
    """True if ``z`` is exactly ``x`` standardised within each block of ``labels``.

    Within each block z is an increasing affine function of x, with mean 0
    and variance within ``atol`` of 1 (eps moves it by about eps / var).
    """
    fit = _block_fit(z, x, labels)
    if fit is None:
        return False
    affine, slope, mean_z, var_z, _, scale = fit
    return (affine and bool(np.all(slope > 0)) and float(np.max(np.abs(mean_z))) <= 1e-6 * scale
            and float(np.max(np.abs(var_z - 1))) <= atol)


def _centred_with_var(z: np.ndarray, x: np.ndarray, labels: np.ndarray,
                      target: Callable[[np.ndarray], np.ndarray], atol: float) -> bool:
    """Affine, increasing and centred in each block, with variance ``target(count)``."""
    fit = _block_fit(z, x, labels)
    if fit is None:
        return False
    affine, slope, mean_z, var_z, count, scale = fit
    return (affine and bool(np.all(slope > 0)) and float(np.max(np.abs(mean_z))) <= 1e-6 * scale
            and float(np.max(np.abs(var_z - target(count)))) <= atol)


def _eps_misplaced(z: np.ndarray, x: np.ndarray, labels: np.ndarray) -> bool:
    """Centred and affine per block, with a variance that one eps placed somewhere explains.

    Each block's variance of z must be ``v / (v + e)`` (eps inside the square root, any
    eps, 0 when it is missing) or ``v / (sqrt(v) + e) ** 2`` (eps outside), for one
    ``e >= 0`` shared by every block, where ``v`` is the block's own variance of x. A
    variance over other values gives a ratio that changes from block to block; a single
    block (one channel, say) is explained by some e whatever its variance was, so it is
    no evidence and gets no diagnosis.
    """
    if int(labels.max()) < 1:
        return False
    if not _centred_with_var(z, x, labels, lambda m: np.ones_like(m), 1e-2):
        return False
    fit = _block_fit(z, x, labels)
    var_z = fit[3]
    L, xv = labels.ravel(), x.ravel().astype(np.float64)
    count = np.bincount(L)
    mean = np.bincount(L, xv) / count
    v = np.bincount(L, (xv - mean[L]) ** 2) / count
    if np.any(v <= 0) or np.any(var_z <= 0):
        return False
    for e in (v / var_z - v, np.sqrt(v / var_z) - np.sqrt(v)):
        mid = float(np.median(e))
        if mid >= -1e-12 * float(np.max(v)) and \
                float(np.max(np.abs(e - mid))) <= 1e-4 * abs(mid) + 1e-10 * float(np.max(v)):
            return True
    return False


def _unscale(out: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
    C = out.shape[1]
    return (out - beta.reshape(1, C, 1, 1)) / gamma.reshape(1, C, 1, 1)


def norm_forward_hints(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
                       expected: np.ndarray, right: np.ndarray,
                       wrong: list[tuple[np.ndarray, str]]) -> list[Hint]:
    """The known mistakes of a normalisation's forward output.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    gamma, beta : ndarrays of C values (any shape that reshapes to (1, C, 1, 1))
    expected : ndarray of shape (N, C, H, W)
        The right output.
    right : ndarray of int, shape (N, C, H, W)
        Block labels of the right partition (see :func:`partition`).
    wrong : list of (labels, sentence)
        The wrong partitions to recognise, each with the sentence naming it.
    """
    C = x.shape[1]
    g, b = gamma.reshape(1, C, 1, 1), beta.reshape(1, C, 1, 1)
    if np.any(np.abs(g) < 1e-8):
        return []  # gamma cannot be undone: no partition is recognisable
    x_hat = _unscale(expected, gamma, beta)

    def on(labels, check):
        return lambda actual: check(_unscale(actual, gamma, beta), x, labels)

    hints = [
        Hint("gamma is missing: scale each channel's normalised values by gamma",
             answer=lambda: x_hat + b),
        Hint("beta is missing: shift each channel's scaled values by beta",
             answer=lambda: g * x_hat),
        Hint("gamma and beta are swapped: out = gamma * x_hat + beta",
             answer=lambda: b * x_hat + g),
    ]
    for labels, sentence in wrong:
        if not _same_partition(labels, right):
            hints.append(Hint(sentence, test=on(labels, normalised_over)))
    hints += [
        Hint("the statistics are over the right values, but the variance is the unbiased "
             "one (divided by count - 1); use the biased variance, divided by the count, "
             "as np.var does by default",
             test=on(right, lambda z, xx, lab: _centred_with_var(z, xx, lab,
                                                                 lambda m: (m - 1) / m, 1e-3))),
        Hint("the statistics are over the right values, but the scale is off a little: is "
             "eps inside the square root, np.sqrt(var + eps)?",
             test=on(right, _eps_misplaced)),
    ]
    return hints


def bn_forward_hints(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
                     expected: np.ndarray) -> list[Hint]:
    """The known mistakes of spatial batch norm's train-mode output."""
    shape = x.shape
    return norm_forward_hints(x, gamma, beta, expected, partition("channel", shape), [
        (partition("instance", shape),
         "each channel of each image was normalised on its own (instance norm): batch "
         "statistics average over N, H and W together"),
        (partition("pixel", shape),
         "each pixel position has its own mean and variance (statistics over N only); "
         "spatial batch norm shares them over N, H and W for each channel"),
        (partition("layer", shape),
         "all channels of an image were normalised together (layer norm); spatial batch "
         "norm normalises each channel over N, H and W"),
    ])


def gn_forward_hints(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, G: int,
                     expected: np.ndarray) -> list[Hint]:
    """The known mistakes of spatial group norm's output, with G groups."""
    shape = x.shape
    wrong = [
        (partition("instance", shape),
         "each channel of each image was normalised on its own (instance norm): a group "
         "holds C // G channels"),
        (partition("layer", shape),
         "all channels of an image were normalised together (layer norm): the G groups "
         "are ignored"),
        (partition("channel", shape),
         "the statistics are batch norm's (over N, H and W); group norm uses each image's "
         "own statistics, one pair per group"),
        (partition("group_over_batch", shape, G),
         "each group's statistics are taken over the whole batch; group norm uses each "
         "image's own statistics: reshape to (N, G, C // G * H * W)"),
    ]
    if shape[1] % G == 0:
        wrong.insert(1, (partition("interleaved", shape, G),
                         "each group holds every G-th channel; a group is C // G consecutive "
                         "channels: reshape to (N, G, C // G, H, W)"))
    return norm_forward_hints(x, gamma, beta, expected, partition("group", shape, G), wrong)


def bn_test_mode_hints(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
                       expected: np.ndarray) -> list[Hint]:
    """The known mistakes of spatial batch norm's test-mode output."""
    C = x.shape[1]
    g, b = gamma.reshape(1, C, 1, 1), beta.reshape(1, C, 1, 1)
    x_hat = _unscale(expected, gamma, beta)
    channel = partition("channel", x.shape)
    return [
        Hint("test mode normalised with this batch's own mean and variance; at test time "
             "use bn_param['running_mean'] and bn_param['running_var'] instead",
             test=lambda a: normalised_over(_unscale(a, gamma, beta), x, channel)),
        Hint("gamma is missing: scale each channel's normalised values by gamma",
             answer=lambda: x_hat + b),
        Hint("beta is missing: shift each channel's scaled values by beta",
             answer=lambda: g * x_hat),
    ]


def running_hints(key: str, x: np.ndarray, before: np.ndarray, momentum: float) -> list[Hint]:
    """The known mistakes in updating ``bn_param[key]`` (running_mean or running_var)."""
    axes = (0, 2, 3)
    batch = x.mean(axis=axes) if key == "running_mean" else x.var(axis=axes)
    hints = [
        Hint(f"bn_param['{key}'] was not updated: in train mode store momentum * running + "
             "(1 - momentum) * the batch's statistic back into bn_param",
             answer=lambda: before),
        Hint(f"bn_param['{key}'] weighs the batch by momentum: running = momentum * running "
             "+ (1 - momentum) * batch statistic",
             answer=lambda: (1 - momentum) * before + momentum * batch),
        Hint(f"bn_param['{key}'] holds the batch's statistic itself, not a running average: "
             "running = momentum * running + (1 - momentum) * batch statistic",
             answer=lambda: batch),
    ]
    if key == "running_var":
        m = x.size // x.shape[1]
        hints.append(Hint("bn_param['running_var'] averages the unbiased variance; use the "
                          "biased one (divided by the count), as in training",
                          answer=lambda: momentum * before + (1 - momentum) * batch * m / (m - 1)))
        hints.append(Hint("bn_param['running_var'] averages the standard deviation; it keeps "
                          "the variance", answer=lambda: momentum * before
                          + (1 - momentum) * np.sqrt(batch)))

    def other_momentum(actual):
        # running = a * before + (1 - a) * batch for one a in [0, 1) other than momentum.
        d = batch - before
        if not np.any(d):
            return False
        a = 1.0 - float((actual - before) @ d / (d @ d))
        return (0.0 <= a < 1.0 and abs(a - momentum) > 1e-6
                and rel_error(actual, a * before + (1 - a) * batch) <= MATCH)

    hints.append(Hint(f"bn_param['{key}'] was averaged with another momentum than "
                      "bn_param's: read it with bn_param.get('momentum', 0.9), 0.9 by default",
                      test=other_momentum))
    return hints


def _check_param_shape(name: str, gamma: np.ndarray, C: int, shape: tuple[int, ...]) -> None:
    if gamma.shape != shape:
        raise ValueError(f"{name} must have shape {shape} for C={C}; got {gamma.shape}")


def check_spatial_batchnorm_forward(forward: Callable, x: np.ndarray, gamma: np.ndarray,
                                    beta: np.ndarray, expected: np.ndarray, tol: float = 1e-7,
                                    name: str = "spatial_batchnorm_forward") -> None:
    """Train-mode check: compare ``forward(x, gamma, beta, {'mode': 'train'})`` with ``expected``.

    ``x`` is (N, C, H, W), ``gamma`` and ``beta`` are (C,); ``expected`` is the
    stored right answer. The running averages the call leaves in bn_param
    (starting from none: zeros, momentum 0.9) are compared too, as the grader
    compares them: ``0.1 * x.mean(axis=(0, 2, 3))`` and ``0.1 * x.var(...)``.
    """
    x, gamma, beta, expected = f64(x, gamma, beta, expected)
    C = x.shape[1]
    bn_param: dict[str, Any] = {"mode": "train"}
    out, _ = pair(name, forward(x.copy(), gamma.copy(), beta.copy(), bn_param))
    report(f"{name} out", out, expected, tol, bn_forward_hints(x, gamma, beta, expected),
           norm_case_kinds(x))
    for key, stat in (("running_mean", x.mean(axis=(0, 2, 3))),
                      ("running_var", x.var(axis=(0, 2, 3)))):
        value = bn_param.get(key)
        if not isinstance(value, np.ndarray) or value.shape != (C,):
            got = "nothing" if value is None else f"shape {np.shape(value)}"
            raise AssertionError(
                f"{name}: after a train-mode call bn_param['{key}'] should be an array of "
                f"shape (C,) = ({C},), one value per channel; found {got}"
            )
        report(f"{name} bn_param['{key}']", value, 0.1 * stat, tol,
               running_hints(key, x, np.zeros(C), 0.9), norm_case_kinds(x))


def check_spatial_batchnorm_test_mode(forward: Callable, x: np.ndarray, gamma: np.ndarray,
                                      beta: np.ndarray, running_mean: np.ndarray,
                                      running_var: np.ndarray, expected: np.ndarray,
                                      tol: float = 1e-7,
                                      name: str = "spatial_batchnorm_forward") -> None:
    """Test-mode check: normalise with the stored running averages, and leave them alone.

    ``running_mean`` and ``running_var`` are (C,) and should be far from the
    batch's own statistics, so that using the batch's shows.
    """
    x, gamma, beta, rm, rv, expected = f64(x, gamma, beta, running_mean, running_var, expected)
    bn_param = {"mode": "test", "running_mean": rm.copy(), "running_var": rv.copy()}
    out, _ = pair(name, forward(x.copy(), gamma.copy(), beta.copy(), bn_param))
    report(f"{name} test-mode out", out, expected, tol,
           bn_test_mode_hints(x, gamma, beta, expected), norm_case_kinds(x))
    for key, before in (("running_mean", rm), ("running_var", rv)):
        if not np.array_equal(bn_param.get(key), before):
            raise AssertionError(
                f"{name}: test mode changed bn_param['{key}']; only train mode updates "
                "the running averages"
            )


def check_spatial_groupnorm_forward(forward: Callable, x: np.ndarray, gamma: np.ndarray,
                                    beta: np.ndarray, G: int, expected: np.ndarray,
                                    tol: float = 1e-7,
                                    name: str = "spatial_groupnorm_forward") -> None:
    """Compare ``forward(x, gamma, beta, G, {}) -> (out, cache)`` with ``expected``.

    ``gamma`` and ``beta`` have shape (1, C, 1, 1); the C channels form G
    groups of C // G consecutive channels.
    """
    x, gamma, beta, expected = f64(x, gamma, beta, expected)
    _check_param_shape("gamma", gamma, x.shape[1], (1, x.shape[1], 1, 1))
    out, _ = pair(name, forward(x.copy(), gamma.copy(), beta.copy(), G, {}))
    report(f"{name} out", out, expected, tol, gn_forward_hints(x, gamma, beta, G, expected),
           norm_case_kinds(x, G))


# ---------------------------------------------------------------------------
# Backward
# ---------------------------------------------------------------------------


def norm_backward_hints(x: np.ndarray, expected: tuple[np.ndarray, np.ndarray, np.ndarray],
                        labels: np.ndarray) -> dict[str, list[Hint]]:
    """The known mistakes of a normalisation's backward pass, for dx, dgamma and dbeta.

    ``labels`` marks the values normalised together (see :func:`partition`).
    The dx hint needs two properties: dx does not sum to zero within each
    block, and dx minus the right dx is affine in x within each block, which
    is what missing paths through the mean or variance, or a wrong count of
    values per block, give.
    """
    dx = expected[0]

    def mean_path(actual):
        sums = np.bincount(labels.ravel(), actual.ravel())
        if np.allclose(sums, 0, atol=1e-8 * (1 + float(np.max(np.abs(actual))))):
            return False
        fit = _block_fit(actual - dx, x, labels)
        return fit is not None and fit[0]

    C = x.shape[1]
    param_hint = ("{g} must have the shape of {p}, {shape}: sum over every axis where {p} "
                  "is broadcast")
    shapes = {(C,), (1, C, 1, 1), x.shape[1:], (1,) + x.shape[1:]}
    out = {"dx": [Hint("dx misses part of the path through the mean and variance, or counts "
                       "the values per group wrongly: within each group of values normalised "
                       "together dx must sum to zero, since adding a constant to the whole "
                       "group leaves the output unchanged", test=mean_path)]}
    for what, exp in (("dgamma", expected[1]), ("dbeta", expected[2])):
        p = what[1:]
        out[what] = [Hint(param_hint.format(g=what, p=p, shape=exp.shape), shape=s)
                     for s in sorted(shapes) if s != exp.shape]
    return out


def check_norm_backward(forward: Callable, backward: Callable, x: np.ndarray,
                        gamma: np.ndarray, beta: np.ndarray, dout: np.ndarray,
                        group_axes: Callable[[np.ndarray], np.ndarray],
                        tol: float = 1e-6, name: str = "backward") -> None:
    """Gradient check of a normalisation layer against centred differences.

    Parameters
    ----------
    forward : callable
        ``forward(x, gamma, beta) -> (out, cache)``, in train mode (wrap the
        student's function in a lambda that supplies the other arguments).
    backward : callable
        ``backward(dout, cache) -> (dx, dgamma, dbeta)``.
    x : ndarray of shape (N, C, H, W)
    gamma, beta : ndarrays of the shape the layer takes
    dout : ndarray of shape (N, C, H, W)
    group_axes : callable
        Maps an (N, C, H, W) array to (groups, members): each row holds the
        values normalised together, used to tell a missing mean path.
    tol : float
        Largest relative error that passes: 1e-6, the grader's threshold (the
        notebooks' inputs give a right answer about 1e-7 against centred
        differences).

    Prints the relative error of ``dx``, ``dgamma`` and ``dbeta``; raises
    AssertionError on the first that is above ``tol``.
    """
    x, gamma, beta, dout = f64(x, gamma, beta, dout)
    _, cache = pair(name.replace("backward", "forward"),
                    forward(x.copy(), gamma.copy(), beta.copy()))
    got = grads(name, backward(dout.copy(), cache), ("dx", "dgamma", "dbeta"))
    expected = (
        numeric_gradient(lambda v: forward(v, gamma, beta)[0], x.copy(), dout),
        numeric_gradient(lambda v: forward(x, v, beta)[0], gamma.copy(), dout),
        numeric_gradient(lambda v: forward(x, gamma, v)[0], beta.copy(), dout),
    )
    hints = norm_backward_hints(x, expected, labels_of(group_axes, x.shape))
    for what, actual, exp in zip(("dx", "dgamma", "dbeta"), got, expected, strict=True):
        report(f"{name} {what}", actual, exp, tol, hints[what], norm_case_kinds(x))


def norm_case_kinds(x: Any, G: int | None = None) -> list[str]:
    """The kinds of case these normalisation inputs are, worded without their values."""
    N, C, H, W = np.shape(x)
    kinds = []
    if H != W:
        kinds.append("non-square image")
    if N == 1:
        kinds.append("a batch of one image")
    if C == 1:
        kinds.append("one channel")
    if G is not None:
        if G == 1:
            kinds.append("one group (G = 1)")
        if G == C:
            kinds.append("one channel per group (G = C)")
    if H * W == 1:
        kinds.append("1x1 feature maps")
    return kinds

