"""Likely causes and kinds of case for a grader's own inputs.

Code that runs a student's function on inputs of its own and compares with a
reference can ask here what the wrong answer looks like: :func:`likely_cause`
applies the same hints as the notebooks' checks, worded without any value of
the inputs, and :func:`case_kinds` names what is special about the inputs
("non-tiling input", "rectangular window", "ties in a window", "non-square
image"); the checks put the same words in their own failure messages.

A topic names a function under test and fixes the order of its inputs and
outputs:

=============================  ==================================  ==============================
topic                          inputs                              outputs
=============================  ==================================  ==============================
``conv_forward``               x, w, b, conv_param                 out
``conv_backward``              x, w, b, conv_param, dout           dx, dw, db
``max_pool_forward``           x, pool_param                       out
``max_pool_backward``          x, pool_param, dout                 dx
``convnet_params``             kwargs                              names, shapes, dtypes, stds
``convnet_loss``               kwargs, W1, b1, W2, b2, W3, b3,     scores (y None), or loss,
                               X, y                                dW1, db1, dW2, db2, dW3, db3
``spatial_batchnorm``          x, gamma, beta, bn_param            out, running_mean, running_var
``spatial_batchnorm_backward`` x, gamma, beta, dout                dx, dgamma, dbeta
``spatial_groupnorm``          x, gamma, beta, G                   out
``spatial_groupnorm_backward`` x, gamma, beta, G, dout             dx, dgamma, dbeta
=============================  ==================================  ==============================

Imports: NumPy and the topic modules of ``cs231n_lib.checks``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from cs231n_lib.checks import conv, convnet, norm, pool
from cs231n_lib.checks.core import Hint, compare_value, f64, find_cause

TOPICS: dict[str, tuple[str, ...]] = {
    "conv_forward": ("x", "w", "b", "conv_param"),
    "conv_backward": ("x", "w", "b", "conv_param", "dout"),
    "max_pool_forward": ("x", "pool_param"),
    "max_pool_backward": ("x", "pool_param", "dout"),
    "convnet_params": ("kwargs",),
    "convnet_loss": ("kwargs", "W1", "b1", "W2", "b2", "W3", "b3", "X", "y"),
    "spatial_batchnorm": ("x", "gamma", "beta", "bn_param"),
    "spatial_batchnorm_backward": ("x", "gamma", "beta", "dout"),
    "spatial_groupnorm": ("x", "gamma", "beta", "G"),
    "spatial_groupnorm_backward": ("x", "gamma", "beta", "G", "dout"),
}
PARAMS = ("W1", "b1", "W2", "b2", "W3", "b3")


def _named(topic: str, inputs: Sequence[Any] | Mapping[str, Any]) -> dict[str, Any]:
    if topic not in TOPICS:
        raise ValueError(f"topic must be one of {sorted(TOPICS)}; got {topic!r}")
    names = TOPICS[topic]
    if isinstance(inputs, Mapping):
        return dict(inputs)
    inputs = list(inputs)
    if len(inputs) != len(names):
        raise ValueError(f"inputs of {topic!r} are {names}; got {len(inputs)} value(s)")
    return dict(zip(names, inputs, strict=True))


def _params_cause(got: Sequence[Any], want: Sequence[Any], kw: Mapping[str, Any]) -> str | None:
    """The W2-rows mistakes, read from the reported shapes (outputs of drive_convnet_params)."""
    names, shapes = list(got[0]), list(got[1])
    if "W2" not in names or names != list(want[0]):
        return None
    C, H, W = kw["input_dim"]
    F, hidden = kw.get("num_filters", 32), kw.get("hidden_dim", 100)
    rows = tuple(shapes[names.index("W2")])
    if H != W and rows in ((F * (H // 2) ** 2, hidden), (F * (W // 2) ** 2, hidden)):
        return ("W2's rows assume a square image: the pooled maps are (H // 2) x (W // 2), "
                "so W2 has F * (H // 2) * (W // 2) rows, with H and W read separately from "
                "input_dim")
    if rows == (F * H * W, hidden):
        return ("W2's rows should count the features after the 2x2 max pool, which halves "
                "H and W: F * (H // 2) * (W // 2)")
    return None


def _hints(topic: str, v: dict[str, Any], want: Sequence[Any]) -> list[list[Hint]]:
    """The hints of each output of ``topic``, for these inputs and right outputs."""
    if topic in ("conv_forward", "conv_backward"):
        x, w, b = f64(v["x"], v["w"], v["b"])
        if topic == "conv_forward":
            return [conv.conv_forward_hints(x, w, b, v["conv_param"], want[0])]
        (dout,) = f64(v["dout"])
        by_name = conv.conv_backward_hints(x, w, b, v["conv_param"], dout, tuple(want))
        return [by_name["dx"], by_name["dw"], by_name["db"]]
    if topic == "max_pool_forward":
        return [pool.pool_forward_hints(f64(v["x"])[0], v["pool_param"], want[0])]
    if topic == "max_pool_backward":
        x, dout = f64(v["x"], v["dout"])
        return [pool.pool_backward_hints(x, v["pool_param"], dout, want[0])]
    if topic == "convnet_loss":
        if v["y"] is None:
            return [[]]
        reg = float(v["kwargs"].get("reg", 0.0))
        params = {k: v[k] for k in PARAMS}
        weights = sum(float(np.sum(np.asarray(v[k], dtype=np.float64) ** 2))
                      for k in convnet.WEIGHTS)
        data_loss = float(want[0]) - 0.5 * reg * weights
        return [convnet.loss_hints(data_loss, reg, params)] + [
            convnet.grad_hints(k, np.asarray(want[1 + i]), reg, params[k])
            for i, k in enumerate(PARAMS)]
    x, gamma, beta = f64(v["x"], v["gamma"], v["beta"])
    if topic == "spatial_batchnorm":
        bn = dict(v["bn_param"])
        if bn.get("mode") == "test":
            changed = [Hint("test mode changed the running averages; only train mode "
                            "updates them", test=lambda a: True)]
            return [norm.bn_test_mode_hints(x, gamma, beta, want[0]), changed, changed]
        momentum = float(bn.get("momentum", 0.9))
        C = x.shape[1]
        return [norm.bn_forward_hints(x, gamma, beta, want[0])] + [
            norm.running_hints(key, x, f64(bn.get(key, np.zeros(C)))[0], momentum)
            for key in ("running_mean", "running_var")]
    if topic == "spatial_groupnorm":
        return [norm.gn_forward_hints(x, gamma, beta, int(v["G"]), want[0])]
    labels = (norm.partition("channel", x.shape) if topic == "spatial_batchnorm_backward"
              else norm.partition("group", x.shape, int(v["G"])))
    by_name = norm.norm_backward_hints(x, tuple(want), labels)
    return [by_name["dx"], by_name["dgamma"], by_name["dbeta"]]


def likely_cause(topic: str, got: Sequence[Any], want: Sequence[Any],
                 inputs: Sequence[Any] | Mapping[str, Any], tol: float = 1e-7) -> str | None:
    """The likely cause of a failed comparison, for the grader's own inputs.

    ``likely_cause(topic, got, want, inputs, tol=1e-7) -> str | None``

    Parameters
    ----------
    topic : str
        A key of :data:`TOPICS`: ``'conv_forward'``, ``'conv_backward'``,
        ``'max_pool_forward'``, ``'max_pool_backward'``, ``'convnet_params'``,
        ``'convnet_loss'``, ``'spatial_batchnorm'``,
        ``'spatial_batchnorm_backward'``, ``'spatial_groupnorm'`` or
        ``'spatial_groupnorm_backward'``.
    got : sequence
        The student's outputs, in the topic's output order (the driver's list).
    want : sequence
        The reference's outputs on the same inputs, same order: ndarrays, and
        a Python float for a loss.
    inputs : sequence or mapping
        The call's inputs: positional in the topic's input order (the
        driver's arguments after ``ns``), or a mapping by those names.
    tol : float
        The test's threshold: outputs within it count as right and are skipped.

    Returns
    -------
    str or None
        One sentence naming the mistake, for the first output that fails the
        comparison rule, when a known mistake gives exactly that output; None
        when nothing is recognised (a wrong guess is worse than none), when
        every output passes, or when the outputs are not even arrays. The
        sentence never contains a value of the inputs or outputs.

    Raises
    ------
    ValueError
        If ``topic`` is unknown or ``inputs`` has the wrong length: those are
        the caller's mistakes. Nothing the student returned makes it raise.
    """
    v = _named(topic, inputs)
    try:
        if topic == "convnet_params":
            return _params_cause(got, want, v["kwargs"])
        if len(got) != len(want):
            return None
        hints = None
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            if compare_value("output", g, w, tol).passed:
                continue
            if isinstance(w, float):
                if isinstance(g, bool) or not isinstance(g, (int, float)):
                    return None
                g, w = np.asarray(float(g)), np.asarray(w)
            hints = hints if hints is not None else _hints(topic, v, want)
            return find_cause(g, w, tol, hints[i], reveal=False)
    except Exception:  # noqa: BLE001 - a diagnosis must never fail the grading of a test
        return None
    return None


def case_kinds(topic: str, inputs: Sequence[Any] | Mapping[str, Any]) -> tuple[str, ...]:
    """What is special about these inputs, worded without their values.

    ``case_kinds(topic, inputs) -> tuple of str``, with ``topic`` and
    ``inputs`` as for :func:`likely_cause`. The kinds are among:
    "non-tiling input", "rectangular window", "rectangular filter",
    "ties in a window", "a pixel that is the maximum of two windows",
    "overlapping windows", "a stride larger than the window" (or "filter"),
    "stride above 1", "zero padding", "non-square image", "odd image size",
    "a batch of one image", "one channel", "one input channel", "one filter",
    "one group (G = 1)", "one channel per group (G = C)", "1x1 filters",
    "1x1 feature maps", "regularised". An ordinary case gives ``()``.
    """
    v = _named(topic, inputs)
    if topic.startswith("conv_"):
        kinds = conv.conv_case_kinds(v["x"], v["w"], v["conv_param"])
    elif topic.startswith("max_pool"):
        kinds = pool.pool_case_kinds(v["x"], v["pool_param"])
    elif topic.startswith("convnet"):
        kinds = convnet.convnet_case_kinds(v["kwargs"], v.get("X"))
    else:
        kinds = norm.norm_case_kinds(v["x"], v.get("G"))
    return tuple(kinds)


def case_kind(topic: str, inputs: Sequence[Any] | Mapping[str, Any]) -> str:
    """:func:`case_kinds` as one phrase, ``'non-tiling input, rectangular window'``, or ``''``."""
    return ", ".join(case_kinds(topic, inputs))
