"""The instructor's demo: a course with example submissions, graded (``make demo``).

``build_demo_course`` copies the kit's course (source and release) into a new
folder and writes submissions made from the release the way students make
them: honest ones, partly wrong ones, the untouched release, cheating ones,
crashing ones and malformed ones. The tests grade the same class.

Imports: the autograder's API, notebook reader and assignment files, the standard library.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from autograder.assignment import DemoSubmission, load_assignment
from autograder.cellgrade import read_notebook_tests
from autograder.notebook import cell_source, nbgrader_meta

KIT_COURSE = Path(__file__).resolve().parents[1] / "assignments"
ASSIGNMENT = "convnets"
NB1 = "01_convolution.ipynb"
NB2 = "02_pooling_and_fast_layers.ipynb"
NB3 = "03_three_layer_convnet.ipynb"
NB4 = "04_spatial_normalization.ipynb"

Notebooks = dict[str, dict[str, Any]]


def _cell(nbs: Notebooks, nb: str, grade_id: str) -> dict[str, Any]:
    for cell in nbs[nb]["cells"]:
        if nbgrader_meta(cell).get("grade_id") == grade_id:
            return cell
    raise KeyError(f"{nb} has no cell {grade_id!r}")


def solved_release(course: Path, assignment: str = ASSIGNMENT) -> Notebooks:
    """The release notebooks with every solution cell filled in as a student would."""
    nbs: Notebooks = {}
    for path in sorted((course / "release" / assignment).glob("*.ipynb")):
        release = json.loads(path.read_text(encoding="utf-8"))
        source = json.loads(
            (course / "source" / assignment / path.name).read_text(encoding="utf-8")
        )
        answers = {
            nbgrader_meta(c)["grade_id"]: c
            for c in source["cells"]
            if nbgrader_meta(c).get("solution")
        }
        for cell in release["cells"]:
            gid = nbgrader_meta(cell).get("grade_id")
            if nbgrader_meta(cell).get("solution") and gid in answers:
                text = cell_source(answers[gid])
                text = re.sub(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n", "", text, flags=re.M)
                cell["source"] = text
        nbs[path.name] = release
    return nbs


def release_notebooks(course: Path, assignment: str = ASSIGNMENT) -> Notebooks:
    return {
        p.name: json.loads(p.read_text(encoding="utf-8"))
        for p in sorted((course / "release" / assignment).glob("*.ipynb"))
    }


def append_code(nbs: Notebooks, nb: str, grade_id: str, code: str) -> None:
    """Add code at the end of a solution cell (how most tampering would be typed in)."""
    cell = _cell(nbs, nb, grade_id)
    cell["source"] = cell_source(cell).rstrip("\n") + "\n\n" + code.strip("\n") + "\n"


def set_code(nbs: Notebooks, nb: str, grade_id: str, code: str) -> None:
    _cell(nbs, nb, grade_id)["source"] = code.strip("\n") + "\n"


# --------------------------------------------------------------------------- submissions
# Each maker turns solved (or release) notebooks into one student's submission and
# says which test grade ids it should lose.

FLIPPED = """
_conv_forward_correct = conv_forward_naive
def conv_forward_naive(x, w, b, conv_param):
    return _conv_forward_correct(x, w[:, :, ::-1, ::-1].copy(), b, conv_param)
"""
ALL_TIES = """
def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            win = x[:, :, i * s:i * s + ph, j * s:j * s + pw]
            mask = win == win.max(axis=(2, 3), keepdims=True)
            g = dout[:, :, i, j][:, :, None, None]
            dx[:, :, i * s:i * s + ph, j * s:j * s + pw] += mask * g
    return dx
"""
ZEROS = """
def conv_forward_naive(x, w, b, conv_param):
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    s, p = conv_param["stride"], conv_param["pad"]
    Ho, Wo = 1 + (H + 2 * p - HH) // s, 1 + (W + 2 * p - WW) // s
    return np.zeros((N, F, Ho, Wo)), (x, w, b, conv_param)
"""
CONV_FWD_TESTS = [
    "test_conv_forward_same",
    "test_conv_forward_stride",
    "test_conv_forward_rectangular",
]
CONV_TESTS = CONV_FWD_TESTS + ["test_conv_backward_stride1", "test_conv_backward_stride2"]
POOL_BWD_TESTS = [
    "test_max_pool_backward_tiled",
    "test_max_pool_backward_overlapping",
    "test_max_pool_backward_rectangular",
    "test_max_pool_backward_ties",
]


def _breaks_conv_forward(nbs: Notebooks, code: str) -> list[str]:
    """Append ``code`` to the conv_forward_naive cell: the cheats' way in, costing those tests."""
    append_code(nbs, NB1, "conv_forward_naive", code)
    return CONV_FWD_TESTS


