"""Timing of naive against fast layers, and of a training iteration, side by side with PyTorch.

``python -m cs231n_lib.bench`` (also ``cs231n-bench``) prints a table, writes
JSON and a PNG chart. Every ratio in the table is measured in this one run,
in this one process (peak memory in a fresh child process), with medians of
repeated runs after warm-up. Each row also keeps its fastest run and the
spread between the two; a table whose rows were disturbed by other work on
the machine says so, names them and asks for a re-run (:func:`busy_rows`).

The naive layers and the ThreeLayerConvNet are the students' work, not part of
the library, and the library never reads the course: pass your own
(``main(naive=...)``; the notebooks call ``conv_rows`` and ``pool_rows`` with theirs).
In the kit's repository ``python -m autograder.timing`` runs this with the instructor's.

Imports: NumPy, the standard library, ``cs231n_lib`` itself; threadpoolctl (a dependency of
the kit) when it names the BLAS; PyTorch and matplotlib only when present / asked for.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from cs231n_lib import fast_layers
from cs231n_lib.checks import rel_error

NOTEBOOK_CONV_SHAPE = {"x": (100, 3, 31, 31), "w": (25, 3, 3, 3), "stride": 2, "pad": 1}
TRAINING_CONV_SHAPE = {"x": (50, 3, 32, 32), "w": (32, 3, 7, 7), "stride": 1, "pad": 3}
NOTEBOOK_POOL_SHAPE = (100, 3, 32, 32)
TRAINING_POOL_SHAPE = (50, 32, 32, 32)
POOL = {"pool_height": 2, "pool_width": 2, "stride": 2}
NAIVE_NAMES = (
    "conv_forward_naive",
    "conv_backward_naive",
    "max_pool_forward_naive",
    "max_pool_backward_naive",
    "ThreeLayerConvNet",
)
CIFAR_TRAIN = 49000


# A row is "busy" when its median run took more than BUSY_SPREAD times its fastest run.
# Other work on the machine can only slow a run down, so the fastest run is the closest
# to the undisturbed time; a median that far above it means at least half of the runs
# were slowed by more than half, and the median, with every ratio built from it, then
# measures the load more than the code. Median over min, not max over min: one slow run
# (a page fault, a timer tick) must not flag a row. 1.5 leaves room for ordinary jitter
# and is far below the slow-downs that have misled users. One run on the kit's 2-core
# development VM at a load average of 6: the single-threaded naive rows read 1.0-1.4,
# the BLAS-threaded fast rows 1.1-12, and the fast row that the table showed at 0.4x
# the naive speed read 11.9.
BUSY_SPREAD = 1.5
# The whole machine is "busy" when, as the benchmark starts, the load (tasks running or
# waiting for a core, besides this process, averaged over LOAD_SECONDS) is at least this
# share of its cores: other work was running, and every figure is suspect. Not the kernel's
# 1-minute average: that still counts a job that has just ended (make demo's grading, run
# just before, read 3.27 on 2 cores), and would call every such run busy.
BUSY_LOAD_SHARE = 0.5
LOAD_SECONDS = 0.5
# OpenBLAS reads these when it is loaded (when NumPy is imported), and a user's machine sets
# neither. Some machines do: OPENBLAS_CORETYPE=Haswell makes OpenBLAS run its Haswell (AVX2)
# kernels instead of the ones it would pick for the CPU (SkylakeX, AVX-512, on this kit's
# development machines), and OPENBLAS_L2_SIZE sets the L2 cache size (KB) that its blocking
# assumes. The benchmark runs without them unless --machine-blas (see main).
BLAS_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
# The naive layers are slow: at most this many runs, and no more once they add up to
# NAIVE_BUDGET seconds (a student's loops may take seconds per call).
NAIVE_REPEATS = 3
NAIVE_BUDGET = 2.0


def time_runs(
    fn: Callable[[], Any], repeats: int = 5, warmup: int = 1, budget: float | None = None
) -> list[float]:
    """Wall times of ``fn()`` in seconds: ``repeats`` runs after ``warmup`` runs.

    With ``budget``, runs stop early (after at least one) once they have
    taken that many seconds in all.
    """
    for _ in range(warmup):
        fn()
    times: list[float] = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
        if budget is not None and sum(times) >= budget:
            break
    return times


def time_call(fn: Callable[[], Any], repeats: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in seconds over ``repeats`` runs after ``warmup`` runs."""
    return statistics.median(time_runs(fn, repeats, warmup))


def _scaled(a: Any, b: Any) -> float:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b), initial=0.0) / max(1e-12, np.max(np.abs(b), initial=0.0)))


def agreement(got: tuple, want: tuple) -> float:
    """Worst disagreement between two tuples of outputs (a fast path and a reference).

    float64: the course's elementwise relative error. float32: the largest
    difference over the largest reference value, since float32 rounding makes
    elementwise errors of near-zero outputs meaningless.
    """
    measure = rel_error if all(np.asarray(g).dtype == np.float64 for g in got) else _scaled
    return max(measure(g, w) for g, w in zip(got, want, strict=True))


