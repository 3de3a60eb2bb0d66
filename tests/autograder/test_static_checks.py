"""Does the static check catch every shortcut around the naive layers, however it is spelled,
and leave honest solutions alone?"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autograder import static_checks
from autograder.assignment import load_assignment
from autograder.intake import read_source

SOURCE = Path(__file__).resolve().parents[2] / "assignments" / "source" / "convnets"
# The convnets rules, from the assignment's own autograder.json.
RULES = load_assignment(SOURCE).forbidden


def find_forbidden_calls(grade_id, code, **kwargs):
    kwargs.setdefault("rules", RULES)
    return static_checks.find_forbidden_calls(grade_id, code, **kwargs)


def rules_for(grade_id):
    return static_checks.rules_for(grade_id, RULES)


def honest_solutions() -> list[tuple[str, str, str]]:
    """(notebook, grade_id, code) of every solution code cell of the real source notebooks."""
    found = []
    for path in sorted(SOURCE.glob("*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("solution") and cell["cell_type"] == "code":
                found.append((path.name, meta["grade_id"], "".join(cell["source"])))
    return found


HONEST = honest_solutions()


@pytest.mark.parametrize("notebook, grade_id, code", HONEST, ids=[h[1] for h in HONEST])
def test_the_source_solutions_have_no_finding(notebook, grade_id, code):
    assert find_forbidden_calls(grade_id, code) == []
    prelude = read_source(SOURCE)[notebook].prelude
    assert find_forbidden_calls(grade_id, code, prelude=prelude) == []


def test_every_naive_and_spatial_solution_has_rules():
    for _, grade_id, _ in HONEST:
        if grade_id.endswith("_naive") or grade_id.startswith("spatial_"):
            assert rules_for(grade_id), grade_id


CONV = "conv_forward_naive"
CONV_BACK = "conv_backward_naive"
POOL = "max_pool_forward_naive"
POOL_BACK = "max_pool_backward_naive"
SBN = "spatial_batchnorm_forward"


# (grade_id, code, lines with a forbidden finding, a phrase of the first message)
SHORTCUTS = [
    # the library's fast layers, bound by the notebook's setup cell or imported in any spelling
    (
        CONV,
        "def f(x, w, b, p):\n    return conv_forward_fast(x, w, b, p)",
        [2],
        "uses conv_forward_fast",
    ),
    (
        CONV_BACK,
        "from cs231n_lib.fast_layers import conv_backward_fast as f\n\nf(dout, cache)",
        [1, 3],
        "from cs231n_lib.fast_layers import conv_backward_fast as f",
    ),
    (
        CONV,
        "import cs231n_lib.fast_layers as fl\nout = fl.conv_forward_fast(x, w, b, p)",
        [1, 2],
        "import cs231n_lib.fast_layers as fl",
    ),
    (
        CONV,
        "from cs231n_lib import fast_layers\nfast_layers.conv_forward_fast(x, w, b, p)",
        [1, 2],
        "cs231n_lib.fast_layers",
    ),
    (
        CONV,
        "import cs231n_lib.fast_layers\ncs231n_lib.fast_layers.conv_forward_fast(x)",
        [1, 2],
        "import cs231n_lib.fast_layers",
    ),
    (CONV, "from cs231n_lib.fast_layers import *", [1], "cs231n_lib.fast_layers"),
    # SciPy
    (
        CONV,
        "import scipy.signal as ss\nx = 1\ny = ss.convolve2d(a, b)",
        [1, 3],
        "import scipy.signal as ss",
    ),
    (CONV, "from scipy import signal\nsignal.correlate(a, b)", [1, 2], "scipy.signal"),
    (CONV_BACK, "import scipy\nscipy.ndimage.correlate(a, b)", [2], "scipy.ndimage.correlate"),
    (
        CONV,
        "from scipy.ndimage import convolve as c\nc(a, b)",
        [1, 2],
        "`from scipy.ndimage import convolve as c`",
    ),
    # NumPy's own convolutions
    (CONV, "out = np.convolve(a, b)", [1], "np.convolve (numpy.convolve)"),
    (CONV, "import numpy\nnumpy.correlate(a, b)", [2], "numpy.correlate"),
    (CONV, "from numpy import correlate as cc\ncc(a, b)", [1, 2], "numpy.correlate"),
    (CONV, "import numpy as xp\nxp.convolve(a, b)", [2], "xp.convolve (numpy.convolve)"),
    # PyTorch
    (CONV, "import torch\nout = torch.nn.functional.conv2d(x, w)", [1, 2], "import torch"),
    (CONV_BACK, "import torch.nn.functional as F\nF.conv_transpose2d(d, w)", [1, 2], "torch"),
    # stride tricks
    (CONV, "v = np.lib.stride_tricks.as_strided(x, shape, strides)", [1], "as_strided"),
    (
        CONV,
        "from numpy.lib.stride_tricks import sliding_window_view as swv\nswv(x, (3, 3))",
        [1, 2],
        "sliding_window_view",
    ),
    (
        CONV,
        "import numpy.lib.stride_tricks as st\nst.as_strided(x)",
        [1, 2],
        "numpy.lib.stride_tricks",
    ),
    (
        POOL,
        "w = np.lib.stride_tricks.sliding_window_view(x, (2, 2), axis=(2, 3))",
        [1],
        "sliding_window_view",
    ),
    # dynamic spellings
    (CONV, "f = getattr(np, 'convolve')", [1], "getattr(np, 'convolve')"),
    (CONV, "m = __import__('scipy.signal')", [1], "dynamic import of scipy.signal"),
    (
        CONV,
        "import importlib\nm = importlib.import_module('torch')",
        [2],
        "dynamic import of torch",
    ),
    # pooling
    (POOL, "out, cache = max_pool_forward_fast(x, pool_param)", [1], "max_pool_forward_fast"),
    (
        POOL_BACK,
        "from cs231n_lib import fast_layers as F\nF.max_pool_backward_fast(d, c)",
        [1, 2],
        "cs231n_lib.fast_layers",
    ),
    (POOL_BACK, "dx = max_pool_backward_fast(dout, cache)", [1], "max_pool_backward_fast"),
    # spatial normalisation: the library's private helpers
    (
        SBN,
        "from cs231n_lib.layer_utils import _spatial_bn_forward\n"
        "out, cache = _spatial_bn_forward(x, gamma, beta, bn_param)",
        [1, 2],
        "_spatial_bn_forward",
    ),
    (
        "spatial_batchnorm_backward",
        "import cs231n_lib.layer_utils as lu\ndx, dg, db = lu._spatial_bn_backward(dout, cache)",
        [2],
        "lu._spatial_bn_backward (cs231n_lib.layer_utils._spatial_bn_backward)",
    ),
    (
        "spatial_groupnorm_forward",
        "from cs231n_lib import layer_utils\nlayer_utils._some_future_helper(x)",
        [2],
        "cs231n_lib.layer_utils._*",
    ),
]


@pytest.mark.parametrize(
    "grade_id, code, lines, phrase",
    SHORTCUTS,
    ids=[f"{s[0]}:{s[1].splitlines()[-1][:40]}" for s in SHORTCUTS],
)
def test_each_shortcut_is_found_on_its_line(grade_id, code, lines, phrase):
    findings = find_forbidden_calls(grade_id, code)
    forbidden = [f for f in findings if f.kind == "forbidden"]
    assert [f.line for f in forbidden] == lines, findings
    assert phrase in forbidden[0].message, forbidden[0].message
    assert all(f.grade_id == grade_id for f in findings)
    assert "write this part yourself" in forbidden[0].message


@pytest.mark.parametrize(
    "grade_id, code",
    [
        ("ThreeLayerConvNet", "out, cache = conv_forward_fast(x, w, b, p)"),
        ("ThreeLayerConvNet", "from cs231n_lib.layer_utils import conv_relu_pool_forward"),
        (SBN, "from cs231n_lib.layers import batchnorm_forward\nbatchnorm_forward(x, g, b, p)"),
        (CONV, "x_pad = np.pad(x, 1)\nout = np.tensordot(a, b, axes=3)\nconv = 3"),
        (CONV, "def conv_forward_fast_mine(x):\n    return image.convolve_later"),
    ],
)
def test_allowed_code_has_no_finding(grade_id, code):
    assert find_forbidden_calls(grade_id, code) == []


def test_a_use_names_what_its_alias_stands_for():
    findings = find_forbidden_calls(CONV, "from scipy.ndimage import convolve as c\nc(a, b)")
    assert "c (scipy.ndimage.convolve)" in findings[1].message


def test_the_prelude_resolves_names_the_solution_did_not_import():
    prelude = "import numpy as mynp\nfrom scipy import signal as sg\n"
    findings = find_forbidden_calls(
        CONV, "a = mynp.convolve(x, y)\nb = sg.convolve2d(x, y)", prelude=prelude
    )
    assert [(f.line, f.kind) for f in findings] == [(1, "forbidden"), (2, "forbidden")]
    assert "numpy.convolve" in findings[0].message
    assert "scipy.signal.convolve2d" in findings[1].message


@pytest.mark.parametrize(
    "code, line, phrase",
    [
        ("import os\nos.system('ls')", 1, "`import os`"),
        ("x = 1\nimport subprocess", 2, "`import subprocess`"),
        ("import ctypes", 1, "`import ctypes`"),
        ("from socket import socket", 1, "`from socket import socket`"),
        ("data = open('/etc/passwd').read()", 1, "calls open"),
        ("eval('1 + 1')", 1, "calls eval"),
        ("os.environ['HOME']", 1, "os.environ"),  # os bound by the notebook's setup cell
        ("!ls -la\nx = 1", 1, "'!ls -la'"),
    ],
)
def test_suspicious_code_is_reported_as_suspicious_not_forbidden(code, line, phrase):
    for grade_id in (CONV, "ThreeLayerConvNet", SBN):
        findings = find_forbidden_calls(grade_id, code)
        assert findings, code
        assert {f.kind for f in findings} == {"suspicious"}
        assert findings[0].line == line
        assert phrase in findings[0].message, findings[0].message


def test_methods_named_like_builtins_are_not_suspicious():
    assert find_forbidden_calls(CONV, "img = Image.open(path)\nself.eval()\nf.compile()") == []


def test_a_syntax_error_is_a_finding_with_its_line():
    findings = find_forbidden_calls(CONV, "def conv_forward_naive(x):\n    return (x\n\nx = 1")
    assert len(findings) == 1
    f = findings[0]
    assert f.kind == "syntax_error" and f.line >= 2
    assert "not valid Python" in f.message


@pytest.mark.parametrize(
    "code", ["\x00", "(" * 10_000, "x = " + "-" * 100_000 + "1", "%%bash\nrm -rf /", ""]
)
def test_hostile_code_never_raises(code):
    findings = find_forbidden_calls(CONV, code)
    assert all(isinstance(f.line, int) and f.message for f in findings)


def test_findings_are_in_line_order_with_every_use():
    code = (
        "import os\n"
        "def conv_forward_naive(x, w, b, p):\n"
        "    a = np.convolve(x, w)\n"
        "    c = conv_forward_fast(x, w, b, p)\n"
        "    return open('f')\n"
    )
    findings = find_forbidden_calls(CONV, code)
    assert [(f.line, f.kind) for f in findings] == [
        (1, "suspicious"),
        (3, "forbidden"),
        (4, "forbidden"),
        (5, "suspicious"),
    ]


def test_the_rule_table_is_data_an_instructor_can_extend():
    code = "from cs231n_lib.layer_utils import conv_relu_pool_forward\nconv_relu_pool_forward(x)"
    assert find_forbidden_calls("ThreeLayerConvNet", code) == []
    extra = {**RULES, "Three*": ("cs231n_lib.layer_utils.conv_relu_pool_*",)}
    found = find_forbidden_calls("ThreeLayerConvNet", code, rules=extra)
    assert [f.line for f in found] == [1, 2]
    assert static_checks.find_forbidden_calls("conv_forward_naive", "import torch") == [], (
        "without an assignment's table nothing is forbidden")
    own = {"ThreeLayerConvNet": ("numpy.einsum",)}
    found = find_forbidden_calls("ThreeLayerConvNet", "np.einsum('ij->', a)", rules=own)
    assert [f.line for f in found] == [1]
