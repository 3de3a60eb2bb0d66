"""Similarity of a class's submissions: which pairs of students handed in the same code.

A screening aid, not a verdict: every pair of students is scored by how much of their solution
code is the same once names, comments and layout are taken away, and the pairs at the top are
shown side by side for a person to read.

- :func:`read_starter` is the code students were given (the release notebooks' code cells);
  it never counts as shared.
- :func:`read_solution_code` takes one student's own code out of their notebooks, read as
  JSON and never run: the nbgrader solution cells, and the code cells the student added.
- :func:`fingerprint` and :func:`score_pairs` compare that code with copydetect: pygments
  tokens with every name replaced by one letter, comments and whitespace dropped (copydetect's
  ``filter_code``), then MOSS's winnowed k-gram fingerprints. Starter code never counts: its
  k-grams are removed as boilerplate, and the lines of it a student kept are commented out
  first (:func:`mask_starter_lines`), so that no k-gram joins them to the student's own.
- :func:`write_csv` and :func:`write_html` write the report; :func:`similarity_report` runs
  all of them for one assignment.

copydetect 0.5.0 is used as published, with three repairs made here (see :func:`fingerprint`):
its boilerplate removal also drops repeated fingerprints that are not boilerplate, its
highlight offsets are wrong after a class name, and they drift on CRLF line ends. Its HTML
highlighter is not used: it leaves code unescaped when nothing matched (:func:`highlighted`).

Imports: the standard library; :mod:`autograder.notebook` and :mod:`autograder.intake` (its
size limit) for reading notebooks; copydetect, pygments and NumPy on first use only
(importing copydetect imports matplotlib, about a second).
"""

from __future__ import annotations

import csv
import functools
import html
import io
import itertools
import json
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.intake import MAX_NOTEBOOK_BYTES
from autograder.notebook import (
    cell_source,
    is_code,
    is_solution,
    is_test,
    nbgrader_meta,
    without_hidden_tests,
)

NOISE_CHARS = 35
"""copydetect's noise threshold k: the shortest match, in characters of filtered code, that
counts (copydetect's default is 25). Filtered code is dense: two nested loops, ``for i in
range(Ho):`` and ``for j in range(Wo):``, are ``forVinrange(V):forVinrange(V):``, 30
characters, and in an assignment of loops every student writes them. At 25 they made honest
pairs of the test class score up to 0.37; at 35, 0.16, while the disguised copy kept 1.0."""
GUARANTEE_CHARS = 35
"""copydetect's guarantee threshold: a match this long is always found. Equal to
:data:`NOISE_CHARS`, the winnowing window is 1 and every k-gram is a fingerprint: a class's
code is small enough to keep them all."""
MIN_CODE_CHARS = 200
"""A student's share of matched code is taken over at least this many filtered characters
(about ten lines), so that a student who wrote two lines of their own cannot score 1 with
everyone who wrote the same two lines."""
TOP_PAIRS = 10
"""The HTML report shows the code of this many pairs at the top (those that share any)."""
SCORE_DECIMALS = 4
MAX_CODE_CHARS = 200_000
"""Past this many characters (several thousand lines), a student's code is not compared."""
CSV_NAME = "similarity.csv"
HTML_NAME = "similarity.html"
CSV_COLUMNS = ("student_a", "student_b", "score")

# nbgrader's ClearSolutions writes this in place of a ### BEGIN/END SOLUTION region.
_NBGRADER_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
_SOLUTION_REGION = re.compile(
    r"^([ \t]*)### BEGIN SOLUTION.*?^[ \t]*### END SOLUTION[^\n]*\n?", re.M | re.S
)
# A name the Python lexer sees as a name only when the code before it closed its strings.
_SENTINEL = "_similarity_lexer_sentinel_"


