"""Does intake read real submissions, and name every way a student's folder can go wrong?

Each test copies the course's real source notebooks into a scratch submission folder, breaks
or edits them as a student might, and reads the folder with the real intake.
"""

from __future__ import annotations

import ast
import copy
import json
import os
import shutil
from pathlib import Path

import pytest

from autograder.intake import (
    LOAD_BUDGET_SECONDS,
    MAX_NOTEBOOK_BYTES,
    read_source,
    read_submission,
    student_code,
)

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "assignments" / "source" / "convnets"
RELEASE = REPO / "assignments" / "release" / "convnets"
NB1 = "01_convolution.ipynb"


# --- helpers -----------------------------------------------------------------------------


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def save(path: Path, nb: dict) -> None:
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False), encoding="utf-8")


def nbgrader(cell: dict) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def index_of(nb: dict, grade_id: str) -> int:
    return next(i for i, c in enumerate(nb["cells"]) if nbgrader(c).get("grade_id") == grade_id)


def cell(nb: dict, grade_id: str) -> dict:
    return nb["cells"][index_of(nb, grade_id)]


def text(c: dict) -> str:
    return "".join(c["source"]) if isinstance(c["source"], list) else c["source"]


def first_solution_code(nb: dict) -> str:
    return next(
        nbgrader(c)["grade_id"]
        for c in nb["cells"]
        if nbgrader(c).get("solution") and c["cell_type"] == "code"
    )


def first_test(nb: dict) -> str:
    return next(
        nbgrader(c)["grade_id"]
        for c in nb["cells"]
        if nbgrader(c).get("grade") and not nbgrader(c).get("solution")
    )


@pytest.fixture(scope="module")
def sources():
    return read_source(SOURCE)


@pytest.fixture
def folder(tmp_path):
    """submitted/alice/convnets/ holding a clean copy of every source notebook."""
    target = tmp_path / "submitted" / "alice" / "convnets"
    target.mkdir(parents=True)
    for path in SOURCE.glob("*.ipynb"):
        shutil.copy(path, target / path.name)
    return target


def edit(folder: Path, name: str, change) -> dict:
    """Apply ``change(nb)`` to a submitted notebook; returns the edited notebook."""
    nb = load(folder / name)
    change(nb)
    save(folder / name, nb)
    return nb


def custom_source(tmp_path: Path, nb: dict) -> dict:
    """The course's sources with notebook 1 replaced by ``nb``, read by read_source."""
    src_dir = tmp_path / "source"
    shutil.copytree(SOURCE, src_dir)
    save(src_dir / NB1, nb)
    return read_source(src_dir)


def only(sub, kind: str):
    found = [p for p in sub.problems if p.kind == kind]
    assert len(found) == 1, f"expected one {kind!r} problem, got {sub.problems}"
    return found[0]


# --- clean submissions ---------------------------------------------------------------------


def test_a_copy_of_the_source_is_ok_and_yields_the_source_solutions(folder, sources):
    sub = read_submission(folder, sources, "alice")
    assert (sub.status, sub.problems, sub.student_id) == ("ok", [], "alice")
    for name, nb_intake in sub.notebooks.items():
        src = load(SOURCE / name)
        expected = {
            nbgrader(c)["grade_id"]: text(c)
            for c in src["cells"]
            if nbgrader(c).get("solution") and c["cell_type"] == "code"
        }
        assert nb_intake.status == "ok"
        assert nb_intake.solutions == expected, name
        assert list(nb_intake.solutions) == list(expected), "solutions keep the source order"
    assert "question_flip" not in sub.notebooks[NB1].solutions, "markdown answers are not code"


def test_the_prelude_holds_the_source_imports_and_nothing_else(sources):
    prelude = sources[NB1].prelude
    assert "import numpy as np" in prelude
    assert "from cs231n_lib.fast_layers import conv_backward_fast, conv_forward_fast" in prelude
    tree = ast.parse(prelude)
    assert all(isinstance(s, (ast.Import, ast.ImportFrom)) for s in tree.body)
    assert "%matplotlib" not in prelude and "SCALE" not in prelude


