"""A short tour of the kit, run by ``make demo`` (or ``python -m cs231n_lib.tour``).

It prints which col2im backend is active, a naive-vs-fast timing table on the
notebook's conv shape, and a short Solver run of a small conv net on the
offline dataset (or CIFAR-10 when it is present) with a progress bar.

The small net here is deliberately not the assignment's ThreeLayerConvNet:
conv - relu - average pool - affine - softmax, with the pooling averaging
each 8x8 block, is enough to show the Solver at work.

Imports: the lib's own modules only.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from cs231n_lib import bench, fast_layers
from cs231n_lib.data_utils import load_course_data
from cs231n_lib.fast_layers import (
    avg_pool_backward_fast,
    avg_pool_forward_fast,
    conv_backward_fast,
    conv_forward_fast,
)
from cs231n_lib.layers import (
    affine_backward,
    affine_forward,
    relu_backward,
    relu_forward,
    softmax_loss,
)
from cs231n_lib.solver import Solver


class TourNet:
    """conv (5x5, pad 2) - relu - average pool - affine - softmax.

    Parameters
    ----------
    input_dim : tuple (C, H, W), default (3, 32, 32)
        H and W must be multiples of ``pool``.
    num_filters : int, default 16
    pool : int, default 8
        Side of the non-overlapping average-pooling windows.
    num_classes : int, default 10
    weight_scale : float, default 1e-2
    reg : float, default 0.0
        L2 strength, with the 0.5 factor.
    dtype : float32 or float64, default float32
    seed : int, optional
        Seed of the weight initialisation.
    """

    def __init__(
        self,
        input_dim: tuple[int, int, int] = (3, 32, 32),
        num_filters: int = 16,
        pool: int = 8,
        num_classes: int = 10,
        weight_scale: float = 1e-2,
        reg: float = 0.0,
        dtype: Any = np.float32,
        seed: int | None = None,
    ) -> None:
        C, H, W = input_dim
        if H % pool or W % pool:
            raise ValueError(f"input_dim H and W must be multiples of pool={pool}; got {input_dim}")
        rng = np.random.default_rng(seed)
        self.pool = pool
        pooled = num_filters * (H // pool) * (W // pool)
        self.reg = reg
        self.params = {
            "W1": (weight_scale * rng.standard_normal((num_filters, C, 5, 5))).astype(dtype),
            "b1": np.zeros(num_filters, dtype=dtype),
            # He-style scale for the classifier: its inputs are averages of relus.
            "W2": (rng.standard_normal((pooled, num_classes)) / np.sqrt(pooled)).astype(dtype),
            "b2": np.zeros(num_classes, dtype=dtype),
        }

    def loss(self, X: np.ndarray, y: np.ndarray | None = None) -> Any:
        """Scores (N, num_classes) when ``y`` is None, else ``(loss, grads)``."""
        p = self.params
        pool = {"pool_height": self.pool, "pool_width": self.pool, "stride": self.pool}
        conv, conv_cache = conv_forward_fast(X, p["W1"], p["b1"], {"stride": 1, "pad": 2})
        act, relu_cache = relu_forward(conv)
        pooled, pool_cache = avg_pool_forward_fast(act, pool)
        scores, fc_cache = affine_forward(pooled, p["W2"], p["b2"])
        if y is None:
            return scores
        loss, dscores = softmax_loss(scores, y)
        loss += 0.5 * self.reg * (np.sum(p["W1"] ** 2) + np.sum(p["W2"] ** 2))
        dpooled, dW2, db2 = affine_backward(dscores, fc_cache)
        dact = avg_pool_backward_fast(dpooled, pool_cache)
        dconv = relu_backward(dact, relu_cache)
        _, dW1, db1 = conv_backward_fast(dconv, conv_cache)
        grads = {
            "W1": dW1 + self.reg * p["W1"],
            "b1": db1,
            "W2": dW2 + self.reg * p["W2"],
            "b2": db2,
        }
        return float(loss), grads


def _section(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 66 - len(title)))


def main(argv: list[str] | None = None, naive: dict | None = None) -> int:
    """The tour. ``naive``: the naive layers to time next to the fast ones (the students'
    work, so not the library's: ``python -m autograder.timing --tour`` passes the course's)."""
    parser = argparse.ArgumentParser(
        prog="python -m cs231n_lib.tour", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--num-train", type=int, default=4000, help="training images (default 4000)"
    )
    parser.add_argument("--epochs", type=int, default=2, help="training epochs (default 2)")
    parser.add_argument(
        "--repeats", type=int, default=5, help="timing repeats per layer (default 5)"
    )
    parser.add_argument(
        "--source",
        choices=("auto", "offline", "cifar10"),
        default="offline",
        help="dataset (default offline; auto uses CIFAR-10 when present)",
    )
    args = parser.parse_args(argv)

    _section("col2im backend")
    compiled = (
        "compiled Cython kernel" if fast_layers.BACKEND == "cython" else "vectorised NumPy fallback"
    )
    print(f"cs231n_lib.fast_layers.BACKEND = {fast_layers.BACKEND!r} ({compiled})")

    _section("naive vs fast, the notebook's conv shape")
    ceilings = {"float64": bench.gemm_ceiling(np.float64, 512, args.repeats)}
    naive = dict(naive or {})
    if not naive:
        print("(the naive layers are the students' work: pass yours to tour.main(naive=...),")
        print(" or run python -m autograder.timing --tour in the kit's repository)")
    rows = bench.conv_rows(
        bench.NOTEBOOK_CONV_SHAPE, np.float64, naive, args.repeats, "notebook (100,3,31,31)"
    )
    print(bench.format_table(rows, ceilings))

    _section("a short Solver run")
    data, source = load_course_data(
        args.source, num_training=args.num_train, num_validation=500, num_test=0
    )
    print(
        f"dataset: {source}, {data['X_train'].shape[0]} training images "
        f"{data['X_train'].shape[1:]}, {data['X_val'].shape[0]} validation; chance is 10%"
    )
    model = TourNet(seed=0)
    solver = Solver(
        model,
        data,
        update_rule="adam",
        optim_config={"learning_rate": 2e-3},
        batch_size=50,
        num_epochs=args.epochs,
        print_every=40,
        num_train_samples=500,
        seed=0,
    )
    start = time.perf_counter()
    solver.train()
    seconds = time.perf_counter() - start
    print(
        f"trained {args.epochs} epoch(s) in {seconds:.1f} s; "
        f"best validation accuracy {solver.best_val_acc:.1%} (chance 10%)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