@dataclass(frozen=True)
class Starter:
    """The code students were given, never counted as shared.

    Attributes
    ----------
    cells : tuple of str
        Every code cell of the release notebooks (solution cells with their stubs), in
        notebook order.
    untouched : str
        The release as :func:`read_solution_code` reads a student who changed nothing: its
        solution cells one after the other. Its k-grams across two cells are starter code too.
    origin : str
        Where they came from, for the report: ``release/convnets (4 notebooks)``, or the
        source notebooks with their solutions cut out when there is no release, or nothing.
    """

    cells: tuple[str, ...]
    untouched: str
    origin: str

    @property
    def text(self) -> str:
        return "\n\n".join((*self.cells, self.untouched))

    @property
    def lines(self) -> frozenset[str]:
        """Its lines, stripped, that :func:`mask_starter_lines` may blank: not blank, and
        without a triple quote (blanking one could leave a docstring open)."""
        return frozenset(
            line.strip() for cell in self.cells for line in cell.split("\n")
            if line.strip() and '"""' not in line and "'''" not in line
        )


@dataclass(frozen=True)
class SolutionCode:
    """One student's own code, all notebooks in one document.

    Attributes
    ----------
    student : str
    code : str
        For each solution cell and added code cell, in notebook and cell order, a comment line
        ``# ===== <notebook>: <grade_id or cell N> =====`` and the cell's code. Empty when
        nothing could be read. Line ends are ``\\n``.
    notebooks : tuple of str
        The notebooks read.
    skipped : tuple of (str, str)
        (file or cell, why) for what was left out: unreadable files, cells that would hide
        the rest of the code from the tokenizer, code past :data:`MAX_CODE_CHARS`.
    """

    student: str
    code: str
    notebooks: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Pair:
    """Two students and how much of their code is the same.

    Attributes
    ----------
    student_a, student_b : str
        ``student_a < student_b``.
    score : float in [0, 1]
        ``max(share_a, share_b)``, rounded to :data:`SCORE_DECIMALS` decimals.
    share_a : float in [0, 1]
        The part of a's own code (fingerprinted filtered characters, starter code excluded)
        that lies in matches with b's: copydetect's similarity of a to b, except that the
        denominator is at least :data:`MIN_CODE_CHARS`.
    share_b : float in [0, 1]
        The same for b.
    own_a, own_b : int
        Each student's own code in filtered characters (copydetect's token coverage after the
        starter code is removed); 0 for a student who handed in only the starter code.
    spans_a, spans_b : tuple of (int, int)
        Character ranges of ``SolutionCode.code`` of each student that match the other's.
    """

    student_a: str
    student_b: str
    score: float
    share_a: float
    share_b: float
    own_a: int
    own_b: int
    spans_a: tuple[tuple[int, int], ...]
    spans_b: tuple[tuple[int, int], ...]


# --- what students were given --------------------------------------------------------------


def read_starter(course_dir: Path, assignment: str) -> Starter:
    """The starter code: every code cell of ``release/<assignment>/*.ipynb``.

    Without a release, the source notebooks' code cells other than tests, each ``### BEGIN
    SOLUTION`` region replaced by nbgrader's stub (as ``nbgrader generate_assignment`` would
    write it). Without either, no starter code, and the report says so.

    Raises
    ------
    ValueError
        If an instructor's notebook is not a readable notebook (it is trusted: a broken one
        is a mistake to fix, not a file to skip).
    """
    course_dir = Path(course_dir)
    notebooks = []
    release = sorted((course_dir / "release" / assignment).glob("*.ipynb"))
    source = sorted((course_dir / "source" / assignment).glob("*.ipynb"))
    if release:
        notebooks = [(path.name, _trusted_cells(path)) for path in release]
        origin = f"release/{assignment} ({len(release)} notebooks)"
    elif source:
        for path in source:
            cells = []
            for cell in _trusted_cells(path):
                meta = nbgrader_meta(cell)
                if is_test(meta):
                    continue
                text = without_hidden_tests(cell_source(cell))
                if is_solution(meta):
                    text, found = _SOLUTION_REGION.subn(_indented_stub, text)
                    text = text if found else _NBGRADER_STUB
                cells.append({**cell, "source": text})
            notebooks.append((path.name, cells))
        origin = f"source/{assignment} with the solutions cut out ({len(source)} notebooks)"
    else:
        origin = f"none: neither release/{assignment} nor source/{assignment} has notebooks"
    texts = tuple(cell_source(c) for _, cells in notebooks for c in cells if is_code(c))
    untouched, _ = _document(notebooks, {t.strip() for t in texts})
    return Starter(texts, untouched, origin)


