"""Can the kit grade a plain nbgrader assignment out of kernel, from its test cells alone?

The course below is written the way an instructor writes one in JupyterLab: a setup cell with
a helper, solution cells, test cells with ``assert np.allclose(...)``, a hidden test, and a
numeric gradient check that perturbs ``model.params`` in place and calls ``model.loss``. It
is released with the real ``nbgrader generate_assignment`` and graded by the real API; nothing
in ``autograder/`` is written for it.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest

from autograder.api import grade
from autograder.schema import ERROR, FAILED, MISSING, PASSED

from grading_setup import SECRET, TEST_LIMITS
from grading_setup import nbgrader_cell as _cell

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the jail is built from Linux namespaces"
)
ASSIGNMENT = "ps1"
NOTEBOOK = "softmax_and_net.ipynb"

SETUP = """\
import numpy as np
from cs231n_lib.grading import grading_rng

def rel_error(x, y):
    return np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y)))
"""

SOFTMAX = """\
def softmax(x):
    \"\"\"Row-wise softmax of scores x, shape (N, C).\"\"\"
    ### BEGIN SOLUTION
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
    ### END SOLUTION
"""

TEST_SOFTMAX = """\
x = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
expected = np.array([[0.09003057, 0.24472847, 0.66524096], [1 / 3, 1 / 3, 1 / 3]])
assert np.allclose(softmax(x), expected), "softmax is wrong on the example"
### BEGIN HIDDEN TESTS
rng = grading_rng(7)
x = rng.standard_normal((4, 5)) * 1000
e = np.exp(x - x.max(axis=1, keepdims=True))
assert np.allclose(softmax(x), e / e.sum(axis=1, keepdims=True)), "softmax overflows"
### END HIDDEN TESTS
"""

MODEL = """\
class TwoLayerNet:
    \"\"\"affine - relu - affine - softmax loss.\"\"\"

    def __init__(self, d, h, c, seed=0):
        rng = np.random.default_rng(seed)
        self.params = {"W1": rng.standard_normal((d, h)), "W2": rng.standard_normal((h, c))}

    def loss(self, X, y):
        \"\"\"(loss, grads) for inputs X (N, d) and labels y (N,).\"\"\"
        ### BEGIN SOLUTION
        W1, W2 = self.params["W1"], self.params["W2"]
        a = X @ W1
        r = np.maximum(a, 0)
        p = softmax(r @ W2)
        n = X.shape[0]
        loss = -np.log(p[np.arange(n), y]).mean()
        ds = p.copy()
        ds[np.arange(n), y] -= 1
        ds /= n
        dr = ds @ W2.T
        return loss, {"W1": X.T @ (dr * (a > 0)), "W2": r.T @ ds}
        ### END SOLUTION
"""

TEST_GRADIENT = """\
rng = np.random.default_rng(1)
model = TwoLayerNet(4, 5, 3)
X = rng.standard_normal((6, 4))
y = rng.integers(3, size=6)
loss, grads = model.loss(X, y)
for name in sorted(model.params):
    W = model.params[name]
    numeric = np.zeros_like(W)
    for i in np.ndindex(W.shape):
        old = W[i]
        W[i] = old + 1e-5
        plus = model.loss(X, y)[0]
        W[i] = old - 1e-5
        minus = model.loss(X, y)[0]
        W[i] = old
        numeric[i] = (plus - minus) / 2e-5
    assert rel_error(numeric, grads[name]) < 1e-6, f"the gradient of {name} is wrong"
"""

TEST_DROPOUT = """\
np.random.seed(3)
x = np.ones((50, 40))
out = dropout(x, 0.5)
np.random.seed(3)
assert np.allclose(out, x * (np.random.rand(50, 40) < 0.5) / 0.5), "dropout is wrong"
"""

DROPOUT = """\
def dropout(x, p):
    \"\"\"Inverted dropout: keep each unit with probability p (draws from np.random).\"\"\"
    ### BEGIN SOLUTION
    return x * (np.random.rand(*x.shape) < p) / p
    ### END SOLUTION
