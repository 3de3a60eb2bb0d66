"""Out-of-kernel test specifications, one module per assignment.

A spec module defines ``ASSIGNMENT`` (the nbgrader assignment name) and
``TESTS``, a list of :class:`autograder.specs.base.TestSpec`, one per
autograded test cell it shadows (matched by nbgrader ``grade_id``).
"""

from __future__ import annotations

import fnmatch
import importlib
import json
from pathlib import Path
from types import ModuleType

SPEC_MODULES = {"convnets": "autograder.specs.convnets"}


def has_spec(assignment: str) -> bool:
    """Whether ``assignment`` has a spec module; the others are graded by their test cells
    (:mod:`autograder.cellgrade`)."""
    return assignment in SPEC_MODULES


def load_spec(assignment: str) -> ModuleType:
    """The spec module for ``assignment``; ValueError naming the known ones otherwise."""
    known = SPEC_MODULES
    if assignment not in known:
        raise ValueError(
            f"no out-of-kernel tests for assignment {assignment!r}; known: {sorted(known)}"
        )
    return importlib.import_module(known[assignment])


def refused_routines(assignment: str, grade_id: str) -> tuple[str, ...]:
    """The provided routines that raise while test ``grade_id`` runs (``<assignment>.json``)."""
    path = Path(__file__).with_name(f"{assignment}.json")
    if not path.is_file():
        return ()
    table = json.loads(path.read_text(encoding="utf-8")).get("refuse", {})
    names: list[str] = []
    for pattern, routines in table.items():
        if fnmatch.fnmatchcase(grade_id, pattern):
            names += [r for r in routines if r not in names]
    return tuple(names)


def diagnosis_topic(assignment: str, grade_id: str) -> str | None:
    """The ``cs231n_lib.checks`` topic that words test ``grade_id``'s failures, if any."""
    path = Path(__file__).with_name(f"{assignment}.json")
    if not path.is_file():
        return None
    table = json.loads(path.read_text(encoding="utf-8")).get("topic", {})
    for pattern, topic in table.items():
        if fnmatch.fnmatchcase(grade_id, pattern):
            return topic
    return None