def _indented_stub(match: re.Match) -> str:
    indent = match.group(1)
    return "".join(f"{indent}{line}\n" for line in _NBGRADER_STUB.split("\n"))


def _trusted_cells(path: Path) -> list[dict[str, Any]]:
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise ValueError(f"instructor's notebook {path} cannot be read: {err}") from err
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        raise ValueError(f"instructor's notebook {path} has no list of cells")
    return [c for c in cells if isinstance(c, dict)]


# --- what a student wrote ------------------------------------------------------------------


def read_solution_code(folder: Path, student: str, starter: Starter) -> SolutionCode:
    """A student's own code from ``submitted/<student>/<assignment>/*.ipynb``.

    A cell is the student's when it is a code cell marked ``solution: true`` in its nbgrader
    metadata, or a code cell without nbgrader metadata that is not one of the release's own
    cells as given (a cell the student added, or a release cell they changed). Notebooks are
    parsed as JSON and nothing is run; a file that is missing, a link, too large, not UTF-8,
    not JSON or not a notebook is skipped and listed. Never raises on a student's files.
    """
    folder = Path(folder)
    paths = sorted(folder.glob("*.ipynb")) if folder.is_dir() else []
    notebooks, skipped = [], []
    if not paths:
        why = "no notebooks in it" if folder.is_dir() else "no such folder"
        skipped.append((f"{folder.name}/", why))
    for path in paths:
        cells, why = _student_cells(path)
        if cells is None:
            skipped.append((path.name, why))
        else:
            notebooks.append((path.name, cells))
    code, left_out = _document(notebooks, {text.strip() for text in starter.cells})
    skipped += left_out
    if len(code) > MAX_CODE_CHARS:
        skipped.append(("code", f"past {MAX_CODE_CHARS} characters, not compared"))
        code = code[:MAX_CODE_CHARS]
    return SolutionCode(student, code, tuple(name for name, _ in notebooks), tuple(skipped))


def _document(
    notebooks: list[tuple[str, list[dict]]], given: set[str]
) -> tuple[str, list[tuple[str, str]]]:
    """The student's cells of each notebook as one document (see :class:`SolutionCode`),
    and the cells left out.

    One document per submission, not one per notebook: a score is then the part of all of a
    student's code that matches, so that sharing one notebook weighs as much as that
    notebook's code does, and a short notebook (pooling is twenty lines) is not a chance of
    its own to match by common idioms. Copying cells across notebooks or out of order still
    matches, fingerprints being positionless.
    """
    parts, skipped = [], []
    for name, cells in notebooks:
        for number, cell in enumerate(cells, start=1):
            meta = nbgrader_meta(cell)
            text = cell_source(cell).replace("\r\n", "\n").replace("\r", "\n")
            own = is_solution(meta) or (not meta and text.strip() not in given)
            if not is_code(cell) or not own or not text.strip():
                continue
            label = f"{_one_line(name)}: {_cell_name(meta.get('grade_id'), number)}"
            if not _closes_its_strings(text):
                # An unterminated triple-quoted string would turn every later cell into one
                # string token, hiding it from the comparison.
                skipped.append((label, "a string that never ends; the cell was left out"))
                continue
            parts.append(f"# ===== {label} =====\n{text.rstrip()}\n")
    return "\n".join(parts), skipped


def _cell_name(grade_id: Any, number: int) -> str:
    """A cell's grade_id, or ``cell N``: a student's metadata may hold anything."""
    if not isinstance(grade_id, str) or not grade_id.strip():
        return f"cell {number}"
    return _one_line(grade_id)


def _one_line(text: str) -> str:
    # The label goes into a comment line: a newline in it would turn the rest into code.
    return re.sub(r"\s+", " ", text).strip()[:80]


