"""Does the benchmark run, and do the fast paths it times agree with the references?

Timings are not asserted (a benchmark is not a timed test); agreement is.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

# float64: elementwise relative error, as the twin tests; float32: error over the output's
# largest value (bench.agreement), about 100 float32 ulps.
AGREE = {"float64": 1e-9, "float32": 1e-5}


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    res = subprocess.run(
        # The developer run: the library's benchmark with the course's naive layers.
        [sys.executable, "-m", "autograder.timing", "--quick", "--out", str(out)],
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


# --- busy machines: fabricated timings, so nothing here depends on this machine's load ---

NB = "notebook (100,3,31,31)"


def _timed(op, path, runs, dtype="float64", flops=None):
    from cs231n_lib.bench import _row

    return _row(op, NB, dtype, path, runs, flops)


def _calm_rows():
    """A naive and a fast path whose repeated runs agree within 10%."""
    return [
        _timed("conv forward", "naive", [0.020, 0.021, 0.020]),
        _timed("conv backward", "naive", [0.030, 0.031, 0.030]),
        _timed("conv forward", "fast (numpy)", [0.0025, 0.0026, 0.0027, 0.0025, 0.0026]),
        _timed("conv backward", "fast (numpy)", [0.0050, 0.0052, 0.0051, 0.0050, 0.0055]),
    ]


def test_rows_record_their_fastest_run_and_spread():
    row = _timed("conv forward", "fast (numpy)", [0.004, 0.001, 0.002, 0.003, 0.002])
    assert row["seconds"] == 0.002 and row["min_seconds"] == 0.001
    assert row["spread"] == 2.0 and row["repeats"] == 5
    assert _timed("conv forward", "naive", [0.5])["spread"] is None  # one run, no spread
    from cs231n_lib.bench import format_table

    header, _, line = format_table([row]).splitlines()[:3]
    assert "spread" in header and "  2.00x " in line  # every figure shows its spread


def test_a_calm_table_carries_no_warning():
    from cs231n_lib.bench import busy_rows, format_table

    rows = _calm_rows()
    table = format_table(rows)
    assert busy_rows(rows) == []
    assert "WARNING" not in table and "!" not in table


def test_a_busy_table_names_the_slowed_rows_and_asks_for_a_rerun():
    """The users' report: on a busy machine the fast path read slower than naive."""
    from cs231n_lib.bench import format_table

    rows = _calm_rows()
    # Four of five runs of the fast backward were slowed 20x: the median (0.1 s) is
    # above naive's 0.03 s, and 20x the fastest run.
    rows[3] = _timed("conv backward", "fast (numpy)", [0.005, 0.1, 0.11, 0.1, 0.12])
    table = format_table(rows)
    lines = table.splitlines()
    warning = lines.index(
        "WARNING: the machine was busy while the rows marked ! were timed; their times, "
        "and every ratio taken from them, are not to be trusted:"
    )
    named = lines[warning + 1 : -1]
    assert named == [
        f"  conv backward, {NB}, float64, fast (numpy): its median run took 20.00x its "
        "fastest of 5 (more than 1.5x)"
    ]
    assert lines[-1] == (
        "Re-run on an idle machine (close other programs, let other jobs finish); "
        "in a notebook, run the timing cell again."
    )
    marked = [ln for ln in lines[:warning] if "!" in ln]
    assert len(marked) == 1 and "conv backward" in marked[0] and "fast (numpy)" in marked[0]


def test_a_share_of_the_gemm_ceiling_above_100_percent_is_flagged_not_believed():
    """329.9% of GEMM was printed as if true: it means the ceiling run was disturbed."""
    from cs231n_lib.bench import busy_rows, format_table

    flops = 2.0 * 100 * 25 * 16 * 16 * 27
    rows = [_timed("conv forward", "fast (numpy)", [0.0025] * 5, flops=flops)]
    gflops = rows[0]["gflops"]
    honest = {"float64": gflops / 0.5}  # the op at 50% of the ceiling
    assert busy_rows(rows, honest) == [] and "WARNING" not in format_table(rows, honest)
    disturbed = {"float64": gflops / 3.299}
    [(_, why)] = busy_rows(rows, disturbed)
    assert "329.9% of the GEMM ceiling, which no measured op can reach" in why
    table = format_table(rows, disturbed)
    assert "329.9%!" in table and "WARNING: the machine was busy" in table
    assert "Re-run on an idle machine" in table


