"""What is particular to one assignment, read from its folder: ``source/<name>/autograder.json``.

An assignment is a folder of notebooks, plus this optional file. The generic modules take
the :class:`Assignment` it gives (the pipeline, the static checks, the tamper signs), so that
adding an assignment means writing notebooks, and no Python in ``autograder/``. Every key is
optional, and each table is keyed by grade-id patterns (:func:`fnmatch.fnmatchcase`):

- ``refuse``: grade-id pattern -> routines of :data:`cs231n_lib.refusal.ROUTINES` that raise
  inside the jail while such a test runs (all matching patterns add up);
- ``forbidden``: solution grade-id pattern -> names the solution may not use
  (:mod:`autograder.static_checks`, reported as flags);
- ``array_hooks_allowed``: classes that may define array hooks (``__eq__``, ``__array__``,
  ...) without a tamper sign (:mod:`autograder.tamper`);
- ``demo``: student name -> a demo submission (:class:`DemoSubmission`), the instructor's
  solution with some solution cells changed, and the tests it must lose; ``make demo``
  grades them (:mod:`autograder.demo`).
- ``about``: free text for the reader.

``topic``, a table of earlier versions, is read and ignored.

The course's ``nbgrader_config.py`` keeps the file out of the release.

Imports: the standard library and ``cs231n_lib.refusal``.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cs231n_lib import refusal

FILENAME = "autograder.json"
KEYS = ("about", "refuse", "forbidden", "array_hooks_allowed", "demo")
# Read and ignored: earlier versions of the kit worded failures by a checks topic per test
# (the grader's own spec path); the test cells' checks now word their own. A course folder
# made then still grades.
IGNORED_KEYS = ("topic",)
DEMO_KEYS = ("about", "replace", "set", "append", "loses")


@dataclass(frozen=True)
class DemoSubmission:
    """One demo student: the solved release with these changes to its solution cells.

    ``replace``: grade id -> (old, new) pairs, each ``old`` found in the cell; ``set``: grade
    id -> the cell's new source; ``append``: grade id -> code added at the end of the cell
    (how most tampering is typed in). ``loses``: the test grade ids it must lose, ``["*"]``
    for all of them.
    """

    replace: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    set: dict[str, str] = field(default_factory=dict)
    append: dict[str, str] = field(default_factory=dict)
    loses: tuple[str, ...] = ()


@dataclass(frozen=True)
class Assignment:
    """One assignment's particulars (empty tables when it has no ``autograder.json``)."""

    name: str
    refuse: dict[str, tuple[str, ...]] = field(default_factory=dict)
    forbidden: dict[str, tuple[str, ...]] = field(default_factory=dict)
    array_hooks_allowed: tuple[str, ...] = ()
    demo: dict[str, DemoSubmission] = field(default_factory=dict)

    def refused(self, grade_id: str) -> tuple[str, ...]:
        """The routines refused while test ``grade_id`` runs."""
        names: list[str] = []
        for pattern, routines in self.refuse.items():
            if fnmatch.fnmatchcase(grade_id, pattern):
                names += [r for r in routines if r not in names]
        return tuple(names)


def _table(data: dict, key: str, where: Path, value_kind: str) -> dict:
    table = data.get(key, {})
    if not isinstance(table, dict) or not all(isinstance(k, str) for k in table):
        raise ValueError(f"{where}: {key!r} must be an object keyed by grade-id patterns")
    out = {}
    for pattern, value in table.items():
        if value_kind == "names":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"{where}: {key}[{pattern!r}] must be a list of names")
            out[pattern] = tuple(value)
        else:
            if not isinstance(value, str):
                raise ValueError(f"{where}: {key}[{pattern!r}] must be {value_kind} (a string)")
            out[pattern] = value
    return out


def _demo(data: dict, where: Path) -> dict[str, DemoSubmission]:
    table = data.get("demo", {})
    if not isinstance(table, dict):
        raise ValueError(f"{where}: 'demo' must be an object keyed by student names")
    out = {}
    for student, entry in table.items():
        at = f"{where}: demo[{student!r}]"
        if not student or "/" in student or student.startswith("."):
            raise ValueError(f"{at}: a student name must be a plain folder name")
        if not isinstance(entry, dict):
            raise ValueError(f"{at} must be an object ({', '.join(DEMO_KEYS)})")
        unknown = sorted(set(entry) - set(DEMO_KEYS))
        if unknown:
            raise ValueError(f"{at}: unknown key(s) {', '.join(unknown)}; known: "
                             f"{', '.join(DEMO_KEYS)}")
        loses = entry.get("loses")
        if not isinstance(loses, list) or not all(isinstance(g, str) for g in loses):
            raise ValueError(f"{at}: 'loses' must be the list of test grade ids it must lose")
        replace = {}
        pairs_of = entry.get("replace", {})
        if not isinstance(pairs_of, dict):
            raise ValueError(f"{at}: 'replace' must be an object keyed by grade ids")
        for gid, pairs in pairs_of.items():
            if not isinstance(pairs, list) or not all(
                    isinstance(p, list) and len(p) == 2 and all(isinstance(t, str) for t in p)
                    for p in pairs):
                raise ValueError(f"{at}: replace[{gid!r}] must be a list of [old, new] strings")
            replace[gid] = tuple((old, new) for old, new in pairs)
        out[student] = DemoSubmission(
            replace,
            _table(entry, "set", f"{at}", "the cell's new source"),
            _table(entry, "append", f"{at}", "the code to add"),
            tuple(loses),
        )
    return out


def load_assignment(folder: str | Path) -> Assignment:
    """The :class:`Assignment` of the source folder ``folder`` (``source/<name>/``).

    Raises
    ------
    ValueError
        Naming the file and the key, for a file that is not JSON, an unknown key, a table of
        the wrong shape or a routine that cannot be refused.
    """
    folder = Path(folder)
    path = folder / FILENAME
    if not path.is_file():
        return Assignment(folder.name)
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise ValueError(f"{path} cannot be read as JSON: {err}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold one JSON object")
    unknown = sorted(set(data) - set(KEYS) - set(IGNORED_KEYS))
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {', '.join(unknown)}; known: {', '.join(KEYS)}")
    refuse = _table(data, "refuse", path, "names")
    for pattern, routines in refuse.items():
        bad = [r for r in routines if r not in refusal.ROUTINES]
        if bad:
            raise ValueError(
                f"{path}: refuse[{pattern!r}] names {', '.join(bad)}, which cannot be refused; "
                f"known: {', '.join(refusal.ROUTINES)}"
            )
    hooks = data.get("array_hooks_allowed", [])
    if not isinstance(hooks, list) or not all(isinstance(h, str) for h in hooks):
        raise ValueError(f"{path}: 'array_hooks_allowed' must be a list of class names")
    return Assignment(
        folder.name,
        refuse,
        _table(data, "forbidden", path, "names"),
        tuple(hooks),
        _demo(data, path),
    )
