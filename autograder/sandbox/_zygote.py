"""The grading server inside the jail: load numpy and the kit once, fork for every test.

:mod:`autograder.sandbox.session` starts it, through bubblewrap, as
``python -I -S /jail/zygote.py CONFIG CMD_FD RESULT_FD``: its command pipe and its result
pipe. It is the trusted part of the jail and never runs student code itself:

1. Start-up: the import path of the jail (numpy and the kit, nothing else), an inert stand-in
   for matplotlib (no graded function plots, and importing it costs 0.7 s), numpy and the kit
   imported once, this process made non-dumpable (no other process of the uid may read its
   memory or its descriptors); then ``{"setup": "ok"}``.
2. ``{"op": "load", "group": g}``: fork a *loader* for group g (one notebook's cells and the
   routines its tests refuse). The loader drops the command pipe, forbids ``execve`` and
   ``ptrace`` for itself and all it starts (seccomp), arms the refusal latch of
   :mod:`cs231n_lib.refusal`, lowers its memory limit, and runs the cells one by one in a
   fresh module ``__student__``: a cell that raises is reported, and the next cell runs.
3. ``{"op": "call", "index": i}``: the loader runs call i's driver on the loaded namespace,
   as the notebook's test cells run one after the other in one kernel, saves array outputs
   as ``out-i-k.npy`` in the work directory and answers one JSON line on the result pipe.
4. ``{"op": "reset", "nonce": n}``: every other process of the jail is killed (the jail's own
   PID namespace makes ``kill(-1)`` mean exactly that), then ``{"reset": n}``. The grader
   sends it after a call that hung or died; with ``"wipe": true``, between two submissions,
   the folders the config's ``wipe`` names are emptied too: the work folder, and in a jail its
   own ``/tmp`` and ``/dev/shm`` (unjailed, those are the machine's and are never touched).

Loaders run student code, which can rewrite anything in them, so the grader
re-checks every report: this program makes honest reports easy; it cannot make forged ones
impossible.

Imports: the standard library; numpy and ``cs231n_lib`` once the import path is set.
"""

import ctypes
import gc
import importlib.abc
import importlib.machinery
import json
import linecache
import os
import resource
import select
import shutil
import signal
import sys
import traceback
import types

CMD_FD, RESULT_FD = -1, -1  # set from the command line
CHANNEL_LOST = 86  # exit code: the result pipe cannot be written to
REASON_CHARS = 300  # a reason is one sentence; exception messages can be megabytes of array repr
PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 4, 38, 22, 2

_libc = ctypes.CDLL(None, use_errno=True)


def _prctl(option: int, *args: object) -> None:
    values = [ctypes.c_ulong(a) if isinstance(a, int) else a for a in args]
    values += [ctypes.c_ulong(0)] * (4 - len(values))
    if _libc.prctl(ctypes.c_int(option), *values) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl({option}): {os.strerror(err)}")


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 3] + "..."


# --- no new programs: a seccomp filter ------------------------------------------------------------
# A worker that could start a fresh interpreter would get one without the refusal latch, and one
# that could ptrace another process of the jail could run code in it. The filter (classic BPF, see
# the kernel's Documentation/userspace-api/seccomp_filter.rst) makes these system calls fail with
# EPERM for the loader and everything it starts; a foreign syscall ABI is refused whole.

_ARCHES = {
    # machine: (AUDIT_ARCH_*, [execve, execveat, ptrace, process_vm_readv, process_vm_writev])
    "x86_64": (0xC000003E, [59, 322, 101, 310, 311]),
    "aarch64": (0xC00000B7, [221, 281, 117, 270, 271]),
}
_X32_BIT = 0x40000000  # x86_64's x32 ABI numbers: refused whole