def gemm_ceiling(dtype: Any, n: int = 1024, repeats: int = 5) -> float:
    """GFLOP/s of one large matrix product: the machine's practical ceiling.

    Taken from the fastest of ``repeats`` runs, not the median: a ceiling is
    what the machine can do, and other work can only slow a run down. A
    ceiling that was still disturbed shows as a row above 100% of it, which
    :func:`busy_rows` flags.
    """
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    return 2 * n**3 / min(time_runs(lambda: a @ b, repeats)) / 1e9


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(max(1, len(os.sched_getaffinity(0))))
    return torch


def _row(
    op: str,
    shape: str,
    dtype: Any,
    path: str,
    runs: list[float],
    flops: float | None = None,
    note: str = "",
) -> dict[str, Any]:
    """One table row from the wall times of its runs.

    ``seconds`` is their median, ``min_seconds`` the fastest, ``spread`` the
    ratio of the two (None for a single run, which has no spread).
    """
    seconds = statistics.median(runs)
    fastest = min(runs)
    return {
        "op": op,
        "shape": shape,
        "dtype": np.dtype(dtype).name,
        "path": path,
        "seconds": seconds,
        "min_seconds": fastest,
        "repeats": len(runs),
        "spread": seconds / fastest if len(runs) > 1 and fastest > 0 else None,
        "gflops": flops / seconds / 1e9 if flops and seconds else None,
        "note": note,
    }


def _built_backends() -> list[str]:
    """The fast-layer backends that can run here (``numpy`` always; ``cython`` when built)."""
    previous = fast_layers.BACKEND
    built = []
    try:
        for backend in fast_layers.BACKENDS:
            try:
                fast_layers.set_backend(backend)
            except ImportError:
                continue
            built.append(backend)
    finally:
        fast_layers.set_backend(previous)
    return built


def _on_backend(backend: str, fn: Callable[[], Any]) -> Callable[[], Any]:
    """``fn`` run with the fast layers switched to ``backend`` (and switched back after)."""

    def run() -> Any:
        previous = fast_layers.set_backend(backend)
        try:
            return fn()
        finally:
            fast_layers.set_backend(previous)

    return run


# One layer's contenders: path -> (forward, backward, outputs). forward and backward are
# the calls to time; outputs is what the path computes, to check against the references.
Contenders = dict[str, tuple[Callable[[], Any], Callable[[], Any], tuple]]


def _layer_rows(
    op: str,
    label: str,
    dtype: Any,
    repeats: int,
    naive: tuple[Callable[[], Any], Callable[[], Any], tuple] | None,
    contenders: Contenders,
    flops: float | None = None,
) -> list[dict[str, Any]]:
    """Rows for ``<op> forward`` and ``<op> backward`` of every path.

    The naive pair runs a few times (``NAIVE_REPEATS``, within
    ``NAIVE_BUDGET`` seconds: it is slow); the fast paths and PyTorch are
    timed side by side, in alternation. Each fast row records its
    ``agreement`` with the naive outputs and with PyTorch's.
    """
    rows = []
    if naive is not None:
        n_fwd, n_bwd, _ = naive
        n_repeats = min(NAIVE_REPEATS, repeats)
        rows.append(
            _row(
                f"{op} forward",
                label,
                dtype,
                "naive",
                time_runs(n_fwd, n_repeats, 0, NAIVE_BUDGET),
                flops,
            )
        )
        rows.append(
            _row(
                f"{op} backward",
                label,
                dtype,
                "naive",
                time_runs(n_bwd, n_repeats, 0, NAIVE_BUDGET),
                2 * flops if flops else None,
            )
        )
    refs = {
        name: c[2]
        for name, c in (("naive", naive), ("pytorch", contenders.get("pytorch")))
        if c is not None
    }
    fwd_times = _side_by_side_runs({p: c[0] for p, c in contenders.items()}, repeats, block=3)
    bwd_times = _side_by_side_runs({p: c[1] for p, c in contenders.items()}, repeats, block=3)
    for path, (_, _, outputs) in contenders.items():
        fwd = _row(f"{op} forward", label, dtype, path, fwd_times[path], flops)
        bwd = _row(
            f"{op} backward", label, dtype, path, bwd_times[path], 2 * flops if flops else None
        )
        if path != "pytorch":
            # One check covers the forward and backward rows of this path.
            fwd["agreement"] = bwd["agreement"] = {
                name: agreement(outputs, ref) for name, ref in refs.items()
            }
        rows += [fwd, bwd]
    return rows


