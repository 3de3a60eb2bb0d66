"""Student names as handles: the instructor's test cells call the jailed code as data.

The out-of-kernel grader runs a notebook's own test cells in its trusted interpreter
(:mod:`autograder.cellgrade`). There, every name the student's code defines is a
:class:`Handle` to an object living in the jail. Calling a handle, reading or writing one of
its attributes or items, sends the request as data (ndarrays, numbers, strings, None, and
lists, tuples and dicts of those) and returns the answer as data. An answer that is not data
(a model instance, a bound method, a generator) stays in the jail and comes back as another
handle. Nothing the student wrote runs in the grader, so asserts, ``np.allclose``, the check
helpers and the reference computations there cannot be touched by it.

Two kinds of state follow the requests, so that ordinary test cells grade unchanged:

- **Data read from a student object is mirrored.** ``params = model.params`` returns a dict of
  arrays; the grader keeps a copy of what it returned, and before its next request to the jail
  writes back every mirrored value the test has changed since, in place where the jail's object
  allows it (same shape and dtype), so a numeric gradient check that perturbs
  ``model.params[k][i]`` and calls ``model.loss`` sees the perturbation in the jail.
- **NumPy's global generator is shared.** ``np.random.seed(231)`` in a test cell seeds the
  grader's generator; the state goes to the jail with the next request, and the jail's state
  comes back with the answer, so student code that draws from ``np.random`` draws what it would
  have drawn in the notebook.

Arguments the student's code changes in place (``bn_param``'s running mean) are changed in
the test's objects too, and reading the same attribute or item again gives the object read
before, refreshed in place, so that two names for ``model.params`` stay one dict.

What a test cell cannot do through a handle: pass a function of its own to the student's code
(it is refused with a TypeError naming the argument), rely on a read sharing memory with other
data (a read is a copy, written back when changed), use operators on a handle other than
call, attribute, item and ``len`` (iterating over one or converting it with ``np.asarray`` is a
TypeError raised before any request: item by item, that would be a round trip per item), or
expect Python's ``random`` module to be shared. A handle's class is named after the jailed
object's type, so a check that says ``got a {type(out).__name__}`` names the student's type.

The jail's side is :data:`DRIVER`, installed once per load of the student's cells; it runs as
the jail's driver calls do (:mod:`autograder.sandbox`), and its answers are checked here as the
hostile data they may be.

Imports: NumPy, the standard library and :mod:`autograder.sandbox`.
"""

from __future__ import annotations

import base64
import copy
import inspect
import time
from typing import Any

import numpy as np

from autograder.sandbox import Call, Jail, Outcome
from autograder.sandbox.protocol import Broken, arrays_from_blob

ARRAY_KINDS = "biufc"
MAX_MIRRORS = 256  # the most recent reads whose changes are written back
MAX_NAME = 200
INLINE_BYTES = 1 << 20  # answers' arrays up to this size travel inline in the report
INLINE_CHARS = 4 * (INLINE_BYTES + 2) // 3 + 4  # their base64, at most

# Tags of the data that crosses, in both directions. A NUL byte starts each, so no key a test or
# a student writes collides with one by accident (and a collision costs only that call).
TAGS = ("\0h", "\0a", "\0t", "\0d", "\0dtype", "\0type", "\0raised", "\0m", "\0undef", "\0slice")
HANDLE, ARRAY, TUPLE, DICT, DTYPE, TYPE, RAISED, METHOD, UNDEFINED, SLICE = TAGS

# --- the jail's side ---------------------------------------------------------------------------
# Installed by the first request of a load as the module ``_cs231n_handles``; each later request
# is the small STUB below, which finds it there. It runs among the student's code and trusts
# nothing: a student who breaks it breaks only the answers to their own tests.