class _SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_ushort),
        ("jt", ctypes.c_ubyte),
        ("jf", ctypes.c_ubyte),
        ("k", ctypes.c_uint32),
    ]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def forbid_new_programs() -> None:
    """Install the filter; OSError where the machine's architecture is not known here."""
    machine = os.uname().machine
    if machine not in _ARCHES:
        raise OSError(f"no seccomp filter for the {machine} architecture")
    arch, numbers = _ARCHES[machine]
    ld_arch, ld_nr = (0x20, 0, 0, 4), (0x20, 0, 0, 0)  # BPF_LD|BPF_W|BPF_ABS of seccomp_data
    allow, deny = (0x06, 0, 0, 0x7FFF0000), (0x06, 0, 0, 0x00050000 | 1)  # RET ALLOW / ERRNO(1)
    tests = []
    if machine == "x86_64":
        tests.append((0x35, _X32_BIT))  # BPF_JMP|BPF_JGE|BPF_K
    tests += [(0x15, nr) for nr in numbers]  # BPF_JMP|BPF_JEQ|BPF_K
    body = []
    for i, (code, k) in enumerate(tests):
        body.append((code, len(tests) - i, 0, k))  # true: jump over the rest and ALLOW to deny
    program = [ld_arch, (0x15, 1, 0, arch), deny, ld_nr, *body, allow, deny]
    filters = (_SockFilter * len(program))(*[_SockFilter(*ins) for ins in program])
    fprog = _SockFprog(len(program), filters)
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    _prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.cast(ctypes.byref(fprog), ctypes.c_void_p))


# --- matplotlib, inert ---------------------------------------------------------------------------


