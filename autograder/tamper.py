"""Signs of tampering in a student's solution code, found by reading it (``ast``), never running it.

These raise flags for an instructor to look at; they do not change scores
(the out-of-kernel tests already give cheated items no points). Each rule is
a pattern that honest solutions to this assignment do not need. Imports of
system modules and file access are found by ``static_checks`` ("suspicious").

Imports: the standard library; :mod:`autograder.notebook` (to read IPython syntax).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from autograder import notebook

# Names the notebooks' checks rely on; a solution has no reason to rebind them.
CHECK_NAMES = {"rel_error", "eval_numerical_gradient", "eval_numerical_gradient_array"}
CHECK_PREFIXES = ("check_",)
MODULE_ALIASES = {"np", "numpy", "builtins", "cs231n_lib", "checks", "math", "sys", "os"}
ARRAY_HOOKS = {
    "__eq__",
    "__ne__",
    "__array__",
    "__array_ufunc__",
    "__array_function__",
    "__array_finalize__",
    "__bool__",
    "__float__",
    "__abs__",
    "__sub__",
    "__rsub__",
    "__lt__",
    "__le__",
    "__gt__",
    "__ge__",
}
ENV_NAMES = {"environ", "getenv", "environb"}


@dataclass(frozen=True)
class TamperSign:
    grade_id: str
    line: int
    message: str


def _is_check_name(name: str) -> bool:
    return name in CHECK_NAMES or name.startswith(CHECK_PREFIXES)


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def find_tamper_signs(
    grade_id: str, code: str, array_hooks_allowed: tuple[str, ...] = ()
) -> list[TamperSign]:
    """Patterns in ``code`` that suggest the student tried to fool the checks.

    ``array_hooks_allowed`` names classes that may define array hooks (the assignment's
    ``array_hooks_allowed``: a model class the notebook asks for, say).
    """
    try:
        tree = notebook.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []  # reported elsewhere as an error of the submission
    signs: list[TamperSign] = []

    def add(node: ast.AST, message: str) -> None:
        signs.append(TamperSign(grade_id, getattr(node, "lineno", 0), message))

    for node in ast.walk(tree):
        targets: list[ast.AST] = []
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _is_check_name(
            node.name
        ):
            add(node, f"redefines the check helper {node.name}")
        for target in targets:
            if isinstance(target, ast.Name) and _is_check_name(target.id):
                add(node, f"rebinds the check helper {target.id}")
            elif isinstance(target, ast.Attribute) and _root_name(target) in MODULE_ALIASES:
                add(node, f"assigns to {ast.unparse(target)} (patching a module)")
        if isinstance(node, ast.Call):
            fn = ast.unparse(node.func)
            if (
                fn in ("setattr", "delattr")
                and node.args
                and _root_name(node.args[0]) in MODULE_ALIASES
            ):
                add(node, f"calls {fn} on {ast.unparse(node.args[0])} (patching a module)")
            if fn in ("exec", "eval", "compile", "__import__"):
                add(node, f"calls {fn}")
        if isinstance(node, ast.Attribute) and node.attr in ENV_NAMES:
            add(node, f"reads the environment ({ast.unparse(node)})")
        if isinstance(node, ast.ClassDef):
            bases = [ast.unparse(b) for b in node.bases]
            if any(b.endswith("ndarray") for b in bases):
                add(node, f"defines an ndarray subclass {node.name}")
            hooks = sorted(
                {f.name for f in node.body if isinstance(f, ast.FunctionDef)} & ARRAY_HOOKS
            )
            if hooks and node.name not in array_hooks_allowed:
                add(node, f"class {node.name} overrides {', '.join(hooks)}")
    return signs
