"""Do repeated layer calls reuse warm heap pages instead of faulting in fresh ones?

Each case runs in a fresh interpreter, as a notebook kernel would, and counts
the page faults (``ru_minflt``) of repeated conv calls on the notebook's
shape: a count, not a timing.
"""

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

glibc_only = pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="the allocator settings are glibc's",
)

# Ten forward+backward calls on x (100,3,31,31), w (25,3,3,3), stride 2, pad 1, float64,
# after three untimed ones; prints the setting and the faults per call pair.
COUNT_FAULTS = """
import json, resource
import numpy as np
from cs231n_lib import fast_layers
rng = np.random.default_rng(0)
x, w, b = rng.standard_normal((100, 3, 31, 31)), rng.standard_normal((25, 3, 3, 3)), np.zeros(25)
conv_param = {"stride": 2, "pad": 1}
dout = rng.standard_normal((100, 25, 16, 16))
def pair():
    out, cache = fast_layers.conv_forward_fast(x, w, b, conv_param)
    fast_layers.conv_backward_fast(dout, cache)
for _ in range(3):
    pair()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    pair()
faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10
print(json.dumps({"keeps": fast_layers.KEEPS_FREED_MEMORY, "faults": faults}))
"""

# Without the setting, each call pair faulted in ~3,800 pages here (15 MB of fresh arrays);
# with it, none after the first calls. 100 leaves room for stray allocations.
WARM_FAULTS_PER_CALL = 100


def run(code, setting=None):
    env = {k: v for k, v in os.environ.items() if k != "CS231N_KEEP_FREED_MEMORY"}
    if setting is not None:
        env["CS231N_KEEP_FREED_MEMORY"] = setting
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO,
        timeout=120,
    )


@glibc_only
def test_repeated_conv_calls_do_not_fault_in_fresh_pages():
    res = run(COUNT_FAULTS)
    assert res.returncode == 0, res.stderr
    found = json.loads(res.stdout)
    assert found["keeps"] is True
    assert found["faults"] <= WARM_FAULTS_PER_CALL, found


@glibc_only
def test_opting_out_leaves_the_allocator_alone_and_the_faults_come_back():
    on = json.loads(run(COUNT_FAULTS).stdout)
    res = run(COUNT_FAULTS, "0")
    assert res.returncode == 0, res.stderr
    off = json.loads(res.stdout)
    assert off["keeps"] is False
    # The reason the setting exists: glibc's own thresholds give the pages back every call.
    assert off["faults"] > 10 * max(on["faults"], WARM_FAULTS_PER_CALL), (on, off)


def test_a_bad_setting_is_named():
    res = run("import cs231n_lib.fast_layers", "yes")
    assert res.returncode != 0
    assert "CS231N_KEEP_FREED_MEMORY='yes' must be '0' or '1'" in res.stderr
