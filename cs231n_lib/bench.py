"""Timing of naive against fast layers.

``time_call`` is the one timer: warm-up runs, then the median of repeated
runs in this process. The naive layers are not part of the library (they are
the students' work): pass your own, or, inside the kit's repository, let
:func:`load_naive_layers` take the instructor's solutions from the source
notebooks.

Imports: NumPy, the standard library, ``cs231n_lib.fast_layers``.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from cs231n_lib import fast_layers

NOTEBOOK_CONV_SHAPE = {"x": (100, 3, 31, 31), "w": (25, 3, 3, 3), "stride": 2, "pad": 1}
NAIVE_NAMES = (
    "conv_forward_naive",
    "conv_backward_naive",
    "max_pool_forward_naive",
    "max_pool_backward_naive",
)
SOURCE_NOTEBOOKS = Path(__file__).resolve().parents[1] / "assignments" / "source" / "convnets"


def time_call(fn: Callable[[], Any], repeats: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in seconds over ``repeats`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def load_naive_layers(folder: Path = SOURCE_NOTEBOOKS) -> dict[str, Callable]:
    """The naive layers defined in the solution cells of the source notebooks.

    Only available in the kit's repository, where the instructor's source
    notebooks are; returns ``{}`` elsewhere. The cells are the instructor's own
    code and are run as such: never point this at students' notebooks.
    """
    found: dict[str, Callable] = {}
    for path in sorted(Path(folder).glob("*.ipynb")):
        try:
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        except (OSError, ValueError, KeyError):
            continue
        namespace: dict[str, Any] = {"np": np, "__name__": "naive_reference"}
        for cell in cells:
            source = "".join(cell.get("source", ""))
            if cell.get("cell_type") == "code" and "### BEGIN SOLUTION" in source:
                try:
                    exec(compile(source, f"{path.name}", "exec"), namespace)  # noqa: S102
                except Exception:  # noqa: BLE001 - a cell needing more context is skipped
                    continue
        found.update({n: namespace[n] for n in NAIVE_NAMES if callable(namespace.get(n))})
    return found


def conv_naive_vs_fast(
    repeats: int = 5,
    naive: dict[str, Callable] | None = None,
    dtype: Any = np.float64,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Time conv forward and backward on the notebook's shape: naive, and fast on each backend.

    Parameters
    ----------
    repeats : int
        Runs per fast measurement (the naive layers run once: they are slow).
    naive : dict, optional
        ``conv_forward_naive`` / ``conv_backward_naive`` to time; default
        :func:`load_naive_layers`.
    dtype : float32 or float64
    seed : int

    Returns
    -------
    rows : list of dict
        ``layer``, ``path``, ``seconds`` (None when not run), ``speedup``
        (naive time / this time, None without a naive time), ``note``.
    """
    naive = load_naive_layers() if naive is None else naive
    rng = np.random.default_rng(seed)
    shape = NOTEBOOK_CONV_SHAPE
    x = rng.standard_normal(shape["x"]).astype(dtype)
    w = rng.standard_normal(shape["w"]).astype(dtype)
    b = rng.standard_normal(shape["w"][0]).astype(dtype)
    cp = {"stride": shape["stride"], "pad": shape["pad"]}
    out, cache = fast_layers.conv_forward_fast(x, w, b, cp)
    dout = rng.standard_normal(out.shape).astype(dtype)

    rows: list[dict[str, Any]] = []
    naive_time: dict[str, float | None] = {"forward": None, "backward": None}
    if "conv_forward_naive" in naive and "conv_backward_naive" in naive:
        _, naive_cache = naive["conv_forward_naive"](x, w, b, cp)
        naive_time["forward"] = time_call(lambda: naive["conv_forward_naive"](x, w, b, cp), 1, 0)
        naive_time["backward"] = time_call(
            lambda: naive["conv_backward_naive"](dout, naive_cache), 1, 0
        )
        rows.append(_row("conv forward", "naive loops", naive_time["forward"], None))
    else:
        rows.append(
            _row("conv forward", "naive loops", None, None, "not found: pass your own naive layers")
        )
    rows.append(
        _row(
            "conv forward",
            "fast (im2col + GEMM)",
            time_call(lambda: fast_layers.conv_forward_fast(x, w, b, cp), repeats),
            naive_time["forward"],
        )
    )
    if naive_time["backward"] is not None:
        rows.append(_row("conv backward", "naive loops", naive_time["backward"], None))
    previous = fast_layers.BACKEND
    try:
        for backend in fast_layers.BACKENDS:
            try:
                fast_layers.set_backend(backend)
            except ImportError:
                rows.append(
                    _row("conv backward", f"fast, col2im {backend}", None, None, "not built")
                )
                continue
            rows.append(
                _row(
                    "conv backward",
                    f"fast, col2im {backend}",
                    time_call(lambda: fast_layers.conv_backward_fast(dout, cache), repeats),
                    naive_time["backward"],
                )
            )
    finally:
        fast_layers.set_backend(previous)
    return rows


def _row(
    layer: str, path: str, seconds: float | None, naive_seconds: float | None, note: str = ""
) -> dict[str, Any]:
    speedup = naive_seconds / seconds if naive_seconds and seconds else None
    return {"layer": layer, "path": path, "seconds": seconds, "speedup": speedup, "note": note}


def format_table(rows: list[dict[str, Any]]) -> str:
    """Rows from :func:`conv_naive_vs_fast` as a fixed-width text table."""
    lines = [f"{'layer':<14} {'path':<24} {'time':>10} {'speedup':>9}  note", "-" * 66]
    for r in rows:
        t = "-" if r["seconds"] is None else f"{r['seconds'] * 1e3:8.2f}ms"
        s = "" if r["speedup"] is None else f"{r['speedup']:8.0f}x"
        lines.append(f"{r['layer']:<14} {r['path']:<24} {t:>10} {s:>9}  {r['note']}")
    return "\n".join(lines)
