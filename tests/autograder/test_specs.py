"""Do the out-of-kernel tests match the course, and vary per student without the secret leaking?"""

import json
from pathlib import Path

import numpy as np

from autograder import references
from autograder.specs import convnets
from autograder.specs.base import student_rng

SOURCE = Path(__file__).resolve().parents[2] / "assignments" / "source" / "convnets"


def test_every_autograded_test_cell_has_exactly_one_out_of_kernel_test():
    graded = {}
    for nb in sorted(SOURCE.glob("*.ipynb")):
        for gid in references.test_points(references.notebook_cells(nb)):
            graded[gid] = nb.name
    specs = {t.grade_id: t.notebook for t in convnets.TESTS}
    assert len(specs) == len(convnets.TESTS), "a grade id is tested twice"
    assert specs == graded


def as_text(cases):
    """Cases as comparable text (arrays as nested lists)."""
    return json.dumps(cases, default=lambda v: v.tolist() if isinstance(v, np.ndarray) else str(v))


def test_every_spec_runs_on_the_reference_and_is_deterministic_per_student():
    namespaces = {
        nb.name: references.build_reference_namespace(nb) for nb in SOURCE.glob("*.ipynb")
    }
    for spec in convnets.TESTS:
        a = spec.make_cases(student_rng("secret", "alice", spec.grade_id))
        b = spec.make_cases(student_rng("secret", "alice", spec.grade_id))
        c = spec.make_cases(student_rng("secret", "bob", spec.grade_id))
        assert as_text(a) == as_text(b), spec.grade_id
        assert as_text(a) != as_text(c), spec.grade_id
        for args, kwargs in a:
            outputs = spec.driver(namespaces[spec.notebook], *args, **kwargs)
            assert outputs, spec.grade_id
        json.dumps(a[0][1])  # kwargs are JSON data


def test_other_secret_other_inputs():
    x = student_rng("one", "alice", "t").standard_normal(4)
    y = student_rng("two", "alice", "t").standard_normal(4)
    assert not np.allclose(x, y)


def test_driver_source_defines_run():
    ns = {}
    exec(convnets.TESTS[0].driver_source(), ns)
    assert callable(ns["run"]) and "np" in ns