def conv_rows(
    shape: dict[str, Any], dtype: Any, naive: dict[str, Any], repeats: int, label: str
) -> list[dict[str, Any]]:
    """Conv forward and backward rows: naive (if given), each fast backend, PyTorch.

    ``shape`` holds ``x`` and ``w`` shapes, ``stride`` and ``pad``; ``naive``
    maps ``conv_forward_naive`` / ``conv_backward_naive`` to the functions to
    compare (a student's own, in the notebook). Each fast row records its
    ``agreement`` with every reference.
    """
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape["x"]).astype(dtype)
    w = rng.standard_normal(shape["w"]).astype(dtype)
    b = rng.standard_normal(shape["w"][0]).astype(dtype)
    cp = {"stride": shape["stride"], "pad": shape["pad"]}
    out, _ = fast_layers.conv_forward_fast(x, w, b, cp)
    dout = rng.standard_normal(out.shape).astype(dtype)
    N, F, Ho, Wo = out.shape
    flops = 2.0 * N * F * Ho * Wo * np.prod(shape["w"][1:])

    naive_pair = None
    if "conv_forward_naive" in naive:
        fwd_naive, bwd_naive = naive["conv_forward_naive"], naive["conv_backward_naive"]
        n_out, n_cache = fwd_naive(x, w, b, cp)
        naive_pair = (
            lambda: fwd_naive(x, w, b, cp),
            lambda: bwd_naive(dout, n_cache),
            (n_out, *bwd_naive(dout, n_cache)),
        )
    contenders: Contenders = {}
    for backend in _built_backends():
        forward = _on_backend(backend, lambda: fast_layers.conv_forward_fast(x, w, b, cp))
        f_out, f_cache = forward()
        backward = _on_backend(backend, lambda c=f_cache: fast_layers.conv_backward_fast(dout, c))
        contenders[f"fast ({backend})"] = (forward, backward, (f_out, *backward()))
    torch = _torch()
    if torch is not None:
        tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        td = torch.tensor(dout)
        conv = torch.nn.functional.conv2d

        def torch_fwd() -> None:
            with torch.no_grad():
                conv(tx, tw, tb, stride=cp["stride"], padding=cp["pad"])

        graph = conv(tx, tw, tb, stride=cp["stride"], padding=cp["pad"])
        grads = torch.autograd.grad(graph, (tx, tw, tb), td, retain_graph=True)
        contenders["pytorch"] = (
            torch_fwd,
            lambda: torch.autograd.grad(graph, (tx, tw, tb), td, retain_graph=True),
            (graph.detach().numpy(), *(g.numpy() for g in grads)),
        )
    return _layer_rows("conv", label, dtype, repeats, naive_pair, contenders, flops)


def pool_rows(
    x_shape: tuple[int, ...],
    dtype: Any,
    naive: dict[str, Any],
    repeats: int,
    label: str,
    pool_param: dict[str, int] = POOL,
) -> list[dict[str, Any]]:
    """Max pool forward and backward rows: naive (if given), each fast backend, PyTorch.

    ``naive`` maps ``max_pool_forward_naive`` / ``max_pool_backward_naive`` to
    the functions to compare (a student's own, in the notebook).
    """
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape).astype(dtype)
    out, _ = fast_layers.max_pool_forward_fast(x, pool_param)
    dout = rng.standard_normal(out.shape).astype(dtype)

    naive_pair = None
    if "max_pool_forward_naive" in naive:
        fwd_naive, bwd_naive = naive["max_pool_forward_naive"], naive["max_pool_backward_naive"]
        n_out, n_cache = fwd_naive(x, pool_param)
        naive_pair = (
            lambda: fwd_naive(x, pool_param),
            lambda: bwd_naive(dout, n_cache),
            (n_out, bwd_naive(dout, n_cache)),
        )
    contenders: Contenders = {}
    for backend in _built_backends():
        forward = _on_backend(backend, lambda: fast_layers.max_pool_forward_fast(x, pool_param))
        f_out, f_cache = forward()
        backward = _on_backend(
            backend, lambda c=f_cache: fast_layers.max_pool_backward_fast(dout, c)
        )
        contenders[f"fast ({backend})"] = (forward, backward, (f_out, backward()))
    torch = _torch()
    if torch is not None:
        tx = torch.tensor(x, requires_grad=True)
        td = torch.tensor(dout)
        window = (pool_param["pool_height"], pool_param["pool_width"])
        pool = torch.nn.functional.max_pool2d

        def torch_fwd() -> None:
            with torch.no_grad():
                pool(tx, window, pool_param["stride"])

        graph = pool(tx, window, pool_param["stride"])
        (grad,) = torch.autograd.grad(graph, tx, td, retain_graph=True)
        contenders["pytorch"] = (
            torch_fwd,
            lambda: torch.autograd.grad(graph, tx, td, retain_graph=True),
            (graph.detach().numpy(), grad.numpy()),
        )
    return _layer_rows("max pool", label, dtype, repeats, naive_pair, contenders)


def _torch_convnet(torch: Any, dtype: Any) -> tuple[Any, Any]:
    nn = torch.nn
    net = nn.Sequential(
        nn.Conv2d(3, 32, 7, padding=3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 16 * 16, 100),
        nn.ReLU(),
        nn.Linear(100, 10),
    )
    net = net.to(torch.float32 if np.dtype(dtype) == np.float32 else torch.float64)
    return net, torch.optim.Adam(net.parameters(), lr=1e-3)


def time_side_by_side(
    fns: dict[str, Callable[[], Any]],
    repeats: int,
    block: int = 5,
    warmup: int = 2,
    settle: float = 0.1,
) -> dict[str, float]:
    """Median seconds per call of each function, timed in alternating blocks.

    The runs behind each median are :func:`_side_by_side_runs`'s.
    """
    runs = _side_by_side_runs(fns, repeats, block, warmup, settle)
    return {name: statistics.median(t) for name, t in runs.items()}


