"""Do the hidden tests catch every known bug, and give full marks to correct code written otherwise?

The corpus (tests/autograder/corpus) holds wrong implementations (mutants, one bug each)
and correct ones written differently (variants). Here every one of them is handed in by two
students of a real course and graded by the real CLI; ``corpus/sweep.py`` (``make sweep``)
runs the same over 20 students each and prints the figures.
"""

import corpus
import pytest
from corpus.course import build_course, figures, grade_with_cli, notebook_tests

from autograder.specs import convnets

from grading_setup import SECRET, TEST_LIMITS

IDS = range(2)
MUTANT_NAMES = [m.name for m in corpus.MUTANTS]
VARIANT_NAMES = [v.name for v in corpus.VARIANTS]


def test_the_corpus_has_40_mutants_and_10_variants_over_every_notebook():
    assert len(corpus.MUTANTS) >= 40
    assert len(corpus.VARIANTS) >= 10
    notebooks = {t.notebook for t in convnets.TESTS}
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