class _Inert:
    """What plotting returns in the jail: any attribute, any call, two of anything; no effect."""

    def __getattr__(self, name: str) -> "_Inert":
        if name.startswith("__"):
            raise AttributeError(name)
        return self

    def __call__(self, *args: object, **kwargs: object) -> "_Inert":
        return self

    def __iter__(self):
        return iter((self, self))

    def __getitem__(self, key: object) -> "_Inert":
        return self

    def __setitem__(self, key: object, value: object) -> None:
        return None

    def __enter__(self) -> "_Inert":
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class _InertFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers every ``import matplotlib...`` with an inert module."""

    def find_spec(self, name, path=None, target=None):
        if name == "matplotlib" or name.startswith("matplotlib."):
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        module = types.ModuleType(spec.name)
        module.__path__ = []
        module.__getattr__ = lambda attr: _INERT  # PEP 562
        return module

    def exec_module(self, module):
        return None


_INERT = _Inert()


def type_name(value: object) -> str:
    """``float``, ``numpy.ndarray``, ``__student__.MyArray``: the exact type of a value."""
    try:
        kind = type(value)
        module, name = kind.__module__, kind.__qualname__
        return str(name) if module == "builtins" else f"{module}.{name}"
    except BaseException:  # a student metaclass can make even this raise
        return "<unnamed type>"


def describe(exc: BaseException, when: str, memory_mb: int) -> tuple[str, str]:
    """The (status, reason) for an exception that escaped the student code.

    ``when`` is ``"call"`` or ``"load"``.
    """
    during = "during the call" if when == "call" else "while loading the code"
    raised = "the student code raised" if when == "call" else "loading the student code raised"
    try:
        if isinstance(exc, MemoryError):
            return (
                "memory",
                f"the code ran out of memory {during} (MemoryError; limit {memory_mb} MB)",
            )
        if isinstance(exc, SystemExit):
            return "error", _clip(
                f"SystemExit raised (sys.exit called) {during}, with exit code {exc.code!r}"
            )
        if isinstance(exc, KeyboardInterrupt):
            return "error", f"KeyboardInterrupt raised {during}"
        name = type(exc).__qualname__
        message = str(exc)
        return "error", _clip(f"{raised} {name}: {message}" if message else f"{raised} {name}")
    except BaseException:  # str() of a student exception is student code, and may raise anything
        return "error", f"{raised} an exception that cannot be described"


def print_traceback(header: str, exc: BaseException) -> None:
    """Print ``exc`` to stderr for the captured log, from the frame below ours; never raises."""
    try:
        tb = exc.__traceback__
        tb = tb.tb_next if tb is not None and tb.tb_next is not None else tb
        text = "".join(traceback.format_exception(type(exc), exc, tb))
        sys.stderr.write(f"\n--- {header}\n{text}")
    except BaseException:  # the log is a courtesy; the report is what counts
        pass


# --- inputs and outputs ------------------------------------------------------------------


def decode(value: object, arrays, np: types.ModuleType) -> object:
    """Inverse of the parent's encoding: ``$npy`` names (read at their offset in the group's
    array file ``arrays``: ``(file, {name: offset})``), ``$tuple`` and ``$dict`` tags."""
    if isinstance(value, list):
        return [decode(v, arrays, np) for v in value]
    if isinstance(value, dict):
        if "$npy" in value:
            f, offsets = arrays
            f.seek(offsets[value["$npy"]])
            return np.lib.format.read_array(f, allow_pickle=False)
        if "$tuple" in value:
            return tuple(decode(v, arrays, np) for v in value["$tuple"])
        return {k: decode(v, arrays, np) for k, v in value["$dict"].items()}
    return value


class BadOutput(Exception):
    """An output the grader cannot take as data."""


def as_json(value: object, where: str, np: types.ModuleType, depth: int = 0) -> object:
    """``value`` as JSON data: numpy scalars become Python numbers, tuples become lists."""
    kind = type(value)
    if value is None or kind in (bool, int, float, str):
        return value
    if depth > 50:
        raise BadOutput(f"{where} is nested more than 50 levels deep")
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        return value.item()
    if kind in (list, tuple):
        return [as_json(v, f"{where}[{i}]", np, depth + 1) for i, v in enumerate(value)]
    if kind is dict:
        if not all(type(k) is str for k in value):
            raise BadOutput(f"{where} is a dict with keys that are not strings")
        return {k: as_json(v, f"{where}[{k!r}]", np, depth + 1) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        raise BadOutput(f"{where} is an array inside a list or dict; arrays must be whole outputs")
    raise BadOutput(
        f"{where} is a {type_name(value)}, which is neither a numpy.ndarray nor JSON data"
    )


def pack(index: int, outputs: object, work_fd: int, np: types.ModuleType) -> list[dict]:
    """The ``outputs`` entries of a report; arrays are saved to ``out-<index>-<k>.npy``."""
    if type(outputs) is not list:
        raise BadOutput(f"the driver returned a {type_name(outputs)}, not a list of outputs")
    entries = []
    for k, value in enumerate(outputs):
        if type(value) is np.ndarray:
            if value.dtype.kind not in "biufc":
                raise BadOutput(
                    f"output {k} is a numpy.ndarray of dtype {value.dtype}; only "
                    "numeric and bool arrays can be graded"
                )
            fd = os.open(
                f"out-{index}-{k}.npy",
                os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW,
                0o600,
                dir_fd=work_fd,
            )
            try:
                with os.fdopen(fd, "wb") as f:
                    np.save(f, value, allow_pickle=False)
            except OSError as err:
                raise BadOutput(f"output {k} could not be saved: {err.strerror}") from None
            entries.append({"npy": True})
        elif isinstance(value, np.ndarray):
            raise BadOutput(
                f"output {k} is a {type(value).__qualname__} (ndarray subclass), "
                "not a numpy.ndarray"
            )
        else:
            entries.append({"json": as_json(value, f"output {k}", np)})
    return entries


def run_call(
    index: int, spec: dict, arrays, ns: dict, config: dict, work_fd: int, np: types.ModuleType
) -> dict:
    """Run call ``index`` (its ``spec``, its arrays in ``arrays``); return its report."""
    report = {"call": index, "status": "ok", "reason": ""}
    driver = {"__name__": "__driver__"}
    exec(compile(spec["driver"], f"<driver of {spec['test_id']}>", "exec"), driver)
    if not callable(driver.get("run")):
        report["status"] = "error"
        report["reason"] = "the grader's driver defines no callable run(ns, *args, **kwargs)"
        return report
    args = decode(spec["args"], arrays, np)
    kwargs = decode(spec["kwargs"], arrays, np)
    main_pid = os.getpid()
    try:
        outputs = driver["run"](ns, *args, **kwargs)
    except BaseException as exc:  # SystemExit and KeyboardInterrupt included
        if os.getpid() != main_pid:  # a fork made by the student code must never answer
            os._exit(0)
        report["status"], report["reason"] = describe(exc, "call", config["memory_mb"])
        if report["status"] != "memory":  # formatting needs memory the student may hold
            print_traceback(f"{spec['test_id']}: {report['reason']}", exc)
        return report
    if os.getpid() != main_pid:
        os._exit(0)
    report["types"] = [type_name(v) for v in outputs] if type(outputs) is list else []
    try:
        report["outputs"] = pack(index, outputs, work_fd, np)
    except BadOutput as err:
        report["status"], report["reason"] = "bad_output", _clip(str(err))
    except RecursionError:
        report["status"], report["reason"] = "bad_output", "an output is nested too deeply"
    except MemoryError:
        report["status"] = "memory"
        report["reason"] = (
            f"the outputs could not be saved within the {config['memory_mb']} MB limit"
        )
    except Exception as exc:  # e.g. a student __len__ or dtype trick inside np.save
        report["status"] = "bad_output"
        report["reason"] = describe(exc, "call", config["memory_mb"])[1].replace(
            "the student code raised", "saving the outputs raised", 1
        )
    return report



# --- the processes -------------------------------------------------------------------------------


def send(message: dict) -> None:
    """Write one JSON line to the result pipe, whatever its length.

    If the pipe is gone (the student code closed or replaced it), exit with CHANNEL_LOST, the
    code by which the parent tells this from other exits.
    """
    data = memoryview((json.dumps(message) + "\n").encode())
    try:
        while data:
            data = data[os.write(RESULT_FD, data) :]
    except OSError as err:
        try:
            sys.stderr.write(f"\n--- jail: the result channel is gone ({err.strerror})\n")
            sys.stderr.flush()
        finally:
            os._exit(CHANNEL_LOST)


def _set_limit(which: int, soft: int) -> None:
    hard = resource.getrlimit(which)[1]
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(which, (soft, soft))


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # the student code may have closed or replaced it
            pass


class CellTimeout(Exception):
    """A cell ran past its share of the notebook's load time."""