def _side_by_side_runs(
    fns: dict[str, Callable[[], Any]],
    repeats: int,
    block: int = 5,
    warmup: int = 2,
    settle: float = 0.1,
) -> dict[str, list[float]]:
    """Seconds of each timed call of each function, timed in alternating blocks.

    Running the contenders in turn, ``block`` calls at a time, exposes them
    to the same drift in machine load, so their ratio is fairer than that of
    two back-to-back measurements. Before each block the process sleeps
    ``settle`` seconds and makes one untimed call: the thread pools of the
    previous contender (OpenBLAS's, PyTorch's OpenMP) keep spinning for a
    while after their last job, and would otherwise take the cores from the
    next one.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    while min(len(t) for t in times.values()) < repeats:
        for name, fn in fns.items():
            time.sleep(settle)
            fn()
            for _ in range(block):
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
    return times


def course_solver(naive: dict[str, Any], data: dict[str, Any], dtype: Any, **options: Any) -> Any:
    """The course's training set-up: ThreeLayerConvNet (weight scale 1e-3), Adam, batch 50.

    ``naive`` holds the model class (``naive["ThreeLayerConvNet"]``); ``options`` go to the
    Solver on top of these (one epoch, quiet, seeded).
    """
    from cs231n_lib.solver import Solver

    np.random.seed(0)  # noqa: NPY002 - the course's model draws from the global generator
    model = naive["ThreeLayerConvNet"](weight_scale=1e-3, dtype=dtype)
    settings = {
        "update_rule": "adam",
        "optim_config": {"learning_rate": 1e-3},
        "batch_size": 50,
        "num_epochs": 1,
        "verbose": False,
        "progress": False,
        "seed": 0,
    }
    return Solver(model, data, **{**settings, **options})


def training_rows(dtype: Any, naive: dict[str, Any], iterations: int) -> list[dict[str, Any]]:
    """One ThreeLayerConvNet training iteration (minibatch, loss, backward, Adam step).

    The kit's step is ``Solver._step`` on the source notebook's model; PyTorch's
    is the same network, loss and optimiser. The two are timed in alternation.
    """
    from cs231n_lib.data_utils import get_offline_data

    data = get_offline_data(num_training=500, num_validation=50, num_test=0, dtype=dtype)
    batch = 50
    steps: dict[str, Callable[[], Any]] = {}
    if "ThreeLayerConvNet" in naive:
        steps["kit"] = course_solver(naive, data, dtype)._step
    torch = _torch()
    if torch is not None:
        net, opt = _torch_convnet(torch, dtype)
        X = torch.tensor(data["X_train"])
        y = torch.tensor(data["y_train"])
        rng = np.random.default_rng(0)

        def torch_step():
            idx = torch.tensor(rng.choice(len(y), batch))
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(X[idx]), y[idx])
            loss.backward()
            opt.step()

        steps["pytorch"] = torch_step
    if not steps:
        return []
    runs = _side_by_side_runs(steps, iterations)
    return [
        _row(
            "training iteration",
            "ThreeLayerConvNet batch 50",
            dtype,
            path,
            t,
            note=f"epoch of {CIFAR_TRAIN} ~ {statistics.median(t) * CIFAR_TRAIN / batch:.0f} s",
        )
        for path, t in runs.items()
    ]


def _peak_rss_bytes() -> int:
    """This process's peak resident memory since its ``exec``.

    ``VmHWM`` of ``/proc/self/status``, not ``getrusage``: Linux keeps
    ``ru_maxrss`` across ``execve``, so a child started from a big parent
    would report the parent's size at the fork.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # kB
    except OSError:
        pass
    # Elsewhere: ru_maxrss, in KiB on Linux and bytes on macOS.
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def _epoch_child(num_train: int, epochs: int, naive: dict[str, Any]) -> None:
    """In a fresh process: load the data, run ``Solver.train``, print the peak resident memory.

    The run is the course's: ThreeLayerConvNet in float32, Adam, batch 50,
    with the Solver's accuracy checks at the start and at each epoch's end.
    """
    from cs231n_lib.data_utils import get_offline_data

    data = get_offline_data(num_training=num_train, num_validation=1000, num_test=0)
    solver = course_solver(naive, data, np.float32, num_epochs=epochs, num_train_samples=1000)
    start = time.perf_counter()
    solver.train()
    seconds = time.perf_counter() - start
    peak = _peak_rss_bytes()
    print(
        json.dumps(
            {
                "peak_rss_bytes": peak,
                "x_train_bytes": data["X_train"].nbytes,
                "epochs": epochs,
                "iterations": len(solver.loss_history),
                "seconds": seconds,
                "val_acc": solver.best_val_acc,
            }
        )
    )


def memory_row(num_train: int, epochs: int = 1, child: str = "cs231n_lib.bench"
               ) -> dict[str, Any]:
    """Peak resident memory of a float32 training run in a fresh process.

    ``child`` is the module run as ``python -m child --epoch-child``: one whose ``main``
    passes the model class on (this one, given it, or :mod:`autograder.timing`).
    """
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            child,
            "--epoch-child",
            str(num_train),
            str(epochs),
        ],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if res.returncode != 0:
        return {"op": "peak memory", "error": res.stderr[-500:]}
    info = json.loads(res.stdout.strip().splitlines()[-1])
    info.update(op="peak memory", num_train=num_train)
    return info


