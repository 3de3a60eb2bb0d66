"""Run untrusted student code in a fresh, sandboxed Python process and collect its outputs as data.

``run_calls(code, calls)`` starts one child process (``autograder/_child.py``) that executes the
student code once and then serves the grader's calls one at a time. Outputs come back as data
only: arrays as ``.npy`` files parsed here with NumPy's header reader (no pickles), everything else
as JSON. A call that hangs, kills the process or breaks the protocol costs that call only: the
child's process group is killed and a new child, re-running the code, serves the calls after it.

Isolation, set up by the child before any student code runs: its own session; limits on CPU
time, address space, file size, core dumps and (for a dedicated uid) processes; a new network
namespace when the OS allows; as root with ``uid``, that uid with no groups, no new privileges
and no way back; a scrubbed environment; a scratch directory as cwd and HOME. The code, the
calls and their arrays sit in a second directory the child can read but not change.

Imports: NumPy and the standard library.
"""

import importlib.util
import json
import math
import os
import select
import shutil
import signal
import stat
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

CHILD = Path(__file__).resolve().with_name("_child.py")
STATUSES = (
    "ok",
    "error",
    "timeout",
    "crashed",
    "memory",
    "load_error",
    "load_timeout",
    "bad_output",
    "not_run",
)
IMPORT_ROOTS = ("numpy", "cs231n_lib")  # the child finds these where this process found them
MAX_REPORT_BYTES = 64 << 20  # one call's JSON report
SETUP_SECONDS = 30.0  # interpreter start-up and isolation, before any student code
ARRAY_KINDS = "biufc"  # bool, int, uint, float, complex
CHANNEL_LOST = 86  # the child's exit code when it cannot write to its result pipe (_child.py)


@dataclass(frozen=True)
class Limits:
    """Resource limits of each sandboxed process (all positive)."""

    wall_seconds_per_test: float = 20.0  # per call, enforced by the parent (kill on expiry)
    load_seconds: float = 30.0  # for executing the student code at child start-up
    cpu_seconds: int = 120  # RLIMIT_CPU of each child process
    memory_mb: int = 2048  # RLIMIT_AS of each child process
    max_processes: int = 32  # RLIMIT_NPROC (effective when running as a dedicated uid)
    max_output_bytes: int = 64_000  # stdout+stderr kept per child; the rest is drained and dropped
    max_file_mb: int = 256  # RLIMIT_FSIZE
    network: bool = False  # False: a new network namespace when the OS allows

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "network":
                if not isinstance(value, bool):
                    raise TypeError(f"Limits.network must be a bool, got {value!r}")
            elif isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"Limits.{f.name} must be a positive number, got {value!r}")


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Call:
    """One grader-chosen call: ``run(ns, *args, **kwargs)`` from ``driver``, run in the sandbox.

    ``driver`` is trusted Python source that defines ``run`` (a ``def`` or an assignment), which
    calls the student's code found in the namespace ``ns`` and returns a list of outputs.
    ``args`` and ``kwargs`` hold ndarrays of numbers or bools and JSON data (lists, tuples,
    dicts with str keys, numbers, strings, None, bool), nested as needed.
    """

    test_id: str
    driver: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


@dataclass
class Outcome:
    """What one call produced.

    ``status`` is one of :data:`STATUSES`; ``reason`` is one sentence ("" when ok); ``outputs``
    (only when ok) holds ndarrays read from ``.npy`` files and JSON values; ``output_types`` is
    the child's report of each output's exact type (informative only; None when not reported).
    """

    test_id: str
    status: str
    reason: str
    outputs: list | None
    output_types: list[str] | None
    seconds: float


class SandboxError(RuntimeError):
    """The sandbox itself could not be set up: a problem of the grading machine, not the student."""


# --- checking and encoding the grader's calls ----------------------------------------------------


