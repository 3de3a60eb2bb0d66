"""The ThreeLayerConvNet checks of notebook 3, and the mistakes they name.

The loss is checked against the softmax loss of the model's own scores plus
``0.5 * reg * sum(W**2)`` over W1, W2 and W3, so a wrong regularisation is
named as such, and the gradient check looks at the loss first: a gradient is
only blamed when the loss it is the gradient of is right.

Imports: NumPy, ``cs231n_lib.checks.core``; ``cs231n_lib.layers`` inside
the functions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from cs231n_lib.checks.core import Hint, check_array, numeric_gradient, report

WEIGHTS = ("W1", "W2", "W3")


def _f64(value: Any) -> np.ndarray:
    return np.asarray(value, dtype=np.float64)


def loss_hints(data_loss: float, reg: float, params: Mapping[str, Any]) -> list[Hint]:
    """The known mistakes of the regularised loss, given the right data loss.

    Parameters
    ----------
    data_loss : float
        The softmax loss of the scores.
    reg : float
        The model's regularisation strength.
    params : dict
        ``W1``, ``b1``, ``W2``, ``b2``, ``W3``, ``b3``.
    """
    p = {k: _f64(v) for k, v in params.items()}
    squares = {k: float(np.sum(v ** 2)) for k, v in p.items()}
    weights = sum(squares[k] for k in WEIGHTS)

    def loss(value):
        return lambda: np.asarray(data_loss + value)

    hints = [
        Hint("the regularisation term is missing: add 0.5 * reg * sum(W**2) for W1, W2 "
             "and W3", answer=loss(0.0)),
        Hint("the regularisation term lacks the factor 0.5: use 0.5 * reg * sum(W**2)",
             answer=loss(reg * weights)),
        Hint("the biases are regularised too; only W1, W2 and W3 are",
             answer=loss(0.5 * reg * sum(squares.values()))),
        Hint("every weight's term is the square of its sum, np.sum(W)**2; the regularisation "
             "is the sum of the squares, np.sum(W**2) (or np.sum(W * W))",
             answer=loss(0.5 * reg * sum(float(np.sum(p[k])) ** 2 for k in WEIGHTS))),
        Hint("the regularisation uses the mean of the squares; it is their sum, np.sum(W**2)",
             answer=loss(0.5 * reg * sum(float(np.mean(p[k] ** 2)) for k in WEIGHTS))),
    ]
    for k in WEIGHTS:
        hints.append(Hint(f"the term of {k} is the square of its sum, np.sum({k})**2; it is "
                          f"the sum of its squares, np.sum({k}**2)",
                          answer=loss(0.5 * reg * (weights - squares[k]
                                                   + float(np.sum(p[k])) ** 2))))
        hints.append(Hint(f"the regularisation leaves out {k}: it covers W1, W2 and W3",
                          answer=loss(0.5 * reg * (weights - squares[k]))))
    return hints


def grad_hints(key: str, expected: np.ndarray, reg: float, param: Any) -> list[Hint]:
    """The known mistakes in ``grads[key]``, given the right gradient of the right loss."""
    if not reg:
        return []
    param = _f64(param)
    if key.startswith("b"):
        return [Hint(f"grads['{key}'] includes a regularisation gradient, but biases are not "
                     "regularised", answer=lambda: expected + reg * param)]
    return [
        Hint(f"grads['{key}'] lacks the regularisation gradient: add reg * {key}",
             answer=lambda: expected - reg * param),
        Hint(f"grads['{key}'] has twice the regularisation gradient: with the 0.5 factor in "
             f"the loss it is reg * {key}", answer=lambda: expected + reg * param),
        Hint(f"grads['{key}'] is the gradient of np.sum({key})**2, the square of the sum; "
             f"the regularisation of {key} is np.sum({key}**2), whose gradient is reg * {key}",
             answer=lambda: expected - reg * param + reg * float(np.sum(param))),
    ]


def check_regularization_gradient(with_reg: Mapping[str, Any], without: Mapping[str, Any],
                                  params: Mapping[str, Any], reg: float,
                                  tol: float = 1e-7) -> None:
    """The regulariser's share of each gradient: ``with_reg[k] - without[k]``, the gradients
    of one model at ``reg`` and at 0, must be ``reg * W`` for the weights and 0 for the
    biases. Raises AssertionError naming a missing, doubled or sum-squared regulariser.
    """
    for key in sorted(with_reg):
        if key not in without or key not in params:
            raise AssertionError(f"grads has {key!r}, which the model's params or the "
                                 "gradients at reg=0 lack")
        p = _f64(params[key])
        want = np.zeros_like(p) if key.startswith("b") else reg * p
        diff = np.asarray(with_reg[key], dtype=np.float64) - np.asarray(without[key],
                                                                         dtype=np.float64)
        # The data part is taken away on both sides: the hints' "right gradient" is the
        # regulariser's share alone, and each mistake's answer follows from it.
        report(f"grads['{key}'] at reg={reg:g} minus at reg=0", diff, want, tol,
               grad_hints(key, want, reg, p))


def check_convnet_params(model: Any, input_dim: tuple[int, int, int], num_filters: int,
                         filter_size: int, hidden_dim: int, num_classes: int,
                         weight_scale: float, dtype: Any = np.float32) -> None:
    """Check the names, shapes, dtype and scale of a ThreeLayerConvNet's parameters.

    The convolution keeps H and W (stride 1, pad (filter_size - 1) // 2) and
    the 2x2 max pool halves them (rounding down), so W2 has
    F * (H // 2) * (W // 2) rows, with H and W taken separately.
    """
    C, H, W = input_dim
    F, k = num_filters, filter_size
    rows = F * (H // 2) * (W // 2)
    shapes = {"W1": (F, C, k, k), "b1": (F,), "W2": (rows, hidden_dim),
              "b2": (hidden_dim,), "W3": (hidden_dim, num_classes), "b3": (num_classes,)}
    params = getattr(model, "params", None)
    if not isinstance(params, dict):
        raise AssertionError("model.params should be a dict of the six parameter arrays")
    missing = sorted(set(shapes) - set(params))
    if missing:
        raise AssertionError(f"model.params lacks {missing}; it should hold exactly "
                             f"{sorted(shapes)}")
    square = ("W2's rows assume a square image: the pooled maps are (H // 2) x (W // 2), "
              "so W2 has F * (H // 2) * (W // 2) rows, with H and W read separately from "
              "input_dim")
    hints = {
        "W1": [((F, k, k, C), "W1 is (F, C, HH, WW): channels come second, as in conv_forward"),
               ((C, F, k, k), "W1 is (F, C, HH, WW): filters first, then channels")],
        "W2": [((F * (H // 2) ** 2, hidden_dim), square),
               ((F * (W // 2) ** 2, hidden_dim), square),
               ((F * H * W, hidden_dim),
                "W2's rows should count the features after the 2x2 max pool, which halves "
                "H and W: F * (H // 2) * (W // 2)"),
               ((hidden_dim, rows),
                "W2 is (D, hidden_dim): affine_forward multiplies x (N, D) by w (D, M)")],
        "W3": [((num_classes, hidden_dim), "W3 is (hidden_dim, num_classes)")],
    }
    for key, shape in shapes.items():
        value = params[key]
        check_array(f"params['{key}']", value)
        if value.shape != shape:
            for wrong, hint in hints.get(key, []):
                if value.shape == wrong:
                    raise AssertionError(f"params['{key}'] has shape {value.shape}; expected "
                                         f"{shape}.\nLikely cause: {hint}")
            check_array(f"params['{key}']", value, shape)
        if value.dtype != np.dtype(dtype):
            raise AssertionError(
                f"params['{key}'] has dtype {value.dtype}; the model was asked for "
                f"{np.dtype(dtype)}: cast every parameter with .astype(dtype)"
            )
        if key.startswith("b") and np.any(value):
            raise AssertionError(f"params['{key}'] should start at zero")
        if key.startswith("W"):
            std = float(np.std(value))
            if not 0.8 * weight_scale < std < 1.2 * weight_scale:
                raise AssertionError(
                    f"params['{key}'] has standard deviation {std:.3g}; expected about "
                    f"weight_scale = {weight_scale:g}: draw it from a normal distribution "
                    "with mean 0 and standard deviation weight_scale"
                )
    print(f"params: names, shapes and dtype {np.dtype(dtype)} OK; weight standard deviations "
          f"within 20% of weight_scale = {weight_scale:g} OK")


def _loss_pair(model: Any, X: np.ndarray, y: np.ndarray) -> tuple[float, dict]:
    result = model.loss(X, y)
    if not (isinstance(result, tuple) and len(result) == 2):
        raise AssertionError("model.loss(X, y) must return a pair (loss, grads); got "
                             f"{type(result).__name__}")
    loss, grads = result
    if not np.isscalar(loss) and np.ndim(loss) != 0:
        raise AssertionError(f"the loss must be a scalar; got shape {np.shape(loss)}")
    if not math.isfinite(float(loss)):
        raise AssertionError(f"the loss is {float(loss)}")
    return float(loss), grads


def check_initial_loss(model: Any, X: np.ndarray, y: np.ndarray, num_classes: int = 10,
                       tol: float = 0.05) -> None:
    """With tiny weights and no regularisation, the loss should be about log(num_classes)."""
    loss, _ = _loss_pair(model, X, y)
    target = math.log(num_classes)
    if abs(loss - target) > tol:
        hint = ("it is far above: are the weights scaled by weight_scale, or is the "
                "regularisation (reg > 0?) included?" if loss > target else
                "it is below: the softmax loss of near-uniform scores is log(num_classes); "
                "are the scores computed from every layer?")
        raise AssertionError(f"initial loss {loss:.4f}; expected about log({num_classes}) = "
                             f"{target:.4f} (within {tol}); {hint}")
    print(f"initial loss {loss:.4f}, log({num_classes}) = {target:.4f}: within {tol} OK")


def _check_loss(model: Any, X: np.ndarray, y: np.ndarray, loss: float, tol: float,
                name: str) -> None:
    """The loss against softmax_loss(model.loss(X)) + 0.5 * reg * sum(W**2), or raise."""
    from cs231n_lib.layers import softmax_loss

    scores = model.loss(X)
    check_array("model.loss(X) (the scores)", scores, (X.shape[0], model.params["W3"].shape[1]))
    data_loss, _ = softmax_loss(_f64(scores), y)
    reg = float(model.reg)
    weights = sum(float(np.sum(_f64(model.params[k]) ** 2)) for k in WEIGHTS)
    report(name, np.asarray(loss), np.asarray(data_loss + 0.5 * reg * weights), tol,
           loss_hints(data_loss, reg, model.params))


def check_regularized_loss(model: Any, X: np.ndarray, y: np.ndarray,
                           tol: float = 1e-7) -> None:
    """The loss must be the data loss plus ``0.5 * reg * sum(W**2)`` over W1, W2, W3.

    The data loss is the softmax loss of ``model.loss(X)``'s scores; the model
    must have attributes ``reg`` and ``params``. ``tol`` is the grader's 1e-7.
    """
    loss, _ = _loss_pair(model, X, y)
    _check_loss(model, X, y, loss, tol, f"loss with reg={float(model.reg):g}")


def check_model_gradients(model: Any, X: np.ndarray, y: np.ndarray, tol: float = 1e-6,
                          h: float = 1e-6) -> None:
    """Check the loss, then compare ``model.loss``'s gradients with centred differences.

    The loss comes first (as in :func:`check_regularized_loss`): the numeric
    gradients are those of the model's own loss, so a wrong loss would make
    right gradients look wrong. The model should be float64 and the inputs
    small: every element of every parameter costs two loss evaluations.
    """
    loss, grads = _loss_pair(model, X, y)
    reg = float(getattr(model, "reg", 0.0))
    _check_loss(model, X, y, loss, tol, f"loss with reg={reg:g} (checked before its gradients)")
    if not isinstance(grads, dict):
        raise AssertionError(f"grads must be a dict keyed like model.params; got "
                             f"{type(grads).__name__}")
    for key in sorted(model.params):
        if key not in grads:
            raise AssertionError(f"grads lacks '{key}': return a gradient for every parameter")
        param = model.params[key]
        numeric = numeric_gradient(lambda _: model.loss(X, y)[0], param, 1.0, h=h)
        report(f"grads['{key}']", grads[key], numeric, tol, grad_hints(key, numeric, reg, param))


def convnet_case_kinds(kwargs: Mapping[str, Any], X: Any = None) -> list[str]:
    """The kinds of case a ThreeLayerConvNet test is, worded without its values."""
    C, H, W = kwargs.get("input_dim", (3, 32, 32))
    kinds = []
    if H != W:
        kinds.append("non-square image")
    if H % 2 or W % 2:
        kinds.append("odd image size")
    if C == 1:
        kinds.append("one channel")
    if kwargs.get("filter_size", 7) == 1:
        kinds.append("1x1 filters")
    if X is not None and np.shape(X)[0] == 1:
        kinds.append("a batch of one image")
    if kwargs.get("reg", 0.0):
        kinds.append("regularised")
    return kinds
