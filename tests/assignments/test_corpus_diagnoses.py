"""Does every diagnosis name the bug a mutant has, or stay silent (issue 11)?

Each mutant of the corpus (tests/autograder/corpus) is run in-process on the hidden tests
that must catch it, for two students' inputs, next to the grader's reference. Every case
the grader would fail gets ``likely_cause`` on the grader's own inputs, as the pipeline
words its feedback; that sentence must be None or name the mutant's family.
"""

import copy
import sys
from collections import defaultdict
from pathlib import Path

import pytest

# The corpus package lives beside the autograder tests, which pytest puts on sys.path only
# while it collects them; put it there for this file too.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "autograder"))

import corpus  # noqa: E402

from autograder.assignment import load_assignment  # noqa: E402
from autograder.compare import compare_outputs  # noqa: E402
from autograder.pipeline import _as_data  # noqa: E402
from autograder.specs import convnets  # noqa: E402
from autograder.specs.base import student_rng  # noqa: E402
from cs231n_lib import checks  # noqa: E402

SECRET = "test-secret"
IDS = range(2)
SPECS = {t.grade_id: t for t in convnets.TESTS}
CONVNETS = load_assignment(Path(__file__).resolve().parents[2] / "assignments" / "source"
                           / "convnets")

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
}

# family -> why some of its diagnoses name another bug. Fix the diagnosis, then drop it here.
KNOWN_WRONG: dict[str, str] = {}

FAMILIES = sorted({m.family for m in corpus.MUTANTS})


def mutant_diagnoses(mutant) -> list[str | None]:
    """likely_cause of every case the grader fails, on every item that must catch it."""
    student_ns = corpus.namespace(mutant)
    reference = corpus.reference_namespace(mutant.notebook)
    causes = []
    for k in IDS:
        for grade_id in mutant.caught_by:
            spec, topic = SPECS[grade_id], CONVNETS.topic_of(grade_id)
            if spec.custom is not None or topic is None:
                continue  # the grader words no likely cause for these
            rng = student_rng(SECRET, f"{mutant.name}-{k}", grade_id)
            for args, kwargs in spec.make_cases(rng):
                want = _as_data(
                    spec.driver(reference, *copy.deepcopy(args), **copy.deepcopy(kwargs))
                )
                try:
                    got = _as_data(
                        spec.driver(student_ns, *copy.deepcopy(args), **copy.deepcopy(kwargs))
                    )
                except Exception:  # noqa: BLE001 - a crash is graded as an error, not diagnosed
                    continue
                if compare_outputs(got, want, spec.tol, spec.names).passed:
                    continue
                inputs = list(args) + list(kwargs.values())
                causes.append(checks.likely_cause(topic, got, want, inputs, tol=spec.tol))
    return causes


@pytest.fixture(scope="module")
def diagnoses():
    """family -> [(mutant name, diagnosis or None), ...] over the whole corpus."""
    by_family = defaultdict(list)
    for mutant in corpus.MUTANTS:
        by_family[mutant.family] += [(mutant.name, c) for c in mutant_diagnoses(mutant)]
    return by_family


def test_the_tables_name_only_families_of_the_corpus():
    assert set(ACCEPTED) <= set(FAMILIES), sorted(set(ACCEPTED) - set(FAMILIES))
    assert set(KNOWN_WRONG) <= set(ACCEPTED), sorted(set(KNOWN_WRONG) - set(ACCEPTED))


@pytest.mark.parametrize(
    "family",
    [
        pytest.param(f, marks=pytest.mark.xfail(reason=KNOWN_WRONG[f], strict=True))
        if f in KNOWN_WRONG
        else f
        for f in FAMILIES
    ],
)
def test_a_mutant_gets_its_own_familys_diagnosis_or_none(family, diagnoses):
    words = ACCEPTED.get(family, [])
    wrong = [
        (name, cause)
        for name, cause in diagnoses[family]
        if cause is not None and not any(w in cause for w in words)
    ]
    assert not wrong, (
        f"{family!r} (accepted: {words}) got other families' diagnoses:\n"
        + "\n".join(f"  {name}: {cause}" for name, cause in wrong)
    )