def _alarm(signum: int, frame: object) -> None:
    raise CellTimeout("the cell ran longer than the time one cell may take, and was stopped")


def _run_cells(cells: list, ns: dict, config: dict) -> list[dict]:
    """Run each cell in ``ns``; the (label, reason) of every cell that raised or ran too long."""
    signal.signal(signal.SIGALRM, _alarm)
    failed = []
    main_pid = os.getpid()
    for label, code in cells:
        filename = f"<{label}>"
        # Tracebacks then quote the student's lines, as a notebook would.
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
        # A cell that runs too long is stopped like one that raises; the next one runs.
        signal.setitimer(signal.ITIMER_REAL, config["cell_seconds"])
        try:
            exec(compile(code, filename, "exec"), ns)
        except BaseException as exc:  # SystemExit and KeyboardInterrupt included
            if os.getpid() != main_pid:  # a fork made by a cell never reports
                os._exit(0)
            status, reason = describe(exc, "load", config["memory_mb"])
            if status != "memory":
                print_traceback(f"{label}: {reason}", exc)
            failed.append({"label": str(label)[:100], "status": status, "reason": reason})
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        if os.getpid() != main_pid:
            os._exit(0)
    return failed


def _serve_call(index: int, group: dict, arrays, ns: dict, config: dict, work_fd: int, np,
                refusal) -> dict:
    """Run call ``index`` of ``group`` in the loader; its report (refused calls noted)."""
    if refusal is not None:
        refusal.forget_calls()
    spec = group["calls"][str(index)]
    report = run_call(index, spec, arrays, ns, config, work_fd, np)
    if refusal is not None:
        report["refused"] = refusal.called()
        if report["refused"] and report["status"] in ("ok", "error"):
            report["status"] = "error"
            report["reason"] = refusal.message(report["refused"][0])
            report.pop("outputs", None)
    return report