def honest(nbs: Notebooks, course: Path) -> list[str]:
    return []


def partly_wrong(nbs: Notebooks, course: Path) -> list[str]:
    append_code(nbs, NB1, "conv_forward_naive", FLIPPED)
    append_code(nbs, NB2, "max_pool_backward_naive", ALL_TIES)
    # The hidden cases put ties into overlapping and rectangular windows too.
    return CONV_TESTS + [
        "test_max_pool_backward_overlapping",
        "test_max_pool_backward_rectangular",
        "test_max_pool_backward_ties",
    ]


def rebinds_rel_error(nbs: Notebooks, course: Path) -> list[str]:
    return _breaks_conv_forward(nbs, ZEROS + "\nrel_error = lambda x, y: 0.0\n")


def patches_numpy(nbs: Notebooks, course: Path) -> list[str]:
    return _breaks_conv_forward(
        nbs,
        ZEROS
        + (
            "\nnp.allclose = lambda *args, **kwargs: True\n"
            "np.abs = lambda a, *args, **kwargs: a * 0\n"
            "np.max = lambda *args, **kwargs: 0.0\n"
        ),
    )


def replaces_check_helpers(nbs: Notebooks, course: Path) -> list[str]:
    return _breaks_conv_forward(
        nbs,
        ZEROS
        + (
            "\ndef check_conv_forward(*args, **kwargs):\n    print('OK')\n"
            "import cs231n_lib.checks\ncs231n_lib.checks.check_conv_forward = check_conv_forward\n"
        ),
    )


def always_equal(nbs: Notebooks, course: Path) -> list[str]:
    return _breaks_conv_forward(
        nbs,
        """
class _Anything:
    shape = property(lambda self: self._shape)
    def __init__(self, shape):
        self._shape = shape
    def __eq__(self, other):
        return True
    def __sub__(self, other):
        return 0.0
    __rsub__ = __sub__
    def __abs__(self):
        return 0.0
def conv_forward_naive(x, w, b, conv_param):
    return _Anything((1,)), (x, w, b, conv_param)
""",
    )


def lying_subclass(nbs: Notebooks, course: Path) -> list[str]:
    return _breaks_conv_forward(
        nbs,
        """
class _Liar(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.shape(other), dtype=bool)
    def __sub__(self, other):
        return np.zeros(np.shape(other))
def conv_forward_naive(x, w, b, conv_param):
    N, F = x.shape[0], w.shape[0]
    s, p = conv_param["stride"], conv_param["pad"]
    Ho = 1 + (x.shape[2] + 2 * p - w.shape[2]) // s
    Wo = 1 + (x.shape[3] + 2 * p - w.shape[3]) // s
    return np.zeros((N, F, Ho, Wo)).view(_Liar), (x, w, b, conv_param)
""",
    )


def detects_grading(nbs: Notebooks, course: Path) -> list[str]:
    return _breaks_conv_forward(
        nbs,
        """
import os
if any(k.startswith(("NBGRADER", "CS231N", "CI")) for k in os.environ):
    from cs231n_lib.fast_layers import conv_forward_fast as conv_forward_naive
else:
"""
        + "\n".join("    " + line for line in ZEROS.strip().splitlines()),
    )


def reads_references(nbs: Notebooks, course: Path) -> list[str]:
    """Knows exactly where the course lives and tries to take the instructor's solution."""
    target = course / "source" / ASSIGNMENT / NB1
    append_code(
        nbs,
        NB1,
        "conv_forward_naive",
        f"""
import json
try:
    for _cell in json.load(open({str(target)!r}))["cells"]:
        if "def conv_forward_naive" in "".join(_cell["source"]):
            exec("".join(_cell["source"]))
except OSError:
    pass
"""
        + ZEROS.replace("def conv_forward_naive", "def _unused"),
    )
    return []  # the file cannot be read from the sandbox, so the honest code stays; flagged


