"""The hidden tests' verdicts on an implementation, computed in this process (no sandbox).

A quick estimate of the hidden tests' power over many students (``sweep.py --power``) and a
check of the corpus itself; the figures that count come from the real grader. The verdict
follows the grader's: the same drivers, cases and comparison, outputs passed as data.

Imports: the corpus, the autograder's specs and comparison, NumPy.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np

from autograder.compare import compare_outputs
from autograder.specs import convnets
from autograder.specs.base import student_rng
from corpus import Impl, namespace, reference_namespace


def _as_data(value: Any) -> Any:
    """An output as it arrives from the sandbox: base ndarrays and JSON values."""
    if isinstance(value, np.ndarray):
        return np.array(value)
    if isinstance(value, (list, tuple)):
        return [_as_data(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return json.loads(json.dumps(value))


def verdicts(impl: Impl, student_id: str, secret: str) -> dict[str, bool]:
    """grade_id -> passed, for every hidden test of ``impl``'s notebook."""
    try:
        ns = namespace(impl)
    except Exception:  # noqa: BLE001 - a cell that raises fails every test of its notebook
        return {t.grade_id: False for t in convnets.TESTS if t.notebook == impl.notebook}
    ref = reference_namespace(impl.notebook)
    out = {}
    for spec in (t for t in convnets.TESTS if t.notebook == impl.notebook):
        passed = True
        for args, kwargs in spec.make_cases(student_rng(secret, student_id, spec.grade_id)):
            want = _as_data(spec.driver(ref, *copy.deepcopy(args), **copy.deepcopy(kwargs)))
            try:
                got = _as_data(spec.driver(ns, *copy.deepcopy(args), **copy.deepcopy(kwargs)))
            except Exception:  # noqa: BLE001 - the student's code raised: the test fails
                passed = False
                break
            if spec.custom is not None:
                ok = spec.custom(got, want, args)[0]
            else:
                ok = compare_outputs(got, want, spec.tol, spec.names).passed
            if not ok:
                passed = False
                break
        out[spec.grade_id] = passed
    return out
