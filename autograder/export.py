"""Grades from nbgrader's gradebook as a CSV that Canvas's gradebook import takes.

Two doors to one table:

    nbgrader export --exporter=autograder.export.CanvasExportPlugin --to=canvas.csv
    write_canvas_csv("assignments/gradebook.db", "canvas.csv")

The file is what Canvas's own export looks like, cut to what an import reads
(Canvas's ``GradebookImporter``, instructure/canvas-lms
``app/models/gradebook_importer.rb``)::

    Student,ID,SIS User ID,SIS Login ID,Section,ConvNets (12345)
    Points Possible,,,,,39
    "Liddell, Alice",,alice,alice,,31.5

- Canvas reads a header only if it starts ``Student``, ``ID``; with
  ``SIS User ID``, ``SIS Login ID`` next, the student columns end at the
  following one, which must be ``Section``. Every later column is an assignment.
- A student is matched by ``ID`` (Canvas's user id, unknown here, so blank),
  then ``SIS User ID``, then ``SIS Login ID``, then the ``Student`` cell against
  the name or the "Last, First" name. nbgrader's student id goes in both SIS
  columns (``student_id_columns``); ``Student`` is "Last, First" when known.
- An assignment column ``Title (123)`` is matched by Canvas assignment id 123,
  otherwise by exact title; an unmatched one is offered as a new assignment.
  The title defaults to the nbgrader assignment name (``assignment_columns``).
- A first cell ``Points Possible`` marks the row of maxima. Canvas uses it for
  an assignment it creates from the file, not to change an existing one.
- A blank cell where Canvas has no grade changes nothing; where Canvas has a
  grade, the import removes it (its review screen highlights the removal). So a
  student without a submission gets ``unsubmitted`` (blank unless configured:
  ``0``, or ``EX`` for excused).

Points are nbgrader's, as its own CSV export computes them: the submission's
score (auto, or manual where given, plus extra credit) less its late penalty,
never below zero.

Imports: the standard library; nbgrader and traitlets (this is an nbgrader plugin).
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry, Student, SubmittedAssignment
from nbgrader.plugins import ExportPlugin
from traitlets import Bool, Dict, List, Unicode

STUDENT_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
SIS_COLUMNS = ("SIS User ID", "SIS Login ID")
POINTS_POSSIBLE = "Points Possible"

# Canvas takes some of these for student columns by position (an "Integration ID" right
# after "SIS Login ID"), and finds a column's cells by the first header equal to its
# title, so an assignment titled like one would read the wrong cells...
_CANVAS_RESERVED = (*STUDENT_COLUMNS, "LastName", "FirstName", "Integration ID", "Root Account")
# ...and drops any column whose title merely contains one of these (its totals, read-only).
_CANVAS_COMPUTED = (
    "Current Score", "Current Points", "Current Grade", "Final Score", "Final Points",
    "Final Grade", "Override Score", "Override Grade", "Override Status",
)  # fmt: skip

DEFAULT_ID_COLUMNS = SIS_COLUMNS
DEFAULT_UNSUBMITTED = ""  # blank: Canvas keeps "no grade" as it is


class CanvasExportError(ValueError):
    """The export was asked for something it cannot write faithfully."""


@dataclass
class CanvasTable:
    """The rows of one Canvas import file, and what the instructor should know about them."""

    header: list[str]
    points_possible: list[str]
    rows: list[list[str]]  # one per student, in the header's order
    needs_manual_grade: list[tuple[str, str]] = field(default_factory=list)  # (assignment, student)


def student_name(student: Student) -> str:
    """``Last, First`` as Canvas sorts names; the one part known; else nbgrader's id."""
    first, last = (student.first_name or "").strip(), (student.last_name or "").strip()
    if first and last:
        return f"{last}, {first}"
    # A name Canvas cannot match is still what its review screen shows for the row.
    return last or first or student.id


def points(score: float) -> str:
    """A score as text: ``31`` not ``31.0``, and no float noise (``0.1 + 0.2`` -> ``0.3``)."""
    return f"{score:.10g}"


def late_adjusted(submission: SubmittedAssignment) -> float:
    """What nbgrader's CsvExportPlugin calls ``score``: the score less the late penalty, >= 0."""
    return max(0.0, submission.score - submission.late_submission_penalty)


