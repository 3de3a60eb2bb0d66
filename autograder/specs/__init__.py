"""Out-of-kernel test specifications, one module per assignment.

A spec module defines ``ASSIGNMENT`` (the nbgrader assignment name) and
``TESTS``, a list of :class:`autograder.specs.base.TestSpec`, one per
autograded test cell it shadows (matched by nbgrader ``grade_id``).
"""

from __future__ import annotations

import importlib
from types import ModuleType

SPEC_MODULES = {"convnets": "autograder.specs.convnets"}


def has_spec(assignment: str) -> bool:
    """Whether ``assignment`` has a spec module; the others are graded by their test cells
    (:mod:`autograder.cellgrade`)."""
    return assignment in SPEC_MODULES


def load_spec(assignment: str) -> ModuleType:
    """The spec module for ``assignment``; ValueError naming the known ones otherwise."""
    if assignment not in SPEC_MODULES:
        raise ValueError(
            f"no out-of-kernel tests for assignment {assignment!r}; known: {sorted(SPEC_MODULES)}"
        )
    return importlib.import_module(SPEC_MODULES[assignment])