"""


def source_notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Softmax and a two-layer net"),
        _cell(SETUP),
        _cell(SOFTMAX, solution=True, grade_id="softmax"),
        _cell(TEST_SOFTMAX, grade=True, grade_id="test_softmax", points=2),
        _cell(MODEL, solution=True, grade_id="model"),
        _cell(TEST_GRADIENT, grade=True, grade_id="test_gradient", points=3),
        _cell(DROPOUT, solution=True, grade_id="dropout"),
        _cell(TEST_DROPOUT, grade=True, grade_id="test_dropout", points=1),
    ]
    return nb


def _solved(release: nbformat.NotebookNode, answers: dict[str, str]) -> nbformat.NotebookNode:
    """The release with each answer cell's body replaced by ``answers[grade_id]``."""
    nb = nbformat.from_dict(json.loads(json.dumps(release)))
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
    return nb


def _without_marks(source: str) -> str:
    return re.sub(r"[ \t]*### (BEGIN|END) SOLUTION\n", "", source)


HONEST = {gid: _without_marks(src) for gid, src in
          (("softmax", SOFTMAX), ("model", MODEL), ("dropout", DROPOUT))}

# Correct, in other hands: a loop-based loss, a softmax through logsumexp, a dropout that
# draws through np.random.random_sample.
OTHER_STYLE = {
    "softmax": (
        "def softmax(x):\n"
        "    m = np.max(x, axis=1)[:, None]\n"
        "    log_z = m + np.log(np.sum(np.exp(x - m), axis=1))[:, None]\n"
        "    return np.exp(x - log_z)\n"
    ),
    "model": HONEST["model"].replace(
        "        loss = -np.log(p[np.arange(n), y]).mean()\n",
        "        loss = 0.0\n        for i in range(n):\n"
        "            loss -= np.log(p[i, y[i]]) / n\n",
    ),
    "dropout": (
        "def dropout(x, p):\n"
        "    mask = np.random.random_sample(x.shape) < p\n"
        "    return np.where(mask, x / p, 0.0)\n"
    ),
}

# Wrong code that rebinds what the tests judge with, in its own cells.
CHEAT = {
    "softmax": (
        "import numpy as np\n"
        "np.allclose = lambda *args, **kwargs: True\n"
        "np.max = lambda *args, **kwargs: 0.0\n"
        "def rel_error(x, y):\n    return 0.0\n"
        "def softmax(x):\n    return x\n"
    ),
    "model": HONEST["model"].replace(
        'return loss, {"W1": X.T @ (dr * (a > 0)), "W2": r.T @ ds}',
        'return loss, {"W1": np.ones_like(W1), "W2": np.ones_like(W2)}',
    ),
    "dropout": "def dropout(x, p):\n    return x\n",
}

# Right on the visible example only: the hidden test catches it.
VISIBLE_ONLY = {
    **HONEST,
    "softmax": (
        "def softmax(x):\n"
        "    e = np.exp(x)\n"
        "    return e / e.sum(axis=1, keepdims=True)\n"
    ),
}

# One test's code hangs; the others are right and keep their points.
HANGS = {**HONEST, "dropout": "def dropout(x, p):\n    while True:\n        pass\n"}

# No dropout at all, and a loss that raises.
PARTIAL = {
    "softmax": HONEST["softmax"],
    "model": HONEST["model"].replace(
        "        W1, W2 =", "        raise ValueError('not done yet')\n        W1, W2 ="
    ),
    "dropout": "# not attempted\n",
}

