"""The program that runs inside the sandbox: isolate itself, load the student code, serve calls.

:mod:`autograder.sandbox` starts it as ``python -s [-P] _child.py CONFIG CMD_FD RESULT_FD`` in a new
session, with a scrubbed environment, in the scratch directory, as root or as the invoking user.

1. Set up (still trusted): resource limits, a new network namespace when asked and allowed,
   the interpreter's directories made reachable when they sit under a private home, then the
   dedicated uid; report ``{"setup": "ok"}``. A failure here is the grading machine's problem.
2. Load: import numpy and execute the student code once in a fresh module ``__student__``;
   report ``{"ready": ...}`` or ``{"load": status, "reason": ...}``.
3. Serve: for each line ``{"call": i}`` on CMD_FD, run the driver of call ``i`` (read, like the
   student code, from the root-owned inputs directory), save array outputs as ``out-i-k.npy`` in
   the scratch directory and answer one JSON line on RESULT_FD.

From step 2 on, untrusted code runs in this process and could rewrite any of it, so the parent
re-checks every report: this program makes honest reports easy, it cannot make forged ones
impossible.

Imports: the standard library; numpy only after the privileges are dropped.
"""

import os
import sys

if sys.version_info < (3, 11) and sys.path and sys.path[0] == os.path.dirname(__file__):
    # No -P before 3.11: drop this script's directory so the grader's modules shadow nothing.
    del sys.path[0]

import ctypes  # noqa: E402 - after the sys.path fix above
import json  # noqa: E402
import resource  # noqa: E402
import signal  # noqa: E402
import traceback  # noqa: E402
import types  # noqa: E402

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MS_BIND, MS_MOVE, MS_REC, MS_PRIVATE = 0x1000, 0x2000, 0x4000, 0x40000
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38
CHANNEL_LOST = 86  # exit code: the result pipe cannot be written to (sandbox.CHANNEL_LOST)
REASON_CHARS = 300  # a reason is one sentence; exception messages can be megabytes of array repr

_libc = ctypes.CDLL(None, use_errno=True)


class SetupError(Exception):
    """The sandbox could not be set up (not the student's fault)."""


# --- step 1: isolation ---------------------------------------------------------------------------


def _libc_call(name: str, *args: object) -> None:
    if getattr(_libc, name)(*args) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{name}: {os.strerror(err)}")


def _prctl(option: int, value: int) -> None:
    zero = ctypes.c_ulong(0)
    _libc_call("prctl", option, ctypes.c_ulong(value), zero, zero, zero)


def _unshare(flags: int) -> None:
    if hasattr(os, "unshare"):  # Python 3.12+
        os.unshare(flags)
    else:
        _libc_call("unshare", ctypes.c_int(flags))


def isolate_network() -> bool:
    """Enter a new, empty network namespace; return whether that worked.

    Root (with CAP_SYS_ADMIN) unshares the network namespace directly. Other users can only do
    so inside a new user namespace, which maps their own uid and gid to themselves so that files
    they create keep their owner.
    """
    try:
        _unshare(CLONE_NEWNET)
        return True
    except OSError:
        if os.geteuid() == 0:
            return False
    uid, gid = os.getuid(), os.getgid()
    try:
        _unshare(CLONE_NEWUSER | CLONE_NEWNET)
    except OSError:
        return False
    for name, text in (
        ("setgroups", "deny"),
        ("gid_map", f"{gid} {gid} 1"),
        ("uid_map", f"{uid} {uid} 1"),
    ):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)
    return True


def _set_limit(which: int, soft: int, hard: int | None = None) -> None:
    """Set a limit, never above the hard limit we inherited (raising it needs privileges)."""
    hard = soft if hard is None else hard
    inherited = resource.getrlimit(which)[1]
    if inherited != resource.RLIM_INFINITY:
        hard = min(hard, inherited)
        soft = min(soft, hard)
    resource.setrlimit(which, (soft, hard))


