"""Is the generated student version free of answers, and does it fail only where it should?"""

import pytest

from course_tools import (
    ASSIGNMENT,
    NOTEBOOKS,
    RELEASE,
    SOURCE,
    execute,
    is_autograder_test,
    is_solution,
    read,
)

MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS",
           "Model answer")
# Lines only a solution or a hidden test contains.
GIVEAWAYS = (
    "np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3]))",
    "dx = dx_pad[:, :, pad:pad + H, pad:pad + W]",
    "first = np.argmax(window, axis=2)",
    "out[:, :, i, j] = window.max(axis=(2, 3))",
    "_, grads[\"W1\"], grads[\"b1\"] = conv_relu_pool_backward(dpooled, conv_cache)",
    "loss += 0.5 * self.reg",
    "groups = x.reshape(N, G, -1)",
    "dbeta = dout.sum(axis=(0, 2, 3), keepdims=True)",
    "grading_rng(1101)",
    "grading_rng(1602)",
)


def _text(nb):
    return "\n".join(c.source for c in nb.cells)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_release_holds_no_solution_or_hidden_test(generated_course, name):
    text = _text(read(generated_course / "release" / ASSIGNMENT / f"{name}.ipynb"))
    for marker in MARKERS + GIVEAWAYS:
        assert marker not in text, f"{name}: the release contains {marker!r}"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_release_has_a_stub_in_every_solution_cell(generated_course, name):
    release = read(generated_course / "release" / ASSIGNMENT / f"{name}.ipynb")
    for cell in release.cells:
        if is_solution(cell):
            stub = "raise NotImplementedError()" if cell.cell_type == "code" else "YOUR ANSWER HERE"
            assert stub in cell.source, f"{name}: {cell.source[:200]!r}"


def test_source_holds_what_the_release_removes():
    """The giveaway lines are real: each occurs in some source notebook."""
    text = "\n".join(_text(read(SOURCE / f"{n}.ipynb")) for n in NOTEBOOKS)
    for line in GIVEAWAYS:
        assert line in text, line


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_release_matches_a_fresh_generation(generated_course, name):
    """assignments/release/ is generated, never edited: `make release` must be re-run."""
    committed = read(RELEASE / f"{name}.ipynb")
    fresh = read(generated_course / "release" / ASSIGNMENT / f"{name}.ipynb")
    assert [c.source for c in committed.cells] == [c.source for c in fresh.cells], (
        f"assignments/release/{ASSIGNMENT}/{name}.ipynb is stale: run `make release`")


@pytest.fixture(scope="module")
def release_runs(env, generated_course):
    folder = generated_course / "release" / ASSIGNMENT
    return {n: execute(read(folder / f"{n}.ipynb"), folder, env, n) for n in NOTEBOOKS}


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_untouched_release_fails_only_with_not_implemented(release_runs, name):
    checked = 0
    for cell in release_runs[name].cells:
        if not is_autograder_test(cell.cell):
            continue
        checked += 1
        names = [ename for ename, _ in cell.errors]
        assert names == ["NotImplementedError"], (
            f"{name} cell {cell.index}: expected NotImplementedError, got {cell.errors}")
    assert checked >= 3