def _gemm_share(row: dict[str, Any], ceilings: dict[str, float] | None) -> float | None:
    """The row's GFLOP/s as a percentage of its dtype's GEMM ceiling, if both are known."""
    if not (row.get("gflops") and ceilings and ceilings.get(row["dtype"])):
        return None
    return 100 * row["gflops"] / ceilings[row["dtype"]]


def busy_rows(
    rows: list[dict[str, Any]], ceilings: dict[str, float] | None = None
) -> list[tuple[dict[str, Any], str]]:
    """The rows whose timing was disturbed by other work on the machine, with the reason.

    A row is flagged when its median run took more than ``BUSY_SPREAD`` times
    its fastest (``spread``), or when it claims more than 100% of the GEMM
    ceiling: no layer outruns the machine's best matrix product, so such a
    share means the ceiling's own runs were slowed and every share is too high.
    """
    found = []
    for r in rows:
        reasons = []
        spread = r.get("spread")
        if spread is not None and spread > BUSY_SPREAD:
            reasons.append(
                f"its median run took {spread:.2f}x its fastest of {r['repeats']} "
                f"(more than {BUSY_SPREAD}x)"
            )
        share = _gemm_share(r, ceilings)
        if share is not None and share > 100:
            reasons.append(
                f"{share:.1f}% of the GEMM ceiling, which no measured op can reach "
                "(the ceiling's own runs were slowed)"
            )
        if reasons:
            found.append((r, "; ".join(reasons)))
    return found


def busy_warning(rows: list[dict[str, Any]], ceilings: dict[str, float] | None = None) -> str:
    """The warning that names the :func:`busy_rows` and asks for a re-run; "" if none."""
    found = busy_rows(rows, ceilings)
    if not found:
        return ""
    lines = [
        "WARNING: the machine was busy while the rows marked ! were timed; their times, "
        "and every ratio taken from them, are not to be trusted:"
    ]
    lines += [f"  {r['op']}, {r['shape']}, {r['dtype']}, {r['path']}: {why}" for r, why in found]
    lines.append(
        "Re-run on an idle machine (close other programs, let other jobs finish); "
        "in a notebook, run the timing cell again."
    )
    return "\n".join(lines)


def format_table(rows: list[dict[str, Any]], ceilings: dict[str, float] | None = None) -> str:
    """Rows as a fixed-width table: time, its spread, speed-up over naive, ratio to PyTorch.

    ``spread`` is the median run over the fastest (1.00x: every run alike; blank for a
    single run).

    ``% GEMM`` (the share of the machine's GEMM ceiling) needs ``ceilings``;
    ``error`` is the worst disagreement of a fast path with its references
    (the naive layers, PyTorch), as computed by :func:`agreement`. A ``!``
    marks a time or a share that :func:`busy_rows` flags, and the table then
    ends with :func:`busy_warning`.
    """
    lines = [
        f"{'op':<19} {'shape':<27} {'dtype':<8} {'path':<14} {'time':>11} {'spread':>7} "
        f"{'vs naive':>9} {'vs torch':>9} {'% GEMM':>8} {'error':>8}  note",
        "-" * 137,
    ]
    ref: dict[tuple, dict[str, float]] = {}
    for r in rows:
        if r.get("seconds"):
            ref.setdefault((r["op"], r["shape"], r["dtype"]), {})[r["path"]] = r["seconds"]
    for r in rows:
        if "seconds" not in r:
            continue
        peers = ref.get((r["op"], r["shape"], r["dtype"]), {})
        t = r["seconds"]
        speed = ""
        if "naive" in peers and t:
            up = peers["naive"] / t
            speed = f"{up:8.0f}x" if up >= 10 else f"{up:8.1f}x"
        torch_ratio = f"{t / peers['pytorch']:8.2f}x" if "pytorch" in peers and t else ""
        share = _gemm_share(r, ceilings)
        pct = "" if share is None else f"{share:6.1f}%{'!' if share > 100 else ' '}"
        slow = r.get("spread") is not None and r["spread"] > BUSY_SPREAD
        error = f"{max(r['agreement'].values()):.0e}" if r.get("agreement") else ""
        spread = f"{r['spread']:6.2f}x" if r.get("spread") else ""
        lines.append(
            f"{r['op']:<19} {r['shape']:<27} {r['dtype']:<8} {r['path']:<14} "
            f"{t * 1e3:8.2f}ms{'!' if slow else ' '} {spread:>7} {speed:>9} {torch_ratio:>9} "
            f"{pct:>8} {error:>8}  {r.get('note', '')}"
        )
    warning = busy_warning(rows, ceilings)
    if warning:
        lines += ["", warning]
    return "\n".join(lines)


# The targets: (what, limit). Ratios are kit / PyTorch from this run's rows.
MEMORY_LIMIT_BYTES = 0.8e9


def _seconds(
    rows: list[dict[str, Any]], op: str, shape: str, dtype: str, path: str
) -> float | None:
    for r in rows:
        if (r["op"], r["shape"], r["dtype"], r["path"]) == (op, shape, dtype, path):
            return r.get("seconds")
    return None


def _spreads(rows: list[dict[str, Any]], keys: set[tuple]) -> list[float]:
    return [r["spread"] for r in rows
            if (r["op"], r["shape"], r["dtype"], r["path"]) in keys and r.get("spread")]


