"""Static checks of a solution's code: calls a solution must not make, found with :mod:`ast`.

A naive convolution that calls the library's fast one, or SciPy's, passes every numeric test;
only reading the code shows it. :func:`find_forbidden_calls` parses a solution (never runs it),
resolves import aliases, and reports every reference to a forbidden name with its line.

The rules are data: an assignment's ``forbidden`` table (its ``autograder.json``, see
:mod:`autograder.assignment`) maps a glob over grade ids to the names those solutions must not
use; an instructor extends the course by adding an entry. A name pattern is either

- dotted (``scipy.signal``, ``numpy.convolve``, ``cs231n_lib.layer_utils._*``): a glob matched
  against the fully resolved name of a reference, and everything under it
  (``scipy.signal`` also forbids ``scipy.signal.convolve2d``); or
- a bare name (``torch``, ``as_strided``, ``conv_forward_fast``): forbidden as any part of a
  reference, however it was reached (``torch.tensor``, ``np.lib.stride_tricks.as_strided``,
  or ``conv_forward_fast`` imported by the notebook's setup cell rather than by the solution).

:data:`SUSPICIOUS_MODULES` and :data:`SUSPICIOUS_BUILTINS` apply to every solution; they are
reported with kind ``suspicious`` for a person to look at, not as forbidden.

IPython syntax is read as IPython reads it (:func:`autograder.notebook.parse`): each magic or
shell command is reported as ``suspicious``, and the Python body of a ``%%time`` cell is checked
like the rest.

Imports: the standard library; :mod:`autograder.notebook`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from fnmatch import fnmatchcase

from autograder import notebook

SUSPICIOUS_MODULES: tuple[str, ...] = (
    "os",
    "subprocess",
    "ctypes",
    "socket",
    "shutil",
    "importlib",
    "multiprocessing",
    "pickle",
)
SUSPICIOUS_BUILTINS: tuple[str, ...] = ("open", "eval", "exec", "compile", "__import__")

# Names the course notebooks bind before any solution runs; a solution's own imports win.
DEFAULT_ALIASES: dict[str, str] = {"np": "numpy"}


@dataclass(frozen=True)
class Finding:
    """One questionable line of a solution.

    Attributes
    ----------
    grade_id : str
    line : int
        1-based line in the code that was checked (0 when unknown).
    message : str
    kind : str
        ``forbidden`` (breaks the rules of this exercise), ``suspicious`` (no reason to be in
        a solution; a person should look) or ``syntax_error``.
    """

    grade_id: str
    line: int
    message: str
    kind: str = "forbidden"


def rules_for(grade_id: str, rules: dict[str, tuple[str, ...]] | None = None) -> tuple[str, ...]:
    """Every forbidden-name pattern that applies to ``grade_id`` (from all matching entries)."""
    table = rules or {}
    return tuple(
        p for key, patterns in table.items() if fnmatchcase(grade_id, key) for p in patterns
    )


def _matches(name: str, pattern: str) -> bool:
    if "." not in pattern:
        return any(fnmatchcase(part, pattern) for part in name.split("."))
    return fnmatchcase(name, pattern) or fnmatchcase(name, pattern + ".*")


def _dotted(node: ast.expr) -> list[str] | None:
    """``a.b.c`` as ["a", "b", "c"], or None when the chain does not start at a plain name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return parts[::-1]


def _imported(node: ast.Import | ast.ImportFrom) -> list[tuple[str, str | None, str]]:
    """(full name, alias or None, the statement as written) for each name an import binds.

    ``import a.b`` binds ``a``, which resolves to itself, so only ``as`` names are aliases.
    """

    def spelled(alias: ast.alias) -> str:
        return alias.name + (f" as {alias.asname}" if alias.asname else "")

    if isinstance(node, ast.Import):
        return [(a.name, a.asname, f"import {spelled(a)}") for a in node.names]
    module = "." * node.level + (node.module or "")
    return [
        (
            module.lstrip(".") if a.name == "*" else f"{module}.{a.name}".lstrip("."),
            None if a.name == "*" else a.asname or a.name,
            f"from {module} import {spelled(a)}",
        )
        for a in node.names
    ]


def _aliases(tree: ast.AST) -> dict[str, str]:
    """Local name -> full name, for every import anywhere in ``tree`` (scopes merged)."""
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for full, local, _ in _imported(node):
                if local:
                    aliases[local] = full
    return aliases


