"""Implementations of the convnets solutions that the hidden tests must judge right.

*Mutants* are wrong: each is one known bug, written as a student would, in one solution cell
of an otherwise correct submission, tagged with its bug family and with the graded items that
must catch it for every student. *Variants* are correct but written differently from the
instructor's solution (other loop orders, vectorisations, helper cells, library calls by bare
name); they must get full marks for every student.

An implementation either replaces a solution cell's code outright (``code``) or edits the
instructor's solution (``edits``: each ``(old, new)`` pair must match exactly once, so that
a change of the solution shows here as an error rather than as a mutant that silently became
correct). The instructor's solutions are the ``### BEGIN SOLUTION`` cells of
``assignments/source/convnets``.

The implementations live in one module per notebook (:mod:`corpus.conv`, :mod:`corpus.pool`,
:mod:`corpus.net`, :mod:`corpus.norm`); :data:`MUTANTS` and :data:`VARIANTS` collect them.
:func:`namespace` runs one in this process, for diagnosis tests that call it directly.

Imports: the autograder's reading of notebooks (``references``, ``demo``), NumPy.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from autograder import references
from autograder.demo import KIT_COURSE

ASSIGNMENT = "convnets"
NB1 = "01_convolution.ipynb"
NB2 = "02_pooling_and_fast_layers.ipynb"
NB3 = "03_three_layer_convnet.ipynb"
NB4 = "04_spatial_normalization.ipynb"
SOURCE = KIT_COURSE / "source" / ASSIGNMENT

# What a variant may wait for: a change elsewhere in the kit (issue 11).
ALL_CELLS = "the grader runs every cell the student wrote, not only the solution cells (§1)"
NB3_NAMES = "notebook 3's setup imports relu_forward and relu_backward (§2)"
NB4_NAMES = "notebook 4's setup imports batchnorm_forward and batchnorm_backward (§2)"


@dataclass(frozen=True)
class Impl:
    """One implementation of one solution cell.

    Attributes
    ----------
    name : str
        Unique; also the prefix of its students' ids.
    kind : str
        "mutant" or "variant".
    notebook : str
    cell : str
        grade_id of the solution cell it replaces.
    family : str
        Mutants: the bug family ("flipped kernel", "= for +=", ...). Variants: how it differs.
    caught_by : tuple of str
        Mutants: the graded items (test grade ids) that must fail for every student.
    code : str
        The whole cell; or empty, and then ``edits`` apply to the instructor's solution.
    edits : tuple of (old, new)
    added_cells : tuple of str
        Code cells the student added just before the solution cell.
    more : tuple of (cell, code)
        Other solution cells replaced along with it (a forward pass and its backward pass).
    depends : str
        Variants: a change elsewhere they need (one of ALL_CELLS, NB3_NAMES, NB4_NAMES).
    """

    name: str
    kind: str
    notebook: str
    cell: str
    family: str
    caught_by: tuple[str, ...] = ()
    code: str = ""
    edits: tuple[tuple[str, str], ...] = ()
    added_cells: tuple[str, ...] = ()
    depends: str = ""
    more: tuple[tuple[str, str], ...] = ()

    def cell_code(self) -> str:
        """The solution cell's code as the student submits it."""
        if self.code:
            return self.code.strip("\n") + "\n"
        text = instructor_solution(self.notebook, self.cell)
        for old, new in self.edits:
            found = text.count(old)
            if found != 1:
                raise ValueError(
                    f"{self.name}: the edit {old!r} matches {found} times in the instructor's "
                    f"{self.cell} (expected once); update the corpus to the new solution"
                )
            text = text.replace(old, new)
        return text

    def cells(self) -> dict[str, str]:
        """grade_id -> code of every solution cell this implementation replaces."""
        return {self.cell: self.cell_code()} | {c: code.strip("\n") + "\n" for c, code in self.more}


def mutant(
    name: str, notebook: str, cell: str, family: str, caught_by: tuple[str, ...], *edits, code=""
) -> Impl:
    """A wrong implementation; ``edits`` are (old, new) pairs, or ``code`` the whole cell."""
    if not caught_by:
        raise ValueError(f"mutant {name} must name the items that catch it")
    return Impl(name, "mutant", notebook, cell, family, tuple(caught_by), code, tuple(edits))


def variant(
    name: str, notebook: str, cell: str, family: str, code: str, *, added=(), depends="", more=()
) -> Impl:
    """A correct implementation written differently; ``more`` replaces further cells."""
    return Impl(
        name, "variant", notebook, cell, family, (), code, (), tuple(added), depends, tuple(more)
    )


@functools.cache
def _solutions(notebook: str) -> dict[str, str]:
    return references.solution_cells(references.notebook_cells(SOURCE / notebook))


def instructor_solution(notebook: str, cell: str) -> str:
    """The instructor's solution cell as a student would hand it in (solution markers dropped)."""
    text = _solutions(notebook)[cell]
    return re.sub(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n", "", text, flags=re.M)


@functools.cache
def reference_namespace(notebook: str) -> dict[str, Any]:
    """The grader's reference: the source notebook's setup imports and solution cells."""
    return references.build_reference_namespace(SOURCE / notebook)


def namespace(impl: Impl) -> dict[str, Any]:
    """The reference namespace with ``impl``'s added cells and cell run over it (in-process)."""
    ns = dict(reference_namespace(impl.notebook))
    for code in (*impl.added_cells, *impl.cells().values()):
        exec(compile(code, f"<{impl.name}>", "exec"), ns)  # noqa: S102 - our own corpus
    return ns


def _collect() -> tuple[list[Impl], list[Impl]]:
    from corpus import conv, net, norm, pool

    impls = [i for module in (conv, pool, net, norm) for i in module.IMPLS]
    names = [i.name for i in impls]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"corpus names used twice: {dupes}")
    return [i for i in impls if i.kind == "mutant"], [i for i in impls if i.kind == "variant"]


MUTANTS, VARIANTS = _collect()
BY_NAME: dict[str, Impl] = {i.name: i for i in MUTANTS + VARIANTS}
