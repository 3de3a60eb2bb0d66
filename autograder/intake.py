"""Submission intake: read a student's notebooks as plain JSON and say what is wrong with them.

The instructor's source notebooks are parsed once by :func:`read_source`; each student's
folder is then compared with them by :func:`read_submission`, which never raises on anything
a student sent: every malformed file, deleted cell or edited test becomes a :class:`Problem`
with one sentence the student can act on. Notebooks are parsed with :mod:`json` only, never
with nbformat or a kernel, so a corrupt file cannot crash the grader.

What the student ran is read here too: each notebook's *program* (:attr:`NotebookIntake.program`)
is the instructor's setup from the source, then every code cell of the submitted notebook that
is not the instructor's (test and locked cells) or tagged ``heavy``, in the submitted order, each
through IPython's transformer. Cells are read with :mod:`autograder.notebook`; its
``cell_source``, ``nbgrader_meta`` and ``prelude`` are importable from here as well.

Imports: the standard library; :mod:`autograder.notebook`.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# HEAVY_TAG, cell_source, nbgrader_meta and prelude stay importable from intake.
from autograder.notebook import HEAVY_TAG as HEAVY_TAG
from autograder.notebook import (
    LOAD_BUDGET_SECONDS,
    CodeCell,
    cell_source,
    cells_to_python,
    is_heavy,
    is_read_only,
    load_budget,
    nbgrader_meta,
    prelude,
    setup_cell,
    to_python,
    without_hidden_tests,
)

MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024
# nbgrader removes these regions from test cells when it generates the student version.
# The nbgrader flags that decide how a cell is graded; nbgrader's own bookkeeping
# (checksum, cell_type, schema_version) legitimately differs between source and release.
GRADING_FLAGS = ("grade", "solution", "locked", "points")
# Written by nbgrader itself or by Jupyter and the OS: never reported as extra files.
IGNORED_NAMES = frozenset({"timestamp.txt", ".ipynb_checkpoints", "__pycache__", ".DS_Store"})
MAX_LISTED_FILES = 10_000
MAX_EXTRA_FILE_PROBLEMS = 20
# Below this similarity an unexpected notebook is an extra file, not a misnamed one.
CLOSE_NAME_RATIO = 0.85


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a submission.

    Attributes
    ----------
    kind : str
        A fixed word: ``missing_notebook``, ``misnamed_notebook``, ``corrupt_json``,
        ``not_a_notebook``, ``not_a_file``, ``too_large``, ``not_utf8``, ``missing_cell``,
        ``retyped_cell``, ``duplicate_grade_id``, ``unknown_grade_id``,
        ``edited_locked_cell``, ``edited_test_cell``, ``changed_metadata``, ``extra_file``.
    notebook : str
        The expected notebook's name, or for ``extra_file`` the file's path in the submission.
    grade_id : str or None
        The cell concerned, when the problem is about one cell.
    message : str
        One sentence a student could act on.
    tamper : bool
        True when the change looks deliberate: test cells edited, deleted or retyped,
        grade ids duplicated or invented, grading metadata changed, a symbolic link.
    """

    kind: str
    notebook: str
    grade_id: str | None
    message: str
    tamper: bool


@dataclass(frozen=True)
class SourceCell:
    """A cell of the instructor's notebook that nbgrader tracks by its ``grade_id``.

    Attributes
    ----------
    grade_id : str
    cell_type : str
        ``code``, ``markdown`` or ``raw``.
    flags : dict
        The :data:`GRADING_FLAGS` as the source sets them (missing ones as False / None).
    text : str
        The cell's source, solutions and hidden tests included.
    digests : frozenset of str
        SHA-256 of the normalised text, with and without the hidden-test regions: a student's
        copy of a read-only cell must hash to one of them.
    """

    grade_id: str
    cell_type: str
    flags: dict[str, Any]
    text: str
    digests: frozenset[str]

    @property
    def is_solution(self) -> bool:
        return self.flags["solution"] is True

    @property
    def is_test(self) -> bool:
        return self.flags["grade"] is True and not self.is_solution

    @property
    def read_only(self) -> bool:
        return self.flags["locked"] is True or self.is_test


