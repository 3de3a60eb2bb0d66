"""Does the benchmark run, and do the fast paths it times agree with the references?

Timings are not asserted (a benchmark is not a timed test); agreement is.
"""

import json
import subprocess
import sys

import pytest

# float64: elementwise relative error, as the twin tests; float32: error over the output's
# largest value (bench.agreement), about 100 float32 ulps.
AGREE = {"float64": 1e-9, "float32": 1e-5}


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    res = subprocess.run(
        [sys.executable, "-m", "cs231n_lib.bench", "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads((out / "bench.json").read_text()), res.stdout, out


def test_quick_benchmark_writes_table_json_and_chart(quick_report):
    report, stdout, out = quick_report
    assert "GEMM ceiling" in stdout and "conv backward" in stdout
    assert report["gemm_gflops"]["float32"] > 0 and report["rows"]
    assert (out / "bench.png").read_bytes()[:4] == b"\x89PNG"
    assert report["memory"].get("peak_rss_bytes", 0) > report["memory"].get("x_train_bytes", 0)


def test_every_fast_path_agrees_with_its_references(quick_report):
    report, _, _ = quick_report
    checked = [r for r in report["rows"] if r["path"].startswith("fast")]
    assert checked
    for row in checked:
        assert row["agreement"], f"{row['op']} {row['path']}: nothing to compare with"
        for ref, err in row["agreement"].items():
            assert err <= AGREE[row["dtype"]], (
                row["op"],
                row["shape"],
                row["dtype"],
                row["path"],
                ref,
                err,
            )


def test_training_iteration_is_timed(quick_report):
    report, _, _ = quick_report
    kit = [r for r in report["rows"] if r["op"] == "training iteration" and r["path"] == "kit"]
    assert {r["dtype"] for r in kit} == {"float32", "float64"}
    assert all(r["seconds"] > 0 and "epoch of 49000" in r["note"] for r in kit)


def test_quick_report_lists_every_target_without_judging(quick_report):
    report, stdout, _ = quick_report
    names = [t["target"] for t in report["targets"]]
    assert len(names) == 5, names
    assert any("training iteration float32" in n for n in names)
    assert any(n.startswith("peak RSS") for n in names)
    assert all(t["met"] is None for t in report["targets"])
    assert "Targets" in stdout and "limit" in stdout


def _row(op, shape, dtype, path, seconds):
    return {"op": op, "shape": shape, "dtype": dtype, "path": path, "seconds": seconds}


def test_targets_judge_ratios_and_only_a_full_epoch_of_memory():
    from cs231n_lib.bench import CIFAR_TRAIN, targets

    it = "ThreeLayerConvNet batch 50"
    pool, conv = "training (50,32,32,32)", "notebook (100,3,31,31)"
    rows = [
        _row("training iteration", it, "float32", "kit", 0.032),
        _row("training iteration", it, "float32", "pytorch", 0.020),  # 1.6x > 1.5x
        _row("training iteration", it, "float64", "kit", 0.050),
        _row("training iteration", it, "float64", "pytorch", 0.100),  # 0.5x <= 0.7x
        _row("max pool forward", pool, "float32", "fast (cython)", 0.001),
        _row("max pool backward", pool, "float32", "fast (cython)", 0.001),
        _row("max pool forward", pool, "float32", "pytorch", 0.003),
        _row("max pool backward", pool, "float32", "pytorch", 0.001),  # 2/4 = 0.5x
        _row("conv forward", conv, "float64", "fast (cython)", 0.004),
        _row("conv backward", conv, "float64", "fast (cython)", 0.008),
        _row("conv forward", conv, "float64", "pytorch", 0.004),
        _row("conv backward", conv, "float64", "pytorch", 0.006),  # 12/10 = 1.2x
    ]
    memory = {"peak_rss_bytes": 0.81e9, "x_train_bytes": 0.6e9, "num_train": CIFAR_TRAIN}
    found = targets(rows, memory, "cython")
    measured = [round(t["measured"], 3) for t in found[:4]]
    assert measured == [1.6, 0.5, 0.5, 1.2]
    assert [t["met"] for t in found] == [False, True, True, False, False]
    small = targets(rows, dict(memory, peak_rss_bytes=0.1e9, num_train=2000), "cython")
    assert small[-1]["met"] is None  # a small run is reported, not judged
    no_torch = targets([r for r in rows if r["path"] != "pytorch"], memory, "cython")
    assert [t["met"] for t in no_torch[:4]] == [None] * 4


def test_peak_memory_is_the_child_own_not_its_parent():
    """Linux keeps ru_maxrss across exec; the benchmark must not report the parent's size."""
    import numpy as np

    ballast = np.ones(400 * 2**20 // 8)  # 400 MiB resident in this (parent) process
    code = (
        "import numpy as np; from cs231n_lib.bench import _peak_rss_bytes; "
        "a = np.ones(100 * 2**20 // 8); print(_peak_rss_bytes())"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    peak = int(res.stdout)
    assert ballast.sum() > 0
    assert 100 * 2**20 <= peak < 300 * 2**20, peak


def test_side_by_side_timing_alternates_blocks():
    from cs231n_lib.bench import time_side_by_side

    calls = []
    medians = time_side_by_side(
        {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")},
        repeats=4,
        block=2,
        warmup=1,
        settle=0.0,
    )
    assert set(medians) == {"a", "b"} and all(t >= 0 for t in medians.values())
    # One warm-up call each, then blocks of one untimed and two timed calls, in turn.
    assert calls == ["a", "b"] + ["a"] * 3 + ["b"] * 3 + ["a"] * 3 + ["b"] * 3