def _serve_late_call(index: int, late: dict, ns: dict, config: dict, work_fd: int, np,
                     refusal) -> dict:
    """Call ``index`` as the command gave it; its arrays are at their offsets in ``late.bin``."""
    with open(os.path.join(config["inputs"], "late.bin"), "rb") as f:
        group = {"calls": {str(index): late["spec"]}}
        return _serve_call(index, group, (f, late["offsets"]), ns, config, work_fd, np, refusal)


def _exit_code(status: int) -> int:
    """A wait status as a returncode: the exit code, or minus the signal number."""
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def loader(group: int, commands: int, config: dict, np, refusal) -> None:
    """The loader of one group: isolate, arm, run the cells, then serve the calls in order."""
    os.close(CMD_FD)  # the grader's commands are the zygote's alone
    os.setpgid(0, 0)
    with open(os.path.join(config["inputs"], f"group-{group}.json"), encoding="utf-8") as f:
        spec = json.load(f)
    forbid_new_programs()
    if spec["refuse"]:
        refusal.refuse(spec["refuse"])
    _set_limit(resource.RLIMIT_AS, config["memory_mb"] << 20)
    work_fd = os.open(config["work"], os.O_RDONLY | os.O_DIRECTORY)
    arrays = (open(os.path.join(config["inputs"], f"group-{group}.bin"), "rb"), spec["offsets"])
    module = types.ModuleType("__student__")
    sys.modules["__student__"] = module  # dataclasses and pickle-free introspection look here
    failed = _run_cells(spec["cells"], module.__dict__, config)
    _flush()
    send({"ready": group, "cells": failed})
    stream = os.fdopen(commands, "r", encoding="utf-8")
    for line in stream:
        request = json.loads(line)
        index = int(request["call"])
        if request.get("late") is not None:  # chosen after the cells ran (autograder.handles)
            report = _serve_late_call(index, request["late"], module.__dict__, config, work_fd,
                                      np, refusal)
        else:
            report = _serve_call(index, spec, arrays, module.__dict__, config, work_fd, np,
                                 refusal)
        _flush()
        send(report)
        if report["status"] == "memory":  # after a MemoryError the heap may be in any state
            break
    os._exit(0)


def reset(config: dict, loader_pid: int | None) -> None:
    """Kill every process the loaders started."""
    if config["pid_namespace"]:
        try:
            os.kill(-1, signal.SIGKILL)  # in a PID namespace: all of it but init and us
        except ProcessLookupError:
            pass
    elif loader_pid is not None:
        try:
            os.killpg(loader_pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    # SIGKILL is never caught: none of them runs another instruction of its own, so there is
    # no need to wait for the kernel to finish tearing them down. Reap what has ended.
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def _empty(folder: str) -> bool:
    """Remove everything in ``folder`` (the jail's own: all of it belongs to this uid)."""
    for root, dirs, _files in os.walk(folder):
        for d in dirs:  # a folder the student made unreadable or unwritable
            path = os.path.join(root, d)
            if os.path.islink(path):  # listed among dirs, never followed: its target is not ours
                continue
            try:
                os.chmod(path, 0o700)
            except OSError:
                pass
    for entry in os.listdir(folder):
        path = os.path.join(folder, entry)
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
        except OSError:
            pass
    return not os.listdir(folder)


def _warm_up(np) -> None:
    """Do once here what every loader does, so that its lazy imports and caches are inherited
    instead of being rebuilt (and their pages copied) in each fork."""
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.ones((2, 2)), allow_pickle=False)
    buffer.seek(0)
    np.load(buffer, allow_pickle=False)
    json.loads(json.dumps({"a": [1.0, "b", None]}))
    try:
        raise ValueError("warm-up")
    except ValueError as exc:
        traceback.format_exception(type(exc), exc, exc.__traceback__)