def test_prelude_keeps_import_cells_in_order_without_heavy_or_graded_cells(tmp_path):
    nb = load(SOURCE / NB1)
    new = [
        {
            "cell_type": "code",
            "metadata": {},
            "outputs": [],
            "execution_count": None,
            "source": "from __future__ import annotations\nimport math  # first",
        },
        {
            "cell_type": "code",
            "metadata": {"tags": ["heavy"]},
            "outputs": [],
            "execution_count": None,
            "source": "import heavy_only_module",
        },
    ]
    nb["cells"][1:1] = new
    cell(nb, first_test(nb))["source"] = "import hidden_test_module\n" + text(
        cell(nb, first_test(nb))
    )
    (tmp_path / "src").mkdir()
    save(tmp_path / "src" / NB1, nb)
    prelude = read_source(tmp_path / "src")[NB1].prelude
    lines = prelude.splitlines()
    assert lines[0] == "from __future__ import annotations"
    assert lines[1] == "import math  # first"
    assert lines.index("import math  # first") < lines.index("import numpy as np")
    assert "heavy_only_module" not in prelude and "hidden_test_module" not in prelude


def test_student_code_is_the_setup_then_each_solution_under_its_grade_id(folder, sources):
    nb = read_submission(folder, sources, "alice").notebooks[NB1]
    code = student_code(nb)
    ast.parse(code)  # one valid module
    assert code.startswith(nb.program[0].code.rstrip("\n"))
    assert "def get_ipython():" in code and nb.prelude.rstrip("\n") in code
    where = [code.index(f"# grade_id: {gid}\n{nb.solutions[gid].rstrip()}") for gid in nb.solutions]
    assert where == sorted(where) and len(where) == 2


def as_released(nb: dict) -> None:
    """What nbgrader hands out: stubs for solutions, no hidden tests, its own metadata keys."""
    for c in nb["cells"]:
        meta = nbgrader(c)
        if not meta:
            continue
        meta.update(checksum="0123456789abcdef", cell_type=c["cell_type"])
        src = text(c)
        if meta.get("solution") and c["cell_type"] == "code":
            head = src.split("### BEGIN SOLUTION")[0]
            tail = src.split("### END SOLUTION")[1]
            c["source"] = head + "# YOUR CODE HERE\nraise NotImplementedError()" + tail
        elif meta.get("solution"):
            c["source"] = "YOUR ANSWER HERE"
        elif "BEGIN HIDDEN TESTS" in src:
            c["source"] = src.split("### BEGIN HIDDEN TESTS")[0].rstrip("\n")


def test_an_untouched_release_is_ok(folder, sources):
    for name in sources:
        edit(folder, name, as_released)
    sub = read_submission(folder, sources, "alice")
    assert sub.status == "ok", sub.problems
    assert "raise NotImplementedError()" in sub.notebooks[NB1].solutions["conv_forward_naive"]


@pytest.mark.skipif(not RELEASE.is_dir(), reason="no generated release in this checkout")
def test_the_real_generated_release_is_ok(tmp_path, sources):
    sub = read_submission(RELEASE, sources, "release")
    assert sub.status == "ok", sub.problems


# --- notebooks missing, misnamed, unreadable -------------------------------------------


def test_a_missing_notebook_is_reported_and_the_others_still_read(folder, sources):
    (folder / NB1).unlink()
    sub = read_submission(folder, sources, "alice")
    p = only(sub, "missing_notebook")
    assert (p.notebook, p.tamper) == (NB1, False)
    assert "missing from your submission" in p.message
    assert sub.notebooks[NB1].status == "missing"
    assert sub.notebooks[NB1].solutions == {}
    assert sub.status == "problems"
    assert all(nb.status == "ok" for name, nb in sub.notebooks.items() if name != NB1)


@pytest.mark.parametrize(
    "submitted_as",
    [
        "01_convolution (1).ipynb",
        "01_Convolution.ipynb",
        "01_convolution-Copy1.ipynb",
        "convnets/01_convolution.ipynb",
    ],
)
def test_a_misnamed_notebook_is_graded_and_reported(folder, sources, submitted_as):
    (folder / submitted_as).parent.mkdir(exist_ok=True)
    (folder / NB1).rename(folder / submitted_as)
    sub = read_submission(folder, sources, "alice")
    p = only(sub, "misnamed_notebook")
    assert (p.notebook, p.tamper) == (NB1, False)
    assert submitted_as in p.message and "exactly the name" in p.message
    assert sub.notebooks[NB1].status == "problems"
    assert set(sub.notebooks[NB1].solutions) == {"conv_forward_naive", "conv_backward_naive"}
    assert not [p for p in sub.problems if p.kind == "extra_file"], "the notebook was used"