def writes_gradebook(nbs: Notebooks, course: Path) -> list[str]:
    """Tries to write into the gradebook and into another student's submission."""
    targets = [course / "gradebook.db", course / "submitted" / "honest_alice" / ASSIGNMENT / NB1]
    append_code(
        nbs,
        NB1,
        "conv_forward_naive",
        f"""
for _path in {[str(t) for t in targets]!r}:
    try:
        with open(_path, "a") as _f:
            _f.write("tampered")
    except OSError:
        pass
""",
    )
    return []


def infinite_loop(nbs: Notebooks, course: Path) -> list[str]:
    append_code(
        nbs,
        NB2,
        "max_pool_forward_naive",
        """
_pool_correct = max_pool_forward_naive
def max_pool_forward_naive(x, pool_param):
    if pool_param["pool_height"] == 3 and pool_param["pool_width"] == 3:
        while True:
            pass
    return _pool_correct(x, pool_param)
""",
    )
    # The ties test's hidden cases use 3x3 windows too.
    return [
        "test_max_pool_forward_overlapping",
        "test_max_pool_backward_overlapping",
        "test_max_pool_backward_ties",
    ]


def crashes(nbs: Notebooks, course: Path) -> list[str]:
    """A segfault, os._exit, sys.exit and a swallowed KeyboardInterrupt, each in one function."""
    append_code(
        nbs,
        NB4,
        "spatial_groupnorm_forward",
        """
import ctypes
def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    ctypes.string_at(0)
""",
    )
    append_code(
        nbs,
        NB4,
        "spatial_batchnorm_backward",
        """
import os
def spatial_batchnorm_backward(dout, cache):
    os._exit(0)
""",
    )
    append_code(
        nbs,
        NB2,
        "max_pool_backward_naive",
        """
import sys
def max_pool_backward_naive(dout, cache):
    sys.exit(3)
""",
    )
    append_code(
        nbs,
        NB1,
        "conv_backward_naive",
        """
import time
def conv_backward_naive(dout, cache):
    while True:
        try:
            time.sleep(0.2)
        except KeyboardInterrupt:
            pass
""",
    )
    return (
        [
            "test_spatial_groupnorm_forward",
            "test_spatial_groupnorm_backward",
            "test_spatial_batchnorm_backward",
        ]
        + POOL_BWD_TESTS
        + ["test_conv_backward_stride1", "test_conv_backward_stride2"]
    )


def memory_and_output(nbs: Notebooks, course: Path) -> list[str]:
    append_code(
        nbs,
        NB4,
        "spatial_batchnorm_forward",
        """
def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    # One terabyte at once: far past any sandbox memory limit, refused at once.
    return np.ones(1 << 40, dtype=np.uint8), None
""",
    )
    append_code(nbs, NB1, "conv_forward_naive", 'print("x" * 5_000_000)')
    return [
        "test_spatial_batchnorm_train",
        "test_spatial_batchnorm_test_mode",
        "test_spatial_batchnorm_backward",
        "test_spatial_groupnorm_forward",
    ][:3]


def fork_bomb(nbs: Notebooks, course: Path) -> list[str]:
    append_code(
        nbs,
        NB2,
        "max_pool_forward_naive",
        """
import os, time
def max_pool_forward_naive(x, pool_param):
    end = time.time() + 3
    while time.time() < end:
        try:
            os.fork()
        except OSError:
            time.sleep(0.01)
    return None, None
""",
    )
    return [
        "test_max_pool_forward_tiled",
        "test_max_pool_forward_overlapping",
        "test_max_pool_forward_rectangular",
    ] + POOL_BWD_TESTS


SUBMISSIONS: dict[str, Callable[[Notebooks, Path], list[str]]] = {
    "honest_alice": honest,
    "partly_wrong_bob": partly_wrong,
    "cheat_rel_error": rebinds_rel_error,
    "cheat_numpy_patch": patches_numpy,
    "cheat_check_helpers": replaces_check_helpers,
    "cheat_always_equal": always_equal,
    "cheat_ndarray_subclass": lying_subclass,
    "cheat_env_detect": detects_grading,
    "cheat_read_reference": reads_references,
    "cheat_write_gradebook": writes_gradebook,
    "crash_infinite_loop": infinite_loop,
    "crash_signals_and_exits": crashes,
    "crash_memory_output": memory_and_output,
    "crash_fork_bomb": fork_bomb,
}


# --- any other assignment: the demo class its autograder.json declares --------------------------

DROPOUT = "dropout"


