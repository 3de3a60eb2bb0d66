"""Do the notebooks students really write keep full marks? The real CLI on a real course.

Correct solutions written the way students write them: a helper in a cell of its own, an
import cell, magics and shell lines, continuation lines that start with an operator, a cell
that raises, print debugging, and bare-name calls of the layers the setup provides.
"""

import json
import subprocess
import sys

import pytest

from autograder.demo import (
    ASSIGNMENT,
    NB1,
    NB2,
    NB4,
    _cell,
    _write,
    build_demo_course,
    solved_release,
)

from grading_setup import SECRET

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the jail is built from Linux namespaces"
)


def code_cell(text):
    return {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
            "source": text}


def insert_before(nbs, nb, grade_id, *texts):
    cells = nbs[nb]["cells"]
    at = cells.index(_cell(nbs, nb, grade_id))
    cells[at:at] = [code_cell(t) for t in texts]


def habits(nbs):
    # A helper cell and an import cell before the solution that uses them.
    insert_before(
        nbs,
        NB1,
        "conv_forward_naive",
        "%matplotlib inline\n%load_ext autoreload\n!ls -la\nimport math\n",
        "def padded(x, pad):\n"
        "    return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))\n",
        "raise RuntimeError('a cell the student never fixed')\n",
    )
    _cell(nbs, NB1, "conv_forward_naive")["source"] = '''
def conv_forward_naive(x, w, b, conv_param):
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho = 1 + (H + 2 * pad
              - HH) // stride
    Wo = 1 + (W + 2 * pad
              - WW) // stride
    assert (math.floor(Ho) == Ho
            != -1)
    xp = padded(x, pad)
    print("debug: output", (N, F, Ho, Wo))
    out = np.zeros((N, F, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            window = xp[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
            out[:, :, i, j] = (window[:, None] * w[None]).sum(axis=(2, 3, 4)
                                                          ) + b
    cache = (x, w, b, conv_param)
    return out, cache
'''
    # An operator-led continuation line inside brackets, in a pool solution.
    cell = _cell(nbs, NB2, "max_pool_forward_naive")
    cell["source"] = "%%time\n" + "".join(cell["source"]) + "\n_check = (7\n % 3)\n"
    # Spatial batch norm through the bare-name batchnorm_forward the setup provides.
    _cell(nbs, NB4, "spatial_batchnorm_forward")["source"] = '''
def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    flat = x.transpose(0, 2, 3, 1).reshape(-1, C)
    out, cache = batchnorm_forward(flat, gamma, beta, bn_param)
    return out.reshape(N, H, W, C).transpose(0, 3, 1, 2), cache
'''
    _cell(nbs, NB4, "spatial_batchnorm_backward")["source"] = '''
def spatial_batchnorm_backward(dout, cache):
    N, C, H, W = dout.shape
    dx, dgamma, dbeta = batchnorm_backward(dout.transpose(0, 2, 3, 1).reshape(-1, C), cache)
    return dx.reshape(N, H, W, C).transpose(0, 3, 1, 2), dgamma, dbeta
'''


def test_notebook_habits_keep_full_marks_through_the_cli(tmp_path):
    course = tmp_path / "course"
    build_demo_course(course, only=["honest_alice"])
    nbs = solved_release(course)
    habits(nbs)
    _write(course / "submitted" / "habits" / ASSIGNMENT, nbs)
    out = tmp_path / "out"
    res = subprocess.run(
        [sys.executable, "-m", "autograder", str(course), "--out", str(out), "--secret", SECRET,
         "--workers", "2", "--no-progress", "--wall-seconds-per-test", "4"],
        capture_output=True, text=True, timeout=600,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    result = json.loads((out / "results" / "habits.json").read_text())
    lost = [(t["grade_id"], t["reason"]) for t in result["tests"] if t["status"] != "passed"]
    assert lost == [], lost
    assert result["score"] == result["max_score"] == 31
    raised = [e["reason"] for e in result["cell_errors"] if e["notebook"] == NB1]
    assert any("a cell the student never fixed" in r for r in raised), result["cell_errors"]