class _Scanner(ast.NodeVisitor):
    """Collects findings: imports, references, getattr with a constant, dynamic imports."""

    def __init__(self, grade_id: str, forbidden: tuple[str, ...], aliases: dict[str, str]):
        self.grade_id = grade_id
        self.forbidden = forbidden
        self.aliases = aliases
        self.findings: list[Finding] = []

    def _report(self, node: ast.AST, kind: str, message: str) -> None:
        self.findings.append(Finding(self.grade_id, getattr(node, "lineno", 0), message, kind))

    def _check_name(self, node: ast.AST, full: str, shown: str, builtin: bool = False) -> None:
        hit = next((p for p in self.forbidden if _matches(full, p)), None)
        if hit is not None:
            self._report(
                node,
                "forbidden",
                f"{self.grade_id} uses {shown} (forbidden here by the rule {hit!r}); "
                "write this part yourself.",
            )
        elif full.split(".")[0] in SUSPICIOUS_MODULES:
            self._report(
                node,
                "suspicious",
                f"{self.grade_id} uses {shown}, which a solution has no need for.",
            )
        elif builtin or full.startswith("builtins."):
            if full.removeprefix("builtins.") in SUSPICIOUS_BUILTINS:
                self._report(
                    node,
                    "suspicious",
                    f"{self.grade_id} calls {shown}, which a solution has no need for.",
                )

    def _resolve(self, parts: list[str]) -> str:
        head = self.aliases.get(parts[0], parts[0])
        return ".".join([head, *parts[1:]])

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for full, _, statement in _imported(node):
            self._check_name(node, full, f"`{statement}`")

    visit_ImportFrom = visit_Import

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            full = self._resolve([node.id])
            self._check_name(
                node,
                full,
                node.id if full == node.id else f"{node.id} ({full})",
                builtin=node.id not in self.aliases,
            )

    def visit_Attribute(self, node: ast.Attribute) -> None:
        parts = _dotted(node)
        if parts is None or not isinstance(node.ctx, ast.Load):
            self.generic_visit(node)
            return
        # only the longest chain is reported: `np.lib.stride_tricks.as_strided`, once
        full, shown = self._resolve(parts), ".".join(parts)
        self._check_name(node, full, shown if full == shown else f"{shown} ({full})")

    def visit_Call(self, node: ast.Call) -> None:
        func, args = node.func, node.args
        constant = (
            len(args) >= 2 and isinstance(args[1], ast.Constant) and isinstance(args[1].value, str)
        )
        if isinstance(func, ast.Name) and func.id == "getattr" and constant:
            parts = _dotted(args[0])
            if parts is not None:
                full = f"{self._resolve(parts)}.{args[1].value}"
                self._check_name(node, full, f"getattr({'.'.join(parts)}, {args[1].value!r})")
        dynamic = self._resolve(_dotted(func) or [""]) in ("__import__", "importlib.import_module")
        if (
            dynamic
            and args
            and isinstance(args[0], ast.Constant)
            and isinstance(args[0].value, str)
        ):
            self._check_name(node, args[0].value, f"a dynamic import of {args[0].value}")
        self.generic_visit(node)


def _parse(grade_id: str, code: str) -> tuple[ast.Module | None, list[Finding]]:
    """Parse ``code`` as its kernel would; report each IPython command it runs."""
    try:
        tree = notebook.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as err:
        error: Exception = err
    else:
        return tree, [
            Finding(
                grade_id,
                command.line,
                f"{grade_id} runs the IPython command {command.text!r}, "
                "which a solution has no need for.",
                "suspicious",
            )
            for command in notebook.ipython_commands(tree)
        ]
    line = getattr(error, "lineno", None) or 0
    detail = getattr(error, "msg", None) or str(error) or type(error).__name__
    return None, [
        Finding(
            grade_id,
            line,
            f"{grade_id} is not valid Python ({detail}), so it cannot be checked or run.",
            "syntax_error",
        )
    ]


def find_forbidden_calls(
    grade_id: str,
    code: str,
    *,
    prelude: str = "",
    rules: dict[str, tuple[str, ...]] | None = None,
) -> list[Finding]:
    """Every use of a forbidden or suspicious name in one solution, by line.

    Parameters
    ----------
    grade_id : str
        The solution cell's grade_id; selects the rules that apply to it.
    code : str
        The student's source of that cell.
    prelude : str, optional
        Code that runs before the solution (the notebook's imports): its aliases are used to
        resolve names the solution uses without importing them. Its own lines are not checked.
    rules : dict, optional
        grade-id pattern -> forbidden name patterns: the assignment's ``forbidden`` table
        (:class:`autograder.assignment.Assignment`); none by default.

    Returns
    -------
    list of Finding
        In line order; a syntax error is one finding of kind ``syntax_error``, not an exception.
    """
    tree, findings = _parse(grade_id, code)
    if tree is None:
        return findings
    aliases = dict(DEFAULT_ALIASES)
    prelude_tree, _ = _parse("prelude", prelude) if prelude.strip() else (None, [])
    if prelude_tree is not None:
        aliases.update(_aliases(prelude_tree))
    aliases.update(_aliases(tree))
    scanner = _Scanner(grade_id, rules_for(grade_id, rules), aliases)
    try:
        scanner.visit(tree)
    except RecursionError:
        findings.append(
            Finding(grade_id, 0, f"{grade_id} is nested too deeply to be checked.", "syntax_error")
        )
    return sorted(findings + scanner.findings, key=lambda f: f.line)
