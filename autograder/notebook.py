"""Reading notebooks: the one module that knows cells, nbgrader metadata, tags and IPython syntax.

Everything else in the autograder asks this module how to read a notebook (intake, references,
static checks, tamper signs), so that a cell means the same thing everywhere:

- a cell's source, nbgrader metadata and tags (:func:`cell_source`, :func:`nbgrader_meta`,
  :func:`is_heavy`), and which cells are the instructor's read-only ones (:func:`is_read_only`);
- the instructor's setup code (:func:`prelude`);
- IPython syntax as Python (:func:`to_python`), written by IPython's own input transformer,
  exactly as the student's kernel did before running the cell. Magics and shell lines become
  calls to ``get_ipython()``; outside a kernel, :data:`IPYTHON_STUB` answers them.

Notebooks are plain JSON here, never nbformat objects: a student's file may be anything.

Imports: the standard library; IPython's input transformer, on first use and on the grader's
side only (the stub that runs in the student's process imports nothing of IPython).
"""

from __future__ import annotations

import ast
import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HEAVY_TAG = "heavy"
"""Cells with this tag (training, timing, plots) are never part of a graded program."""

LOAD_BUDGET_SECONDS = 30.0
"""Wall-clock budget for running one notebook's program (setup and every student cell) before
its tests. A source notebook may set its own in its metadata, ``{"autograder":
{"load_budget_seconds": 60}}`` (see :func:`load_budget`)."""

SETUP_LABEL = "setup"
"""The label of the first cell of a program: the stub, then the source notebook's imports."""

# IPython magics that run their Python body in the user's namespace; the stub runs it too,
# so that a function defined under %%time or %%capture exists afterwards, as in the kernel.
_BODY_MAGICS = ("time", "capture")

IPYTHON_STUB = f'''\
class _GraderShell:
    """What get_ipython() returns when graded: magics and shell commands do nothing, except
    that %time, %%time and %%capture run their Python body, as they do in a kernel."""

    def run_line_magic(self, name, line, _stack_depth=1):
        if name in {_BODY_MAGICS!r}:
            import sys
            caller = sys._getframe(1)
            exec(compile(line, "<%" + name + ">", "exec"), caller.f_globals, caller.f_locals)

    def run_cell_magic(self, name, line, cell):
        if name in {_BODY_MAGICS!r}:
            import sys
            caller = sys._getframe(1)
            exec(compile(cell, "<%%" + name + ">", "exec"), caller.f_globals, caller.f_locals)

    def magic(self, line):
        return None

    def system(self, cmd):
        return None

    def getoutput(self, cmd, split=True, depth=0):
        return []


_GRADER_SHELL = _GraderShell()


def get_ipython():
    return _GRADER_SHELL


def display(*objs, **kwargs):
    return None
'''
"""Trusted code that starts every program: ``get_ipython()`` for the calls :func:`to_python`
writes, and IPython's builtin ``display``. Plain Python, no imports at module level."""

# The shell methods IPython's transformer writes calls to (``magic`` is the pre-8 spelling).
_SHELL_METHODS = ("run_line_magic", "run_cell_magic", "magic", "system", "getoutput")
# A %%time cell whose body is a %%time cell ...: bodies nested deeper are not read.
_MAX_BODY_DEPTH = 3

# IPython's transformer costs about 6 us a character, and it re-reads the whole cell once for
# each IPython line (about 40 us per line and IPython line): a hostile cell could hold the
# grader for hours. Past these bounds a cell is left as written (and runs if it is Python).
MAX_CELL_CHARS = 1_000_000
"""A cell longer than this is not transformed."""
MAX_CELL_WORK = 20_000
"""Nor is one whose lines that may be IPython, times its lines, exceed this (about 1 s)."""
MAX_NOTEBOOK_CHARS = 1_000_000
"""In :func:`cells_to_python`, cells after the first this many characters are not transformed."""


@dataclass(frozen=True)
class CodeCell:
    """One cell of a program, as it will run.

    Attributes
    ----------
    label : str
        How the feedback names the cell: ``setup``, a solution's grade_id, or ``cell 7``
        (the 7th cell of the notebook, markdown cells counted, from 1).
    code : str
        Python source, already through :func:`to_python`; it may still fail to compile.
    """

    label: str
    code: str