def _encode(value: Any, where: str, arrays: list, prefix: str) -> Any:
    """JSON for ``value``: arrays become ``{"$npy": name}`` (saved later); tuples, dicts tagged."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in ARRAY_KINDS:
            raise TypeError(
                f"{where} is an array of dtype {value.dtype}; only numeric and bool "
                "arrays can be sent to the sandbox"
            )
        name = f"{prefix}-{len(arrays)}.npy"
        arrays.append((name, np.asarray(value)))
        return {"$npy": name}
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        items = [_encode(v, f"{where}[{i}]", arrays, prefix) for i, v in enumerate(value)]
        return items if isinstance(value, list) else {"$tuple": items}
    if isinstance(value, dict):
        bad = [k for k in value if not isinstance(k, str)]
        if bad:
            raise TypeError(f"{where} is a dict with a key that is not a str: {bad[0]!r}")
        items = {k: _encode(v, f"{where}[{k!r}]", arrays, prefix) for k, v in value.items()}
        return {"$dict": items}
    raise TypeError(
        f"{where} is a {type(value).__name__}; call arguments must be ndarrays or "
        "JSON data (lists, tuples, dicts, numbers, strings, None, bool)"
    )


def _encode_call(index: int, call: Call) -> tuple[dict, list]:
    """The JSON spec of ``call`` and the arrays it refers to, after checking it."""
    if not isinstance(call, Call):
        raise TypeError(f"calls[{index}] must be a Call, got {type(call).__name__}")
    if not isinstance(call.test_id, str):
        raise TypeError(f"calls[{index}].test_id must be a str, got {call.test_id!r}")
    if not isinstance(call.driver, str):
        raise TypeError(
            f"call {call.test_id!r}: driver must be Python source (str), "
            f"got {type(call.driver).__name__}"
        )
    try:
        compile(call.driver, f"<driver of {call.test_id}>", "exec")
    except SyntaxError as err:
        raise ValueError(f"call {call.test_id!r}: the driver does not compile: {err}") from None
    if not isinstance(call.args, (tuple, list)) or not isinstance(call.kwargs, dict):
        raise TypeError(
            f"call {call.test_id!r}: args must be a tuple and kwargs a dict, got "
            f"{type(call.args).__name__} and {type(call.kwargs).__name__}"
        )
    arrays: list = []
    prefix = f"call-{index}"
    args = [
        _encode(v, f"call {call.test_id!r} argument {i}", arrays, prefix)
        for i, v in enumerate(call.args)
    ]
    kwargs = _encode(call.kwargs, f"call {call.test_id!r} keyword arguments", arrays, prefix)
    spec = {"test_id": call.test_id, "driver": call.driver, "args": args, "kwargs": kwargs}
    return spec, arrays


# --- what the child may see ----------------------------------------------------------------------


def _environment(home: str) -> dict[str, str]:
    """All of the child's environment: nothing of the grader's (NBGRADER_*, CS231N_*, CI...)."""
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": home,
        "LANG": "C.UTF-8",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg",
        "PYTHONHASHSEED": "0",
    }


def _command(*args: str) -> list[str]:
    # -s: no user site-packages (HOME is the student's scratch dir, and start-up runs as root);
    # -P (3.11+): no script directory on sys.path (_child.py drops it itself on 3.10).
    # Not -I: its -E would also drop PYTHONHASHSEED, and the environment is entirely ours anyway.
    flags = ["-s", "-P"] if sys.version_info >= (3, 11) else ["-s"]
    return [sys.executable, *flags, str(CHILD), *args]


_network_isolation: bool | None = None


def network_isolation_available() -> bool:
    """Whether sandboxed processes get their own, empty network namespace on this machine.

    Probed once (a child tries exactly what it does before running student code), then cached.
    True as root with CAP_SYS_ADMIN, or as a user where unprivileged user namespaces are allowed.
    """
    global _network_isolation
    if _network_isolation is None:
        try:
            probe = subprocess.run(
                _command("--probe-network"),
                env=_environment("/"),
                cwd="/",
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=SETUP_SECONDS,
                start_new_session=True,
                check=False,
            )
            _network_isolation = probe.returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            _network_isolation = False
    return _network_isolation


def _import_roots() -> list[str]:
    """The directories from which this process imports :data:`IMPORT_ROOTS` (e.g. PYTHONPATH)."""
    roots = []
    for name in IMPORT_ROOTS:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if spec is not None and spec.origin and spec.submodule_search_locations:
            roots.append(str(Path(spec.origin).resolve().parent.parent))
    return roots


def _open_to_others(path: str, bits: int) -> bool:
    return bool(os.stat(path).st_mode & bits)


def _exposure_plan(import_dirs: list[str], other_dirs: list[str]) -> dict[str, list[str]]:
    """Which private directories a dedicated uid must be let through, and to which entries.

    A uid without a passwd entry is "other" to every file. Each directory it imports from must
    be readable by others, and every ancestor traversable, except that one private ancestor per
    path (typically /root, home of a pyenv or conda Python) may be bridged: the child covers it
    with an empty tmpfs in a private mount namespace and binds back only the entries listed.

    Raises
    ------
    SandboxError
        If a directory cannot be made reachable that way; the message names it and the fix.
    """
    plan: dict[str, set[str]] = {}
    for directory in [*import_dirs, *other_dirs]:
        parts = Path(directory).resolve().parts
        private = None
        for i in range(1, len(parts)):
            ancestor = os.path.join(*parts[:i])
            if _open_to_others(ancestor, stat.S_IXOTH):
                continue
            if private is not None:
                raise SandboxError(
                    f"{directory} sits under two directories that other users cannot traverse "
                    f"({private} and {ancestor}); the sandbox uid could not import from it. "
                    f"Make one of them traversable (chmod o+x) or install Python elsewhere"
                )
            private = ancestor
            plan.setdefault(ancestor, set()).add(parts[i])
        if directory in import_dirs and not _open_to_others(directory, stat.S_IROTH | stat.S_IXOTH):
            raise SandboxError(
                f"{directory} is not readable by other users, so the sandbox uid "
                f"cannot import from it (chmod o+rx {directory})"
            )
    return {k: sorted(v) for k, v in sorted(plan.items(), key=lambda item: len(item[0]))}


def _needed_dirs() -> list[str]:
    """The directories the child imports from: the standard library, site-packages, the kit."""
    dirs = {sysconfig.get_path(name) for name in ("stdlib", "platstdlib", "purelib", "platlib")}
    dirs.add(os.path.join(sysconfig.get_path("platstdlib"), "lib-dynload"))
    dirs.update(_import_roots())
    return sorted(d for d in dirs if d and os.path.isdir(d))


# --- the run's directories -----------------------------------------------------------------------


class _Scratch:
    """The run's two directories, removed on exit (``work`` only if we created it).

    ``inputs`` is root-owned and read-only to the child: the code, the calls, their arrays, and
    the config. ``work`` is the child's cwd and HOME (0700, owned by the sandbox uid); outputs
    land there, and are read back through ``work_fd`` so that renaming the directory changes
    nothing.
    """

    def __init__(self, workdir: Path | None, uid: int | None) -> None:
        self.inputs = Path(tempfile.mkdtemp(prefix="sandbox-in-"))
        self.own_work = workdir is None
        if workdir is None:
            self.work = Path(tempfile.mkdtemp(prefix="sandbox-"))
        else:
            self.work = Path(workdir).resolve()
            self.work.mkdir(parents=True, exist_ok=True)
        if uid is not None:
            os.chown(self.inputs, 0, uid)
            os.chmod(self.inputs, 0o750)
            os.chown(self.work, uid, uid)
        os.chmod(self.work, 0o700)
        self.work_fd = os.open(self.work, os.O_RDONLY | os.O_DIRECTORY)

    def write(self, code: str, specs: list[tuple[dict, list]], config: dict) -> Path:
        """Write the inputs; return the config's path."""
        (self.inputs / "student.py").write_text(code, encoding="utf-8")
        for index, (spec, arrays) in enumerate(specs):
            for name, array in arrays:
                np.save(self.inputs / name, array, allow_pickle=False)
            (self.inputs / f"call-{index}.json").write_text(json.dumps(spec), encoding="utf-8")
        path = self.inputs / "config.json"
        path.write_text(json.dumps(config), encoding="utf-8")
        return path

    def __enter__(self) -> "_Scratch":
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.work_fd)
        _remove_tree(self.inputs)
        if self.own_work:
            _remove_tree(self.work)


