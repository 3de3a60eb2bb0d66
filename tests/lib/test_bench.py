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