def declared_class(dest: Path, assignment: str) -> dict[str, list[str]]:
    """Write the demo submissions that ``source/<assignment>/autograder.json`` declares (and the
    untouched release) into the course at ``dest``; return student -> the test grade ids each
    should lose. An assignment that declares none gets its solution and its release."""
    source = dest / "source" / assignment
    tests = [t.grade_id for path in sorted(source.glob("*.ipynb"))
             for t in read_notebook_tests(path).tests]
    declared = load_assignment(source).demo or {"honest": DemoSubmission()}
    expected: dict[str, list[str]] = {}
    for student, sub in declared.items():
        nbs = solved_release(dest, assignment)
        where = f"{source / 'autograder.json'}: demo[{student!r}]"
        for grade_id, pairs in sub.replace.items():
            cell = _cell(nbs, _notebook_of(nbs, grade_id, where), grade_id)
            text = cell_source(cell)
            for old, new in pairs:
                if old not in text:
                    raise ValueError(f"{where}: the cell {grade_id!r} has no {old!r} to replace")
                text = text.replace(old, new)
            cell["source"] = text
        for grade_id, code in sub.set.items():
            set_code(nbs, _notebook_of(nbs, grade_id, where), grade_id, code)
        for grade_id, code in sub.append.items():
            append_code(nbs, _notebook_of(nbs, grade_id, where), grade_id, code)
        unknown = sorted(set(sub.loses) - set(tests) - {"*"})
        if unknown:
            raise ValueError(f"{where}: loses {unknown}, which no test cell has as its grade id")
        expected[student] = list(tests) if "*" in sub.loses else list(sub.loses)
        _write(dest / "submitted" / student / assignment, nbs)
    _write(dest / "submitted" / "release_untouched" / assignment,
           release_notebooks(dest, assignment))
    expected["release_untouched"] = list(tests)
    return expected


def _notebook_of(nbs: Notebooks, grade_id: str, where: str) -> str:
    """The notebook holding the one cell with this grade id (a demo names cells by id alone)."""
    found = [name for name, nb in nbs.items() for c in nb["cells"]
             if nbgrader_meta(c).get("grade_id") == grade_id]
    if len(found) != 1:
        raise ValueError(f"{where}: {len(found)} cells have the grade id {grade_id!r}; "
                         "name one that is there once")
    return found[0]


def other_assignments(course: Path) -> list[str]:
    """The released assignments of the course besides convnets, in name order."""
    return sorted(p.name for p in (course / "release").iterdir()
                  if p.is_dir() and p.name != ASSIGNMENT)


def _write(folder: Path, nbs: Notebooks) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, nb in nbs.items():
        (folder / name).write_text(json.dumps(nb, indent=1), encoding="utf-8")


def bad_submissions(course: Path, root: Path) -> dict[str, str]:
    """Malformed submissions; returns student -> the problem kind intake should report."""
    solved = solved_release(course)
    kinds = {}
    # Corrupt JSON in one notebook.
    d = root / "bad_corrupt_json" / ASSIGNMENT
    _write(d, solved)
    (d / NB2).write_text((d / NB2).read_text()[:-200], encoding="utf-8")
    kinds["bad_corrupt_json"] = "corrupt_json"
    # A missing notebook, and a misnamed one.
    d = root / "bad_missing_notebook" / ASSIGNMENT
    _write(d, {k: v for k, v in solved.items() if k != NB3})
    kinds["bad_missing_notebook"] = "missing_notebook"
    d = root / "bad_misnamed_notebook" / ASSIGNMENT
    _write(d, {(k if k != NB1 else "01_convolution (1).ipynb"): v for k, v in solved.items()})
    kinds["bad_misnamed_notebook"] = "misnamed_notebook"
    # Non-UTF-8 bytes in a notebook.
    d = root / "bad_not_utf8" / ASSIGNMENT
    _write(d, solved)
    raw = (d / NB4).read_bytes().replace(b"Numerical gradient", b"Num\xe9rical gradient", 1)
    (d / NB4).write_bytes(raw)
    kinds["bad_not_utf8"] = "not_utf8"
    # A deleted solution cell, a duplicated grade id, an unlocked test cell, extra files.
    nbs = solved_release(course)
    nbs[NB2]["cells"] = [
        c
        for c in nbs[NB2]["cells"]
        if nbgrader_meta(c).get("grade_id") != "max_pool_backward_naive"
    ]
    _write(root / "bad_deleted_cell" / ASSIGNMENT, nbs)
    kinds["bad_deleted_cell"] = "missing_cell"
    nbs = solved_release(course)
    dup = json.loads(json.dumps(_cell(nbs, NB1, "conv_forward_naive")))
    nbs[NB1]["cells"].append(dup)
    _write(root / "bad_duplicate_id" / ASSIGNMENT, nbs)
    kinds["bad_duplicate_id"] = "duplicate_grade_id"
    nbs = solved_release(course)
    test = _cell(nbs, NB1, "test_conv_forward_same")
    test["metadata"]["nbgrader"]["locked"] = False
    test["source"] = "print('all good')\n"
    _write(root / "bad_edited_test" / ASSIGNMENT, nbs)
    kinds["bad_edited_test"] = "edited_test_cell"
    nbs = solved_release(course)
    _cell(nbs, NB3, "ThreeLayerConvNet")["cell_type"] = "markdown"
    _write(root / "bad_retyped_cell" / ASSIGNMENT, nbs)
    kinds["bad_retyped_cell"] = "retyped_cell"
    d = root / "bad_extra_files" / ASSIGNMENT
    _write(d, solved_release(course))
    (d / "notes.txt").write_text("my notes\n")
    (d / "data.bin").write_bytes(b"\x00\xff" * 100)
    kinds["bad_extra_files"] = "extra_file"
    return kinds