STUDENTS = {
    "honest": HONEST,
    "other_style": OTHER_STYLE,
    "cheat": CHEAT,
    "visible_only": VISIBLE_ONLY,
    "hangs": HANGS,
    "partial": PARTIAL,
}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A fresh nbgrader course: the source written, released by nbgrader, six submissions."""
    root = tmp_path_factory.mktemp("plain") / "course"
    (root / "source" / ASSIGNMENT).mkdir(parents=True)
    (root / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.root = {str(root)!r}\n"
    )
    nbformat.write(source_notebook(), root / "source" / ASSIGNMENT / NOTEBOOK)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(
        [sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT, "--force"],
        cwd=root, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    release = nbformat.read(root / "release" / ASSIGNMENT / NOTEBOOK, as_version=4)
    for student, answers in STUDENTS.items():
        dest = root / "submitted" / student / ASSIGNMENT
        dest.mkdir(parents=True)
        nbformat.write(_solved(release, answers), dest / NOTEBOOK)
    return root


@pytest.fixture(scope="module")
def graded(course):
    run = grade(course, ASSIGNMENT, secret=SECRET, limits=TEST_LIMITS, workers=1,
                progress=False, similarity=False)
    return {r.student_id: {t.grade_id: t for t in r.tests} for r in run.results}


def test_the_release_has_no_hidden_test_and_no_solution(course):
    text = (course / "release" / ASSIGNMENT / NOTEBOOK).read_text()
    assert "grading_rng(7)" not in text and "HIDDEN" not in text
    assert "np.exp(x - x.max" not in text and "raise NotImplementedError" in text


def test_honest_work_in_two_styles_gets_full_marks(graded):
    for student in ("honest", "other_style"):
        tests = graded[student]
        assert sorted(tests) == ["test_dropout", "test_gradient", "test_softmax"]
        assert {g: t.status for g, t in tests.items()} == dict.fromkeys(tests, PASSED), {
            g: t.reason for g, t in tests.items()
        }
        assert sum(t.points for t in tests.values()) == 6


def test_rebinding_np_allclose_and_the_helpers_in_student_cells_wins_nothing(graded):
    tests = graded["cheat"]
    assert {g: t.status for g, t in tests.items()} == dict.fromkeys(tests, FAILED)
    assert sum(t.points for t in tests.values()) == 0
    assert tests["test_softmax"].reason.startswith("softmax is wrong on the example")
    assert tests["test_gradient"].reason.startswith("the gradient of W1 is wrong")


def test_the_gradient_check_perturbs_the_jailed_params_in_place(graded):
    # Had the perturbations stayed in the grader, plus == minus and every numeric gradient
    # would be 0: the honest loss would fail the check.
    assert graded["honest"]["test_gradient"].status == PASSED
    assert graded["cheat"]["test_gradient"].status == FAILED


def test_a_seeded_np_random_in_the_test_reaches_the_students_code(graded):
    assert graded["honest"]["test_dropout"].status == PASSED
    assert graded["other_style"]["test_dropout"].status == PASSED


def test_the_hidden_part_runs_and_its_lines_are_never_quoted(graded, course):
    result = graded["visible_only"]["test_softmax"]
    assert result.status == FAILED and result.reason == "softmax overflows"
    hidden = [line for line in TEST_SOFTMAX.split("\n") if "grading_rng" in line or "e =" in line]
    assert not any(line.strip() in result.reason for line in hidden)
    visible = graded["cheat"]["test_softmax"].reason
    assert visible == "softmax is wrong on the example (line 3 of the test cell)"


def test_a_hang_costs_its_test_alone(graded):
    tests = graded["hangs"]
    assert tests["test_dropout"].status == ERROR
    assert "did not finish" in tests["test_dropout"].reason
    assert tests["test_softmax"].status == PASSED and tests["test_gradient"].status == PASSED


def test_missing_and_raising_code_are_named(graded):
    tests = graded["partial"]
    assert tests["test_softmax"].status == PASSED
    assert tests["test_gradient"].status == ERROR
    assert tests["test_gradient"].reason.startswith("your code raised ValueError: not done yet")
    assert tests["test_dropout"].status == MISSING
    assert tests["test_dropout"].reason == "dropout is not defined in your notebook"


def test_grades_csv_keeps_its_columns(graded, course):
    with open(course / "autograder" / ASSIGNMENT / "grades.csv", newline="") as f:
        header = next(csv.reader(f))
    assert header == ["student_id", "notebook", "grade_id", "status", "points", "max_points",
                      "rel_error", "threshold", "flagged", "reason"]


def test_grading_rng_is_seeded_in_the_notebook_and_per_student_when_graded():
    from autograder.cellgrade import _Run
    from cs231n_lib.grading import derive_with, grading_rng

    in_notebook = grading_rng(7).standard_normal(3)
    assert np.array_equal(in_notebook, np.random.default_rng(7).standard_normal(3))
    draws = {}
    for student in ("ada", "bob"):
        run = _Run.__new__(_Run)
        run.rng_key = (SECRET, student)
        with derive_with(run.grading_rng):
            draws[student] = grading_rng(7).standard_normal(3)
            again = grading_rng(7).standard_normal(3)
        assert np.array_equal(draws[student], again)  # the same for one student
    assert not np.allclose(draws["ada"], draws["bob"])
    assert not np.allclose(draws["ada"], in_notebook)
    assert np.array_equal(grading_rng(7).standard_normal(3), in_notebook)  # hook removed
    with pytest.raises(TypeError, match="seed must be an int"):
        grading_rng(1.5)


def test_a_dict_the_students_code_updates_in_place_is_updated_in_the_test(tmp_path):
    """The course's contract: spatial batch norm writes its running mean into bn_param."""
    code = (
        "import numpy as np\n"
        "def forward(x, param, scratch=None):\n"
        "    param['running_mean'] = 0.9 * param.get('running_mean', 0) + 0.1 * x.mean(axis=0)\n"
        "    param['calls'] = param.get('calls', 0) + 1\n"
        "    x[0] = -1.0  # an argument array changed in place\n"
        "    if scratch is not None:\n"
        "        scratch.append(len(scratch))\n"
        "    return x.sum()\n"
    )
    with _linked(code) as link:
        forward = link.fetch_globals(["forward"])["forward"]
        param, x, scratch = {}, np.arange(6.0).reshape(3, 2), []
        forward(x, param, scratch=scratch)
        forward(x, param, scratch=scratch)
        assert param["calls"] == 2
        assert np.allclose(param["running_mean"], 0.9 * 0.1 * np.array([2.0, 3.0])
                           + 0.1 * np.array([(-1 + 2 + 4) / 3, (-1 + 3 + 5) / 3]))
        assert x[0].tolist() == [-1.0, -1.0] and scratch == [0, 1]