def test_targets_taken_from_busy_rows_say_so():
    from cs231n_lib.bench import targets

    conv = NB
    rows = [
        _timed("conv forward", "fast (cython)", [0.004] * 5),
        _timed("conv backward", "fast (cython)", [0.008, 0.02, 0.02, 0.02, 0.02]),
        _timed("conv forward", "pytorch", [0.004] * 5),
        _timed("conv backward", "pytorch", [0.006] * 5),
    ]
    found = {t["target"]: t for t in targets(rows, {}, "cython")}
    target = found[f"conv fwd+bwd {conv} float64, kit / PyTorch"]
    assert target.get("busy")
    assert "busy machine" in target["detail"] and "re-run" in target["detail"]
    assert not any(t.get("busy") for name, t in found.items() if name != target["target"])
    # Judged on nothing: 18.5 ms against 10 ms would read NOT MET, which is the load's doing.
    assert target["met"] is None and target["measured"] > 1.0
    from cs231n_lib.bench import format_targets

    line = next(x for x in format_targets(list(found.values())).splitlines()
                if x.startswith(target["target"]))
    assert " busy " in line and "NOT MET" not in line


def test_a_ratio_reports_the_spread_of_its_rows():
    from cs231n_lib.bench import targets

    rows = [
        _timed("conv forward", "fast (cython)", [0.004, 0.0044, 0.0044]),
        _timed("conv backward", "fast (cython)", [0.008] * 3),
        _timed("conv forward", "pytorch", [0.004] * 3),
        _timed("conv backward", "pytorch", [0.006, 0.0063, 0.0063]),
    ]
    found = {t["target"]: t for t in targets(rows, {}, "cython")}
    target = found[f"conv fwd+bwd {NB} float64, kit / PyTorch"]
    assert target["spread"] == pytest.approx(1.1)  # the worst row's median over its fastest
    assert "spread 1.10x" in target["detail"]


def test_a_busy_machine_at_the_start_is_said_and_judges_nothing():
    from cs231n_lib.bench import BUSY_LOAD_SHARE, load_warning

    assert load_warning(0.2, 2) == ""
    warning = load_warning(BUSY_LOAD_SHARE * 2, 2)
    assert warning.startswith("WARNING: the load average was 1.00 on 2 cores")
    assert "no target is judged" in warning


def test_the_benchmark_runs_without_the_machines_blas_variables():
    from cs231n_lib.bench import BLAS_VARIABLES, user_blas_environment

    env, removed = user_blas_environment(
        {"PATH": "/bin", "OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": "512"})
    assert env == {"PATH": "/bin"}
    assert removed == {"OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": "512"}
    assert user_blas_environment({"PATH": "/bin"}) == ({"PATH": "/bin"}, {})
    assert set(BLAS_VARIABLES) == {"OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"}


def test_the_quick_run_names_its_blas_and_ran_without_the_variables(quick_report):
    import os

    from cs231n_lib.bench import BLAS_VARIABLES

    report, stdout, _ = quick_report
    machine = report["machine"]
    assert machine["blas_variables"] == {k: None for k in BLAS_VARIABLES}
    assert machine["blas_variables_unset"] == {k: os.environ[k] for k in BLAS_VARIABLES
                                               if k in os.environ}
    [blas] = machine["blas"]  # NumPy's one BLAS, read by threadpoolctl
    assert blas["internal_api"] and blas["architecture"] and blas["num_threads"] >= 1
    assert f"kernel {blas['architecture']}" in stdout
    assert isinstance(machine["load_average_before"], float)


# --- the chart -------------------------------------------------------------------------


def _chart_axes(rows):
    import matplotlib

    matplotlib.use("Agg")
    from cs231n_lib.bench import chart

    fig = chart(rows)
    return fig, fig.axes[0]


