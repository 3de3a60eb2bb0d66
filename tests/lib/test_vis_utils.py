"""Does vis_utils lay images out as the course describes, and draw the right panels?"""

from __future__ import annotations

import os
from types import SimpleNamespace

import numpy as np
import pytest

from cs231n_lib.vis_utils import plot_training_curves, show_filters, visualize_grid

# Headless. vis_utils imports matplotlib only inside its functions, so setting
# the backend here, before the first matplotlib import, is early enough.
os.environ["MPLBACKEND"] = "Agg"
plt = pytest.importorskip("matplotlib.pyplot")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def grid_side(n: int) -> int:
    """Smallest G with G * G >= n, counted up rather than via sqrt."""
    g = 0
    while g * g < n:
        g += 1
    return g


@pytest.mark.parametrize("N", [1, 2, 4, 5, 10, 16, 17])
@pytest.mark.parametrize("padding", [0, 1, 3])
def test_grid_shape_follows_the_formula(N, padding):
    H, W, C = 3, 4, 2
    Xs = np.random.default_rng(N).standard_normal((N, H, W, C))
    G = grid_side(N)
    grid = visualize_grid(Xs, padding=padding)
    assert grid.shape == (G * H + (G - 1) * padding, G * W + (G - 1) * padding, C)


def test_each_image_is_rescaled_to_its_own_range_and_placed_row_by_row():
    rng = np.random.default_rng(0)
    Xs = rng.uniform(-3, 7, size=(5, 2, 3, 3))
    Xs[1] *= 100.0  # a different range must not affect the other cells
    ubound, pad = 10.0, 2
    grid = visualize_grid(Xs, ubound=ubound, padding=pad)
    assert grid.min() == 0.0 and np.isclose(grid.max(), ubound)
    for i in range(5):
        row, col = i // 3, i % 3  # G = 3 for N = 5
        top, left = row * (2 + pad), col * (3 + pad)
        cell = grid[top:top + 2, left:left + 3]
        want = ubound * (Xs[i] - Xs[i].min()) / (Xs[i].max() - Xs[i].min())
        np.testing.assert_allclose(cell, want, err_msg=f"image {i}")
    # Padding and the unused cells (5 of 9 are used) stay 0.
    mask = np.ones(grid.shape[:2], dtype=bool)
    for i in range(5):
        top, left = (i // 3) * (2 + pad), (i % 3) * (3 + pad)
        mask[top:top + 2, left:left + 3] = False
    assert not grid[mask].any()


def test_a_constant_image_becomes_zeros_not_nan():
    grid = visualize_grid(np.full((1, 4, 4, 3), 5.0))
    assert np.array_equal(grid, np.zeros((4, 4, 3)))


@pytest.mark.parametrize(
    ("Xs", "error"),
    [(np.zeros((3, 4, 4)), ValueError), (np.zeros((2, 3, 3, 3), dtype=complex), TypeError)],
)
def test_visualize_grid_refuses_what_is_not_an_image_stack(Xs, error):
    with pytest.raises(error, match="Xs"):
        visualize_grid(Xs)


HISTORIES = {
    "loss_history": [2.3, 2.1, 1.9, 1.8, 1.6, 1.5],
    "train_acc_history": [0.1, 0.3, 0.5],
    "val_acc_history": [0.1, 0.25, 0.4],
}


@pytest.mark.parametrize("as_object", [True, False], ids=["solver", "dict"])
def test_training_curves_have_a_loss_and_an_accuracy_panel(as_object):
    src = SimpleNamespace(**HISTORIES) if as_object else HISTORIES
    fig = plot_training_curves(src)
    assert len(fig.axes) == 2
    loss_ax, acc_ax = fig.axes
    (loss_line,) = loss_ax.get_lines()
    np.testing.assert_array_equal(loss_line.get_ydata(), HISTORIES["loss_history"])
    train_line, val_line = acc_ax.get_lines()
    np.testing.assert_array_equal(train_line.get_ydata(), HISTORIES["train_acc_history"])
    np.testing.assert_array_equal(val_line.get_ydata(), HISTORIES["val_acc_history"])
    assert "loss" in loss_ax.get_title().lower() and "accuracy" in acc_ax.get_title().lower()


def test_training_curves_draw_into_given_axes():
    fig, axes = plt.subplots(1, 2)
    assert plot_training_curves(HISTORIES, ax=axes) is fig
    assert all(len(a.get_lines()) > 0 for a in axes)


def test_training_curves_name_a_missing_history():
    partial = {k: v for k, v in HISTORIES.items() if k != "val_acc_history"}
    with pytest.raises(TypeError, match="val_acc_history"):
        plot_training_curves(partial)


def test_show_filters_draws_the_grid_of_the_transposed_weights():
    w = np.random.default_rng(1).standard_normal((8, 3, 5, 5))
    fig = show_filters(w)
    assert len(fig.axes) == 1
    (image,) = fig.axes[0].get_images()
    shown = np.asarray(image.get_array())
    # 8 filters -> a 3 x 3 grid of 5 x 5 cells with 1-pixel padding.
    assert shown.shape == (3 * 5 + 2, 3 * 5 + 2, 3)
    want = visualize_grid(w.transpose(0, 2, 3, 1)).astype(np.uint8)
    np.testing.assert_array_equal(shown, want)
    # Filter 0, channel 0, pixel (0, 1) sits at grid (0, 1, 0).
    f0 = w[0]
    expect = int(255 * (f0[0, 0, 1] - f0.min()) / (f0.max() - f0.min()))
    assert shown[0, 1, 0] == expect


def test_show_filters_shows_single_channel_filters_in_grey():
    fig = show_filters(np.random.default_rng(2).standard_normal((4, 1, 3, 3)))
    (image,) = fig.axes[0].get_images()
    assert np.asarray(image.get_array()).shape == (7, 7)


def test_show_filters_refuses_other_channel_counts():
    with pytest.raises(ValueError, match=r"\(F, C, HH, WW\).*\(4, 2, 3, 3\)"):
        show_filters(np.zeros((4, 2, 3, 3)))