@dataclass(frozen=True)
class SourceNotebook:
    """What intake needs from one instructor notebook.

    Attributes
    ----------
    name : str
        File name, e.g. ``01_convolution.ipynb``.
    cells : dict of str to SourceCell
        The graded cells by grade_id, in notebook order; cells tagged ``heavy`` are left out.
    all_grade_ids : frozenset of str
        Every grade_id of the notebook, heavy cells' included.
    prelude : str
        Trusted code to run before the student's code: the top-level import statements of the
        notebook's plain code cells, in order, ``from __future__`` ones first
        (:func:`autograder.notebook.prelude`).
    not_run : frozenset of str
        Digests (as in :attr:`SourceCell.digests`) of the code cells that never run as the
        student's: read-only and heavy ones. A submitted cell with the same text is one of them,
        whatever its metadata now says.
    load_budget : float
        Seconds for running the notebook's program when graded
        (:func:`autograder.notebook.load_budget`).
    """

    name: str
    cells: dict[str, SourceCell]
    all_grade_ids: frozenset[str]
    prelude: str
    not_run: frozenset[str] = frozenset()
    load_budget: float = LOAD_BUDGET_SECONDS


@dataclass
class NotebookIntake:
    """One expected notebook of a submission, as read.

    Attributes
    ----------
    name : str
    status : str
        ``ok``, ``problems`` (read, with problems), ``missing`` or ``unreadable``.
    solutions : dict of str to str
        grade_id -> the student's source, exactly as submitted, of every solution code cell
        of the source notebook, in source order; missing and retyped cells are absent.
    prelude : str
        The source notebook's prelude (see :class:`SourceNotebook`).
    problems : list of Problem
    program : list of CodeCell
        What the student ran, to run cell by cell in one namespace: first ``setup``
        (:func:`autograder.notebook.setup_cell`: the ``get_ipython()`` stub and the prelude),
        then every code cell of the submitted notebook in its order, except read-only cells (the
        source's or by their own metadata: tests and locked cells), cells tagged ``heavy`` in the
        source or the submission, cells whose text is a read-only or heavy source cell's, and
        blank cells. Each is labelled with its grade_id if it is a solution cell (the first copy
        of one), else ``cell N``; its code has been through
        :func:`autograder.notebook.to_python`. A cell that does not compile stays in the list.
        Empty when the notebook is missing or unreadable.
    load_budget : float
        The source notebook's load budget, seconds (see :class:`SourceNotebook`).
    """

    name: str
    status: str
    solutions: dict[str, str] = field(default_factory=dict)
    prelude: str = ""
    problems: list[Problem] = field(default_factory=list)
    program: list[CodeCell] = field(default_factory=list)
    load_budget: float = LOAD_BUDGET_SECONDS


@dataclass
class SubmissionIntake:
    """A student's whole submission.

    Attributes
    ----------
    student_id : str
    notebooks : dict of str to NotebookIntake
        One entry per source notebook, by name.
    problems : list of Problem
        Every notebook's problems, then the submission-level ones (extra files).
    status : str
        ``ok``, ``problems``, or ``empty`` when no expected notebook was found at all.
    """

    student_id: str
    notebooks: dict[str, NotebookIntake]
    problems: list[Problem]
    status: str


# --- reading cells -------------------------------------------------------------------------


def _flag(meta: dict, key: str) -> Any:
    """A grading flag, normalised so that only genuine changes compare unequal."""
    value = meta.get(key)
    if key == "points":
        if value is None:
            return None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        return repr(value)  # a string or a list where a number belongs: a change
    return False if value is None else value


def _short(value: Any, limit: int = 60) -> str:
    """repr of a student-controlled value, cut so a message stays one readable sentence."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _normalise(text: str) -> str:
    """Text with line endings unified and trailing whitespace (per line and at the end) removed."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).rstrip()