def test_chart_shows_naive_and_fast_side_by_side_on_a_log_scale():
    """The student's naive layer is a bar of its own, next to each fast path, per layer."""
    import matplotlib.pyplot as plt
    import numpy as np

    rows = _calm_rows() + [
        _timed("conv forward", "fast (cython)", [0.0020] * 3),
        _timed("conv backward", "fast (cython)", [0.0040] * 3),
        _timed("conv forward", "pytorch", [0.0023] * 3),
        _timed("conv backward", "pytorch", [0.0056] * 3),
    ]
    fig, ax = _chart_axes(rows)
    try:
        assert ax.get_yscale() == "log"
        bars = {c.get_label(): c for c in ax.containers}
        assert list(bars) == ["naive", "fast (numpy)", "fast (cython)", "pytorch"]
        ticks = [t.get_text() for t in ax.get_xticklabels()]
        assert len(ticks) == 2 and ticks[0].startswith("conv forward float64")
        assert ticks[1].startswith("conv backward float64")
        # One naive bar per timed layer, its height the naive median in milliseconds.
        heights = [b.get_height() for b in bars["naive"]]
        np.testing.assert_allclose(heights, [20.0, 30.0])
        texts = [t.get_text() for t in ax.texts]
        assert "20" in texts and "2.6" in texts  # each bar labelled with its time
        assert "milliseconds" in ax.get_ylabel()
        assert ax.get_legend() is not None
    finally:
        plt.close(fig)


def test_chart_leaves_a_gap_for_a_missing_path_and_hatches_busy_bars():
    import math

    import matplotlib.pyplot as plt

    rows = _calm_rows()
    rows.append(_timed("max pool forward", "fast (numpy)", [0.001, 0.01, 0.01]))  # no naive
    fig, ax = _chart_axes(rows)
    try:
        bars = {c.get_label(): c for c in ax.containers}
        naive = [b.get_height() for b in bars["naive"]]
        assert len(naive) == 3 and math.isnan(naive[2])  # no bar, and no log(0)
        fast = list(bars["fast (numpy)"])
        assert [b.get_hatch() for b in fast] == [None, None, "//"]
        assert "busy" in ax.get_title()
    finally:
        plt.close(fig)


def test_the_notebooks_timing_cells_print_this_table_and_chart():
    """The warning reaches the students only if their timing cells print format_table."""
    source = Path(__file__).resolve().parents[2] / "assignments" / "source" / "convnets"
    for name in ("01_convolution", "02_pooling_and_fast_layers"):
        cells = json.loads((source / f"{name}.ipynb").read_text())["cells"]
        timing = [
            "".join(c["source"])
            for c in cells
            if "heavy" in c.get("metadata", {}).get("tags", [])
            and "from cs231n_lib.bench import" in "".join(c["source"])
        ]
        assert len(timing) == 1, name
        assert "print(format_table(rows" in timing[0] and "chart(rows)" in timing[0], name


def test_the_library_never_reads_the_course():
    """Data flows one way: no module of cs231n_lib names the course's folder."""
    lib = Path(__file__).resolve().parents[2] / "cs231n_lib"
    for path in sorted(lib.rglob("*.py")) + sorted(lib.rglob("*.pyx")):
        text = path.read_text(encoding="utf-8")
        assert '"assignments"' not in text and "'assignments'" not in text, path.name
        assert "assignments/source" not in text, path.name


def test_the_developer_timing_takes_the_naive_layers_from_the_source_notebooks():
    import numpy as np

    from autograder.timing import naive_layers
    from cs231n_lib.bench import NAIVE_NAMES
    from cs231n_lib.fast_layers import conv_forward_fast

    naive = naive_layers()
    assert sorted(naive) == sorted(NAIVE_NAMES)
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 3, 7, 7)), rng.standard_normal((4, 3, 3, 3)), np.zeros(4)
    param = {"stride": 2, "pad": 1}
    assert np.allclose(naive["conv_forward_naive"](x, w, b, param)[0],
                       conv_forward_fast(x, w, b, param)[0], rtol=1e-10, atol=1e-12)


def test_the_load_is_the_tasks_running_now_not_a_lagging_average():
    """Two busy processes show as a load of about 2 within half a second (the kernel's
    1-minute average would take a minute to say so, and a minute to forget)."""
    from cs231n_lib.bench import recent_load

    spin = [sys.executable, "-c", "while True: pass"]
    procs = [subprocess.Popen(spin) for _ in range(2)]
    try:
        time.sleep(0.2)
        assert recent_load(0.5) >= 1.5
    finally:
        for p in procs:
            p.kill()
            p.wait()