def main(argv: list[str]) -> int:
    global CMD_FD, RESULT_FD
    with open(argv[1], encoding="utf-8") as f:
        config = json.load(f)
    CMD_FD, RESULT_FD = int(argv[2]), int(argv[3])
    for fd in (CMD_FD, RESULT_FD):
        os.set_inheritable(fd, True)  # the loaders answer on RESULT_FD
    sys.path[:0] = config["sys_path"]
    sys.meta_path.insert(0, _InertFinder())
    _prctl(PR_SET_DUMPABLE, 0)
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    import numpy

    for name in config["preload"]:
        try:
            __import__(name)
        except ImportError as exc:
            send({"setup": "failed", "reason": f"import {name}: {exc}"})
            return 1
    refusal = sys.modules.get("cs231n_lib.refusal")
    sys.stdout.reconfigure(line_buffering=True)  # prints are not lost if a process is killed
    _warm_up(numpy)
    gc.collect()
    gc.freeze()  # the loaders share this heap copy-on-write (see loader)
    send({"setup": "ok"})
    pending = b""
    group, loader_pid, to_loader, outstanding = None, None, None, None
    while True:
        if loader_pid is not None:
            try:
                pid, status = os.waitpid(loader_pid, os.WNOHANG)
            except ChildProcessError:
                pid, status = loader_pid, 0
            if pid == loader_pid:  # the loader died: say so for what waits on it
                code = _exit_code(status)
                if outstanding is not None:
                    send({"call": outstanding, "status": "crashed", "exit": code})
                else:
                    send({"died": group, "exit": code})
                loader_pid, outstanding = None, None
                if to_loader is not None:
                    os.close(to_loader)
                    to_loader = None
        if b"\n" not in pending:
            ready, _, _ = select.select([CMD_FD], [], [], 0.02)
            if not ready:
                continue
            chunk = os.read(CMD_FD, 1 << 16)
            if not chunk:
                return 0
            pending += chunk
            continue
        line, pending = pending.split(b"\n", 1)
        message = json.loads(line)
        op = message["op"]
        outstanding = None
        if op == "load":
            if to_loader is not None:
                os.close(to_loader)
            reset(config, loader_pid)
            group = int(message["group"])
            read_end, to_loader = os.pipe()
            _flush()
            loader_pid = os.fork()
            if loader_pid == 0:
                os.close(to_loader)
                try:
                    loader(group, read_end, config, numpy, refusal)
                except BaseException as exc:  # the loader's own set-up failed: say so, end
                    send({"load": "failed", "reason": _clip(f"{type(exc).__name__}: {exc}")})
                finally:
                    os._exit(0)
            os.close(read_end)
        elif op == "call":
            index = int(message["index"])
            if to_loader is None:
                send({"call": index, "status": "crashed", "exit": None})
                continue
            try:
                forward = {"call": index, "late": message.get("late")}
                os.write(to_loader, (json.dumps(forward) + "\n").encode())
                outstanding = index
            except OSError:
                send({"call": index, "status": "crashed", "exit": None})
        elif op == "reset":
            if to_loader is not None:
                os.close(to_loader)
                to_loader = None
            reset(config, loader_pid)
            loader_pid = None
            if message.get("wipe"):  # the next submission's: nothing of this one may remain
                wiped = all(_empty(d) for d in config["wipe"])
                send({"reset": message["nonce"], "wiped": wiped})
            else:
                send({"reset": message["nonce"]})


if __name__ == "__main__":
    sys.exit(main(sys.argv))