def _mount(
    source: str | None, target: str, fstype: str | None, flags: int, data: str | None
) -> None:
    _libc_call(
        "mount",
        source and source.encode(),
        target.encode(),
        fstype and fstype.encode(),
        ctypes.c_ulong(flags),
        data and data.encode(),
    )


def expose(plan: dict[str, list[str]], stage_root: str) -> None:
    """Make directories under private ones (e.g. Python under /root) reachable after setuid.

    In a private mount namespace, each private directory is covered by an empty tmpfs that anyone
    may traverse (but not list), and only the listed entries are bound back into it. Nothing else
    of the private directory is visible; the host's mounts are untouched.

    Parameters
    ----------
    plan : dict of str to list of str
        ``{private_dir: [entry, ...]}``, outermost directories first.
    stage_root : str
        A root-owned directory where the entries are parked while their parent is covered.
    """
    _unshare(CLONE_NEWNS)
    _mount(None, "/", None, MS_REC | MS_PRIVATE, None)  # nothing below propagates to the host
    for n, (private, entries) in enumerate(plan.items()):
        staged = []
        for k, entry in enumerate(entries):
            # Named per process: a restarted child stages again in the same root.
            stage = os.path.join(stage_root, f"stage-{os.getpid()}-{n}-{k}")
            os.mkdir(stage, 0o700)
            _mount(os.path.join(private, entry), stage, None, MS_BIND | MS_REC, None)
            staged.append((stage, entry))
        _mount("tmpfs", private, "tmpfs", 0, "mode=0711,size=64k")
        for stage, entry in staged:
            os.mkdir(os.path.join(private, entry), 0o755)
            _mount(stage, os.path.join(private, entry), None, MS_MOVE, None)


def drop_privileges(uid: int) -> None:
    """Become ``uid`` (group ``uid``, no supplementary groups) for good."""
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    try:
        os.setuid(0)
    except PermissionError:
        return
    raise SetupError(f"the process could become root again after setuid({uid})")


def set_up(config: dict) -> None:
    """Step 1: limits, namespaces, identity."""
    _set_limit(resource.RLIMIT_CORE, 0)
    _set_limit(resource.RLIMIT_CPU, config["cpu_seconds"], config["cpu_seconds"] + 1)
    _set_limit(resource.RLIMIT_FSIZE, config["max_file_mb"] << 20)
    uid = config["uid"]
    if uid is not None:
        # RLIMIT_NPROC counts every process of the real uid: meaningful for a dedicated uid only.
        _set_limit(resource.RLIMIT_NPROC, config["max_processes"])
    if not config["network"]:
        isolate_network()  # where the OS does not allow it, the child runs on without
    if uid is not None:
        if config["expose"]:
            expose(config["expose"], config["inputs"])
        drop_privileges(uid)
    # After the uid change, which clears the parent-death signal.
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    # Last, so that the set-up above has the memory it needs whatever the limit.
    _set_limit(resource.RLIMIT_AS, config["memory_mb"] << 20)


# --- describing what went wrong ------------------------------------------------------------------


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 3] + "..."


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


# --- step 3: inputs and outputs ------------------------------------------------------------------


def decode(value: object, inputs: str, np: types.ModuleType) -> object:
    """Inverse of the parent's encoding: ``$npy`` file names, ``$tuple`` and ``$dict`` tags."""
    if isinstance(value, list):
        return [decode(v, inputs, np) for v in value]
    if isinstance(value, dict):
        if "$npy" in value:
            return np.load(os.path.join(inputs, value["$npy"]), allow_pickle=False)
        if "$tuple" in value:
            return tuple(decode(v, inputs, np) for v in value["$tuple"])
        return {k: decode(v, inputs, np) for k, v in value["$dict"].items()}
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


def run_call(index: int, ns: dict, config: dict, work_fd: int, np: types.ModuleType) -> dict:
    """Run call ``index`` and return its report (a dict)."""
    with open(os.path.join(config["inputs"], f"call-{index}.json"), encoding="utf-8") as f:
        spec = json.load(f)
    report = {"call": index, "status": "ok", "reason": ""}
    driver = {"__name__": "__driver__"}
    exec(compile(spec["driver"], f"<driver of {spec['test_id']}>", "exec"), driver)
    if not callable(driver.get("run")):
        report["status"] = "error"
        report["reason"] = "the grader's driver defines no callable run(ns, *args, **kwargs)"
        return report
    args = decode(spec["args"], config["inputs"], np)
    kwargs = decode(spec["kwargs"], config["inputs"], np)
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