def _student_cells(path: Path) -> tuple[list[dict] | None, str]:
    """(cells, "") of a submitted notebook, or (None, why it cannot be read)."""
    try:
        info = os.lstat(path)
    except OSError as err:
        return None, f"cannot be opened ({err.strerror})"
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISREG(info.st_mode):
        return None, "a link, folder or special file, not a notebook file"
    if info.st_size > MAX_NOTEBOOK_BYTES:
        return None, f"{info.st_size / 2**20:.1f} MB, over the {MAX_NOTEBOOK_BYTES >> 20} MB limit"
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_NOTEBOOK_BYTES + 1)
    except OSError as err:
        return None, f"cannot be read ({err.strerror})"
    if len(raw) > MAX_NOTEBOOK_BYTES:
        return None, f"over the {MAX_NOTEBOOK_BYTES >> 20} MB limit"
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        return None, f"not UTF-8 text (bad byte at offset {err.start})"
    try:
        nb = json.loads(text)
    except json.JSONDecodeError as err:
        return None, f"not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})"
    except RecursionError:
        return None, "not valid JSON (nested too deeply)"
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        return None, "not a notebook (no list of cells)"
    return [c for c in cells if isinstance(c, dict)], ""


def _closes_its_strings(code: str) -> bool:
    from pygments import lexers, token

    tokens = lexers.get_lexer_by_name("python").get_tokens(f"{code}\n{_SENTINEL}\n")
    return any(kind in token.Name and value == _SENTINEL for kind, value in tokens)


# --- comparing -----------------------------------------------------------------------------


def starter_line_spans(code: str, lines: frozenset[str]) -> list[tuple[int, int]]:
    """(start, end) of each line of ``code`` that is, stripped, one of ``lines``
    (:attr:`Starter.lines`), from its first non-blank character to its end."""
    spans, at = [], 0
    for line in code.split("\n"):
        text = line.strip()
        if text and text in lines:
            start = at + len(line) - len(line.lstrip())
            spans.append((start, start + len(text)))
        at += len(line) + 1
    return spans


def mask_starter_lines(code: str, lines: frozenset[str]) -> str:
    """``code`` with each line that is, stripped, a line of the starter code made a comment.

    Boilerplate removal drops the k-grams that lie within starter code, but a k-gram that
    straddles a starter line and the student's next line (the docstring, then
    ``x, w, b, conv_param = cache``) is the student's, and every student who kept the
    docstring has it. A commented line is dropped by the tokenizer, so the k-grams then join
    the student's own lines only. The first character of the line becomes ``#``: the code
    keeps its length, and copydetect's spans still index the code as written.
    """
    chars = list(code)
    for start, _ in starter_line_spans(code, lines):
        chars[start] = "#"
    return "".join(chars)


def boilerplate_hashes(starter: Starter, noise: int = NOISE_CHARS) -> frozenset[int]:
    """Every k-gram hash of the filtered starter code, as copydetect takes boilerplate
    (``CopyDetector._get_boilerplate_hashes``: a window of 1, so no k-gram is skipped)."""
    return _boilerplate(starter.text, noise) if starter.cells else frozenset()


@functools.lru_cache(maxsize=4)
def _boilerplate(text: str, noise: int) -> frozenset[int]:
    return frozenset(int(h) for h in fingerprint(text, frozenset(), noise, noise).hashes)


def fingerprint(
    code: str, boilerplate: frozenset[int], noise: int = NOISE_CHARS,
    guarantee: int = GUARANTEE_CHARS,
) -> Any:
    """copydetect's ``CodeFingerprint`` of Python code, with the boilerplate removed.

    Three things copydetect 0.5.0 gets wrong are put right here:

    - Its own boilerplate removal (``np.intersect1d(..., assume_unique=True)`` over a list of
      fingerprints that may repeat) also deletes all but one occurrence of every repeated
      fingerprint, boilerplate or not, shrinking a student's own code and its matches. The
      fingerprint is made without boilerplate, and the boilerplate removed here.
    - ``filter_code`` records a class name's length instead of the characters removed before
      it, so a match that starts or ends at a class name is drawn far from where it is.
    - pygments turns CRLF and CR into LF and strips leading newlines before tokenizing, but
      the offsets are applied to the code as given: the code is normalised first.

    Parameters
    ----------
    code : str
    boilerplate : frozenset of int
        From :func:`boilerplate_hashes`; hashes are Python's ``hash`` of strings, so they
        are only valid within one process.
    noise, guarantee : int
        copydetect's thresholds; the winnowing window is ``guarantee - noise + 1``.

    Returns
    -------
    copydetect.CodeFingerprint
        ``raw_code`` is the normalised code, which the offsets and spans refer to.
    """
    from copydetect import CodeFingerprint
    from copydetect.utils import get_token_coverage

    code = fingerprint_text(code)
    fp = CodeFingerprint("solution.py", noise, guarantee - noise + 1, fp=io.StringIO(code),
                         language="python")
    _repair_class_offsets(fp)
    if boilerplate:
        fp.hash_idx = {h: i for h, i in fp.hash_idx.items() if int(h) not in boilerplate}
        fp.hashes = set(fp.hash_idx)
        fp.token_coverage = get_token_coverage(fp.hash_idx, fp.k, len(fp.filtered_code))
    return fp