def _remove_tree(path: Path) -> None:
    """Remove a directory the student may have filled with read-only subdirectories."""
    try:
        shutil.rmtree(path)
    except OSError:
        for root, dirs, _files in os.walk(path):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o700, follow_symlinks=False)
        shutil.rmtree(path, ignore_errors=True)


# --- one child process ---------------------------------------------------------------------------


class _Drain(threading.Thread):
    """Reads a child's stdout+stderr until end of file, keeping the first ``keep`` bytes."""

    def __init__(self, fd: int, keep: int) -> None:
        super().__init__(daemon=True, name=f"sandbox-drain-{fd}")
        self.fd, self.keep = fd, keep
        self.kept = bytearray()
        self.dropped = 0
        self._halt = threading.Event()
        self.start()

    def run(self) -> None:
        poller = select.poll()
        poller.register(self.fd, select.POLLIN)
        while not self._halt.is_set():
            if not poller.poll(100):
                continue
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                return
            room = max(self.keep - len(self.kept), 0)
            self.kept += chunk[:room]
            self.dropped += max(len(chunk) - room, 0)

    def finish(self) -> str:
        """The kept text, once the writers are gone (or after a grace period, if some escaped)."""
        self.join(2.0)
        self._halt.set()
        self.join(1.0)
        if not self.is_alive():
            os.close(self.fd)
        text = self.kept.decode("utf-8", "replace")
        if self.dropped:
            text += f"\n[sandbox: {self.dropped} more bytes of output were dropped]\n"
        return text


