"""What is particular to one assignment, read from its folder: ``source/<name>/autograder.json``.

An assignment is a folder of notebooks, plus this optional file. The generic modules take
the :class:`Assignment` it gives (the pipeline, the static checks, the tamper signs), so that
adding an assignment means writing notebooks, and no Python in ``autograder/``. Every key is
optional, and each table is keyed by grade-id patterns (:func:`fnmatch.fnmatchcase`):

- ``refuse``: grade-id pattern -> routines of :data:`cs231n_lib.refusal.ROUTINES` that raise
  inside the jail while such a test runs (all matching patterns add up);
- ``topic``: grade-id pattern -> the :mod:`cs231n_lib.checks` topic that words a failure's
  feedback (the first matching pattern wins);
- ``forbidden``: solution grade-id pattern -> names the solution may not use
  (:mod:`autograder.static_checks`, reported as flags);
- ``array_hooks_allowed``: classes that may define array hooks (``__eq__``, ``__array__``,
  ...) without a tamper sign (:mod:`autograder.tamper`);
- ``about``: free text for the reader.

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
KEYS = ("about", "refuse", "topic", "forbidden", "array_hooks_allowed")


@dataclass(frozen=True)
class Assignment:
    """One assignment's particulars (empty tables when it has no ``autograder.json``)."""

    name: str
    refuse: dict[str, tuple[str, ...]] = field(default_factory=dict)
    topic: dict[str, str] = field(default_factory=dict)
    forbidden: dict[str, tuple[str, ...]] = field(default_factory=dict)
    array_hooks_allowed: tuple[str, ...] = ()

    def refused(self, grade_id: str) -> tuple[str, ...]:
        """The routines refused while test ``grade_id`` runs."""
        names: list[str] = []
        for pattern, routines in self.refuse.items():
            if fnmatch.fnmatchcase(grade_id, pattern):
                names += [r for r in routines if r not in names]
        return tuple(names)

    def topic_of(self, grade_id: str) -> str | None:
        """The checks topic that words test ``grade_id``'s failures, if any."""
        for pattern, topic in self.topic.items():
            if fnmatch.fnmatchcase(grade_id, pattern):
                return topic
        return None


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
                raise ValueError(f"{where}: {key}[{pattern!r}] must be a topic name (a string)")
            out[pattern] = value
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
    unknown = sorted(set(data) - set(KEYS))
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
        _table(data, "topic", path, "topic"),
        _table(data, "forbidden", path, "names"),
        tuple(hooks),
    )