def _repair_class_offsets(fp: Any) -> None:
    # offsets[r] = (index in the filtered code, characters removed before it). For a class
    # name (filtered "class" + "O") copydetect stores len(name) - 1 where that count belongs;
    # the next row stores the count plus len(name) - 1, which gives the count back.
    rows, filtered = fp.offsets, fp.filtered_code
    for r in range(1, len(rows) - 1):
        at = int(rows[r, 0])
        if (
            rows[r - 1, 0] != at
            and filtered[at : at + 1] == "O"
            and filtered[max(at - 5, 0) : at] == "class"
        ):
            rows[r, 1] = rows[r + 1, 1] - rows[r, 1]


def score_pairs(
    codes: list[SolutionCode], starter: Starter, *, noise: int = NOISE_CHARS,
    guarantee: int = GUARANTEE_CHARS, min_code_chars: int = MIN_CODE_CHARS,
) -> list[Pair]:
    """Every unordered pair of students with code, scored, best first (ties by ids).

    Parameters
    ----------
    codes : list of SolutionCode
        Students without code (``code == ""``) are left out.
    starter : Starter
    noise, guarantee : int
        copydetect's noise and guarantee thresholds (see :data:`NOISE_CHARS`).
    min_code_chars : int
        See :data:`MIN_CODE_CHARS`.

    Returns
    -------
    list of Pair
        Sorted by score descending, then ``student_a``, then ``student_b``.
    """
    from copydetect import compare_files

    boilerplate, given = boilerplate_hashes(starter, noise), starter.lines
    prints = {
        c.student: fingerprint(mask_starter_lines(fingerprint_text(c.code), given), boilerplate,
                               noise, guarantee)
        for c in sorted(codes, key=lambda c: c.student) if c.code
    }
    pairs = []
    for a, b in itertools.combinations(prints, 2):
        fa, fb = prints[a], prints[b]
        _, (sim_a, sim_b), (slices_a, slices_b) = compare_files(fa, fb)
        # copydetect's similarity is matched / own coverage; the floor keeps tiny code honest.
        own_a, own_b = int(fa.token_coverage), int(fb.token_coverage)
        share_a = min(1.0, float(sim_a) * own_a / max(own_a, min_code_chars, 1))
        share_b = min(1.0, float(sim_b) * own_b / max(own_b, min_code_chars, 1))
        pairs.append(Pair(
            a, b, round(max(share_a, share_b), SCORE_DECIMALS), share_a, share_b, own_a, own_b,
            _spans(slices_a), _spans(slices_b),
        ))
    pairs.sort(key=lambda p: (-p.score, p.student_a, p.student_b))
    return pairs


def _spans(slices: Any) -> tuple[tuple[int, int], ...]:
    """copydetect's 2 x n (starts, ends) array as (start, end) pairs."""
    if len(slices) == 0 or len(slices[0]) == 0:
        return ()
    return tuple((int(s), int(e)) for s, e in zip(slices[0], slices[1], strict=True))


# --- the report ----------------------------------------------------------------------------


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8", newline="")
    os.replace(tmp, path)