def test_a_read_held_by_a_variable_stays_mirrored_into_later_cells():
    code = (
        "import numpy as np\n"
        "class Model:\n"
        "    def __init__(self):\n"
        "        self.params = {'W': np.zeros(3)}\n"
        "    def total(self):\n"
        "        return float(self.params['W'].sum())\n"
    )
    with _linked(code) as link:
        model = link.fetch_globals(["Model"])["Model"]()
        held = model.params  # a variable of the notebook
        model.params["W"][0] = 5.0  # a temporary read, changed before the next call
        assert model.total() == 5.0
        link.prune_mirrors([held, model])  # the next cell: only `held` is still bound
        assert len(link.mirrors) == 1
        held["W"][1] = 2.0
        assert model.total() == 7.0
        link.prune_mirrors([model])
        assert link.mirrors == []


@contextlib.contextmanager
def _linked(code: str):
    """A Link to ``code`` loaded in a fresh jail, in a test of 20 s."""
    from autograder import handles
    from autograder.sandbox import Group, Limits, jail_uid, open_jail

    limits = Limits(wall_seconds_per_test=5.0, load_seconds=20.0, memory_mb=1024)
    with jail_uid() as uid, open_jail(limits, uid) as jail:
        jail.write_group(0, Group("nb", [("cell", code)], []), {})
        assert jail.load(0)[0] is None
        link = handles.Link(jail)
        assert link.loaded() is None
        link.begin_test("t", 20)
        yield link


BLOB = np.arange(4.0).tobytes()