def build_demo_course(
    dest: Path, kit_course: Path = KIT_COURSE, *, bad: bool = True, only: list[str] | None = None
) -> dict[str, list[str]]:
    """Write a demo course at ``dest``; return student -> the test grade ids it should lose.

    Students whose names start with ``bad_`` are malformed submissions; their
    expectation is the problem kind, prefixed ``problem:``.
    """
    dest = Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    dest.chmod(0o700)  # the instructor's course: no student process may read it
    shutil.copy2(kit_course / "nbgrader_config.py", dest / "nbgrader_config.py")
    shutil.copytree(kit_course / "source", dest / "source")
    shutil.copytree(kit_course / "release", dest / "release")
    submitted = dest / "submitted"
    expected: dict[str, list[str]] = {}
    for student, make in SUBMISSIONS.items():
        if only is not None and student not in only:
            continue
        nbs = solved_release(dest)
        expected[student] = make(nbs, dest)
        _write(submitted / student / ASSIGNMENT, nbs)
    if only is None or "release_untouched" in only:
        _write(submitted / "release_untouched" / ASSIGNMENT, release_notebooks(dest))
        expected["release_untouched"] = ["*"]
    if bad and only is None:
        for student, kind in bad_submissions(dest, submitted).items():
            expected[student] = [f"problem:{kind}"]
    if only is None:
        for other in other_assignments(dest):
            declared_class(dest, other)
    return expected


def main(argv: list[str] | None = None) -> int:
    from autograder.api import grade
    from autograder.reports import grade_table, legend
    from autograder.sandbox import Limits

    parser = argparse.ArgumentParser(
        prog="python -m autograder.demo", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--dest", default="demo-output/course", help="where to build the demo course"
    )
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    dest = Path(args.dest).resolve()
    print(f"Building the demo course in {dest} ...")
    expected = build_demo_course(dest)
    print(
        f"{len(expected)} submissions: honest, partly wrong, the untouched release, "
        "cheating, crashing and malformed ones.\n"
    )
    # Honest calls take milliseconds; 5 s per test keeps the crashing examples quick.
    limits = Limits(wall_seconds_per_test=5.0)

    def graded(assignment: str):
        start = time.perf_counter()
        run = grade(dest, assignment, workers=args.workers, secret="demo-secret",
                    regrade=True, limits=limits)
        return run, time.perf_counter() - start

    run, seconds = graded(ASSIGNMENT)
    print(f"\ngraded {len(run.results)} submissions with --workers {args.workers} "
          f"in {seconds:.1f} s\n")
    print(grade_table(run.results))
    print("\n" + legend(run.results))
    for other in other_assignments(dest):
        second, seconds = graded(other)
        print(f"\nThe assignment {other}, its demo class from its autograder.json: "
              f"{len(second.results)} submissions in {seconds:.1f} s\n")
        print(grade_table(second.results))
    print(
        f"\nReports: {run.out_dir}/grades.csv, feedback/<student>.html, "
        "gradescope/<student>/results.json, summary.json, scores.png, similarity.csv and "
        "similarity.html (every demo submission is made from one solution, so every pair "
        "scores high)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