def _names(given: Iterable | None) -> list[str]:
    """Filter names as nbgrader passes them, including its documented ``[a,b]`` spelling.

    traitlets hands ``--assignment=[a,b]`` over as the one string ``"[a,b]"``; nbgrader's
    own CSV export then matches nothing and writes an empty file.
    """
    names = []
    for item in given or []:
        text = str(item).strip()
        if text.startswith("[") and text.endswith("]"):
            names += [p.strip().strip("'\"") for p in text[1:-1].split(",") if p.strip()]
        elif text:
            names.append(text)
    return names


def _chosen(names: list[str], known: list[str], kind: str) -> list[str]:
    """``known`` in its own order, kept to ``names`` when any are given; unknown names refused."""
    unknown = [n for n in names if n not in known]
    if unknown:
        has = f"{kind}={known}" if len(known) <= 10 else f"{len(known)} of them"
        raise CanvasExportError(f"{kind}={unknown} are not in the gradebook; it has {has}")
    return [k for k in known if not names or k in names]


def column_titles(
    assignments: Sequence[str], columns: Mapping[str, str] | None, known: Sequence[str]
) -> dict[str, str]:
    """Canvas column title of each assignment: ``columns[name]``, else the name itself.

    Refuses a title Canvas would misread: blank, one shared by two assignments, a
    student column's (Canvas would read that column's cells as the grades), or one
    containing a Canvas total's name (Canvas silently drops that column).
    """
    columns = dict(columns or {})
    unknown = sorted(set(columns) - set(known))
    if unknown:
        raise CanvasExportError(
            f"assignment_columns names {unknown}, not assignments in the gradebook {list(known)}"
        )
    titles: dict[str, str] = {}
    owner: dict[str, str] = {}
    for name in assignments:
        title = str(columns.get(name, name)).strip()
        if not title:
            raise CanvasExportError(f"assignment_columns[{name!r}] is blank")
        if title in _CANVAS_RESERVED:
            raise CanvasExportError(
                f"column title {title!r} of assignment {name!r} is a Canvas student column"
            )
        computed = [c for c in _CANVAS_COMPUTED if c in title]
        if computed:
            raise CanvasExportError(
                f"column title {title!r} of assignment {name!r} contains {computed[0]!r}; "
                "Canvas drops such columns on import"
            )
        if title in owner:
            raise CanvasExportError(
                f"assignments {owner[title]!r} and {name!r} both have the column title {title!r}"
            )
        owner[title] = name
        titles[name] = title
    return titles


def _check_options(id_columns: Sequence[str], unsubmitted: str) -> None:
    bad = [c for c in id_columns if c not in SIS_COLUMNS]
    if bad or not id_columns:
        raise CanvasExportError(
            f"student_id_columns={list(id_columns)} must be a non-empty subset of "
            f"{list(SIS_COLUMNS)}"
        )
    if unsubmitted not in ("", "EX") and not re.fullmatch(r"\d+(\.\d+)?", unsubmitted):
        raise CanvasExportError(
            f"unsubmitted={unsubmitted!r} must be blank, a number such as 0, or 'EX' (excused)"
        )


def canvas_table(
    gradebook: Gradebook,
    assignments: Iterable | None = None,
    students: Iterable | None = None,
    columns: Mapping[str, str] | None = None,
    id_columns: Sequence[str] = DEFAULT_ID_COLUMNS,
    unsubmitted: str = DEFAULT_UNSUBMITTED,
) -> CanvasTable:
    """The Canvas import rows for ``gradebook``: every student, every assignment by default.

    Parameters
    ----------
    assignments, students : names to keep (nbgrader's ``--assignment``/``--student``)
    columns : nbgrader assignment name -> Canvas column title, e.g. ``"ConvNets (12345)"``
    id_columns : which of ``SIS User ID``, ``SIS Login ID`` carry nbgrader's student id
    unsubmitted : the cell of a student with no submission: blank, a number, or ``EX``
    """
    _check_options(id_columns, unsubmitted)
    maxima = {a.name: a.max_score for a in gradebook.assignments}  # by due date, then name
    chosen = _chosen(_names(assignments), list(maxima), "assignment")
    titles = column_titles(chosen, columns, list(maxima))
    all_students = gradebook.students  # by last name, then first name
    keep = _chosen(_names(students), [s.id for s in all_students], "student")

    blanks = [""] * (len(STUDENT_COLUMNS) - 1)
    table = CanvasTable(
        header=[*STUDENT_COLUMNS, *(titles[a] for a in chosen)],
        points_possible=[POINTS_POSSIBLE, *blanks, *(points(maxima[a]) for a in chosen)],
        rows=[],
    )
    for student in (s for s in all_students if s.id in keep):
        sis = [student.id if c in id_columns else "" for c in SIS_COLUMNS]
        row = [student_name(student), "", *sis, ""]  # Canvas's own user ID is not known here
        for name in chosen:
            try:
                submission = gradebook.find_submission(name, student.id)
            except MissingEntry:
                row.append(unsubmitted)
                continue
            row.append(points(late_adjusted(submission)))
            if submission.needs_manual_grade:
                table.needs_manual_grade.append((name, student.id))
        table.rows.append(row)
    return table