# --- the main loop -------------------------------------------------------------------------------


def send(fd: int, message: dict) -> None:
    """Write one JSON line to the result pipe, whatever its length.

    If the pipe is gone (the student code closed or replaced it), exit with CHANNEL_LOST, the
    code by which the parent tells this from other exits.
    """
    data = memoryview((json.dumps(message) + "\n").encode())
    try:
        while data:
            data = data[os.write(fd, data) :]
    except OSError as err:
        try:
            sys.stderr.write(f"\n--- sandbox: the result channel is gone ({err.strerror})\n")
            sys.stderr.flush()
        finally:
            os._exit(CHANNEL_LOST)


def load(config: dict) -> tuple[types.ModuleType | None, dict | None, dict | None]:
    """Step 2: the student namespace, or a ``{"load": ...}`` report."""
    sys.path.extend(p for p in config["sys_path"] if p not in sys.path)
    try:
        import numpy
    except BaseException as exc:  # an unreadable site-packages shows up here
        print_traceback("importing numpy", exc)
        return (
            None,
            None,
            {
                "load": "error",
                "reason": _clip(f"the sandbox could not import numpy: {type(exc).__name__}: {exc}"),
            },
        )
    module = types.ModuleType("__student__")
    sys.modules["__student__"] = module  # dataclasses and pickle-free introspection look here
    path = os.path.join(config["inputs"], "student.py")
    main_pid = os.getpid()
    try:
        with open(path, encoding="utf-8") as f:
            source = f.read()
        exec(compile(source, path, "exec"), module.__dict__)
    except BaseException as exc:  # SystemExit and KeyboardInterrupt included
        if os.getpid() != main_pid:
            os._exit(0)
        status, reason = describe(exc, "load", config["memory_mb"])
        if status != "memory":
            print_traceback(f"loading the code: {reason}", exc)
        return None, None, {"load": status, "reason": reason}
    if os.getpid() != main_pid:
        os._exit(0)
    return numpy, module.__dict__, None


def main(argv: list[str]) -> int:
    if argv[1:] == ["--probe-network"]:
        return 0 if isolate_network() else 1
    if argv[1] == "--exec":
        # run_command: the same set-up, then become the given program (e.g. nbgrader).
        with open(argv[2], encoding="utf-8") as f:
            set_up(json.load(f))
        program = argv[argv.index("--") + 1 :]
        os.execve(program[0], program, os.environ)
    config_path, cmd_fd, result_fd = argv[1], int(argv[2]), int(argv[3])
    with open(config_path, encoding="utf-8") as f:
        config = json.load(f)
    for fd in (cmd_fd, result_fd):
        os.set_inheritable(fd, False)  # not passed on to anything the student code starts
    try:
        set_up(config)
    except Exception as exc:  # reported to the parent, which raises SandboxError
        send(result_fd, {"setup": "failed", "reason": f"{type(exc).__name__}: {exc}"})
        return 1
    # Sent before any student code runs, so the parent can trust it.
    send(result_fd, {"setup": "ok"})
    # Opened before the student code runs, which may chdir anywhere.
    work_fd = os.open(config["work"], os.O_RDONLY | os.O_DIRECTORY)
    sys.stdout.reconfigure(line_buffering=True)  # prints are not lost if the process is killed
    np, ns, failure = load(config)
    if failure is not None:
        send(result_fd, failure)
        return 0
    send(result_fd, {"ready": True})
    commands = os.fdopen(cmd_fd, "r", encoding="utf-8")
    for line in commands:
        report = run_call(int(json.loads(line)["call"]), ns, config, work_fd, np)
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # the student code may have closed or replaced it
                pass
        send(result_fd, report)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