class _Child:
    """One sandboxed process: its pipes, the thread draining its output, and how to end it."""

    def __init__(self, scratch: _Scratch, config: Path, limits: Limits, uid: int | None) -> None:
        self.uid = uid
        cmd_r, self.cmd_w = os.pipe()
        self.result_r, result_w = os.pipe()
        out_r, out_w = os.pipe()
        try:
            self.proc = subprocess.Popen(
                _command(str(config), str(cmd_r), str(result_w)),
                stdin=subprocess.DEVNULL,
                stdout=out_w,
                stderr=out_w,
                pass_fds=(cmd_r, result_w),
                cwd=scratch.work,
                env=_environment(str(scratch.work)),
                start_new_session=True,
            )
        except BaseException:
            for fd in (self.cmd_w, self.result_r, out_r):
                os.close(fd)
            raise
        finally:
            for fd in (cmd_r, result_w, out_w):
                os.close(fd)
        self.drain = _Drain(out_r, limits.max_output_bytes)
        self.pending = bytearray()
        self.scanned = 0  # bytes of ``pending`` known to hold no newline
        self.text: str | None = None  # the captured output, once stopped

    def exit_status(self, grace: float = 0.0) -> int | None:
        """The returncode once the process has ended (waiting up to ``grace`` s), else None.

        Peeks without reaping, so that the process group id stays reserved until :meth:`stop`.
        """
        end = time.monotonic() + grace
        while True:
            try:
                info = os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return self.proc.returncode
            if info is not None:
                return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status
            if time.monotonic() >= end:
                return None
            time.sleep(0.01)

    def send(self, index: int) -> bool:
        try:
            os.write(self.cmd_w, (json.dumps({"call": index}) + "\n").encode())
        except OSError:
            return False
        return True

    def receive(self, deadline: float) -> tuple[str, bytes]:
        """The next line from the result pipe: ``("line", data)``, or ``("eof" | "exited" |
        "timeout" | "too_long", b"")``."""
        poller = select.poll()
        poller.register(self.result_r, select.POLLIN)
        while True:
            newline = self.pending.find(b"\n", self.scanned)
            if newline >= 0:
                line = bytes(self.pending[:newline])
                del self.pending[: newline + 1]
                self.scanned = 0
                return "line", line
            self.scanned = len(self.pending)
            if len(self.pending) > MAX_REPORT_BYTES:
                return "too_long", b""
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "timeout", b""
            if not poller.poll(min(remaining, 0.1) * 1000):
                # Forks of the student code may hold the pipe open after the process died.
                if self.exit_status() is not None:
                    return "exited", b""
                continue
            chunk = os.read(self.result_r, 1 << 20)
            if not chunk:
                return "eof", b""
            self.pending += chunk

    def unsolicited(self) -> bool:
        """Whether the process wrote to its result pipe when no call was running."""
        if self.pending:
            return True
        poller = select.poll()
        poller.register(self.result_r, select.POLLIN)
        return bool(poller.poll(0))

    def stop(self) -> str:
        """Kill the process group (and the uid's processes), reap, return the captured output."""
        if self.text is not None:
            return self.text
        _kill_group(self.proc.pid)
        if self.uid is not None:
            _kill_uid(self.uid)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # stuck in the kernel; reaped by the next wait
            pass
        os.close(self.cmd_w)
        os.close(self.result_r)
        self.text = self.drain.finish()
        return self.text


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _processes_of(uid: int) -> list[int]:
    """Live (not zombie) processes whose real uid is ``uid``, from /proc."""
    pids = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            status = Path("/proc", entry.name, "status").read_text()
        except OSError:
            continue
        info = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(info["Uid"].split()[0]) == uid and info["State"].split()[0] not in ("Z", "X"):
            pids.append(int(entry.name))
    return pids


