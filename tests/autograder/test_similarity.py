"""Does the similarity report find a copy that was disguised, and only that?

The class is real release notebooks filled in the way students fill them: six solution sets
written independently in six styles (tests/autograder/similarity_class/<student>.txt), and
gus, who handed in fay's work with every name changed, the comments rewritten and the code
laid out again. The report is the real one, on a course folder in tmp_path.
"""

from __future__ import annotations

import copy
import csv
import functools
import io
import json
import re
import shutil
import tokenize
from pathlib import Path

import numpy as np
import pytest

from autograder import references
from autograder.demo import ASSIGNMENT, KIT_COURSE, NB1, NB2, NB3, NB4, release_notebooks
from autograder.notebook import (
    cell_source,
    is_code,
    is_solution,
    nbgrader_meta,
    prelude,
    setup_cell,
)
from autograder.similarity import (
    CSV_COLUMNS,
    Starter,
    boilerplate_hashes,
    fingerprint,
    read_solution_code,
    read_starter,
    similarity_report,
)

CLASS_DIR = Path(__file__).parent / "similarity_class"
HONEST = ("ada", "bo", "cy", "dee", "eli", "fay")
ORIGINAL, COPY = "fay", "gus"
# Measured on this class: the copy 1.00, the closest independent pair 0.16 (ada and fay:
# the same unpacking of shapes and params, the same running-average lines). The test asks
# for half the scale between them, and for every honest pair under 0.25: at copydetect's
# default k of 25 the honest pairs reached 0.37, a floor that an instructor reading the top
# of the list would have to wade through, and this test would fail.
MARGIN = 0.5
HONEST_CEILING = 0.25
HOLE = re.compile(r"^([ \t]*)# YOUR CODE HERE\n[ \t]*raise NotImplementedError\(\)\n", re.M)
SECTION = re.compile(r"^# %% (?:(before|whole) )?(\S+)[ \t]*\n", re.M)
PLANTED = '# </pre><script>alert("gus")</script>'


# --- the class -----------------------------------------------------------------------------


def sections(student: str) -> list[tuple[str, str, str]]:
    """(kind, grade_id, code) of a student's file; kind is "fill", "before" or "whole"."""
    text = (CLASS_DIR / f"{student}.txt").read_text(encoding="utf-8")
    found = list(SECTION.finditer(text))
    out = []
    for at, match in enumerate(found):
        end = found[at + 1].start() if at + 1 < len(found) else len(text)
        out.append((match.group(1) or "fill", match.group(2), text[match.end():end].strip("\n")))
    return out


def fill(release: dict[str, dict], student: str) -> dict[str, dict]:
    """The release notebooks with a student's sections written in, as they would hand them in.

    A fill section replaces the next ``# YOUR CODE HERE`` stub of its cell, indented to it; a
    whole section replaces the cell; a before section is a new code cell just before it.
    """
    todo = sections(student)
    nbs = copy.deepcopy(release)
    for nb in nbs.values():
        cells = []
        for cell in nb["cells"]:
            gid = nbgrader_meta(cell).get("grade_id")
            mine = [(kind, code) for kind, g, code in todo if g == gid]
            todo = [s for s in todo if s[1] != gid]
            cells += [code_cell(code) for kind, code in mine if kind == "before"]
            whole = [code for kind, code in mine if kind == "whole"]
            fills = [code for kind, code in mine if kind == "fill"]
            text = cell_source(cell)
            if whole:
                text = whole[0] + "\n"
            elif fills:
                holes = HOLE.findall(text)
                if len(holes) != len(fills):
                    raise ValueError(f"{student}: {gid} has {len(holes)} stubs, "
                                     f"{len(fills)} fill sections")
                for body in fills:
                    text = HOLE.sub(lambda m, b=body: indent(b, m.group(1)), text, count=1)
            cell["source"] = text
            cells.append(cell)
        nb["cells"] = cells
    if todo:
        raise ValueError(f"{student}: no release cell for {sorted({g for _, g, _ in todo})}")
    return nbs