DRIVER = r'''
import base64, builtins, copy, sys, types
import numpy as np

KINDS = "biufc"
objects = {}
counter = [0]


def keep(obj):
    counter[0] += 1
    objects[counter[0]] = obj
    return counter[0]


def is_data(value, depth=0):
    kind = type(value)
    if value is None or kind in (bool, int, float, str):
        return True
    if kind is np.ndarray:
        return value.dtype.kind in KINDS
    if isinstance(value, np.generic):
        return value.dtype.kind in KINDS
    if depth > 40:
        return False
    if kind in (list, tuple):
        return all(is_data(v, depth + 1) for v in value)
    if kind is dict:
        return all(type(k) is str and is_data(v, depth + 1) for k, v in value.items())
    return False


def wrap(value, arrays, depth=0):
    """JSON with tags; arrays appended to ``arrays`` (whole outputs); the rest kept as handles."""
    kind = type(value)
    if value is None or kind in (bool, int, float, str):
        return value
    if kind is np.ndarray and value.dtype.kind in KINDS:
        arrays.append(value)
        return {A: len(arrays)}
    if isinstance(value, np.generic) and value.dtype.kind in KINDS:
        arrays.append(np.asarray(value))
        return {A: len(arrays), "scalar": True}
    if depth <= 40:
        if kind in (list, tuple):
            items = [wrap(v, arrays, depth + 1) for v in value]
            return items if kind is list else {T: items}
        if kind is dict and all(type(k) is str for k in value):
            return {D: {k: wrap(v, arrays, depth + 1) for k, v in value.items()}}
    return {H: keep(value), "type": type(value).__qualname__[:200]}


def unwrap(value):
    if type(value) is list:
        return [unwrap(v) for v in value]
    if type(value) is tuple:
        return tuple(unwrap(v) for v in value)
    if type(value) is dict:
        if H in value:
            return objects[value[H]]
        if DT in value:
            dtype = np.dtype(value[DT])
            return dtype.type if value.get("scalar_type") else dtype
        if TY in value:
            return getattr(builtins, value[TY])
        if SL in value:
            return slice(*value[SL])
        if value.get("\0ellipsis"):
            return Ellipsis
        if A in value:  # a 0-d array standing for a numpy scalar
            return value[A][()]
        return {k: unwrap(v) for k, v in value.items()}
    return value


def write_back(ns, root, path, value):
    parent, steps = (ns, [("item", root[1])]) if root[0] == "global" else (objects[root[1]], [])
    steps += [tuple(s) for s in path]
    for kind, key in steps[:-1]:
        parent = getattr(parent, key) if kind == "attr" else parent[key]
    kind, key = steps[-1]
    current = getattr(parent, key) if kind == "attr" else parent[key]
    if not assign_into(current, value):
        if kind == "attr":
            setattr(parent, key, value)
        else:
            parent[key] = value


def mutable_data(value):
    return type(value) in (np.ndarray, list, dict) and is_data(value)


def invoke(fn, args, kwargs, arrays, mutated):
    """fn(*args, **kwargs), wrapped; the data arguments it changed go to ``mutated``, as a
    caller in the notebook would see them changed (bn_param's running mean, say)."""
    before = [copy.deepcopy(a) if mutable_data(a) else None for a in args]
    before_kw = {k: copy.deepcopy(v) for k, v in kwargs.items() if mutable_data(v)}
    answer = wrap(fn(*args, **kwargs), arrays)
    for i, a in enumerate(args):
        if before[i] is not None and not same_data(before[i], a):
            mutated["args"][str(i)] = wrap(a, arrays)
    for k, old in before_kw.items():
        if not same_data(old, kwargs[k]):
            mutated["kwargs"][k] = wrap(kwargs[k], arrays)
    return answer


def rng_state():
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return [name, keys, int(pos), int(has_gauss), float(cached)]


def serve(ns, request):
    request = unwrap(request)
    state = request.get("rng")
    if state is not None:
        np.random.set_state((state[0], state[1], state[2], state[3], state[4]))
    for root, path, value in request.get("writes", []):
        write_back(ns, root, path, value)
    before = rng_state()
    arrays = []
    op = request["op"]
    mutated = {"args": {}, "kwargs": {}}
    try:
        if op == "globals":
            answer = {D: {n: (wrap(ns[n], arrays) if n in ns else {UNDEF: True})
                          for n in request["names"]}}
        else:
            target = objects[request["target"]]
            if op == "call":
                answer = invoke(target, request["args"], request["kwargs"], arrays, mutated)
            elif op == "call_method":
                method = getattr(target, request["name"])
                answer = invoke(method, request["args"], request["kwargs"], arrays, mutated)
            elif op == "getattr":
                value = getattr(target, request["name"])
                if isinstance(value, types.MethodType) and value.__self__ is target:
                    answer = {M: True}
                else:
                    answer = wrap(value, arrays)
            elif op == "setattr":
                setattr(target, request["name"], request["value"])
                answer = None
            elif op == "getitem":
                answer = wrap(target[request["key"]], arrays)
            elif op == "setitem":
                target[request["key"]] = request["value"]
                answer = None
            elif op == "len":
                answer = int(len(target))
            else:
                raise ValueError(f"unknown request {op!r}")
    except MemoryError:
        raise
    except Exception as exc:
        answer = {RAISED: type(exc).__name__[:100],
                  "builtin": getattr(builtins, type(exc).__name__, None) is type(exc),
                  "message": " ".join(str(exc).split())[:300]}
    after = rng_state()
    moved = after[2] != before[2] or not np.array_equal(after[1], before[1])
    out = {"answer": answer, "rng": None, "table": [], "mutated": mutated}
    if moved:
        arrays.append(after[1])
        out["rng"] = [after[0], {A: len(arrays)}, after[2], after[3], after[4]]
    if not arrays:
        return [out]
    # All arrays as one blob, their bytes end to end: inline in the report when small
    # (creating a file is the slow part of a call on some disks), else one output file.
    chunks, offset = [], 0
    for a in arrays:
        raw = np.ascontiguousarray(a).tobytes()
        out["table"].append([a.dtype.str, list(a.shape), offset, len(raw)])
        chunks.append(raw)
        offset += len(raw)
    blob = b"".join(chunks)
    if len(blob) <= INLINE_BYTES:
        out["inline"] = base64.b64encode(blob).decode("ascii")
        return [out]
    return [out, np.frombuffer(blob, dtype=np.uint8)]
'''

