"""Do the hidden tests catch every known bug, give full marks to correct code written otherwise,
and name each bug's family or stay silent?

The corpus (tests/autograder/corpus) holds wrong implementations (mutants, one bug each)
and correct ones written differently (variants). Here every one of them is handed in by two
students of a real course and graded by the real CLI; ``corpus/sweep.py`` (``make sweep``)
runs the same over 20 students each and prints the figures.
"""

import corpus
import pytest
from corpus.course import build_course, figures, grade_with_cli, notebook_tests

from grading_setup import SECRET, TEST_LIMITS

IDS = range(2)
MUTANT_NAMES = [m.name for m in corpus.MUTANTS]
VARIANT_NAMES = [v.name for v in corpus.VARIANTS]


def test_the_corpus_has_40_mutants_and_10_variants_over_every_notebook():
    assert len(corpus.MUTANTS) >= 40
    assert len(corpus.VARIANTS) >= 10
    notebooks = {p.name for p in corpus.SOURCE.glob("*.ipynb")}
    assert {m.notebook for m in corpus.MUTANTS} == notebooks
    assert {v.notebook for v in corpus.VARIANTS} == notebooks


@pytest.mark.parametrize("name", MUTANT_NAMES + VARIANT_NAMES)
def test_each_implementation_applies_to_the_instructors_solution(name):
    impl = corpus.BY_NAME[name]
    codes = impl.cells()  # raises when an edit no longer matches the solution
    for code in codes.values():
        compile(code, name, "exec")
    if impl.kind == "mutant":
        assert impl.family
        assert set(impl.caught_by) <= set(notebook_tests(impl.notebook)), impl.caught_by


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The whole corpus x 2 students, graded by ``python -m autograder``; (figures, seconds)."""
    course = tmp_path_factory.mktemp("corpus") / "course"
    impls = corpus.MUTANTS + corpus.VARIANTS
    build_course(course, impls, IDS)
    limits = ("--wall-seconds-per-test", str(TEST_LIMITS.wall_seconds_per_test))
    results, seconds = grade_with_cli(course, SECRET, workers=2, extra=limits)
    return figures(impls, results, IDS), seconds


@pytest.mark.slow
@pytest.mark.parametrize("name", MUTANT_NAMES)
def test_each_mutant_loses_points_on_every_item_that_should_catch_it(name, graded):
    fig, _ = graded
    mutant = corpus.BY_NAME[name]
    for k, lost in zip(IDS, fig.lost[name], strict=True):
        missed = sorted(set(mutant.caught_by) - set(lost))
        assert not missed, (
            f"{name} ({mutant.family}) kept its points on {missed} for student {k}"
        )


@pytest.mark.slow
@pytest.mark.parametrize("name", VARIANT_NAMES)
def test_each_correct_variant_gets_full_marks(name, graded):
    fig, _ = graded
    variant = corpus.BY_NAME[name]
    assert fig.full_marks(name) == len(IDS), (
        f"{name} ({variant.family}) lost {fig.reasons[name]}; flagged {fig.flagged[name]}"
        + (f"; it needs: {variant.depends}" if variant.depends else "")
    )


# --- diagnoses (issue 11): the grader's "Likely cause:" names the mutant's family, or is absent --

# family -> words of which a diagnosis must contain one. A family not listed here has no
# diagnosis of its own: it must get none.
ACCEPTED = {
    "= for +=": ["+="],
    "= for += (whole window)": ["+="],
    # The upsampled mask x == up also sends the gradient to every tied maximum, a second
    # bug of this mutant that the corpus expects the ties test to catch.
    "assumes tiling": ["every tied maximum"],
    # Points at eps, though the fix is to read bn_param['eps'] rather than move it.
    "bn_param['eps'] ignored": ["eps"],
    "ceil for floor in the pooled size": ["never up (ceil)"],
    "round() for floor in the pooled size": ["or to the nearest (round)"],
    "eps outside the square root": ["np.sqrt(var + eps)"],
    "variance without eps": ["np.sqrt(var + eps)"],
    "flipped kernel": ["kernel flipped"],
    "gradient to all ties": ["every tied maximum"],
    "mean for max": ["average pooling"],
    "mean for sum": ["an average where a sum belongs"],
    "missing +1 in output size": ["the 1 + in Ho"],
    "missing bias": ["bias is missing"],
    "momentum swapped": ["weighs the batch by momentum"],
    "np.sum(W)**2 for np.sum(W * W)": ["square of its sum"],
    "one-sided padding": ["on one side"],
    "parameter gradients of the wrong shape": ["must have the shape of"],
    "regularisation gradient missing": ["lacks the regularisation gradient"],
    "regularisation without 0.5": ["factor 0.5"],
    "running averages not stored": ["was not updated"],
    # A stride taken from the window is one way of ignoring conv_param/pool_param's stride.
    "stride ignored": ["stride is ignored", "window size is used as the stride"],
    "test mode updates the averages": ["test mode changed the running averages"],
    "tie rule (column-major)": ["goes to the wrong copy"],
    "tie rule (last maximum)": ["goes to the wrong copy"],
    "wrong axes": ["sum dout over axes"],
    "wrong axes (across the batch)": ["over the whole batch"],
    "wrong axes (interleaved groups)": ["every G-th channel"],
    "wrong axes (one group)": ["layer norm"],
    "wrong count (H*W for C/G*H*W)": ["counts the values per group wrongly"],
    "wrong count (N for N*H*W)": ["counts the values per group wrongly"],
    # The families below got another family's diagnosis before issue 11's fixes.
    "square input (H for W)": ["square"],
    "wrong axes (per-image variance)": ["each image"],
    "wrong default momentum": ["momentum"],
    # Named by the test cells' own checks, which the grader now runs.
    "batch statistics in test mode": ["this batch's own mean and variance"],
    "unbiased variance": ["the variance is the unbiased one"],
    "wrong axes (a group per channel)": ["instance norm"],
}

# family -> why some of its diagnoses name another bug. Fix the diagnosis, then drop it here.
KNOWN_WRONG: dict[str, str] = {}

FAMILIES = sorted({m.family for m in corpus.MUTANTS})


def test_the_tables_name_only_families_of_the_corpus():
    assert set(ACCEPTED) <= set(FAMILIES), sorted(set(ACCEPTED) - set(FAMILIES))
    assert set(KNOWN_WRONG) <= set(ACCEPTED), sorted(set(KNOWN_WRONG) - set(ACCEPTED))


@pytest.mark.slow
@pytest.mark.parametrize(
    "family",
    [
        pytest.param(f, marks=pytest.mark.xfail(reason=KNOWN_WRONG[f], strict=True))
        if f in KNOWN_WRONG
        else f
        for f in FAMILIES
    ],
)
def test_a_mutant_gets_its_own_familys_diagnosis_or_none(family, graded):
    """Every reason the grader gave on a test that must catch a mutant of ``family``."""
    fig, _ = graded
    words = ACCEPTED.get(family, [])
    wrong, seen = [], 0
    for mutant in (m for m in corpus.MUTANTS if m.family == family):
        for grade_id, reason in fig.lost_reasons[mutant.name]:
            if grade_id not in mutant.caught_by:
                continue
            seen += 1
            cause = reason.split("Likely cause: ", 1)[1] if "Likely cause: " in reason else None
            if cause is not None and not any(w in cause for w in words):
                wrong.append(f"  {mutant.name} {grade_id}: {cause}")
    assert seen, f"no mutant of {family!r} lost a test that must catch it"
    assert not wrong, f"{family!r} (accepted: {words}) got other families' diagnoses:\n" + (
        "\n".join(wrong))