def _ratio_target(name: str, kit: float | None, torch: float | None, limit: float,
                  spreads: list[float] | None = None) -> dict:
    if not kit or not torch:
        return {
            "target": name,
            "limit": limit,
            "measured": None,
            "met": None,
            "detail": "needs PyTorch and the source notebooks",
        }
    ratio = kit / torch
    # The spread of a ratio: its rows' medians over their fastest runs, the worst of them.
    spread = max(spreads) if spreads else None
    return {
        "target": name,
        "limit": limit,
        "measured": ratio,
        "met": ratio <= limit,
        "spread": spread,
        "detail": f"{kit * 1e3:.1f} ms / {torch * 1e3:.1f} ms"
        + (f"; spread {spread:.2f}x" if spread else ""),
    }


def _note_busy(target: dict, keys: set[tuple], busy: set[tuple]) -> dict:
    """``target``, judged on nothing (``met`` None, marked busy) if any of the rows it was
    taken from is busy: a slowed row makes a ratio say more about the load than the code."""
    if keys & busy:
        target["busy"] = True
        target["met"] = None
        target["detail"] += "; from rows timed on a busy machine (see the WARNING above): re-run"
    return target


def user_blas_environment(environ: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """``environ`` without :data:`BLAS_VARIABLES`, and the ones it removed (name -> value)."""
    removed = {k: environ[k] for k in BLAS_VARIABLES if k in environ}
    return {k: v for k, v in environ.items() if k not in removed}, removed


def blas_info() -> list[dict[str, Any]]:
    """The BLAS libraries NumPy runs on, as threadpoolctl reads them from the loaded library
    (its name, version, the kernel it picked, its threads)."""
    import threadpoolctl

    keep = ("internal_api", "version", "architecture", "num_threads", "threading_layer")
    return [{k: lib.get(k) for k in keep} for lib in threadpoolctl.threadpool_info()
            if lib.get("user_api") == "blas"]


def _blas_line(libs: list[dict[str, Any]], removed: dict[str, str]) -> str:
    text = "; ".join(f"{lib['internal_api']} {lib['version']}, kernel "
                     f"{lib['architecture']}, {lib['num_threads']} threads" for lib in libs)
    if removed:
        unset = ", ".join(f"{k}={v}" for k, v in removed.items())
        text += f"; unset for this run, as on a user's machine: {unset} (--machine-blas keeps them)"
    else:
        set_here = [f"{k}={os.environ[k]}" for k in BLAS_VARIABLES if k in os.environ]
        if set_here:
            text += f"; this machine's {', '.join(set_here)} kept (--machine-blas)"
    return f"BLAS: {text}"


def recent_load(seconds: float = LOAD_SECONDS) -> float:
    """Tasks running or ready to run besides this one, averaged over ``seconds``: the
    ``running`` count of ``/proc/loadavg`` (which counts the reader too), sampled every
    50 ms; the kernel's 1-minute average where there is no ``/proc``."""
    try:
        samples = []
        for _ in range(max(1, round(seconds / 0.05))):
            with open("/proc/loadavg") as f:
                running = int(f.read().split()[3].split("/")[0])
            samples.append(max(0, running - 1))
            time.sleep(0.05)
        return sum(samples) / len(samples)
    except (OSError, IndexError, ValueError):
        return os.getloadavg()[0]


def load_warning(before: float, cpus: int) -> str:
    """A warning when the machine was busy as the benchmark started; "" when it was not."""
    if before < BUSY_LOAD_SHARE * cpus:
        return ""
    return (f"WARNING: the load average was {before:.2f} on {cpus} cores when the benchmark "
            "started: other work was running, so every figure and target below is suspect "
            "and no target is judged. Re-run on an idle machine.")


def targets(rows: list[dict[str, Any]], memory: dict[str, Any], backend: str) -> list[dict]:
    """Each performance target with its measured value and whether it holds.

    A ratio taken from :func:`busy_rows` is still reported, with ``busy``
    set and its detail asking for a re-run.
    """
    fast = f"fast ({backend})"
    busy = {(r["op"], r["shape"], r["dtype"], r["path"]) for r, _ in busy_rows(rows)}
    found = []
    for dtype, limit in (("float32", 1.5), ("float64", 0.7)):
        shape = "ThreeLayerConvNet batch 50"
        keys = {("training iteration", shape, dtype, p) for p in ("kit", "pytorch")}
        target = _ratio_target(
            f"training iteration {dtype}, kit / PyTorch",
            _seconds(rows, "training iteration", shape, dtype, "kit"),
            _seconds(rows, "training iteration", shape, dtype, "pytorch"),
            limit,
            _spreads(rows, keys),
        )
        found.append(_note_busy(target, keys, busy))
    pairs = (
        ("max pool", "training (50,32,32,32)", "float32"),
        ("conv", "notebook (100,3,31,31)", "float64"),
    )
    for op, shape, dtype in pairs:

        def both(path: str, op: str = op, shape: str = shape, dtype: str = dtype) -> float | None:
            f = _seconds(rows, f"{op} forward", shape, dtype, path)
            b = _seconds(rows, f"{op} backward", shape, dtype, path)
            return f + b if f and b else None

        keys = {
            (f"{op} {way}", shape, dtype, p)
            for way in ("forward", "backward")
            for p in (fast, "pytorch")
        }
        target = _ratio_target(
            f"{op} fwd+bwd {shape} {dtype}, kit / PyTorch", both(fast), both("pytorch"), 1.0,
            _spreads(rows, keys),
        )
        found.append(_note_busy(target, keys, busy))
    peak = memory.get("peak_rss_bytes")
    full = memory.get("num_train") == CIFAR_TRAIN
    found.append(
        {
            "target": f"peak RSS, one float32 epoch on {memory.get('num_train')} images",
            "limit": MEMORY_LIMIT_BYTES,
            "measured": peak,
            "met": (peak <= MEMORY_LIMIT_BYTES) if peak and full else None,
            "detail": (
                f"{peak / 1e9:.3f} GB, training array {memory['x_train_bytes'] / 1e9:.3f} GB"
                if peak
                else memory.get("error", "not run")
            ),
        }
    )
    return found


def format_targets(found: list[dict]) -> str:
    lines = [f"{'target':<58} {'limit':>8} {'measured':>9}  {'result':<8} detail", "-" * 110]
    for t in found:
        mem = t["limit"] == MEMORY_LIMIT_BYTES
        limit = f"{t['limit'] / 1e9:.1f} GB" if mem else f"{t['limit']:.2f}x"
        if t["measured"] is None:
            measured = "-"
        else:
            measured = f"{t['measured'] / 1e9:.3f} GB" if mem else f"{t['measured']:.2f}x"
        result = "busy" if t.get("busy") else {True: "met", False: "NOT MET", None: "-"}[t["met"]]
        lines.append(f"{t['target']:<58} {limit:>8} {measured:>9}  {result:<8} {t['detail']}")
    return "\n".join(lines)


# The chart's bar order: the student's layer first, then the kit's paths, then PyTorch.
PATH_ORDER = ("naive", "fast (numpy)", "fast (cython)", "pytorch", "kit")


def chart(rows: list[dict[str, Any]], path: Path | None = None) -> Any:
    """Bars of every timed row, naive and fast (and PyTorch) side by side, log scale.

    One group of bars per layer (op, shape, dtype), one bar per path, each
    labelled with its time; bars of :func:`busy_rows` (by spread) are
    hatched. Saved to ``path``, or the figure returned to show.
    """
    import matplotlib.pyplot as plt

    timed = [r for r in rows if r.get("seconds")]
    keys = list(dict.fromkeys((r["op"], r["shape"], r["dtype"]) for r in timed))
    seen = list(dict.fromkeys(r["path"] for r in timed))
    paths = [p for p in PATH_ORDER if p in seen] + [p for p in seen if p not in PATH_ORDER]
    by_key = {(r["op"], r["shape"], r["dtype"], r["path"]): r for r in timed}
    busy = {id(r) for r, _ in busy_rows(timed)}
    fig, ax = plt.subplots(figsize=(max(8, len(keys) * 1.1), 5.5))
    width = 0.8 / max(1, len(paths))
    x = np.arange(len(keys))
    for i, p in enumerate(paths):
        cells = [by_key.get((*k, p)) for k in keys]
        # NaN, not 0, where a path has no row: no bar, and log(0) would break the axis.
        ms = [r["seconds"] * 1e3 if r else np.nan for r in cells]
        bars = ax.bar(x + i * width, ms, width, label=p)
        for bar, r in zip(bars, cells, strict=True):
            if r is not None and id(r) in busy:
                bar.set_hatch("//")
        ax.bar_label(
            bars,
            labels=[f"{v:.3g}" if r else "" for v, r in zip(ms, cells, strict=True)],
            fontsize=6,
            rotation=90,
            padding=2,
        )
    ax.set_xticks(x + width * (len(paths) - 1) / 2)
    few = len(keys) <= 6  # a notebook's few layers read best upright
    ax.set_xticklabels(
        [f"{op} {dtype}\n{shape}" for op, shape, dtype in keys],
        rotation=0 if few else 60,
        ha="center" if few else "right",
        fontsize=7,
    )
    ax.set_yscale("log")
    ax.set_ylabel("milliseconds per call (median, log scale)")
    title = "time per call, lower is faster"
    if busy:
        title += "\nhatched: timed on a busy machine, re-run"
    ax.set_title(title, fontsize=9)
    ax.margins(y=0.15)  # room above the tallest bar for its label
    ax.legend(fontsize=8)
    fig.tight_layout()
    if path is None:
        return fig
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return None


def main(argv: list[str] | None = None, naive: dict[str, Any] | None = None,
         child: str = "cs231n_lib.bench") -> int:
    """The benchmark. ``naive``: the naive layers and ThreeLayerConvNet to time (their rows
    are left out without them); ``child``: the module of the peak-memory run."""
    argv = sys.argv[1:] if argv is None else argv
    naive = dict(naive or {})
    if argv[:1] == ["--epoch-child"]:
        _epoch_child(int(argv[1]), int(argv[2]), naive)
        return 0
    parser = argparse.ArgumentParser(
        prog="python -m cs231n_lib.bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--quick", action="store_true", help="small repeats, no full-epoch memory run (CI)"
    )
    parser.add_argument(
        "--out", default="bench-results", help="folder for bench.json and bench.png"
    )
    parser.add_argument(
        "--repeats", type=int, default=None, help="runs per fast measurement (15; 2 with --quick)"
    )
    parser.add_argument(
        "--machine-blas", action="store_true",
        help=f"keep this machine's {' and '.join(BLAS_VARIABLES)} (by default the benchmark "
        "runs with both unset, as on a user's machine)",
    )
    args = parser.parse_args(argv)
    env, found = user_blas_environment(dict(os.environ))
    if found and not args.machine_blas:
        # OpenBLAS has read them already (NumPy is imported): only a fresh process runs
        # without them. The same command, in a child with a user's environment.
        print(f"bench: {', '.join(f'{k}={v}' for k, v in found.items())} set here; "
              "timing in a fresh process with them unset, as on a user's machine "
              "(--machine-blas keeps them)", file=sys.stderr, flush=True)
        env["CS231N_BENCH_UNSET"] = json.dumps(found)
        return subprocess.call([sys.executable, "-m", child, *argv], env=env)
    removed = json.loads(os.environ.get("CS231N_BENCH_UNSET", "{}"))  # what the parent unset
    cpus = len(os.sched_getaffinity(0))
    load_before, load_1min = recent_load(), os.getloadavg()[0]
    repeats = args.repeats or (2 if args.quick else 15)
    if not naive:
        print("bench: no naive layers given: their rows are left out (in the kit's "
              "repository, run python -m autograder.timing)", file=sys.stderr)
    torch = _torch()
    dtypes = (np.float32, np.float64)
    ceilings = {
        np.dtype(d).name: gemm_ceiling(d, 512 if args.quick else 1024, repeats) for d in dtypes
    }
    rows: list[dict[str, Any]] = []

    def step(what: str) -> None:  # progress on stderr; the table goes to stdout
        print(f"bench: {what} ...", file=sys.stderr, flush=True)

    for d in dtypes:
        name = np.dtype(d).name
        step(f"conv and max pool, notebook shapes, {name}")
        rows += conv_rows(NOTEBOOK_CONV_SHAPE, d, naive, repeats, "notebook (100,3,31,31)")
        rows += pool_rows(NOTEBOOK_POOL_SHAPE, d, naive, repeats, "notebook (100,3,32,32)")
        step(f"conv and max pool, training shapes, {name}")
        if not args.quick:
            rows += conv_rows(TRAINING_CONV_SHAPE, d, naive, repeats, "training (50,3,32,32)")
        rows += pool_rows(TRAINING_POOL_SHAPE, d, naive, repeats, "training (50,32,32,32)")
        step(f"ThreeLayerConvNet training iterations, {name}")
        rows += training_rows(d, naive, 3 if args.quick else 20)
    num_train = 2000 if args.quick else CIFAR_TRAIN
    step(f"one float32 training epoch on {num_train} images in a fresh process (peak memory)")
    if "ThreeLayerConvNet" in naive:
        memory = memory_row(num_train, child=child)
    else:
        memory = {"op": "peak memory", "error": "no ThreeLayerConvNet given (main(naive=...))"}
    found = targets(rows, memory, fast_layers.BACKEND)
    loaded = load_warning(load_before, cpus)
    if args.quick or loaded:  # too few repeats, a small memory run or a busy machine
        for t in found:
            t["met"] = None
            t["busy"] = t.get("busy", False) or bool(loaded)
    libs = blas_info()
    report = {
        "machine": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "cpus": cpus,
            "backend": fast_layers.BACKEND,
            "torch": getattr(torch, "__version__", None),
            "blas": libs,
            "blas_variables_unset": removed,
            "blas_variables": {k: os.environ.get(k) for k in BLAS_VARIABLES},
            "load_average_before": load_before,  # recent_load(), as load_warning judged it
            "load_average_1min_before": load_1min,
            "load_average_after": recent_load(),
        },
        "gemm_gflops": ceilings,
        "rows": rows,
        "memory": memory,
        "targets": found,
        "quick": args.quick,
    }
    print(
        f"GEMM ceiling: {ceilings['float32']:.0f} GFLOP/s float32, "
        f"{ceilings['float64']:.0f} GFLOP/s float64; backend {fast_layers.BACKEND}; "
        f"PyTorch {'not installed' if torch is None else torch.__version__}"
    )
    print(_blas_line(libs, removed))
    if loaded:
        print(loaded)
    print(format_table(rows, ceilings))
    if "peak_rss_bytes" in memory:
        print(
            f"\npeak RSS of Solver.train, float32, {memory['num_train']} images, "
            f"{memory['epochs']} epoch ({memory['iterations']} iterations in "
            f"{memory['seconds']:.0f} s): {memory['peak_rss_bytes'] / 1e9:.3f} GB "
            f"(training array {memory['x_train_bytes'] / 1e9:.3f} GB)"
        )
    else:
        print(f"\npeak memory run failed: {memory.get('error')}")
    print(
        "\nTargets (quick runs judge nothing: too few repeats, small memory run)\n"
        if args.quick
        else "\nTargets (not judged: the machine was busy)\n" if loaded else "\nTargets\n"
    )
    print(format_targets(found))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(report, indent=1))
    import matplotlib

    matplotlib.use("Agg")  # a file, no window
    chart(rows, out / "bench.png")
    print(f"\nwrote {out / 'bench.json'} and {out / 'bench.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