# --- shared by both sides: plain functions of NumPy, sent to the jail as source too -------------


def same_data(a, b):
    """Deep equality of data: bytes of arrays (so a NaN equals its copy), dtype and shape."""
    if type(a) is not type(b):
        return False
    if type(a) is np.ndarray:
        return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()
    if type(a) in (list, tuple):
        return len(a) == len(b) and all(same_data(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is dict:
        return a.keys() == b.keys() and all(same_data(a[k], b[k]) for k in a)
    if type(a) is float and a != a:
        return b != b
    return a is b or a == b


def assign_into(current, new):
    """Make ``current`` equal ``new`` in place where it can (an array of the same shape and
    dtype, a dict, a list); False where it cannot, and the caller rebinds instead."""
    if type(current) is np.ndarray and type(new) is np.ndarray:
        if current.shape == new.shape and current.dtype == new.dtype and current.flags.writeable:
            current[...] = new
            return True
        return False
    if type(current) is dict and type(new) is dict:
        for k in [k for k in current if k not in new]:
            del current[k]
        for k, v in new.items():
            if not (k in current and assign_into(current[k], v)):
                current[k] = v
        return True
    if type(current) is list and type(new) is list:
        if len(current) == len(new):
            for i, v in enumerate(new):
                if not assign_into(current[i], v):
                    current[i] = v
        else:
            current[:] = new
        return True
    return False


# The jail's side: its driver, with the tags and the two functions above.
DRIVER = (
    f"H, A, T, D, DT, TY, RAISED, M, UNDEF, SL = {TAGS!r}\nINLINE_BYTES = {INLINE_BYTES}\n"
    + DRIVER + "\n\n" + inspect.getsource(same_data) + "\n\n" + inspect.getsource(assign_into)
)

STUB = """
import sys
def run(ns, request):
    return sys.modules["_cs231n_handles"].serve(ns, request)
"""

INSTALL = (
    "import sys, types\n"
    "def run(ns, source):\n"
    "    module = types.ModuleType('_cs231n_handles')\n"
    "    exec(compile(source, '<autograder.handles>', 'exec'), module.__dict__)\n"
    "    sys.modules['_cs231n_handles'] = module\n"
    "    return [True]\n"
)


# --- the grader's side ---------------------------------------------------------------------------


class StudentError(Exception):
    """The student's code raised, hung, crashed or answered with something that is not data.

    ``status`` is the jail's (``error``, ``timeout``, ``memory``, ``bad_output``, ...);
    ``reason`` is one sentence for the student; ``refused`` names a provided routine the code
    was not allowed to call. When the code raised a builtin exception, the error raised in the
    test cell is also an instance of it (a ``ValueError`` from student code can be expected).
    """

    def __init__(self, status: str, reason: str, refused: tuple[str, ...] = ()) -> None:
        super().__init__(reason)
        self.status, self.reason, self.refused = status, reason, tuple(refused)


_RAISED_KINDS: dict[str, type] = {}


def _student_exception(name: str, message: str) -> StudentError:
    """A StudentError that is also the builtin exception ``name`` (when it is one)."""
    import builtins

    base = getattr(builtins, name, None)
    reason = f"your code raised {name}: {message}" if message else f"your code raised {name}"
    if not (isinstance(base, type) and issubclass(base, Exception)) or base is MemoryError:
        return StudentError("error", reason)
    if name not in _RAISED_KINDS:
        try:
            _RAISED_KINDS[name] = type(f"Student{name}", (StudentError, base), {})
        except TypeError:  # a builtin that cannot be a base next to StudentError
            return StudentError("error", reason)
    return _RAISED_KINDS[name]("error", reason)


class Handle:
    """An object of the student's, living in the jail; see the module docstring."""

    __slots__ = ("_link", "_id", "_type", "_generation", "_methods")

    def __init__(self, link: Link, ident: int, type_name: str):
        object.__setattr__(self, "_link", link)
        object.__setattr__(self, "_id", ident)
        object.__setattr__(self, "_type", type_name)
        object.__setattr__(self, "_generation", link.generation)
        object.__setattr__(self, "_methods", {})  # names known to be methods: no round trip

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._link.request("call", self, args=args, kwargs=kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):  # copy, pickle and IPython probes
            raise AttributeError(name)
        if name in self._methods:
            return self._methods[name]
        value = self._link.request("getattr", self, name=name, root=(self, [("attr", name)]))
        if isinstance(value, BoundMethod):
            self._methods[name] = value
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        self._methods.pop(name, None)
        self._link.request("setattr", self, name=name, value=value)

    def __getitem__(self, key: Any) -> Any:
        return self._link.request("getitem", self, key=key, root=(self, [("item", key)]))

    def __setitem__(self, key: Any, value: Any) -> None:
        self._link.request("setitem", self, key=key, value=value)

    def __len__(self) -> int:
        return self._link.request("len", self)

    def __iter__(self):
        # Without this, Python iterates by item 0, 1, 2, ... until IndexError: one round trip
        # each, and forever for an object that answers every index.
        raise TypeError(f"the student's {self._type} is not data and cannot be iterated over "
                        "in the grader (a list or tuple of data comes back as one)")

    def __array__(self, dtype: Any = None, copy: Any = None):
        # NumPy would otherwise read it as a sequence, item by item through the jail.
        raise TypeError(f"the student's {self._type} is not a NumPy array")

    def __repr__(self) -> str:
        return f"<the student's {self._type} (in the jail)>"


_HANDLE_CLASSES: dict[str, type] = {}


def _handle_class(type_name: str) -> type:
    """A subclass of :class:`Handle` named as the jailed object's type, so that a check's
    ``type(out).__name__`` says "got a _Liar", not "got a Handle"."""
    if type_name not in _HANDLE_CLASSES:
        name = "".join(c for c in type_name if c.isprintable())[:MAX_NAME] or "object"
        if len(_HANDLE_CLASSES) >= 1000:  # many odd names from one class: the plain class
            return Handle
        _HANDLE_CLASSES[type_name] = type(name, (Handle,), {"__slots__": ()})
    return _HANDLE_CLASSES[type_name]


class BoundMethod:
    """``handle.name`` where the jail's attribute is a method of that object: one request per
    call, not two."""

    __slots__ = ("_of", "_name")

    def __init__(self, of: Handle, name: str) -> None:
        self._of, self._name = of, name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._of._link.request("call_method", self._of, name=self._name, args=args,
                                      kwargs=kwargs)

    def __repr__(self) -> str:
        return f"<method {self._name} of the student's {self._of._type} (in the jail)>"


def _nodes(value: Any, depth: int) -> list:
    """``value`` and the arrays, lists and dicts in it, down to ``depth`` levels."""
    found = [value] if type(value) in (np.ndarray, list, dict) else []
    if depth > 0 and type(value) in (list, tuple, dict):
        for child in (value.values() if type(value) is dict else value):
            found += _nodes(child, depth - 1)
    return found


def _mutable(value: Any) -> bool:
    if type(value) in (np.ndarray, list, dict):
        return True
    if type(value) is tuple:
        return any(_mutable(v) for v in value)
    return False


class Link:
    """The grader's connection to one load of a student's cells in a jail.

    Every request is one jail call (:meth:`autograder.sandbox.Jail.call`) of :data:`STUB`.
    Requests belong to the current test (:meth:`begin_test`), whose calls share its time limit.
    """

    def __init__(self, jail: Jail) -> None:
        self.jail = jail
        self.generation = 0
        self.alive = False
        self.dead_reason = ""
        self.mirrors: list[list[Any]] = []  # [root, path, value, snapshot]
        self.rng_sent: Any = None
        self.test_id = "cells"
        self.deadline = float("inf")
        self.budget = float("inf")
        self.refused: list[str] = []

    # -- lifetime --------------------------------------------------------------------------------

    def loaded(self) -> StudentError | None:
        """The student's cells have just been loaded: install the driver; an error if not."""
        self.generation += 1
        self.mirrors = []
        self.rng_sent = None
        self.alive = True
        self.dead_reason = ""
        outcome = self._call(Call(self.test_id, INSTALL, (DRIVER,)), None)
        if outcome.status != "ok":
            self._died(outcome.reason)
            return StudentError(outcome.status, outcome.reason)
        return None

    def begin_test(self, test_id: str, seconds: float) -> None:
        self.test_id = test_id
        self.budget = seconds
        self.deadline = time.monotonic() + seconds
        self.refused = []

    def prune_mirrors(self, keep: Any) -> None:
        """Forget the reads no variable holds any more (a new test cell starts).

        ``keep`` are the values of the grader's namespace: a read stays mirrored while one of
        them is it, or one of its arrays, lists or dicts (two levels deep), so that a change
        made in a later cell still reaches the jail.
        """
        held = set()
        for value in keep:
            for node in _nodes(value, 2):
                held.add(id(node))
        self.mirrors = [m for m in self.mirrors
                        if any(id(node) in held for node in _nodes(m[2], 2))]

    def _died(self, reason: str) -> None:
        self.alive = False
        self.dead_reason = reason

    # -- requests --------------------------------------------------------------------------------

    def request(self, op: str, target: Handle | None = None, *, root: Any = None, **fields: Any):
        if target is not None:
            if target._generation != self.generation:
                raise StudentError(
                    "error",
                    f"the student's {target._type} came from an earlier run of the notebook's "
                    "cells, which has ended; make it again in this test",
                )
            fields["target"] = target._id
        if not self.alive:
            raise StudentError("error", f"your code's process ended earlier: {self.dead_reason}")
        message = {"op": op, **fields}
        writes = self._changed_mirrors()
        if writes:
            message["writes"] = writes
        state = np.random.get_state()  # noqa: NPY002 - shared with the jail
        if self.rng_sent is None or not _same_state(state, self.rng_sent):
            message["rng"] = [state[0], state[1], int(state[2]), int(state[3]), float(state[4])]
        call = Call(self.test_id, STUB, (_outgoing(message, "the request"),))
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise StudentError(
                "timeout", f"the test's calls of your code took more than {self.budget:g} s "
                "together (stopped)"
            )
        outcome = self._call(call, min(remaining, self.jail.limits.wall_seconds_per_test))
        if outcome.refused:
            self.refused += [r for r in outcome.refused if r not in self.refused]
        if outcome.status != "ok":  # _call has marked the link dead if the loader ended
            raise StudentError(outcome.status, outcome.reason, tuple(outcome.refused))
        answer, mutated = self._read(outcome)
        if mutated:
            _apply_mutations(mutated, fields.get("args", ()), fields.get("kwargs", {}))
        if op == "getattr" and type(answer) is dict and answer.get(METHOD) is True:
            return BoundMethod(target, fields["name"])
        if root is not None and _mutable(answer):
            return self._mirror(root[0], root[1], answer)
        return answer

    def fetch_globals(self, names: list[str]) -> dict[str, Any]:
        """The student's globals ``names``: data (mirrored) or handles; absent ones left out."""
        if not names:
            return {}
        answer = self.request("globals", names=sorted(names))
        if type(answer) is not dict:
            raise StudentError("bad_output", "the jail answered a request for names wrongly")
        found = {}
        for name in names:
            value = answer.get(name)
            if type(value) is dict and value.get(UNDEFINED) is True:
                continue
            if name in answer:
                found[name] = self._mirror(("global", name), [], value) if _mutable(value) \
                    else value
        return found

    # -- plumbing --------------------------------------------------------------------------------

    def _call(self, call: Call, seconds: float | None) -> Outcome:
        outcome, healthy = self.jail.late_call(call, seconds)
        if not healthy or not self.jail.alive():
            self._died(outcome.reason or "the jail ended")
        return outcome

    def _mirror(self, root: Any, path: list, value: Any) -> Any:
        """Mirror a read; the object to give the test.

        A read of a place read before gives the earlier object, refreshed in place, as the
        notebook would give the same dict twice: ``held = model.params`` then sees what
        ``model.params["W"][0] = 5`` does.
        """
        if isinstance(root, Handle):
            root = ("handle", root._id)
        for mirror in self.mirrors:
            if mirror[0] == root and same_data(mirror[1], path) and assign_into(mirror[2], value):
                mirror[3] = copy.deepcopy(mirror[2])
                return mirror[2]
        self.mirrors.append([root, path, value, copy.deepcopy(value)])
        del self.mirrors[:-MAX_MIRRORS]
        return value

    def _changed_mirrors(self) -> list:
        writes = []
        for mirror in self.mirrors:
            root, path, value, snapshot = mirror
            if not same_data(value, snapshot):
                writes.append([list(root), [list(step) for step in path], value])
                mirror[3] = copy.deepcopy(value)
        return writes

    def _read(self, outcome: Outcome) -> Any:
        outputs = outcome.outputs or []
        try:
            head = outputs[0]
            if type(head) is not dict or "answer" not in head or len(outputs) > 2:
                raise ValueError("no answer")
            blob = outputs[1] if len(outputs) == 2 else None
            inline = head.get("inline")
            if inline is not None:
                if type(inline) is not str or blob is not None or len(inline) > INLINE_CHARS:
                    raise ValueError("a bad inline blob")
                blob = np.frombuffer(base64.b64decode(inline, validate=True), dtype=np.uint8)
            arrays = arrays_from_blob(head.get("table"), blob)
            state = head.get("rng")
            if state is not None:
                name, keys, pos, has_gauss, cached = _incoming(state, arrays, self)
                keys = np.asarray(keys, dtype=np.uint32)
                np.random.set_state((name, keys, pos, has_gauss, cached))  # noqa: NPY002
            self.rng_sent = np.random.get_state()  # noqa: NPY002
            answer = _incoming(head["answer"], arrays, self)
            mutated = head.get("mutated")
            if mutated is not None:
                if type(mutated) is not dict or set(mutated) - {"args", "kwargs"}:
                    raise ValueError("a bad record of changed arguments")
                mutated = {k: _incoming({DICT: v}, arrays, self) for k, v in mutated.items()}
        except StudentError:
            raise
        except Broken as err:
            raise StudentError("bad_output", f"your code's answer: {err}") from None
        except Exception as err:  # noqa: BLE001 - whatever came out is hostile data
            raise StudentError(
                "bad_output", f"your code's answer could not be read as data ({type(err).__name__})"
            ) from None
        if type(answer) is dict and RAISED in answer:
            raise _student_exception(str(answer[RAISED])[:100], str(answer.get("message", "")))
        return answer, mutated


def _apply_mutations(mutated: dict, args: tuple, kwargs: dict) -> None:
    """The student's code changed these arguments in the jail: change the test's objects."""
    for key, value in (mutated.get("args") or {}).items():
        if key.isdigit() and int(key) < len(args):
            assign_into(args[int(key)], value)
    for key, value in (mutated.get("kwargs") or {}).items():
        if key in kwargs:
            assign_into(kwargs[key], value)


def _same_state(a: tuple, b: tuple) -> bool:
    return a[0] == b[0] and a[2] == b[2] and a[3] == b[3] and np.array_equal(a[1], b[1])


def _outgoing(value: Any, where: str, depth: int = 0) -> Any:
    """A request's value in the form :func:`autograder.sandbox.protocol.encode_call` takes."""
    if isinstance(value, Handle):
        return {HANDLE: value._id}
    if isinstance(value, BoundMethod):
        raise TypeError(
            f"{where}: a method of the student's object cannot be passed back to their code; "
            "pass the object"
        )
    if depth > 40:
        raise TypeError(f"{where} is nested more than 40 levels deep")
    if type(value) is np.ndarray:
        if value.dtype.kind not in ARRAY_KINDS:
            raise TypeError(f"{where} is an array of dtype {value.dtype}, which cannot be sent")
        return value
    if isinstance(value, np.generic):
        if value.dtype.kind not in ARRAY_KINDS:
            raise TypeError(f"{where} is a numpy scalar of dtype {value.dtype}")
        return {ARRAY: np.asarray(value)}
    if isinstance(value, np.ndarray):  # a subclass (np.matrix, a masked array): its data
        return np.asarray(value)
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, type) and issubclass(value, np.generic):
        return {DTYPE: np.dtype(value).str, "scalar_type": True}
    if isinstance(value, np.dtype):
        return {DTYPE: value.str}
    if any(value is t for t in (bool, int, float, complex, str, list, tuple, dict, object)):
        return {TYPE: value.__name__}
    if type(value) is slice:
        return {SLICE: [_outgoing(v, where, depth + 1) for v in (value.start, value.stop,
                                                                  value.step)]}
    if value is Ellipsis:
        return {"\0ellipsis": True}
    for plain in (bool, int, float, str):  # subclasses (an IntEnum, a str subclass): the value
        if isinstance(value, plain):
            return plain(value)
    if type(value) in (list, tuple):
        items = [_outgoing(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]
        return items if type(value) is list else tuple(items)
    if type(value) is dict:
        bad = [k for k in value if type(k) is not str]
        if bad:
            raise TypeError(f"{where} is a dict with a key that is not a str: {bad[0]!r}")
        return {k: _outgoing(v, f"{where}[{k!r}]", depth + 1) for k, v in value.items()}
    if callable(value):
        raise TypeError(
            f"{where} is a function of the test's ({getattr(value, '__name__', value)!r}); the "
            "student's code runs in the jail and cannot call back into the grader"
        )
    raise TypeError(f"{where} is a {type(value).__name__}, which cannot be sent to the jail")


def _incoming(value: Any, arrays: list, link: Link, depth: int = 0) -> Any:
    """An answer's tagged JSON as grader data; handles for what stayed in the jail."""
    if depth > 60:
        raise ValueError("nested too deeply")
    if value is None or type(value) in (bool, int, float, str):
        return value
    if type(value) is list:
        return [_incoming(v, arrays, link, depth + 1) for v in value]
    if type(value) is not dict:
        raise ValueError("not data")
    if ARRAY in value:
        k = value[ARRAY]
        if type(k) is not int or not 1 <= k <= len(arrays) or type(arrays[k - 1]) is not np.ndarray:
            raise ValueError("a bad array reference")
        array = arrays[k - 1]
        return array[()] if value.get("scalar") is True and array.ndim == 0 else array
    if TUPLE in value:
        items = value[TUPLE]
        if type(items) is not list:
            raise ValueError("a bad tuple")
        return tuple(_incoming(v, arrays, link, depth + 1) for v in items)
    if DICT in value:
        items = value[DICT]
        if type(items) is not dict:
            raise ValueError("a bad dict")
        return {str(k): _incoming(v, arrays, link, depth + 1) for k, v in items.items()}
    if HANDLE in value:
        ident, kind = value[HANDLE], value.get("type")
        if type(ident) is not int or type(kind) is not str:
            raise ValueError("a bad handle")
        return _handle_class(kind[:MAX_NAME])(link, ident, kind[:MAX_NAME])
    if RAISED in value or METHOD in value or UNDEFINED in value:
        return value
    raise ValueError("an unknown tag")