def indent(code: str, prefix: str) -> str:
    return "".join(prefix + line if line.strip() else line
                   for line in code.splitlines(keepends=True)) + "\n"


def code_cell(code: str) -> dict:
    return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
            "source": code + "\n"}


def write_submission(course: Path, student: str, nbs: dict[str, dict]) -> Path:
    folder = course / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True)
    for name, nb in nbs.items():
        (folder / name).write_text(json.dumps(nb, indent=1), encoding="utf-8")
    return folder


def new_course(root: Path) -> Path:
    course = root / "course"
    shutil.copytree(KIT_COURSE / "release" / ASSIGNMENT, course / "release" / ASSIGNMENT)
    return course


@pytest.fixture(scope="module")
def class_course(tmp_path_factory):
    course = new_course(tmp_path_factory.mktemp("similarity"))
    release = release_notebooks(course)
    for student in (*HONEST, COPY):
        write_submission(course, student, fill(release, student))
    return course


@pytest.fixture(scope="module")
def class_report(class_course, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    pairs = similarity_report(class_course, ASSIGNMENT, out)
    return pairs, out


# --- the copy and the honest -----------------------------------------------------------------


def test_the_disguised_copy_ranks_first_far_above_every_independent_pair(class_report):
    pairs, _ = class_report
    students = (*HONEST, COPY)
    assert len(pairs) == len(students) * (len(students) - 1) // 2
    assert all(type(p.score) is float for p in pairs)
    first, honest = pairs[0], pairs[1:]
    table = "\n".join(f"{p.student_a}-{p.student_b}: {p.score:.3f}" for p in pairs)
    assert (first.student_a, first.student_b) == (ORIGINAL, COPY), table
    assert first.score >= 0.9, table
    closest = max(p.score for p in honest)
    assert closest <= HONEST_CEILING, table
    assert first.score - closest >= MARGIN, table


def test_the_copy_is_made_the_way_the_test_says():
    # Every name of fay's own that gus could change is changed and no comment is kept: what
    # the first test finds is a disguised copy, not a verbatim one.
    def names_and_comments(student):
        code = "\n\n".join(text for _, _, text in sections(student))
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
        # Names after a dot are NumPy's and the library's (x.var, np.pad): not his to change.
        names = {t.string for before, t in zip(tokens, tokens[1:], strict=False)
                 if t.type == tokenize.NAME and before.string != "."}
        comments = {t.string.lstrip("# ") for t in tokens if t.type == tokenize.COMMENT}
        return names, comments, code

    fay_names, fay_comments, fay = names_and_comments(ORIGINAL)
    gus_names, gus_comments, gus = names_and_comments(COPY)
    assert len(fay_comments) >= 4 and not fay_comments & gus_comments
    own = {"Hn", "Wn", "xp", "rows", "cols", "patches", "dpatches", "dxp", "onehot", "fan",
           "caches", "backs", "Wl", "xc", "xn", "dc", "dxc", "normed", "drows", "old_mean",
           "N", "C", "H", "S", "P", "PH", "PW", "mu", "var", "inv", "eps", "momentum", "mode"}
    assert own <= fay_names, sorted(own - fay_names)
    assert not own & gus_names, sorted(own & gus_names)
    assert fay.count("\n\n") < gus.count("\n\n")  # laid out again


def test_a_student_who_hands_in_one_copied_notebook_and_nothing_else_scores_as_a_copy(tmp_path):
    # The score is the larger of the two shares: all of hal's code is fay's, though it is a
    # quarter of hers. (The mean of the two would put hal near 0.6.)
    course = new_course(tmp_path)
    release = release_notebooks(course)
    fay = fill(release, ORIGINAL)
    for student, nbs in (("fay", fay), ("ada", fill(release, "ada")), ("hal", {NB1: fay[NB1]})):
        write_submission(course, student, nbs)
    pairs = {(p.student_a, p.student_b): p for p in similarity_report(course, ASSIGNMENT,
                                                                       tmp_path / "out")}
    hal = pairs[("fay", "hal")]
    assert hal.score >= 0.9 and hal.share_b >= 0.9 and hal.share_a <= 0.5, hal
    assert pairs[("ada", "hal")].score <= HONEST_CEILING


def test_starter_code_alone_is_not_a_copy(tmp_path):
    # Two students hand in the untouched release: every line of it is the same, and none
    # of it is theirs.
    course = new_course(tmp_path)
    release = release_notebooks(course)
    write_submission(course, "lazy_1", release)
    write_submission(course, "lazy_2", release)
    write_submission(course, "ada", fill(release, "ada"))
    pairs = similarity_report(course, ASSIGNMENT, tmp_path / "out")
    lazy = [p for p in pairs if (p.student_a, p.student_b) == ("lazy_1", "lazy_2")]
    assert len(lazy) == 1 and lazy[0].score <= 0.05, pairs
    assert all(p.score <= 0.05 for p in pairs), [(p.student_a, p.student_b, p.score)
                                                  for p in pairs]
    page = (tmp_path / "out" / "similarity.html").read_text(encoding="utf-8")
    assert "Only the starter code" in page and "lazy_1" in page


def test_without_the_release_the_source_minus_its_solutions_is_the_starter(tmp_path):
    course = tmp_path / "course"
    shutil.copytree(KIT_COURSE / "source" / ASSIGNMENT, course / "source" / ASSIGNMENT)
    starter = read_starter(course, ASSIGNMENT)
    released = read_starter(new_course(tmp_path / "other"), ASSIGNMENT)
    assert "source" in starter.origin
    text = starter.text
    assert "### BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
    assert "np.tensordot(window, w" not in text  # the instructor's conv_forward_naive
    assert text.count("raise NotImplementedError()") == released.text.count(
        "raise NotImplementedError()")


# --- the files ---------------------------------------------------------------------------


def test_csv_has_its_three_columns_sorted_by_score_in_range(class_report):
    pairs, out = class_report
    with open(out / "similarity.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == CSV_COLUMNS == ("student_a", "student_b", "score")
    body = rows[1:]
    assert len(body) == len(pairs)
    assert all(len(r) == 3 and re.fullmatch(r"[01]\.\d{4}", r[2]) for r in body), body
    scores = [float(r[2]) for r in body]
    assert all(0.0 <= s <= 1.0 for s in scores)
    keys = [(-float(r[2]), r[0], r[1]) for r in body]
    assert keys == sorted(keys)
    assert all(a < b for a, b, _ in body)
    assert [(r[0], r[1]) for r in body] == [(p.student_a, p.student_b) for p in pairs]


def test_html_shows_the_copy_side_by_side_with_student_code_escaped(class_report):
    _, out = class_report
    page = (out / "similarity.html").read_text(encoding="utf-8")
    assert PLANTED in (CLASS_DIR / f"{COPY}.txt").read_text(encoding="utf-8")
    assert "<script>" not in page and "</pre><script>" not in page
    assert "&lt;/pre&gt;&lt;script&gt;alert(&quot;gus&quot;)&lt;/script&gt;" in page
    first = page.split("<h2 id='pair-1'>", 1)[1].split("<h2", 1)[0]
    assert "fay" in first and "gus" in first
    assert first.count("<pre>") == 2 and first.count("<mark>") >= 10
    # The marks cover what the copy kept: fay's fancy-index grids, by whatever name.
    marked = "".join(re.findall(r"<mark>(.*?)</mark>", first, flags=re.S))
    assert "np.arange" in marked and "np.add.at" in marked


def test_malformed_missing_and_foreign_notebooks_are_skipped_and_listed(tmp_path):
    course = new_course(tmp_path)
    release = release_notebooks(course)
    ada = write_submission(course, "ada", fill(release, "ada"))
    bo = write_submission(course, "bo", fill(release, "bo"))
    (ada / NB2).write_text((ada / NB2).read_text(encoding="utf-8")[:-300], encoding="utf-8")
    raw = (bo / NB4).read_bytes().replace(b"spatial", b"sp\xe4tial", 1)
    (bo / NB4).write_bytes(raw)
    (bo / NB3).write_text("[1, 2, 3]", encoding="utf-8")
    (course / "submitted" / "<b>ghost").mkdir()  # a student folder with no notebooks
    broken = write_submission(course, "broken", {NB1: {"cells": "not a list"}})
    (broken / NB2).symlink_to(ada / NB1)
    deep = write_submission(course, "deep", {})
    (deep / NB1).write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")

    pairs = similarity_report(course, ASSIGNMENT, tmp_path / "out")
    assert [(p.student_a, p.student_b) for p in pairs] == [("ada", "bo")]
    page = (tmp_path / "out" / "similarity.html").read_text(encoding="utf-8")
    for why in ("not valid JSON", "not UTF-8", "not a notebook", "a link", "no such folder",
                "nested too deeply"):
        assert why in page, why
    assert "&lt;b&gt;ghost" in page and "<b>ghost" not in page
    not_compared = page.split("<h2>Not compared</h2>", 1)[1].split("<h2>", 1)[0]
    assert "<li>broken</li>" in not_compared and "<li>deep</li>" in not_compared
    assert "<li>ada</li>" not in not_compared and "<li>bo</li>" not in not_compared


def test_fewer_than_two_students_gives_a_header_and_says_so(tmp_path):
    course = new_course(tmp_path)
    write_submission(course, "ada", fill(release_notebooks(course), "ada"))
    for chosen in (None, ["ada"], []):
        out = tmp_path / f"out_{chosen}"
        assert similarity_report(course, ASSIGNMENT, out, students=chosen) == []
        assert (out / "similarity.csv").read_text(encoding="utf-8") == "student_a,student_b,score\n"
        assert "Fewer than two students" in (out / "similarity.html").read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="students must be folder names"):
        similarity_report(course, ASSIGNMENT, tmp_path / "x", students=["../ada"])


def test_added_cells_count_and_the_release_own_cells_do_not(tmp_path):
    course = new_course(tmp_path)
    folder = write_submission(course, "cy", fill(release_notebooks(course), "cy"))
    code = read_solution_code(folder, "cy", read_starter(course, ASSIGNMENT))
    assert "def window_slices" in code.code  # her helper cell, no nbgrader metadata
    assert "conv_forward_fast(x, w, b, param)" not in code.code  # the release's check cell
    assert code.code.count("# ===== 01_convolution.ipynb: ") == 3
    assert code.notebooks == (NB1, NB2, NB3, NB4) and code.skipped == ()


def test_a_cell_with_an_unterminated_string_cannot_hide_the_cells_after_it(tmp_path):
    course = new_course(tmp_path)
    nbs = fill(release_notebooks(course), "ada")
    cells = nbs[NB1]["cells"]
    at = next(i for i, c in enumerate(cells) if nbgrader_meta(c).get("grade_id")
              == "conv_forward_naive")
    cells.insert(at, code_cell('notes = """everything after this is a string'))
    folder = write_submission(course, "ada", nbs)
    code = read_solution_code(folder, "ada", read_starter(course, ASSIGNMENT))
    assert "everything after this" not in code.code
    assert "receptive_field" in code.code
    assert any("never ends" in why for _, why in code.skipped)


# --- copydetect, repaired ----------------------------------------------------------------


def test_boilerplate_removal_keeps_repeated_code_of_the_student():
    line = "out[:, :, i, j] = np.sum(window * w[f], axis=(1, 2, 3)) + b[f]\n"
    code = line + "q = 1\n" + line + "z = 2\n" + line
    unrelated = Starter(("data = load_course_data(num_training=500, num_validation=200)\n"
                         "for name, value in data.items():\n    print(name, value.shape)\n",),
                        "", "t")
    boilerplate = boilerplate_hashes(unrelated)
    assert boilerplate
    plain = fingerprint(code, frozenset())
    cleaned = fingerprint(code, boilerplate)
    assert cleaned.token_coverage == plain.token_coverage == len(plain.filtered_code)
    assert sum(map(len, cleaned.hash_idx.values())) == sum(map(len, plain.hash_idx.values()))
    given = fingerprint(code, boilerplate_hashes(Starter((line,), "", "t")))
    assert given.token_coverage < plain.token_coverage


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_matches_are_drawn_where_they_are_after_a_class_and_on_crlf(newline):
    code = newline.join([
        "# a comment long enough to move every offset well past a class name's length",
        "x = 1", "", "", "class ThreeLayerConvNet:", "    def loss(self, X, y=None):",
        "        return X.reshape(X.shape[0], -1) @ self.params['W1']", "",
    ])
    fp = fingerprint(code, frozenset())
    raw, filtered, rows = fp.raw_code, fp.filtered_code, fp.offsets
    assert "\r" not in raw
    # compare_files moves a match's ends into the code this way: each name is the start of
    # a name (a class name included), not a character of the comment above it.
    for at, char in enumerate(filtered):
        if char in "VFO":
            moved = at + rows[min(np.searchsorted(rows[:, 0], at), len(rows) - 1), 1]
            assert raw[moved].isidentifier(), (at, char, raw[moved:][:20])
    at = filtered.index("classO") + len("class")
    moved = at + rows[min(np.searchsorted(rows[:, 0], at), len(rows) - 1), 1]
    assert raw[moved:].startswith("ThreeLayerConvNet")


# --- the class's code is right -------------------------------------------------------------


@functools.cache
def reference(notebook: str) -> dict:
    return references.build_reference_namespace(KIT_COURSE / "source" / ASSIGNMENT / notebook)


def student_namespace(nbs: dict[str, dict], release: dict[str, dict], notebook: str) -> dict:
    """The setup, then the student's solution cells and added cells, run in order."""
    source = references.notebook_cells(KIT_COURSE / "source" / ASSIGNMENT / notebook)
    given = {cell_source(c) for c in release[notebook]["cells"]}
    ns: dict = {"__name__": "__student__"}
    exec(setup_cell(prelude(source)).code, ns)  # noqa: S102 - the kit's own setup
    for cell in nbs[notebook]["cells"]:
        meta = nbgrader_meta(cell)
        if is_code(cell) and (is_solution(meta) or cell_source(cell) not in given):
            exec(cell_source(cell), ns)  # noqa: S102 - the class in similarity_class/
    return ns


def close(got, want, what):
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    err = np.max(np.abs(got - want) / np.maximum(1e-8, np.abs(got) + np.abs(want)), initial=0)
    assert err < 1e-7, f"{what}: relative error {err:.2e}"


def check_conv(ns, ref, rng):
    x, w, b = rng.normal(size=(2, 3, 7, 6)), rng.normal(size=(4, 3, 3, 2)), rng.normal(size=4)
    for param in ({"stride": 1, "pad": 0}, {"stride": 2, "pad": 1}):
        got, cache = ns["conv_forward_naive"](x, w, b, dict(param))
        want, ref_cache = ref["conv_forward_naive"](x, w, b, dict(param))
        close(got, want, f"conv forward {param}")
        dout = rng.normal(size=want.shape)
        grads = zip(ns["conv_backward_naive"](dout, cache),
                    ref["conv_backward_naive"](dout, ref_cache), ("dx", "dw", "db"), strict=True)
        for g, r, name in grads:
            close(g, r, f"conv backward {name} {param}")


def check_pool(ns, ref, rng):
    x = np.round(rng.normal(size=(2, 3, 8, 7)))  # rounded: ties in the windows
    for param in ({"pool_height": 2, "pool_width": 2, "stride": 2},
                  {"pool_height": 3, "pool_width": 2, "stride": 1}):
        got, cache = ns["max_pool_forward_naive"](x, dict(param))
        want, ref_cache = ref["max_pool_forward_naive"](x, dict(param))
        close(got, want, f"pool forward {param}")
        dout = rng.normal(size=want.shape)
        close(ns["max_pool_backward_naive"](dout, cache),
              ref["max_pool_backward_naive"](dout, ref_cache), f"pool backward {param}")


def check_net(ns, ref, rng):
    kwargs = {"input_dim": (3, 8, 8), "num_filters": 4, "filter_size": 3, "hidden_dim": 7,
              "num_classes": 5, "weight_scale": 1e-2, "reg": 0.1, "dtype": np.float64}
    model, ref_model = ns["ThreeLayerConvNet"](**kwargs), ref["ThreeLayerConvNet"](**kwargs)
    shapes = {k: v.shape for k, v in model.params.items()}
    assert shapes == {k: v.shape for k, v in ref_model.params.items()}, shapes
    model.params = {k: v.copy() for k, v in ref_model.params.items()}
    X, y = rng.normal(size=(3, 3, 8, 8)), np.array([0, 4, 2])
    close(model.loss(X), ref_model.loss(X), "scores")
    (loss, grads), (ref_loss, ref_grads) = model.loss(X, y), ref_model.loss(X, y)
    close(loss, ref_loss, "loss")
    for k in ref_grads:
        close(grads[k], ref_grads[k], f"grad {k}")


def check_norm(ns, ref, rng):
    x, dout = 3 * rng.normal(size=(4, 6, 3, 2)) + 1, rng.normal(size=(4, 6, 3, 2))
    gamma, beta = rng.normal(size=6), rng.normal(size=6)
    mine, theirs = {"mode": "train"}, {"mode": "train"}
    got, cache = ns["spatial_batchnorm_forward"](x, gamma, beta, mine)
    want, ref_cache = ref["spatial_batchnorm_forward"](x, gamma, beta, theirs)
    close(got, want, "batchnorm train")
    close(mine["running_var"], theirs["running_var"], "running_var")
    grads = zip(ns["spatial_batchnorm_backward"](dout, cache),
                ref["spatial_batchnorm_backward"](dout, ref_cache), ("dx", "dgamma", "dbeta"),
                strict=True)
    for g, r, name in grads:
        close(g, r, f"batchnorm backward {name}")
    mine["mode"] = theirs["mode"] = "test"
    close(ns["spatial_batchnorm_forward"](x, gamma, beta, mine)[0],
          ref["spatial_batchnorm_forward"](x, gamma, beta, theirs)[0], "batchnorm test")
    gamma, beta = rng.normal(size=(1, 6, 1, 1)), rng.normal(size=(1, 6, 1, 1))
    got, cache = ns["spatial_groupnorm_forward"](x, gamma, beta, 3, {})
    want, ref_cache = ref["spatial_groupnorm_forward"](x, gamma, beta, 3, {})
    close(got, want, "groupnorm")
    grads = zip(ns["spatial_groupnorm_backward"](dout, cache),
                ref["spatial_groupnorm_backward"](dout, ref_cache), ("dx", "dgamma", "dbeta"),
                strict=True)
    for g, r, name in grads:
        close(g, r, f"groupnorm backward {name}")


@pytest.mark.parametrize("student", [*HONEST, COPY])
def test_every_student_of_the_class_is_correct(student, tmp_path):
    # The class is honest work only if it is right: each function against the instructor's.
    release = release_notebooks(new_course(tmp_path))
    nbs = fill(release, student)
    rng = np.random.default_rng(0)
    for notebook, check in ((NB1, check_conv), (NB2, check_pool), (NB3, check_net),
                            (NB4, check_norm)):
        check(student_namespace(nbs, release, notebook), reference(notebook), rng)