def write_table(
    table: CanvasTable, path: str | os.PathLike, points_possible_row: bool = True
) -> Path:
    """Write ``table`` as UTF-8 CSV (RFC 4180 quoting, as Canvas's imports expect)."""
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(table.header)
        if points_possible_row:
            out.writerow(table.points_possible)
        out.writerows(table.rows)
    return path


def _gradebook_url(gradebook_url_or_path: str | os.PathLike) -> str:
    """A database URL; a path (or sqlite URL) must name an existing file, since opening a
    missing one would create an empty gradebook and export nothing."""
    text = os.fspath(gradebook_url_or_path)
    if re.match(r"^[a-z][a-z0-9+]*://", text) and not text.startswith("sqlite:///"):
        return text
    file = Path(text.removeprefix("sqlite:///")) if text.startswith("sqlite:///") else Path(text)
    if not file.is_file():
        raise FileNotFoundError(f"gradebook={text!r}: no such gradebook file")
    return f"sqlite:///{file.resolve()}"


def write_canvas_csv(
    gradebook_url_or_path: str | os.PathLike,
    path: str | os.PathLike,
    assignments: Iterable[str] | None = None,
    columns: Mapping[str, str] | None = None,
    *,
    students: Iterable[str] | None = None,
    id_columns: Sequence[str] = DEFAULT_ID_COLUMNS,
    unsubmitted: str = DEFAULT_UNSUBMITTED,
    points_possible_row: bool = True,
) -> CanvasTable:
    """Write the Canvas import CSV of a gradebook (``gradebook.db`` path or database URL).

    Nothing is written when a name or a title is refused (:class:`CanvasExportError`).
    Returns the table, whose ``needs_manual_grade`` lists submissions still being graded.
    """
    # course_id "" opens the gradebook without adding nbgrader's "default_course" to it.
    with Gradebook(_gradebook_url(gradebook_url_or_path), course_id="") as gb:
        table = canvas_table(gb, assignments, students, columns, id_columns, unsubmitted)
    write_table(table, path, points_possible_row)
    return table


class CanvasExportPlugin(ExportPlugin):
    """``nbgrader export --exporter=autograder.export.CanvasExportPlugin --to=canvas.csv``."""

    assignment_columns = Dict(
        value_trait=Unicode(),
        help=(
            "Canvas column title per nbgrader assignment, e.g. "
            '{"convnets": "ConvNets (12345)"}; the number is the Canvas assignment id '
            "(from its URL). Default: the nbgrader name, which Canvas matches by title."
        ),
    ).tag(config=True)

    student_id_columns = List(
        Unicode(),
        default_value=list(DEFAULT_ID_COLUMNS),
        help="Which of 'SIS User ID', 'SIS Login ID' carry the nbgrader student id.",
    ).tag(config=True)

    unsubmitted = Unicode(
        DEFAULT_UNSUBMITTED,
        help=(
            "Cell of a student with no submission: blank (Canvas removes a grade it has "
            "there, and leaves no grade as none), a number such as 0, or EX (excused)."
        ),
    ).tag(config=True)

    points_possible_row = Bool(
        True, help="Write the 'Points Possible' row (the assignments' max scores)."
    ).tag(config=True)

    def export(self, gradebook: Gradebook) -> None:
        try:
            if not self.to:
                raise CanvasExportError("--to is required: the CSV file to write, e.g. canvas.csv")
            table = canvas_table(
                gradebook,
                self.assignment,
                self.student,
                self.assignment_columns,
                self.student_id_columns,
                self.unsubmitted,
            )
        except CanvasExportError as err:
            fail = getattr(self.parent, "fail", None)  # nbgrader apps log and exit 1
            if fail is None:
                raise
            fail("Canvas export: %s", err)
            return
        write_table(table, self.to, self.points_possible_row)
        self.log.info(
            "Wrote %s: %d student rows, columns %s", self.to, len(table.rows), table.header[5:]
        )
        if table.needs_manual_grade:
            self.log.warning(
                "%d submissions still need manual grading; their points are partial: %s",
                len(table.needs_manual_grade),
                ", ".join(f"{a}/{s}" for a, s in table.needs_manual_grade),
            )