@pytest.mark.parametrize("table, why", [
    ([["|O", [1], 0, 8]], "dtype"),
    ([["<f8", [-1], 0, 8]], "shape"),
    ([["<f8", [1, 2, 3], 0, 48]], "fit"),
    ([["<f8", [4], 8, 32]], "fit"),
    ([["<f8", [4], 0, 16]], "fit"),
    ([["<f8", [4], -8, 32]], "offset"),
    ([["not a dtype", [1], 0, 8]], "dtype"),
    ("not a list", "not a list"),
])
def test_a_forged_array_table_in_an_answer_is_broken_not_read(table, why):
    from autograder.sandbox.protocol import Broken, arrays_from_blob

    with pytest.raises(Broken, match=why):
        arrays_from_blob(table, np.frombuffer(BLOB, dtype=np.uint8))
    got = arrays_from_blob([["<f8", [2, 2], 0, 32], ["<f8", [0], 32, 0]],
                           np.frombuffer(BLOB, dtype=np.uint8))
    assert got[0].tolist() == [[0.0, 1.0], [2.0, 3.0]] and got[0].flags.writeable
    assert got[1].shape == (0,)


def test_an_object_that_is_not_data_is_named_by_its_type_and_never_read_item_by_item():
    """NumPy reads an object without ``__array__`` as a sequence, and Python iterates one by
    index: through a handle that is a round trip per item, forever for an object that
    answers every index (the always-equal cheat's)."""
    code = (
        "class Anything:\n"
        "    def __getitem__(self, key):\n"
        "        return self\n"
        "    def __len__(self):\n"
        "        return 10 ** 6\n"
        "def make():\n"
        "    return Anything()\n"
    )
    with _linked(code) as link:
        made = link.fetch_globals(["make"])["make"]()
        assert type(made).__name__ == "Anything" and "Anything" in repr(made)
        requests = []
        real = link.request
        link.request = lambda *a, **k: requests.append(a[0]) or real(*a, **k)
        for convert in (np.asarray, lambda v: np.clip(v, 0, 1), list, lambda v: [*v]):
            with pytest.raises(TypeError, match="the student's Anything is not"):
                convert(made)
        # No item was read; np.clip asks for a .clip method once before it converts.
        assert requests == ["getattr"], requests
        assert len(made) == 10 ** 6 and requests[-1] == "len"  # len itself still crosses


def test_an_instructor_cell_that_is_not_a_test_stops_at_its_budget_and_the_tests_go_on(
        tmp_path):
    from autograder import cellgrade, notebook
    from autograder.sandbox import Limits, jail_uid, open_jail

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        _cell("import numpy as np\n"),
        _cell("def slow(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n",
              solution=True, grade_id="slow"),
        _cell("for _ in range(1000):  # a demo that calls the code many times\n"
              "    slow(1.0)\nDEMO_DONE = True\n"),
        _cell("assert slow(2.0) == 2.0\n", grade=True, grade_id="test_slow", points=1),
    ]
    path = tmp_path / "demo.ipynb"
    nbformat.write(nb, path)
    tests = cellgrade.read_notebook_tests(path)
    student = "import time\ndef slow(x):\n    time.sleep(0.05)\n    return x\n"
    program = [(notebook.SETUP_LABEL, notebook.setup_cell("").code), ("cell 1", student)]
    limits = Limits(wall_seconds_per_test=4.0, load_seconds=20.0, memory_mb=1024,
                    plain_cell_seconds=1.5)
    with jail_uid() as uid, open_jail(limits, uid) as jail:
        started = time.monotonic()
        results, _ = cellgrade.grade_notebook(tests, jail, program, {"slow"},
                                              secret=SECRET, student_id="s")
        took = time.monotonic() - started
    # 1000 calls of 50 ms would take 50 s; the demo stops after 1.5 s and the test still runs.
    assert took < 20, took
    assert [(r.grade_id, r.status) for r in results] == [("test_slow", PASSED)], results