def test_a_misnamed_copy_next_to_the_right_notebook_is_an_extra_file(folder, sources):
    shutil.copy(folder / NB1, folder / "01_convolution (1).ipynb")
    sub = read_submission(folder, sources, "alice")
    p = only(sub, "extra_file")
    assert p.notebook == "01_convolution (1).ipynb"
    assert not [p for p in sub.problems if p.kind == "misnamed_notebook"]


def test_an_unrelated_notebook_is_not_taken_for_a_missing_one(folder, sources):
    (folder / NB1).unlink()
    save(folder / "scratch.ipynb", load(SOURCE / NB1))
    sub = read_submission(folder, sources, "alice")
    assert sub.notebooks[NB1].status == "missing"
    assert only(sub, "extra_file").notebook == "scratch.ipynb"


def test_corrupt_json_is_unreadable_with_the_position(folder, sources):
    raw = (folder / NB1).read_bytes()
    (folder / NB1).write_bytes(raw[: len(raw) // 2])
    sub = read_submission(folder, sources, "alice")
    p = only(sub, "corrupt_json")
    assert (p.notebook, p.tamper) == (NB1, False)
    assert "not valid JSON (line" in p.message
    assert sub.notebooks[NB1].status == "unreadable"


@pytest.mark.parametrize(
    "content, phrase",
    [
        ('{"metadata": {}, "nbformat": 4}', "no list of cells"),
        ("[1, 2, 3]", "no list of cells"),
        ('{"worksheets": [{"cells": []}], "nbformat": 3}', "old nbformat 3"),
        ('"just a string"', "no list of cells"),
    ],
)
def test_json_that_is_not_a_notebook(folder, sources, content, phrase):
    (folder / NB1).write_text(content)
    sub = read_submission(folder, sources, "alice")
    p = only(sub, "not_a_notebook")
    assert phrase in p.message and not p.tamper
    assert sub.notebooks[NB1].status == "unreadable"


def test_non_utf8_bytes_are_reported_and_the_rest_still_graded(folder, sources):
    def marker(nb):
        c = cell(nb, "conv_forward_naive")
        c["source"] = text(c).replace("out = None", "out = None  # café", 1)

    edit(folder, NB1, marker)
    raw = (folder / NB1).read_bytes().replace("café".encode(), "café".encode("latin-1"))
    (folder / NB1).write_bytes(raw)
    sub = read_submission(folder, sources, "alice")
    p = only(sub, "not_utf8")
    assert "not UTF-8" in p.message and not p.tamper
    nb = sub.notebooks[NB1]
    assert nb.status == "problems"
    assert "# café" in nb.solutions["conv_forward_naive"]


def test_a_utf8_byte_order_mark_is_accepted(folder, sources):
    raw = (folder / NB1).read_bytes()
    (folder / NB1).write_bytes(b"\xef\xbb\xbf" + raw)
    assert read_submission(folder, sources, "alice").status == "ok"


def test_a_notebook_over_20_mb_is_not_parsed(folder, sources):
    with open(folder / NB1, "r+b") as handle:  # sparse: cheap to make, cheap to skip
        handle.truncate(MAX_NOTEBOOK_BYTES + 1)
    sub = read_submission(folder, sources, "alice")
    p = only(sub, "too_large")
    assert "over the 20 MB limit" in p.message and "clear all outputs" in p.message
    assert sub.notebooks[NB1].status == "unreadable"


def test_the_size_limit_is_a_parameter(folder, sources):
    sub = read_submission(folder, sources, "alice", max_bytes=1000)
    assert {p.kind for p in sub.problems} == {"too_large"}
    assert sub.status == "problems"


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links here")
def test_a_symbolic_link_is_not_followed(folder, sources):
    (folder / NB1).unlink()
    (folder / NB1).symlink_to(SOURCE / NB1)  # would hand the grader the instructor's answers
    sub = read_submission(folder, sources, "alice")
    p = only(sub, "not_a_file")
    assert p.tamper and "link" in p.message
    assert sub.notebooks[NB1].solutions == {}


def test_an_empty_or_absent_folder_is_empty(tmp_path, sources):
    (tmp_path / "empty").mkdir()
    for path in (tmp_path / "empty", tmp_path / "absent"):
        sub = read_submission(path, sources, "bob")
        assert sub.status == "empty"
        assert {p.kind for p in sub.problems} == {"missing_notebook"}
        assert len(sub.problems) == len(sources)


# --- cells deleted, retyped, duplicated, edited ----------------------------------------------


def test_a_deleted_solution_cell_is_missing_but_not_tamper(folder, sources):
    edit(folder, NB1, lambda nb: nb["cells"].pop(index_of(nb, "conv_backward_naive")))
    sub = read_submission(folder, sources, "alice")
    p = only(sub, "missing_cell")
    assert (p.grade_id, p.tamper) == ("conv_backward_naive", False)
    assert "answer cell 'conv_backward_naive' is missing" in p.message
    assert list(sub.notebooks[NB1].solutions) == ["conv_forward_naive"]


def test_a_deleted_test_cell_is_tamper(folder, sources):
    edit(folder, NB1, lambda nb: nb["cells"].pop(index_of(nb, "test_conv_forward_same")))
    p = only(read_submission(folder, sources, "alice"), "missing_cell")
    assert (p.grade_id, p.tamper) == ("test_conv_forward_same", True)
    assert "test cell" in p.message


@pytest.mark.parametrize(
    "grade_id, new_type",
    [
        ("conv_forward_naive", "markdown"),
        ("test_conv_backward_stride1", "raw"),
        ("question_flip", "code"),
    ],
)
def test_a_retyped_graded_cell_is_tamper(folder, sources, grade_id, new_type):
    def retype(nb):
        c = cell(nb, grade_id)
        c["cell_type"] = new_type
        c.pop("outputs", None)
        c.pop("execution_count", None)

    edit(folder, NB1, retype)
    sub = read_submission(folder, sources, "alice")
    p = only(sub, "retyped_cell")
    assert (p.grade_id, p.tamper) == (grade_id, True)
    assert f"to {new_type}" in p.message
    assert grade_id not in sub.notebooks[NB1].solutions


def test_a_duplicated_grade_id_uses_the_first_cell_of_the_right_type(folder, sources):
    def duplicate(nb):
        i = index_of(nb, "conv_forward_naive")
        as_markdown = copy.deepcopy(nb["cells"][i])
        as_markdown.update(cell_type="markdown", source="not code")
        del as_markdown["outputs"], as_markdown["execution_count"]
        later = copy.deepcopy(nb["cells"][i])
        later["source"] = "def conv_forward_naive(x, w, b, conv_param):\n    return None, None"
        nb["cells"].insert(i, as_markdown)
        nb["cells"].append(later)

    edit(folder, NB1, duplicate)
    sub = read_submission(folder, sources, "alice")
    p = only(sub, "duplicate_grade_id")
    assert (p.grade_id, p.tamper) == ("conv_forward_naive", True)
    assert "3 cells with grade_id 'conv_forward_naive'" in p.message
    expected = text(cell(load(SOURCE / NB1), "conv_forward_naive"))
    assert sub.notebooks[NB1].solutions["conv_forward_naive"] == expected


def test_a_copied_test_cell_is_a_duplicate(folder, sources):
    edit(
        folder,
        NB1,
        lambda nb: nb["cells"].append(copy.deepcopy(cell(nb, "test_conv_forward_same"))),
    )
    p = only(read_submission(folder, sources, "alice"), "duplicate_grade_id")
    assert p.grade_id == "test_conv_forward_same" and p.tamper


@pytest.mark.parametrize("bad_id", ["bonus_points", 7, ["a", "list"]])
def test_a_grade_id_the_source_does_not_have(folder, sources, bad_id):
    def add(nb):
        c = copy.deepcopy(cell(nb, "test_conv_forward_same"))
        c["metadata"]["nbgrader"]["grade_id"] = bad_id
        nb["cells"].append(c)

    edit(folder, NB1, add)
    p = only(read_submission(folder, sources, "alice"), "unknown_grade_id")
    assert p.tamper and repr(bad_id) in p.message and "does not have" in p.message


def test_an_edited_test_cell_is_tamper(folder, sources):
    def weaken(nb):
        c = cell(nb, "test_conv_forward_stride")
        c["source"] = "pass  # nothing to see\n"

    edit(folder, NB1, weaken)
    sub = read_submission(folder, sources, "alice")
    p = only(sub, "edited_test_cell")
    assert (p.grade_id, p.tamper) == ("test_conv_forward_stride", True)
    assert "was changed" in p.message and "released notebook" in p.message
    assert sub.notebooks[NB1].status == "problems"


def test_whitespace_at_line_ends_and_hidden_tests_do_not_count_as_edits(folder, sources):
    def harmless(nb):
        for gid in ("test_conv_forward_same", "test_conv_forward_stride"):
            c = cell(nb, gid)
            c["source"] = "\r\n".join(line + "  " for line in text(c).split("\n")) + "\n\n"
        c = cell(nb, "test_conv_backward_stride1")
        c["source"] = text(c).split("### BEGIN HIDDEN TESTS")[0]

    edit(folder, NB1, harmless)
    assert read_submission(folder, sources, "alice").status == "ok"


def test_an_edited_locked_cell_is_tamper(tmp_path, folder):
    def lock_intro(nb):
        nb["cells"][0]["metadata"]["nbgrader"] = {
            "grade_id": "intro",
            "locked": True,
            "solution": False,
            "grade": False,
            "schema_version": 3,
            "task": False,
        }

    sources = custom_source(tmp_path, edit(folder, NB1, lock_intro))
    assert read_submission(folder, sources, "alice").status == "ok"
    edit(folder, NB1, lambda nb: nb["cells"][0].update(source="# my notes"))
    p = only(read_submission(folder, sources, "alice"), "edited_locked_cell")
    assert (p.grade_id, p.tamper) == ("intro", True)
    assert "read-only cell 'intro'" in p.message


@pytest.mark.parametrize(
    "grade_id, change, phrase, tamper",
    [
        ("test_conv_forward_same", {"locked": False}, "locked=False", True),
        ("test_conv_forward_same", {"grade": False}, "grade=False", True),
        ("test_conv_forward_same", {"points": 100}, "points=100", True),
        ("test_conv_forward_same", {"points": "1"}, "points='1'", True),
        ("question_flip", {"points": 20}, "points=20", True),
        ("conv_forward_naive", {"solution": False}, "solution=False", False),
    ],
)
def test_changed_grading_metadata(folder, sources, grade_id, change, phrase, tamper):
    edit(folder, NB1, lambda nb: nbgrader(cell(nb, grade_id)).update(change))
    p = only(read_submission(folder, sources, "alice"), "changed_metadata")
    assert (p.grade_id, p.tamper) == (grade_id, tamper)
    assert phrase in p.message and "restore the cell" in p.message


def test_nbgrader_bookkeeping_keys_are_not_metadata_changes(folder, sources):
    def bookkeeping(nb):
        for c in nb["cells"]:
            if nbgrader(c):
                nbgrader(c).update(checksum="abc", cell_type=c["cell_type"], schema_version=4)
                c["id"] = "renamed-" + str(id(c))

    edit(folder, NB1, bookkeeping)
    assert read_submission(folder, sources, "alice").status == "ok"


# --- heavy cells, extra files, garbage --------------------------------------------------------


def test_graded_cells_tagged_heavy_do_not_matter(tmp_path, folder):
    def make_heavy(nb):
        cell(nb, "test_conv_backward_stride2")["metadata"]["tags"] = ["heavy"]

    sources = custom_source(tmp_path, edit(folder, NB1, make_heavy))
    assert "test_conv_backward_stride2" not in sources[NB1].cells
    edit(folder, NB1, lambda nb: cell(nb, "test_conv_backward_stride2").update(source="pass"))
    assert read_submission(folder, sources, "alice").status == "ok"
    edit(folder, NB1, lambda nb: nb["cells"].pop(index_of(nb, "test_conv_backward_stride2")))
    assert read_submission(folder, sources, "alice").status == "ok"


def test_extra_files_are_reported_but_not_tamper(folder, sources):
    (folder / "notes.txt").write_text("my notes")
    (folder / "data").mkdir()
    (folder / "data" / "x.npy").write_bytes(b"\x93NUMPY")
    (folder / "timestamp.txt").write_text("2024-01-01 00:00:00")  # nbgrader writes this
    (folder / ".ipynb_checkpoints").mkdir()
    shutil.copy(folder / NB1, folder / ".ipynb_checkpoints" / "01_convolution-checkpoint.ipynb")
    sub = read_submission(folder, sources, "alice")
    extra = [p for p in sub.problems if p.kind == "extra_file"]
    assert sorted(p.notebook for p in extra) == ["data/x.npy", "notes.txt"]
    assert not any(p.tamper for p in extra)
    assert "not part of the assignment" in extra[0].message
    assert sub.status == "problems"
    assert all(nb.status == "ok" for nb in sub.notebooks.values())


def test_many_extra_files_are_summarised(folder, sources):
    for i in range(30):
        (folder / f"junk{i}.txt").write_text("")
    extra = [
        p for p in read_submission(folder, sources, "alice").problems if p.kind == "extra_file"
    ]
    assert len(extra) == 21
    assert "10 more files" in extra[-1].message


@pytest.mark.parametrize(
    "garbage",
    [
        lambda nb: nb["cells"].extend([None, 3, "text", []]),
        lambda nb: [c.update(metadata="not a dict") for c in nb["cells"][:4]],
        lambda nb: [c["metadata"].update(nbgrader=["x"]) for c in nb["cells"][:4]],
        lambda nb: [c.update(source=None) for c in nb["cells"]],
        lambda nb: [c.update(source=[1, None, {"a": 1}]) for c in nb["cells"]],
        lambda nb: [c.pop("cell_type") for c in nb["cells"]],
        lambda nb: [c["metadata"].update(tags="heavy") for c in nb["cells"]],
        lambda nb: [nbgrader(c).update(points=[1], locked="yes") for c in nb["cells"]],
    ],
)
def test_garbage_inside_a_notebook_never_raises(folder, sources, garbage):
    edit(folder, NB1, garbage)
    sub = read_submission(folder, sources, "alice")
    assert sub.notebooks[NB1].status in ("ok", "problems")
    assert all(p.message.strip() for p in sub.problems)


def test_deeply_nested_json_is_corrupt_not_a_crash(folder, sources):
    (folder / NB1).write_text("[" * 100_000 + "]" * 100_000)
    sub = read_submission(folder, sources, "alice")
    assert sub.notebooks[NB1].status == "unreadable"
    assert sub.notebooks[NB1].problems[0].kind in ("corrupt_json", "not_a_notebook")


# --- the instructor's side ------------------------------------------------------------------


def test_read_source_names_a_folder_without_notebooks(tmp_path):
    with pytest.raises(ValueError, match="holds no .ipynb notebook"):
        read_source(tmp_path)


def test_read_source_rejects_a_repeated_grade_id(tmp_path):
    nb = load(SOURCE / NB1)
    nb["cells"].append(copy.deepcopy(cell(nb, "test_conv_forward_same")))
    save(tmp_path / NB1, nb)
    with pytest.raises(ValueError, match="repeats grade_id 'test_conv_forward_same'"):
        read_source(tmp_path)


def test_read_source_stores_checksums_of_read_only_cells(sources):
    c = sources[NB1].cells["test_conv_forward_same"]
    assert c.is_test and c.read_only and len(c.digests) == 2  # with and without hidden tests
    assert not sources[NB1].cells["conv_forward_naive"].read_only


def test_huge_student_values_are_cut_short_in_messages(folder, sources):
    def bloat(nb):
        nbgrader(cell(nb, "test_conv_forward_same")).update(points="9" * 100_000)
        c = copy.deepcopy(cell(nb, "test_conv_forward_same"))
        c["metadata"]["nbgrader"]["grade_id"] = "x" * 100_000
        nb["cells"].append(c)

    edit(folder, NB1, bloat)
    sub = read_submission(folder, sources, "alice")
    assert {p.kind for p in sub.problems} == {"changed_metadata", "unknown_grade_id"}
    assert all(len(p.message) < 400 for p in sub.problems)


# --- what the student ran: the program -------------------------------------------------------
# The release as a student gets it, answered with the source's own answers, then edited the
# way students work; each program is run here cell by cell in one plain namespace, as the
# grader's executor runs it, and the source's test cells (hidden tests included) judge it.

needs_release = pytest.mark.skipif(not RELEASE.is_dir(), reason="no generated release")


@pytest.fixture
def answered(tmp_path, monkeypatch):
    """submitted/bob/convnets/: the release, each answer cell holding the source's answer."""
    monkeypatch.setenv("CS231N_NOTEBOOK_SCALE", "small")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    target = tmp_path / "submitted" / "bob" / "convnets"
    target.mkdir(parents=True)
    for path in sorted(RELEASE.glob("*.ipynb")):
        nb = load(path)
        for c in nb["cells"]:
            if nbgrader(c).get("solution") and c["cell_type"] == "code":
                c["source"] = text(cell(load(SOURCE / path.name), nbgrader(c)["grade_id"]))
        save(target / path.name, nb)
    yield target
    import matplotlib.pyplot as plt

    plt.close("all")


def new_cell(source: str, tags: list[str] | None = None) -> dict:
    meta = {"tags": tags} if tags else {}
    return {"cell_type": "code", "metadata": meta, "source": source, "outputs": [],
            "execution_count": None}


def run_program(program) -> tuple[dict, dict]:
    """Each cell in one namespace; (namespace, label -> the exception its cell raised)."""
    ns: dict = {"__name__": "__main__"}
    errors = {}
    for c in program:
        try:
            exec(compile(c.code, f"<{c.label}>", "exec"), ns)
        except (Exception, SystemExit) as err:
            errors[c.label] = err
    return ns, errors


def failing_tests(ns: dict, name: str) -> list[str]:
    """The grade_ids of the source's test cells, hidden tests included, that fail in ``ns``."""
    failed = []
    for c in load(SOURCE / name)["cells"]:
        meta = nbgrader(c)
        if meta.get("grade") and not meta.get("solution"):
            try:
                exec(compile(text(c), meta["grade_id"], "exec"), ns)
            except Exception:
                failed.append(meta["grade_id"])
    return failed


@needs_release
def test_an_honest_notebook_runs_as_the_student_ran_it_and_passes_every_test(answered, sources):
    sub = read_submission(answered, sources, "bob")
    assert sub.status == "ok", sub.problems
    for name, nb in sub.notebooks.items():
        labels = [c.label for c in nb.program]
        assert labels[0] == "setup" and "def get_ipython():" in nb.program[0].code
        assert nb.prelude in nb.program[0].code
        assert [label for label in labels if label in nb.solutions] == list(nb.solutions)
        tests = {g for g, c in sources[name].cells.items() if c.read_only}
        assert not tests & set(labels), "test cells are never the student's"
        assert all(label == "setup" or label in nb.solutions or label.startswith("cell ")
                   for label in labels)
        assert nb.load_budget == LOAD_BUDGET_SECONDS
        ns, errors = run_program(nb.program)
        assert errors == {}, (name, errors)
        assert failing_tests(ns, name) == [], name


@needs_release
def test_heavy_cells_are_skipped_even_when_the_student_drops_the_tag(answered, sources):
    released = load(RELEASE / NB1)
    heavy = [text(c) for c in released["cells"] if "heavy" in c["metadata"].get("tags", [])]
    assert heavy, "the release keeps the heavy tag"

    def untag_and_add(nb):
        for c in nb["cells"]:
            c["metadata"].pop("tags", None)
        nb["cells"].append(new_cell("raise SystemExit('a heavy cell ran')", tags=["heavy"]))

    edit(answered, NB1, untag_and_add)
    program = read_submission(answered, sources, "bob").notebooks[NB1].program
    codes = "\n".join(c.code for c in program)
    assert "a heavy cell ran" not in codes
    assert not any(h.strip() in codes for h in heavy)


@needs_release
def test_a_test_cell_pasted_without_its_metadata_is_not_run_as_the_students(answered, sources):
    def paste(nb):
        copied = copy.deepcopy(cell(nb, "test_conv_forward_same"))
        copied["metadata"] = {}
        nb["cells"].insert(index_of(nb, "conv_backward_naive"), copied)

    edit(answered, NB1, paste)
    program = read_submission(answered, sources, "bob").notebooks[NB1].program
    assert not any("check_conv_forward(" in c.code for c in program)


@needs_release
def test_notebook_habits_keep_the_students_code_running(answered, sources, capsys):
    """A helper cell, an import cell, magics, shell lines, continuation lines that start with an
    operator, a cell that raises, one that does not compile, and print debugging."""
    ours = load(SOURCE / NB1)
    forward = text(cell(ours, "conv_forward_naive"))
    backward = text(cell(ours, "conv_backward_naive"))
    added = {}

    def habits(nb):
        helper = forward.replace("def conv_forward_naive(", "def _forward_loops(")
        nb["cells"].insert(index_of(nb, "conv_forward_naive"), new_cell(helper))
        cell(nb, "conv_forward_naive")["source"] = (
            "%matplotlib inline\n"
            "def conv_forward_naive(x, w, b, conv_param):\n"
            "    print('debug: x', x.shape)\n"
            "    return _forward_loops(x, w, b, conv_param)\n"
        )
        at = index_of(nb, "conv_backward_naive")
        nb["cells"][at:at] = [
            new_cell(
                "%timeit conv_forward_naive(np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 3, 3)),"
                " np.zeros(1), {'stride': 1, 'pad': 0})\n!ls -la\nfiles = !ls\n"
                "print('files:', files)\n"
            ),
            new_cell("conv_forward_naive(None, None, None, None)  # raises"),
            new_cell("def broken(:\n    pass\n"),
            new_cell("import math\n"),
        ]
        added.update(timing=at + 1, raises=at + 2, broken=at + 3, imports=at + 4)
        cell(nb, "conv_backward_naive")["source"] = backward.replace(
            "    ### BEGIN SOLUTION\n",
            "    ### BEGIN SOLUTION\n"
            "    assert math.isfinite(float(dout.sum()))\n"
            "    rest = (dout.shape[2]\n"
            "            % 7)\n"
            "    if (dout.ndim\n"
            "            != 4):\n"
            "        raise ValueError('dout must be 4-D')\n",
            1,
        )
        assert "% 7" in text(cell(nb, "conv_backward_naive"))

    nb = edit(answered, NB1, habits)
    intake = read_submission(answered, sources, "bob").notebooks[NB1]
    labels = [c.label for c in intake.program]
    helper_label = f"cell {index_of(nb, 'conv_forward_naive')}"  # the cell just before it
    assert labels.index(helper_label) < labels.index("conv_forward_naive")
    broken = intake.program[labels.index(f"cell {added['broken']}")]
    assert "def broken(:" in broken.code, "a cell that does not compile is still listed"
    assert labels.index(f"cell {added['imports']}") < labels.index("conv_backward_naive")
    assert "get_ipython().run_line_magic('timeit'" in intake.program[
        labels.index(f"cell {added['timing']}")].code

    ns, errors = run_program(intake.program)
    assert {label: type(err) for label, err in errors.items()} == {
        f"cell {added['raises']}": AttributeError,
        f"cell {added['broken']}": SyntaxError,
    }
    assert failing_tests(ns, NB1) == []
    out = capsys.readouterr().out
    assert "debug: x (" in out and "files: []" in out


def test_a_missing_notebook_has_no_program(folder, sources):
    (folder / NB1).unlink()
    nb = read_submission(folder, sources, "alice").notebooks[NB1]
    assert nb.program == [] and nb.load_budget == LOAD_BUDGET_SECONDS


def test_a_source_notebook_may_set_its_load_budget(tmp_path, folder):
    nb = load(SOURCE / NB1)
    nb["metadata"]["autograder"] = {"load_budget_seconds": 90}
    sources = custom_source(tmp_path, nb)
    assert sources[NB1].load_budget == 90.0
    assert read_submission(folder, sources, "alice").notebooks[NB1].load_budget == 90.0
    nb["metadata"]["autograder"] = {"load_budget_seconds": "soon"}
    with pytest.raises(ValueError, match="load_budget_seconds"):
        custom_source(tmp_path / "again", nb)


def test_a_duplicated_answer_cell_runs_twice_under_two_labels(folder, sources):
    def duplicate(nb):
        nb["cells"].append(copy.deepcopy(cell(nb, "conv_forward_naive")))

    nb = edit(folder, NB1, duplicate)
    labels = [c.label for c in read_submission(folder, sources, "alice").notebooks[NB1].program]
    assert labels.count("conv_forward_naive") == 1 and labels[-1] == f"cell {len(nb['cells'])}"