def write_csv(pairs: list[Pair], path: Path) -> None:
    """``student_a,student_b,score``, one row per pair in the order given (header only when
    there are none); scores with :data:`SCORE_DECIMALS` decimals."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for p in pairs:
        writer.writerow([p.student_a, p.student_b, f"{p.score:.{SCORE_DECIMALS}f}"])
    _atomic_write(Path(path), out.getvalue())


def highlighted(
    code: str, spans: tuple[tuple[int, int], ...], given: list[tuple[int, int]] = ()
) -> str:
    """``code`` as HTML: matched spans in ``<mark>``, starter lines (``given``) greyed and
    never marked; everything escaped.

    copydetect's ``highlight_overlap`` escapes too, except when there is nothing to highlight:
    then it returns the code as it is. This one escapes in every case.
    """
    cuts = sorted({0, len(code), *(i for span in (*spans, *given) for i in span)})
    out = []
    for start, end in itertools.pairwise(c for c in cuts if 0 <= c <= len(code)):
        text = html.escape(code[start:end])
        if any(a <= start and end <= b for a, b in given):
            out.append(f"<span class='given'>{text}</span>")
        elif text.strip() and any(a <= start and end <= b for a, b in spans):
            out.append(f"<mark>{text}</mark>")
        else:
            out.append(text)
    return "".join(out)


_STYLE = """
body { font-family: sans-serif; margin: 1.5em; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 0.2em 0.6em; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.side { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; }
.side pre { background: #f7f7f7; padding: 0.5em; overflow: auto; max-height: 40em;
            font-size: 0.85em; white-space: pre; }
mark { background: #ffd27a; }
.given { color: #999; }
"""


def write_html(
    pairs: list[Pair], codes: list[SolutionCode], starter: Starter, path: Path,
    assignment: str, *, top: int = TOP_PAIRS,
) -> None:
    """The report page: the ``top`` best pairs that share any code, their code side by side
    with the matched code marked; then the students with only starter code, the students not
    compared (no readable solution code), and the files and cells skipped."""
    esc = html.escape
    compared = [c for c in codes if c.code]
    shown = [p for p in pairs if p.score > 0][: max(top, 0)]
    body = [f"<h1>Code similarity: {esc(assignment)}</h1>"]
    if len(compared) < 2:
        body.append(f"<p>Fewer than two students have readable solution code "
                    f"({len(compared)}): nothing to compare.</p>")
    else:
        body.append(
            f"<p>{len(compared)} students, {len(pairs)} pairs (all in {CSV_NAME}). A pair's "
            "score is the larger of the two parts of each student's own code (starter code "
            "excluded) that the other's code matches, after names, comments and layout are "
            "taken away. A high score says: read these two side by side. It is not a "
            "verdict.</p>"
        )
        if not shown:
            body.append("<p>No two students share any code beyond the starter code.</p>")
    if shown:
        body.append("<table><tr><th>#</th><th>student a</th><th>student b</th><th>score</th>"
                    "<th>a's code matched</th><th>b's code matched</th></tr>")
        body += [
            f"<tr><td><a href='#pair-{rank}'>{rank}</a></td><td>{esc(p.student_a)}</td>"
            f"<td>{esc(p.student_b)}</td><td class='num'>{p.score:.{SCORE_DECIMALS}f}</td>"
            f"<td class='num'>{p.share_a:.0%}</td><td class='num'>{p.share_b:.0%}</td></tr>"
            for rank, p in enumerate(shown, start=1)
        ]
        body.append("</table>")
    code_of = {c.student: fingerprint_text(c.code) for c in compared}
    for rank, p in enumerate(shown, start=1):
        body.append(f"<h2 id='pair-{rank}'>{rank}. {esc(p.student_a)} and {esc(p.student_b)}: "
                    f"{p.score:.{SCORE_DECIMALS}f}</h2><div class='side'>")
        for student, share, own, spans in ((p.student_a, p.share_a, p.own_a, p.spans_a),
                                           (p.student_b, p.share_b, p.own_b, p.spans_b)):
            code = code_of[student]
            marked = highlighted(code, spans, starter_line_spans(code, starter.lines))
            body.append(f"<div><h3>{esc(student)}: {share:.0%} of {own} characters of own "
                        f"code matched</h3><pre>{marked}</pre></div>")
        body.append("</div>")
    own = {s: n for p in pairs for s, n in ((p.student_a, p.own_a), (p.student_b, p.own_b))}
    lists = (
        ("Only the starter code", "Their code is all starter code; they score 0 with everyone:",
         [s for s, n in sorted(own.items()) if n == 0]),
        ("Not compared", "No readable solution code:", [c.student for c in codes if not c.code]),
        ("Skipped", "Left out of the comparison:",
         [f"{c.student}: {what}: {why}" for c in codes for what, why in c.skipped]),
    )
    for title, intro, items in lists:
        if items:
            body.append(f"<h2>{title}</h2><p>{intro}</p><ul>"
                        + "".join(f"<li>{esc(item)}</li>" for item in items) + "</ul>")
    body.append(f"<p>Starter code, never counted: {esc(starter.origin)}.</p>")
    page = (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>Code similarity: {esc(assignment)}</title><style>{_STYLE}</style></head>"
        "<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
    _atomic_write(Path(path), page)


def fingerprint_text(code: str) -> str:
    """The code as :func:`fingerprint` reads it, which the spans of a :class:`Pair` index."""
    return code.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff\n")


# --- one call ------------------------------------------------------------------------------


def _student_ids(submitted: Path, students: Iterable[str] | None) -> list[str]:
    if students is None:
        if not submitted.is_dir():
            return []
        return sorted(p.name for p in submitted.iterdir()
                      if p.is_dir() and not p.is_symlink() and not p.name.startswith("."))
    ids = sorted(set(students))
    for s in ids:
        if not isinstance(s, str) or s in ("", ".", "..") or any(c in s for c in "/\\\0"):
            raise ValueError(f"students must be folder names under submitted/; got {s!r}")
    return ids


def similarity_report(
    course_dir: Path | str, assignment: str, out_dir: Path | str,
    students: Iterable[str] | None = None, *, top: int = TOP_PAIRS,
    noise: int = NOISE_CHARS, guarantee: int = GUARANTEE_CHARS,
) -> list[Pair]:
    """Score every pair of students of one assignment; write ``similarity.csv`` and
    ``similarity.html`` into ``out_dir``.

    Parameters
    ----------
    course_dir : path
        An nbgrader course: ``submitted/<student>/<assignment>/*.ipynb``, and
        ``release/<assignment>/*.ipynb`` (or ``source/``) for the starter code.
    assignment : str
    out_dir : path
        Created if absent.
    students : iterable of str, optional
        Only these students (folder names under ``submitted/``); default all of them.
    top : int, default :data:`TOP_PAIRS`
        Pairs whose code the HTML page shows.
    noise, guarantee : int
        copydetect's thresholds, see :data:`NOISE_CHARS` and :data:`GUARANTEE_CHARS`.

    Returns
    -------
    list of Pair
        Every pair of students with readable solution code, best first (ties by ids). A
        pair's score is ``max(share_a, share_b)``: the part of each student's own code that
        lies in matches with the other's, copydetect's two directional similarities (with a
        floor of :data:`MIN_CODE_CHARS` on each denominator). The larger, not the mean: a
        student who hands in one notebook copied from another's four, and nothing else, scores
        as a copy. Fewer than two such students: no pairs, a CSV with its header only, a page
        saying so.

    Raises
    ------
    ValueError
        For a bad argument, or an instructor's notebook that cannot be read.
    """
    if not isinstance(noise, int) or noise < 1:
        raise ValueError(f"noise must be a positive number of characters; got {noise!r}")
    if not isinstance(guarantee, int) or guarantee < noise:
        raise ValueError(f"guarantee must be an integer >= noise={noise}; got {guarantee!r}")
    course_dir, out_dir = Path(course_dir), Path(out_dir)
    starter = read_starter(course_dir, assignment)
    submitted = course_dir / "submitted"
    codes = [read_solution_code(submitted / s / assignment, s, starter)
             for s in _student_ids(submitted, students)]
    pairs = score_pairs(codes, starter, noise=noise, guarantee=guarantee)
    write_csv(pairs, out_dir / CSV_NAME)
    write_html(pairs, codes, starter, out_dir / HTML_NAME, assignment, top=top)
    return pairs