def _digest(text: str) -> str:
    return hashlib.sha256(_normalise(text).encode("utf-8")).hexdigest()


def _digests(text: str) -> frozenset[str]:
    """The digests of a source cell as written and as released (hidden tests removed)."""
    return frozenset({_digest(text), _digest(without_hidden_tests(text))})


def _source_cell(cell: dict, grade_id: str) -> SourceCell:
    meta = nbgrader_meta(cell)
    text = cell_source(cell)
    return SourceCell(
        grade_id=grade_id,
        cell_type=str(cell.get("cell_type")),
        flags={key: _flag(meta, key) for key in GRADING_FLAGS},
        text=text,
        digests=_digests(text),
    )


def read_source(source_dir: Path) -> dict[str, SourceNotebook]:
    """Parse the instructor's notebooks once.

    Parameters
    ----------
    source_dir : Path
        The assignment's folder in ``source/``, holding ``*.ipynb``.

    Returns
    -------
    dict of str to SourceNotebook
        By file name, sorted.

    Raises
    ------
    ValueError
        If the folder holds no notebook, or one is not a readable notebook or repeats a
        grade_id: the source is the instructor's, and grading against a broken one is wrong.
    """
    source_dir = Path(source_dir)
    paths = sorted(source_dir.glob("*.ipynb"))
    if not paths:
        raise ValueError(f"source_dir={str(source_dir)!r} holds no .ipynb notebook")
    sources = {}
    for path in paths:
        try:
            nb = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(
                f"source notebook {str(path)!r} cannot be read as JSON: {err}"
            ) from err
        cells = nb.get("cells") if isinstance(nb, dict) else None
        if not isinstance(cells, list):
            raise ValueError(f"source notebook {str(path)!r} has no 'cells' list")
        cells = [cell for cell in cells if isinstance(cell, dict)]
        try:
            budget = load_budget(nb)
        except ValueError as err:
            raise ValueError(f"source notebook {str(path)!r}: {err}") from err
        graded: dict[str, SourceCell] = {}
        all_ids: set[str] = set()
        not_run: set[str] = set()
        for cell in cells:
            heavy = is_heavy(cell)
            if cell.get("cell_type") == "code" and (heavy or is_read_only(nbgrader_meta(cell))):
                not_run |= _digests(cell_source(cell))
            grade_id = nbgrader_meta(cell).get("grade_id")
            if not grade_id:
                continue
            if grade_id in all_ids:
                raise ValueError(f"source notebook {str(path)!r} repeats grade_id {grade_id!r}")
            all_ids.add(grade_id)
            if not heavy:
                graded[grade_id] = _source_cell(cell, grade_id)
        sources[path.name] = SourceNotebook(
            path.name, graded, frozenset(all_ids), prelude(cells), frozenset(not_run), budget
        )
    return sources


# --- finding the notebooks in a submission -----------------------------------------------


def _list_files(root: Path) -> list[str]:
    """Relative POSIX paths of everything in ``root`` that is not a folder; links not followed."""
    found: list[str] = []
    for current, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(current)
        linked = [d for d in dirnames if (here / d).is_symlink()]  # walk does not enter them
        dirnames[:] = sorted(d for d in dirnames if d not in IGNORED_NAMES and d not in linked)
        for name in sorted(filenames + linked):
            if name not in IGNORED_NAMES:
                found.append((here / name).relative_to(root).as_posix())
            if len(found) >= MAX_LISTED_FILES:
                return found
    return found


def _name_key(filename: str) -> str:
    """A notebook's name without the decorations downloads and copies add."""
    stem = filename[: -len(".ipynb")] if filename.lower().endswith(".ipynb") else filename
    stem = stem.lower().strip()
    stem = re.sub(r"(\s*\(\d+\)|[-_ ]copy\d*)+$", "", stem)  # "x (1)", "x-Copy1", "x_copy"
    return re.sub(r"[\s\-]+", "_", stem)