def _kill_uid(uid: int) -> None:
    """SIGKILL every process of ``uid`` until none is left, forks made meanwhile included."""
    for _ in range(200):
        pids = _processes_of(uid)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.01)


# --- reading what the child says -----------------------------------------------------------------


class _Broken(Exception):
    """The child broke the protocol; the message is the Outcome's reason."""


def _clip(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _died(returncode: int | None, limits: Limits, during: str) -> tuple[str, str]:
    """(status, reason) for a process that stopped answering ``during`` a call or the load."""
    if returncode is None:
        return "crashed", f"the process closed its result channel {during}"
    if returncode == CHANNEL_LOST:
        return "crashed", f"the process's result channel was closed {during}"
    if returncode >= 0:
        return "crashed", f"the process exited with code {returncode} {during} (os._exit?)"
    number = -returncode
    if number == signal.SIGXCPU:
        return "timeout", (
            f"the process used up its CPU-time limit of {limits.cpu_seconds} s {during} (SIGXCPU)"
        )
    if number == signal.SIGKILL:
        return "crashed", (
            f"the process was killed with signal SIGKILL {during} (the CPU-time "
            "hard limit or the system's out-of-memory killer?)"
        )
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    meaning = signal.strsignal(number) or "unknown signal"
    meaning = meaning[:1].lower() + meaning[1:]
    return "crashed", f"the process died with signal {name} ({meaning}) {during}"


def _parse(line: bytes) -> Any:
    try:
        return json.loads(line)
    except (ValueError, RecursionError):
        raise _Broken(
            "the process wrote a malformed report (not JSON) on its result channel"
        ) from None


def _parse_report(line: bytes, index: int) -> dict:
    """The child's report for call ``index``, checked field by field."""
    report = _parse(line)
    if type(report) is not dict or type(report.get("call")) is not int:
        raise _Broken("the process wrote a report of the wrong shape on its result channel")
    if report["call"] != index:
        raise _Broken(f"the process reported on call {report['call']} instead of call {index}")
    status, reason, kinds = report.get("status"), report.get("reason"), report.get("types")
    if status not in ("ok", "error", "memory", "bad_output") or type(reason) is not str:
        raise _Broken("the process wrote a report with an unknown status on its result channel")
    if kinds is not None and (type(kinds) is not list or not all(type(k) is str for k in kinds)):
        raise _Broken("the process reported output types that are not a list of names")
    report["reason"] = _clip(reason)
    report["types"] = None if kinds is None else [_clip(k, 200) for k in kinds]
    if status == "ok":
        outputs = report.get("outputs")
        if (
            type(outputs) is not list
            or kinds is None
            or len(kinds) != len(outputs)
            or not all(
                type(e) is dict and (e == {"npy": True} or list(e) == ["json"]) for e in outputs
            )
        ):
            raise _Broken("the process reported its outputs in the wrong shape")
    return report


def _read_array(dir_fd: int, k: int, name: str, max_bytes: int) -> np.ndarray:
    """Output ``k`` from the ``.npy`` file ``name``: header checked, then exactly its data read.

    Only numeric and bool dtypes, no pickles, no symlinks or FIFOs, no more than ``max_bytes``.
    """
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
    try:
        fd = os.open(name, flags, dir_fd=dir_fd)
    except FileNotFoundError:
        raise _Broken(f"output {k} was reported as an array, but {name} does not exist") from None
    except OSError as err:
        raise _Broken(f"output {k}: {name} cannot be opened ({err.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _Broken(f"output {k}: {name} is not a regular file")
        if info.st_size > max_bytes:
            raise _Broken(f"output {k}: {name} is larger than the memory limit")
        with os.fdopen(fd, "rb", closefd=False) as f:
            try:
                version = np.lib.format.read_magic(f)
                read_header = {
                    (1, 0): np.lib.format.read_array_header_1_0,
                    (2, 0): np.lib.format.read_array_header_2_0,
                }[version]
                shape, fortran, dtype = read_header(f)
            except Exception:  # parsing untrusted bytes: any failure means "not a .npy file"
                raise _Broken(f"output {k}: {name} is not a valid .npy file") from None
            if dtype.kind not in ARRAY_KINDS or dtype.hasobject:
                raise _Broken(
                    f"output {k} is an array of dtype {dtype}; only numeric and bool "
                    "arrays are accepted"
                )
            count = math.prod(shape)
            if count * dtype.itemsize != info.st_size - f.tell():
                raise _Broken(
                    f"output {k}: {name} holds a different amount of data than its "
                    f"header says (shape {shape}, dtype {dtype})"
                )
            array = np.fromfile(f, dtype=dtype, count=count)
    finally:
        os.close(fd)
        try:
            os.unlink(name, dir_fd=dir_fd)
        except OSError:
            pass
    if fortran:  # stored as the transpose, like np.load does; the copy owns its data
        return array.reshape(shape[::-1]).T.copy(order="K")
    array.shape = shape  # in place: the array keeps owning its data
    return array


# --- the run -------------------------------------------------------------------------------------


def _load(child: _Child, limits: Limits) -> tuple[str, str] | None:
    """Wait for set-up and load; None when ready, else the (status, reason) of every call."""
    kind, line = child.receive(time.monotonic() + SETUP_SECONDS)
    setup = None
    if kind == "line":
        try:
            setup = _parse(line)
        except _Broken:
            setup = None
    if type(setup) is not dict or setup.get("setup") != "ok":
        # Nothing untrusted has run yet: this is the machine's problem, not the student's.
        detail = setup.get("reason") if type(setup) is dict else None
        raise SandboxError(
            f"the sandbox process could not be set up: {detail or kind}; "
            f"its output: {_clip(child.stop(), 1000)!r}"
        )
    kind, line = child.receive(time.monotonic() + limits.load_seconds)
    if kind == "timeout":
        return "load_timeout", (
            f"loading the student code did not finish within {limits.load_seconds:g} s (killed)"
        )
    if kind in ("eof", "exited"):
        status, reason = _died(child.exit_status(1.0), limits, "while loading the code")
        return ("load_timeout" if status == "timeout" else "load_error"), reason
    if kind == "too_long":
        return "load_error", "the process wrote an oversized message while loading the code"
    try:
        message = _parse(line)
    except _Broken as err:
        return "load_error", f"{err} while loading the code"
    if type(message) is dict and message.get("ready") is True:
        return None
    if (
        type(message) is dict
        and message.get("load") in ("error", "memory")
        and type(message.get("reason")) is str
    ):
        return "load_error", _clip(message["reason"])
    return "load_error", "the process wrote an unexpected message while loading the code"


def _one_call(
    child: _Child, index: int, call: Call, scratch: _Scratch, limits: Limits
) -> tuple[Outcome, bool]:
    """Run call ``index``; return its Outcome and whether the child may serve the next call."""
    started = time.monotonic()

    def outcome(
        status: str, reason: str, outputs: list | None = None, types: list[str] | None = None
    ) -> Outcome:
        return Outcome(call.test_id, status, reason, outputs, types, time.monotonic() - started)

    if child.unsolicited():
        return outcome("bad_output", "the process wrote to its result channel between calls"), False
    if not child.send(index):
        return outcome(*_died(child.exit_status(1.0), limits, "before the call")), False
    kind, line = child.receive(started + limits.wall_seconds_per_test)
    if kind == "timeout":
        return outcome(
            "timeout", f"the call did not finish within {limits.wall_seconds_per_test:g} s (killed)"
        ), False
    if kind in ("eof", "exited"):
        return outcome(*_died(child.exit_status(1.0), limits, "during the call")), False
    if kind == "too_long":
        return outcome(
            "bad_output", f"the call's report is larger than {MAX_REPORT_BYTES >> 20} MB"
        ), False
    try:
        report = _parse_report(line, index)
    except _Broken as err:
        return outcome("bad_output", str(err)), False
    if report["status"] != "ok":
        # After a MemoryError the heap may be in any state: start afresh.
        return outcome(report["status"], report["reason"], None, report["types"]), report[
            "status"
        ] != "memory"
    try:
        outputs = [
            _read_array(scratch.work_fd, k, f"out-{index}-{k}.npy", limits.memory_mb << 20)
            if "npy" in entry
            else entry["json"]
            for k, entry in enumerate(report["outputs"])
        ]
    except _Broken as err:
        return outcome("bad_output", str(err), None, report["types"]), False
    return outcome("ok", "", outputs, report["types"]), True


def _serve(
    child: _Child, calls: list[Call], start: int, scratch: _Scratch, limits: Limits
) -> list[Outcome]:
    """Outcomes of ``calls[start:]`` as far as this child gets: through the first call that
    leaves it unusable, or all of them if the code does not load."""
    failure = _load(child, limits)
    if failure is not None:
        return [Outcome(c.test_id, *failure, None, None, 0.0) for c in calls[start:]]
    outcomes = []
    for index in range(start, len(calls)):
        outcome, healthy = _one_call(child, index, calls[index], scratch, limits)
        outcomes.append(outcome)
        if not healthy:
            break
    return outcomes


def _child_config(
    limits: Limits, uid: int | None, plan: dict[str, list[str]], inputs: Path, work: Path
) -> dict[str, Any]:
    """What ``_child.py`` reads before it runs anything: limits, identity, directories."""
    return {
        "uid": uid,
        "cpu_seconds": limits.cpu_seconds,
        "memory_mb": limits.memory_mb,
        "max_processes": limits.max_processes,
        "max_file_mb": limits.max_file_mb,
        "network": limits.network,
        "expose": plan,
        "sys_path": _import_roots(),
        "inputs": str(inputs),
        "work": str(work),
    }


def run_command(
    argv: list[str],
    cwd: Path,
    *,
    limits: Limits = DEFAULT_LIMITS,
    uid: int | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 900.0,
) -> subprocess.CompletedProcess:
    """Run a whole program (e.g. ``nbgrader autograde``) under the sandbox's set-up.

    The same limits, namespaces and uid as :func:`run_calls`, then ``execve``.
    ``cwd`` must be writable by ``uid``. The environment is :func:`_environment`
    plus ``env``. On timeout the process group and the uid's processes are killed
    and ``subprocess.TimeoutExpired`` is raised.
    """
    plan = _exposure_plan(_needed_dirs(), [str(Path(argv[0]).resolve().parent)]) if uid else {}
    inputs = Path(tempfile.mkdtemp(prefix="sandbox-in-"))
    try:
        if uid is not None:
            os.chown(inputs, 0, uid)
            os.chmod(inputs, 0o750)
        config = _child_config(limits, uid, plan, inputs, Path(cwd))
        config_path = inputs / "config.json"
        config_path.write_text(json.dumps(config), encoding="utf-8")
        proc = subprocess.Popen(
            _command("--exec", str(config_path), "--", *argv),
            cwd=cwd,
            env={**_environment(str(cwd)), **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            proc.communicate()
            raise
        finally:
            _kill_group(proc.pid)
            if uid is not None:
                _kill_uid(uid)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    finally:
        shutil.rmtree(inputs, ignore_errors=True)


def run_calls(
    code: str,
    calls: list[Call],
    limits: Limits = DEFAULT_LIMITS,
    workdir: Path | None = None,
    *,
    uid: int | None = None,
) -> tuple[list[Outcome], str]:
    """Execute ``code`` in a sandboxed process and run each call against it, in order.

    Parameters
    ----------
    code : str
        The student's Python source (after any trusted prelude), executed once per process in a
        fresh module namespace named ``__student__``.
    calls : list of Call
        Run one at a time; each driver's ``run(ns, *args, **kwargs)`` gets that namespace.
    limits : Limits
        Per-call wall time, load time and the child's resource limits.
    workdir : Path, optional
        The child's cwd and HOME; created if needed and left in place. Default: a fresh
        temporary directory, removed afterwards.
    uid : int, optional
        A dedicated uid (no passwd entry needed) to run the child as, which needs root. With it,
        RLIMIT_NPROC applies and every process of that uid is killed after each child.

    Returns
    -------
    outcomes : list of Outcome
        One per call, in order. A fault costs only the call it happened in: a new process,
        re-running ``code``, serves the calls after it.
    output : str
        The processes' stdout and stderr (each truncated to ``limits.max_output_bytes``),
        with tracebacks of the calls that raised.

    Raises
    ------
    TypeError, ValueError
        For a malformed call, argument, ``code`` or ``uid`` (the message names it).
    PermissionError
        If ``uid`` is given but this process is not root.
    SandboxError
        If the sandbox cannot be set up on this machine (never because of the student's code).
    """
    if not isinstance(code, str):
        raise TypeError(f"code must be Python source (str), got {type(code).__name__}")
    if not isinstance(limits, Limits):
        raise TypeError(f"limits must be a Limits, got {type(limits).__name__}")
    specs = [_encode_call(i, call) for i, call in enumerate(calls)]
    plan: dict[str, list[str]] = {}
    if uid is not None:
        if isinstance(uid, bool) or not isinstance(uid, int) or uid <= 0:
            raise ValueError(f"uid must be a positive int (a dedicated, unused uid), got {uid!r}")
        if os.geteuid() != 0:
            raise PermissionError(
                f"running as uid={uid} needs root, but this process has "
                f"euid {os.geteuid()}; pass uid=None"
            )
    if not calls:
        return [], ""
    with _Scratch(workdir, uid) as scratch:
        if uid is not None:
            plan = _exposure_plan(_needed_dirs(), [str(scratch.work), str(scratch.inputs)])
            _kill_uid(uid)  # leftovers of an earlier run would count against RLIMIT_NPROC
        config = _child_config(limits, uid, plan, scratch.inputs, scratch.work)
        config_path = scratch.write(code, specs, config)
        outcomes: list[Outcome] = []
        texts: list[str] = []
        while len(outcomes) < len(calls):
            if texts:
                texts.append(f"\n[sandbox: a new process for {calls[len(outcomes)].test_id}]\n")
            try:
                child = _Child(scratch, config_path, limits, uid)
            except OSError as err:
                reason = f"the sandbox process could not be started: {err}"
                outcomes += [
                    Outcome(c.test_id, "not_run", reason, None, None, 0.0)
                    for c in calls[len(outcomes) :]
                ]
                break
            try:
                outcomes += _serve(child, calls, len(outcomes), scratch, limits)
            finally:
                texts.append(child.stop())
        return outcomes, "".join(texts)
