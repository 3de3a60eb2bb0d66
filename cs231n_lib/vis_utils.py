"""Pictures of what a network learned: filter grids and training curves.

``visualize_grid`` is plain NumPy and returns an image array; the plotting
functions return a matplotlib Figure and import matplotlib only when called,
so importing this module costs nothing on a headless grader.

Imports: NumPy; matplotlib lazily.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from cs231n_lib._validation import check_int

if TYPE_CHECKING:  # pragma: no cover - for annotations only
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_training_curves", "show_filters", "visualize_grid"]

_HISTORY_KEYS = ("loss_history", "train_acc_history", "val_acc_history")


def visualize_grid(Xs: np.ndarray, ubound: float = 255.0, padding: int = 1) -> np.ndarray:
    """Tile images into one square-ish grid, each rescaled to [0, ubound].

    Parameters
    ----------
    Xs : ndarray of shape (N, H, W, C)
        Images, e.g. first-layer conv filters transposed to NHWC.
    ubound : float, default 255.0
        Each image is mapped linearly from its own [min, max] onto [0, ubound];
        a constant image becomes all zeros.
    padding : int, default 1
        Blank pixels (value 0) between neighbouring images.

    Returns
    -------
    grid : ndarray of shape (G*H + (G-1)*padding, G*W + (G-1)*padding, C), float64

    Notes
    -----
    ``G = ceil(sqrt(N))``. Images fill the grid row by row; cells past the
    N-th stay 0.
    """
    Xs = np.asarray(Xs)
    if Xs.ndim != 4:
        raise ValueError(f"Xs must be 4-D (N, H, W, C); got shape {Xs.shape}")
    if Xs.dtype.kind not in "uif":
        raise TypeError(f"Xs must hold real numbers; got dtype {Xs.dtype}")
    padding = check_int("padding", padding, 0)
    N, H, W, C = Xs.shape
    G = math.ceil(math.sqrt(N))
    grid = np.zeros((G * H + (G - 1) * padding, G * W + (G - 1) * padding, C))
    step_y, step_x = H + padding, W + padding
    for i in range(N):
        img = Xs[i].astype(np.float64)
        lo, hi = img.min(), img.max()
        row, col = divmod(i, G)
        cell = grid[row * step_y:row * step_y + H, col * step_x:col * step_x + W]
        if hi > lo:  # a constant image has no range to stretch; leave its cell at 0
            cell[:] = ubound * (img - lo) / (hi - lo)
    return grid


def _histories(solver_or_histories: Any) -> dict[str, np.ndarray]:
    """Pull the three history lists out of a Solver-like object or a dict."""
    src = solver_or_histories
    if isinstance(src, Mapping):
        found = {k: src[k] for k in _HISTORY_KEYS if k in src}
    else:
        found = {k: getattr(src, k) for k in _HISTORY_KEYS if hasattr(src, k)}
    missing = [k for k in _HISTORY_KEYS if k not in found]
    if missing:
        raise TypeError(
            "solver_or_histories must be a Solver (or any object) with attributes, or a dict "
            f"with keys, {list(_HISTORY_KEYS)}; {type(src).__name__} lacks {missing}"
        )
    return {k: np.asarray(v, dtype=np.float64).ravel() for k, v in found.items()}


def plot_training_curves(solver_or_histories: Any,
                         ax: Sequence[Axes] | None = None) -> Figure:
    """Plot the training loss per iteration and the accuracies per epoch.

    Parameters
    ----------
    solver_or_histories : Solver or dict
        Anything with ``loss_history`` (one value per iteration) and
        ``train_acc_history``, ``val_acc_history`` (one value per epoch), as
        attributes (a trained ``Solver``) or as dict keys.
    ax : pair of matplotlib Axes, optional
        (loss axes, accuracy axes) to draw into; by default a new Figure with
        two stacked panels.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure holding both panels.
    """
    h = _histories(solver_or_histories)
    if ax is None:
        import matplotlib.pyplot as plt

        fig, (loss_ax, acc_ax) = plt.subplots(2, 1, figsize=(8, 7))
    else:
        if len(ax) != 2:
            raise ValueError(f"ax must be a pair (loss axes, accuracy axes); got {len(ax)} axes")
        loss_ax, acc_ax = ax
        fig = loss_ax.figure

    loss_ax.plot(h["loss_history"], "o", markersize=2)
    loss_ax.set_title("Training loss")
    loss_ax.set_xlabel("Iteration")
    loss_ax.set_ylabel("Loss")

    # Solver checks accuracy at its first iteration and at each epoch's end, so index ~ epoch.
    acc_ax.plot(h["train_acc_history"], "-o", label="train")
    acc_ax.plot(h["val_acc_history"], "-o", label="val")
    acc_ax.set_title("Classification accuracy")
    acc_ax.set_xlabel("Epoch")
    acc_ax.set_ylabel("Accuracy")
    acc_ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def show_filters(w: np.ndarray, ax: Axes | None = None) -> Figure:
    """Show conv weights as a grid of small images, one per filter.

    Parameters
    ----------
    w : ndarray of shape (F, C, HH, WW)
        Conv weights, as stored by the models (NCHW order); C must be 3
        (shown in colour) or 1 (shown in grey).
    ax : matplotlib Axes, optional
        Where to draw; by default a new Figure.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    w = np.asarray(w)
    if w.ndim != 4 or w.shape[1] not in (1, 3):
        raise ValueError(
            f"w must be conv weights of shape (F, C, HH, WW) with C = 1 or 3; got shape {w.shape}"
        )
    grid = visualize_grid(w.transpose(0, 2, 3, 1))  # (F, HH, WW, C) -> (Hg, Wg, C)
    if ax is None:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 6))
    else:
        fig = ax.figure
    if grid.shape[2] == 1:
        ax.imshow(grid[:, :, 0].astype(np.uint8), cmap="gray")
    else:
        ax.imshow(grid.astype(np.uint8))
    ax.axis("off")
    return fig