def _match_notebooks(expected: list[str], files: list[str]) -> dict[str, str]:
    """Expected name -> the submitted path to read for it, exact names first, then close ones."""
    matched = {name: name for name in expected if name in files}
    candidates = [f for f in files if f.lower().endswith(".ipynb") and f not in matched.values()]
    pairs = []
    for name in expected:
        if name in matched:
            continue
        for path in candidates:
            ratio = difflib.SequenceMatcher(
                None, _name_key(name), _name_key(path.rsplit("/", 1)[-1])
            ).ratio()
            if ratio >= CLOSE_NAME_RATIO:
                pairs.append((-ratio, path.count("/"), name, path))
    for _, _, name, path in sorted(pairs):  # most similar first, shallowest first
        if name not in matched and path not in matched.values():
            matched[name] = path
    return matched


# --- reading one notebook ------------------------------------------------------------------


def _load(path: Path, name: str, max_bytes: int) -> tuple[Any, list[Problem]]:
    """The parsed JSON of a submitted notebook, or None, and the problems met on the way."""

    def refused(kind: str, message: str, tamper: bool = False) -> tuple[None, list[Problem]]:
        return None, [Problem(kind, name, None, f"{name} {message}", tamper)]

    try:
        info = os.lstat(path)
    except OSError as err:
        return refused("not_a_file", f"could not be opened ({err.strerror}); submit it again.")
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISREG(info.st_mode):
        return refused(
            "not_a_file",
            "is a link or special file, not a notebook file; submit the notebook file itself.",
            tamper=True,
        )
    if info.st_size > max_bytes:
        return refused(
            "too_large",
            f"is {info.st_size / 2**20:.1f} MB, over the {max_bytes / 2**20:.0f} MB limit; "
            "clear all outputs (Edit > Clear Outputs of All Cells), save, and submit again.",
        )
    try:
        with open(path, "rb") as handle:
            raw = handle.read(max_bytes + 1)
    except OSError as err:
        return refused("not_a_file", f"could not be read ({err.strerror}); submit it again.")
    problems = []
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        problems.append(
            Problem(
                "not_utf8",
                name,
                None,
                f"{name} is not UTF-8 text (bad byte at offset {err.start}); "
                "save it from Jupyter, which writes UTF-8, and submit again.",
                False,
            )
        )
        text = raw.decode("latin-1")  # never fails: grade what can be read
    try:
        return json.loads(text), problems
    except (json.JSONDecodeError, RecursionError) as err:
        where = (
            f" (line {err.lineno}, column {err.colno}: {err.msg})"
            if isinstance(err, json.JSONDecodeError)
            else ""
        )
        problems.append(
            Problem(
                "corrupt_json",
                name,
                None,
                f"{name} is not valid JSON{where}, so it cannot be graded; "
                "check that it opens in Jupyter, save it, and submit again.",
                False,
            )
        )
        return None, problems


def _check_cell(src: SourceCell, cell: dict, name: str) -> list[Problem]:
    """What differs between a student's cell and the source cell with the same grade_id."""
    gid = src.grade_id
    what = "test cell" if src.is_test else "read-only cell" if src.read_only else "cell"
    problems = []
    if src.read_only and _digest(cell_source(cell)) not in src.digests:
        kind = "edited_test_cell" if src.is_test else "edited_locked_cell"
        problems.append(
            Problem(
                kind,
                name,
                gid,
                f"The {what} '{gid}' in {name} was changed; {what}s must stay "
                "as released, so copy it back from the released notebook.",
                True,
            )
        )
    meta = nbgrader_meta(cell)
    changed = [key for key in GRADING_FLAGS if _flag(meta, key) != src.flags[key]]
    if changed:
        details = ", ".join(
            f"{key}={_short(meta.get(key))} (released: {src.flags[key]!r})" for key in changed
        )
        problems.append(
            Problem(
                "changed_metadata",
                name,
                gid,
                f"The nbgrader settings of the {what} '{gid}' in {name} were "
                f"changed ({details}); restore the cell from the released "
                "notebook.",
                src.read_only or bool({"grade", "points"} & set(changed)),
            )
        )
    return problems