@dataclass(frozen=True)
class IPythonCommand:
    """A magic or shell command in a cell, found in its :func:`to_python` form.

    Attributes
    ----------
    line : int
        1-based line in the transformed code (the same line as in the cell, unless an earlier
        magic was continued over several lines with a backslash).
    text : str
        The command as the student typed it, e.g. ``%timeit f(x)``, ``!ls -la``, ``%%time``.
    """

    line: int
    text: str


# --- cells and their metadata --------------------------------------------------------------


def read_cells(path: Path) -> list[dict[str, Any]]:
    """The cells of a trusted (instructor's) notebook; raises on a broken file."""
    return json.loads(Path(path).read_text(encoding="utf-8"))["cells"]


def metadata(cell: dict) -> dict:
    """A cell's metadata, or {} if it has none or it is not a mapping."""
    meta = cell.get("metadata")
    return meta if isinstance(meta, dict) else {}


def nbgrader_meta(cell: dict) -> dict:
    """A cell's nbgrader metadata (``grade_id``, ``solution``, ...), or {} if it has none."""
    meta = metadata(cell).get("nbgrader")
    return meta if isinstance(meta, dict) else {}


def tags(cell: dict) -> list[str]:
    """A cell's tags (``metadata.tags``); the ones that are not strings are left out."""
    found = metadata(cell).get("tags")
    return [t for t in found if isinstance(t, str)] if isinstance(found, list) else []


def is_heavy(cell: dict) -> bool:
    """True for a cell tagged :data:`HEAVY_TAG`."""
    return HEAVY_TAG in tags(cell)


def cell_source(cell: dict) -> str:
    """A cell's source as one string; nbformat allows a string or a list of strings."""
    source = cell.get("source", "")
    if isinstance(source, str):
        return source
    if isinstance(source, list):
        return "".join(part for part in source if isinstance(part, str))
    return ""


def is_code(cell: dict) -> bool:
    return cell.get("cell_type") == "code"


def is_solution(meta: dict) -> bool:
    """nbgrader metadata of an answer cell (``solution: true``)."""
    return meta.get("solution") is True


def is_test(meta: dict) -> bool:
    """nbgrader metadata of an autograder test cell (``grade: true`` without ``solution``)."""
    return meta.get("grade") is True and not is_solution(meta)


def is_read_only(meta: dict) -> bool:
    """nbgrader metadata of a cell students must not edit: a test cell or ``locked: true``.

    Such a cell is the instructor's: it is compared with the source, never run as the student's.
    """
    return meta.get("locked") is True or is_test(meta)


def load_budget(nb: Any) -> float:
    """A source notebook's load budget in seconds: its ``autograder.load_budget_seconds``
    metadata, else :data:`LOAD_BUDGET_SECONDS`.

    Raises
    ------
    ValueError
        If the notebook sets one that is not a positive number.
    """
    meta = nb.get("metadata") if isinstance(nb, dict) else None
    own = meta.get("autograder") if isinstance(meta, dict) else None
    value = own.get("load_budget_seconds") if isinstance(own, dict) else None
    if value is None:
        return LOAD_BUDGET_SECONDS
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1e6:
        raise ValueError(
            f"metadata['autograder']['load_budget_seconds'] must be a positive number of "
            f"seconds, got {value!r}"
        )
    return float(value)


# --- IPython syntax ------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _transformer() -> Any:
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager()


def to_python(source: str) -> str:
    """A cell's source as the Python its kernel ran: IPython's own input transformation.

    ``%matplotlib inline`` becomes ``get_ipython().run_line_magic('matplotlib', 'inline')``,
    ``!ls`` becomes ``get_ipython().system('ls')``, a ``%%`` cell one ``run_cell_magic`` call;
    lines inside brackets that start with ``%`` or ``!=`` are Python and stay. Code that runs
    it must define ``get_ipython`` first (:data:`IPYTHON_STUB`).

    Parameters
    ----------
    source : str
        One cell's source.

    Returns
    -------
    str
        The transformed source, ending in a newline. When IPython's transformer refuses the
        cell (inconsistent indentation, more than 500 IPython lines), the source unchanged,
        so that compiling it fails, as running it in the kernel did; so too for a cell past
        :data:`MAX_CELL_CHARS` or :data:`MAX_CELL_WORK`.
    """
    return _to_python_cached(source)


@functools.lru_cache(maxsize=4096)
def _to_python_cached(source: str) -> str:
    # Most cells of a class are the release's own, the same in every submission: transformed
    # once. A cell with no IPython escape character that compiles is Python already, and
    # IPython would leave it as it is: the tokenizer is not run for it.
    if not any(c in source for c in "%!?") and _compiles(source):
        return source if source.endswith("\n") else source + "\n"
    return _to_python(source, 0)