def _read_cells(nb: Any, src: SourceNotebook, intake: NotebookIntake) -> None:
    """Fill ``intake`` from a parsed notebook: solutions, and problems with the cells."""
    name = intake.name
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        old = isinstance(nb, dict) and "worksheets" in nb
        hint = "it is in the old nbformat 3; " if old else "it has no list of cells; "
        intake.problems.append(
            Problem(
                "not_a_notebook",
                name,
                None,
                f"{name} is JSON but not a Jupyter notebook ({hint}"
                "submit the .ipynb file saved by Jupyter).",
                False,
            )
        )
        intake.status = "unreadable"
        return
    by_id: dict[str, list[dict]] = {}
    for cell in cells:
        if not isinstance(cell, dict):
            continue
        gid = nbgrader_meta(cell).get("grade_id")
        if gid is None:
            continue
        if not isinstance(gid, str) or gid not in src.all_grade_ids:
            intake.problems.append(
                Problem(
                    "unknown_grade_id",
                    name,
                    str(gid)[:200],
                    f"{name} has a cell with grade_id {_short(gid)}, "
                    "which the assignment does not have; remove its "
                    "nbgrader settings or the cell.",
                    True,
                )
            )
            continue
        by_id.setdefault(gid, []).append(cell)
    for gid, scell in src.cells.items():
        what = "test cell" if scell.is_test else "answer cell" if scell.is_solution else "cell"
        found = by_id.get(gid, [])
        if not found:
            intake.problems.append(
                Problem(
                    "missing_cell",
                    name,
                    gid,
                    f"The {what} '{gid}' is missing from {name}; copy it "
                    "back from the released notebook (and put your answer "
                    "in it).",
                    not scell.is_solution,
                )
            )
            continue
        if len(found) > 1:
            intake.problems.append(
                Problem(
                    "duplicate_grade_id",
                    name,
                    gid,
                    f"{name} has {len(found)} cells with grade_id '{gid}'; "
                    "keep only the original cell and delete the copies.",
                    True,
                )
            )
        same_type = [cell for cell in found if cell.get("cell_type") == scell.cell_type]
        if not same_type:
            now = _short(found[0].get("cell_type")).strip("'")
            intake.problems.append(
                Problem(
                    "retyped_cell",
                    name,
                    gid,
                    f"The {what} '{gid}' in {name} was changed from "
                    f"{scell.cell_type} to {now}; "
                    f"change it back to a {scell.cell_type} cell.",
                    True,
                )
            )
            continue
        cell = same_type[0]
        intake.problems.extend(_check_cell(scell, cell, name))
        if scell.is_solution and scell.cell_type == "code":
            intake.solutions[gid] = cell_source(cell)
    intake.program = _program(cells, src)