def _compiles(source: str) -> bool:
    try:
        compile(source, "<cell>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return False
    return True


def cells_to_python(sources: list[str]) -> list[str]:
    """:func:`to_python` of each cell of one notebook, within :data:`MAX_NOTEBOOK_CHARS`.

    The cells after that many characters of source are returned as written.
    """
    out, spent = [], 0
    for source in sources:
        spent += len(source)
        out.append(to_python(source) if spent <= MAX_NOTEBOOK_CHARS else source)
    return out


def _too_costly(source: str) -> bool:
    if len(source) > MAX_CELL_CHARS:
        return True
    lines = source.splitlines()
    maybe = sum(
        1 for line in lines if line.lstrip().startswith(("%", "!")) or line.rstrip().endswith("?")
    )
    return maybe * len(lines) > MAX_CELL_WORK


def _to_python(source: str, depth: int) -> str:
    if _too_costly(source):
        return source
    try:
        code = _transformer().transform_cell(source)
    except (SyntaxError, ValueError, RuntimeError, RecursionError, MemoryError):
        return source
    if depth >= _MAX_BODY_DEPTH or not code.startswith("get_ipython().run_cell_magic("):
        return code
    # %%time and %%capture transform their body before running it: so does the grader, here,
    # since the stub that runs it has no IPython.
    try:
        (statement,) = ast.parse(code).body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return code
    call = _shell_call(statement.value) if isinstance(statement, ast.Expr) else None
    args = _strings(call[1]) if call else None
    if not args or len(args) != 3 or args[0] not in _BODY_MAGICS:
        return code
    name, line, body = args
    return f"get_ipython().run_cell_magic({name!r}, {line!r}, {_to_python(body, depth + 1)!r})\n"


def _shell_call(node: ast.AST) -> tuple[str, list[ast.expr]] | None:
    """(method, args) for a call ``get_ipython().<method>(...)``, else None."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return None
    owner = node.func.value
    if (
        node.func.attr in _SHELL_METHODS
        and isinstance(owner, ast.Call)
        and isinstance(owner.func, ast.Name)
        and owner.func.id == "get_ipython"
    ):
        return node.func.attr, node.args
    return None


def _strings(args: list[ast.expr]) -> list[str] | None:
    if all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in args):
        return [a.value for a in args]  # type: ignore[attr-defined]
    return None


def parse(source: str) -> ast.Module:
    """A cell as a Python syntax tree, after :func:`to_python`, for reading, never running.

    The body of a cell magic (``%%time``, ``%%capture``, ...) is a string in the transformed
    code; when it is Python itself, its statements are appended to the tree at their own lines
    of the cell, so that checks which read the code see it too.

    Raises
    ------
    SyntaxError, ValueError, RecursionError, MemoryError
        As :func:`ast.parse` does, when the cell is not Python even after the transformation.
    """
    return _parse(source, 0)


def _parse(source: str, depth: int) -> ast.Module:
    tree = ast.parse(to_python(source))
    if depth >= _MAX_BODY_DEPTH:
        return tree
    for statement in list(tree.body):
        call = _shell_call(statement.value) if isinstance(statement, ast.Expr) else None
        args = _strings(call[1]) if call and call[0] == "run_cell_magic" else None
        if not args or len(args) != 3:
            continue
        try:
            body = _parse(args[2], depth + 1)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue  # %%bash, %%html, ...: not Python, never run as Python
        ast.increment_lineno(body, statement.lineno)  # the body starts on the next line
        tree.body.extend(body.body)
    return tree


def defined_names(code: str) -> set[str] | SyntaxError:
    """Names a cell binds (defs, classes, assignments, imports), read the way the notebook
    module reads cells: the bodies of ``%%time`` and the like included."""
    try:
        tree = parse(code)
    except SyntaxError as err:
        return err
    except (ValueError, RecursionError, MemoryError):
        return SyntaxError("the cell cannot be read as Python")
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def bound_names(code: str) -> set[str]:
    """Every name a cell may bind, at any depth (a function's locals too): assignment and loop
    targets, unpacking, ``with ... as``, ``except ... as``, ``:=``, imports, defs, classes and
    ``match`` captures. Wider than :func:`defined_names` on purpose: what the grader's own
    cells bind is never taken from a student. A cell that does not parse binds nothing."""
    try:
        tree = parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names if a.name != "*")
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.add(node.rest)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            names.update(node.names)
    return names


def loaded_names(code: str) -> set[str]:
    """Every name a cell reads, at any depth (inside functions and lambdas too)."""
    try:
        tree = parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def ipython_commands(tree: ast.AST) -> list[IPythonCommand]:
    """Every magic and shell command in a tree from :func:`parse`, in line order."""
    found = []
    for node in ast.walk(tree):
        call = _shell_call(node)
        if call is None:
            continue
        method, args = call
        strings = _strings(args)
        if strings is None or not strings:
            text = ast.unparse(node)
        elif method == "run_line_magic" and len(strings) >= 2:
            text = f"%{strings[0]} {strings[1]}".rstrip()
        elif method == "run_cell_magic" and len(strings) >= 2:
            text = f"%%{strings[0]} {strings[1]}".rstrip()
        elif method == "magic":
            text = f"%{strings[0]}"
        else:  # system, getoutput
            text = f"!{strings[0]}"
        found.append(IPythonCommand(node.lineno, text))
    return sorted(found, key=lambda c: c.line)


# --- the instructor's setup ----------------------------------------------------------------


def prelude(cells: list[dict]) -> str:
    """The instructor's setup: the top-level imports of the source's plain code cells.

    Plain means not tracked by nbgrader (no ``grade_id``) and not :data:`HEAVY_TAG`-ged. Only
    imports are taken, in notebook order with ``from __future__`` ones first, because the rest
    of a setup cell (scale switches, plotting defaults) is the student's to run or not: the
    submitted copy of that cell runs as one of the student's cells.

    This is the one definition of the trusted setup, run before a notebook's code both for the
    student (in the jail) and for the instructor's references (in the grader).

    Parameters
    ----------
    cells : list of dict
        The source notebook's cells.

    Returns
    -------
    str
        One import statement after another, each as written, newline-terminated; "" if none.
    """
    future, imports = [], []
    for cell in cells:
        if not isinstance(cell, dict) or not is_code(cell) or is_heavy(cell):
            continue
        if nbgrader_meta(cell).get("grade_id"):
            continue
        code = to_python(cell_source(cell))
        try:
            tree = ast.parse(code)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        lines = code.split("\n")
        for node in tree.body:
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            statement = "\n".join(lines[node.lineno - 1 : node.end_lineno]).strip()
            is_future = isinstance(node, ast.ImportFrom) and node.module == "__future__"
            (future if is_future else imports).append(statement)
    return "\n".join(future + imports) + "\n" if future or imports else ""


def setup_cell(prelude_code: str) -> CodeCell:
    """The first cell of every program: :data:`IPYTHON_STUB`, then the source's imports.

    ``from __future__`` imports stay first, where Python requires them.
    """
    lines = prelude_code.split("\n")
    cut = 0
    try:
        for node in ast.parse(prelude_code).body:
            if not (isinstance(node, ast.ImportFrom) and node.module == "__future__"):
                break
            cut = node.end_lineno or cut
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        cut = 0  # not from prelude(); left for the executor to report
    future = "\n".join(lines[:cut]) + "\n" if cut else ""
    return CodeCell(SETUP_LABEL, future + IPYTHON_STUB + "\n\n" + "\n".join(lines[cut:]))


BEGIN_HIDDEN = ("BEGIN HIDDEN TESTS", "BEGIN ALWAYS HIDDEN TESTS")
END_HIDDEN = ("END HIDDEN TESTS", "END ALWAYS HIDDEN TESTS")


def hidden_lines(source: str) -> frozenset[int]:
    """1-based numbers of the lines the release removes from a cell: every hidden-test region,
    its marks included.

    Line by line, as nbgrader's ClearHiddenTests does (so that an untouched release cell
    compares equal); a region that is never closed runs to the end of the cell.
    """
    hidden, inside = set(), False
    for number, line in enumerate(source.split("\n"), 1):
        if any(mark in line for mark in BEGIN_HIDDEN):
            inside = True
        elif any(mark in line for mark in END_HIDDEN):
            inside = False
        elif not inside:
            continue
        hidden.add(number)
    return frozenset(hidden)


def without_hidden_tests(source: str) -> str:
    """A cell's source as the release shows it: the :func:`hidden_lines` removed."""
    hidden = hidden_lines(source)
    return "\n".join(
        line for number, line in enumerate(source.split("\n"), 1) if number not in hidden
    )


def has_hidden_tests(source: str) -> bool:
    return "HIDDEN TESTS" in source