def _program(cells: list, src: SourceNotebook) -> list[CodeCell]:
    """What the student ran: the setup, then their code cells (see :class:`NotebookIntake`)."""
    labels, texts = [], []
    labelled: set[str] = set()
    for number, cell in enumerate(cells, 1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code" or is_heavy(cell):
            continue
        meta = nbgrader_meta(cell)
        gid = meta.get("grade_id")
        gid = gid if isinstance(gid, str) else None  # an unhashable grade_id is just a cell
        known = src.cells.get(gid) if gid is not None else None
        if gid in src.all_grade_ids and known is None:
            continue  # a heavy cell of the source
        if is_read_only(meta) or (known is not None and known.read_only):
            continue
        text = cell_source(cell)
        if not text.strip() or _digest(text) in src.not_run:
            continue
        solution = known is not None and known.is_solution and known.cell_type == "code"
        if solution and gid not in labelled:
            labelled.add(gid)
            label = gid
        else:
            label = f"cell {number}"
        labels.append(label)
        texts.append(text)
    codes = cells_to_python(texts)
    return [setup_cell(src.prelude)] + [CodeCell(*cell) for cell in zip(labels, codes, strict=True)]


def _read_notebook(path: Path, src: SourceNotebook, max_bytes: int) -> NotebookIntake:
    intake = NotebookIntake(src.name, "ok", {}, src.prelude, [], load_budget=src.load_budget)
    nb, intake.problems = _load(path, src.name, max_bytes)
    if nb is None:
        intake.status = "unreadable"
        return intake
    _read_cells(nb, src, intake)
    if intake.status == "ok" and intake.problems:
        intake.status = "problems"
    return intake


# --- the whole submission -------------------------------------------------------------------


def _extra_file_problems(files: list[str], used: set[str]) -> list[Problem]:
    extra = [f for f in files if f not in used]
    problems = [
        Problem(
            "extra_file",
            path,
            None,
            f"'{path}' is not part of the assignment and was not graded; "
            "leave it out of future submissions.",
            False,
        )
        for path in extra[:MAX_EXTRA_FILE_PROBLEMS]
    ]
    if len(extra) > MAX_EXTRA_FILE_PROBLEMS:
        more = len(extra) - MAX_EXTRA_FILE_PROBLEMS
        problems.append(
            Problem(
                "extra_file",
                "",
                None,
                f"{more} more files are not part of the assignment and were not "
                "graded; submit only the notebooks.",
                False,
            )
        )
    return problems


def read_submission(
    submission_dir: Path,
    sources: dict[str, SourceNotebook],
    student_id: str,
    *,
    max_bytes: int = MAX_NOTEBOOK_BYTES,
) -> SubmissionIntake:
    """Read one student's submitted notebooks and list everything wrong with them.

    Parameters
    ----------
    submission_dir : Path
        ``submitted/<student_id>/<assignment>/``.
    sources : dict of str to SourceNotebook
        From :func:`read_source`.
    student_id : str
    max_bytes : int, default 20 MB
        A notebook larger than this is reported as ``too_large`` and not parsed.

    Returns
    -------
    SubmissionIntake
        Never raises on the submission's content; a missing folder reads as empty.
    """
    submission_dir = Path(submission_dir)
    files = _list_files(submission_dir) if submission_dir.is_dir() else []
    matches = _match_notebooks(list(sources), files)
    notebooks: dict[str, NotebookIntake] = {}
    for name, src in sources.items():
        path = matches.get(name)
        if path is None:
            problem = Problem(
                "missing_notebook",
                name,
                None,
                f"{name} is missing from your submission; submit it under exactly this name.",
                False,
            )
            notebooks[name] = NotebookIntake(
                name, "missing", {}, src.prelude, [problem], load_budget=src.load_budget
            )
            continue
        intake = _read_notebook(submission_dir / path, src, max_bytes)
        if path != name:
            intake.problems.insert(
                0,
                Problem(
                    "misnamed_notebook",
                    name,
                    None,
                    f"'{path}' was graded as {name}; next time submit "
                    f"it under exactly the name {name}.",
                    False,
                ),
            )
            if intake.status == "ok":
                intake.status = "problems"
        notebooks[name] = intake
    problems = [p for nb in notebooks.values() for p in nb.problems]
    problems += _extra_file_problems(files, set(matches.values()))
    if all(nb.status == "missing" for nb in notebooks.values()):
        status = "empty"
    else:
        status = "problems" if problems else "ok"
    return SubmissionIntake(student_id, notebooks, problems, status)


def student_code(nb: NotebookIntake) -> str:
    """The setup and the solution cells as one module: what runs until the executor runs
    :attr:`NotebookIntake.program` cell by cell.

    Parameters
    ----------
    nb : NotebookIntake

    Returns
    -------
    str
        The setup cell (the ``get_ipython()`` stub, then the prelude), then for each solution
        cell in source order a line ``# grade_id: <id>`` followed by the student's code through
        :func:`autograder.notebook.to_python` (unchanged when it holds no IPython syntax).
    """
    parts = [setup_cell(nb.prelude).code.rstrip("\n")]
    parts += [
        f"# grade_id: {gid}\n{to_python(code).rstrip()}" for gid, code in nb.solutions.items()
    ]
    return "\n\n\n".join(parts) + "\n"
