"""Run untrusted student code in a jail and collect its outputs as data.

The package, by responsibility:

- :mod:`~autograder.sandbox.limits`: the limits of a jail and of each call in it;
- :mod:`~autograder.sandbox.protocol`: what crosses the wall (calls in; reports and ``.npy``
  outputs out, parsed as hostile data);
- :mod:`~autograder.sandbox.jail`: what a jail is made of (an allowlisted filesystem, its uid, its
  cgroup, bubblewrap's flags), and whether this machine can build one;
- :mod:`~autograder.sandbox.session`: one jail's lifetime, from the grader's side;
- ``_launch.py`` (root's last step before bubblewrap) and ``_zygote.py`` (the server inside).

``run_calls(code, calls)`` runs one program and its calls in a jail of its own;
:class:`Jail` with :func:`run_groups` runs several notebooks in one jail, which is what the
grader does per submission. ``run_command`` runs a whole program (nbgrader's in-kernel
autograde) in a jail.

Imports: the sandbox's own modules, NumPy and the standard library.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from autograder.sandbox.jail import (
    SITE,
    Cgroup,
    JailUnavailable,
    SandboxError,
    bwrap_binary,
    jail_problem,
    jail_uid,
    require_jail,
    runtime_layout,
)
from autograder.sandbox.limits import DEFAULT_LIMITS, Limits
from autograder.sandbox.protocol import Call, encode_call
from autograder.sandbox.session import (
    Group,
    GroupResult,
    Jail,
    Mount,
    Outcome,
    end_jail,
    environment,
    launch,
    run_groups,
)

__all__ = [
    "STATUSES",
    "Call",
    "DEFAULT_LIMITS",
    "Group",
    "GroupResult",
    "Jail",
    "JailUnavailable",
    "Limits",
    "Outcome",
    "SandboxError",
    "jail_problem",
    "jail_uid",
    "open_jail",
    "require_jail",
    "run_calls",
    "run_command",
    "run_groups",
]

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


def open_jail(limits: Limits, uid: int | None, *, unsafe: bool = False) -> Jail:
    """A :class:`Jail` (not started yet: its first load starts it); refuses without a jail.

    ``unsafe=True`` (the CLI's ``--unsafe-no-jail``) runs the same zygote with no namespaces,
    as ``uid`` when given: the caller marks every result as not jailed.
    """
    if not isinstance(limits, Limits):
        raise TypeError(f"limits must be a Limits, got {type(limits).__name__}")
    if uid is not None:
        if isinstance(uid, bool) or not isinstance(uid, int) or uid <= 0:
            raise ValueError(f"uid must be a positive int (a dedicated, unused uid), got {uid!r}")
        if os.geteuid() != 0:
            raise PermissionError(
                f"running as uid={uid} needs root, but this process has euid {os.geteuid()}"
            )
    if not unsafe:
        require_jail()
    return Jail(limits, uid, unsafe=unsafe)


def run_calls(
    code: str | list[tuple[str, str]],
    calls: list[Call],
    limits: Limits = DEFAULT_LIMITS,
    *,
    uid: int | None = None,
    refuse: tuple[str, ...] = (),
    unsafe: bool = False,
) -> tuple[list[Outcome], str]:
    """Execute ``code`` in a jail of its own and run each call against it, in order.

    Parameters
    ----------
    code : str or list of (label, source)
        The student's Python source, or a notebook's cells run one after the other (a cell
        that raises is recorded in the log and the next one runs).
    calls : list of Call
        Run one at a time, each in a fresh fork of the loaded program.
    limits : Limits
    uid : int, optional
        The jail's uid (root only). Default: one from :func:`jail_uid` when root.
    refuse : tuple of str
        Routines of :mod:`cs231n_lib.refusal` that raise while the code and calls run.
    unsafe : bool, default False
        Run without the jail (see :func:`open_jail`).

    Returns
    -------
    outcomes : list of Outcome
        One per call, in order. A fault costs only the call it happened in.
    output : str
        The jail's stdout and stderr (truncated to ``limits.max_output_bytes`` per start),
        with tracebacks of the cells and calls that raised.

    Raises
    ------
    TypeError, ValueError
        For a malformed call, argument, ``code`` or ``uid`` (the message names it).
    JailUnavailable
        If no jail can be built on this machine and ``unsafe`` is False.
    SandboxError
        If the jail cannot be set up (never because of the student's code).
    """
    if isinstance(code, str):
        cells = [("code", code)]
    elif isinstance(code, list) and all(
        isinstance(c, tuple) and len(c) == 2 and all(isinstance(s, str) for s in c) for c in code
    ):
        cells = code
    else:
        raise TypeError(
            f"code must be Python source (str) or a list of (label, source), got "
            f"{type(code).__name__}"
        )
    for i, call in enumerate(calls):
        encode_call(i, call)  # every malformed call is refused before anything runs
    if not calls:
        return [], ""
    with contextlib.nullcontext(uid) if uid is not None else jail_uid() as own:
        jail = open_jail(limits, None if unsafe else own, unsafe=unsafe)
        with jail:
            result = run_groups(jail, [Group("code", cells, list(calls), tuple(refuse))])[0]
        return result.outcomes, "".join(jail.texts)


def run_command(
    argv: list[str],
    scratch: Path,
    *,
    cwd: str,
    limits: Limits = DEFAULT_LIMITS,
    uid: int | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 900.0,
    unsafe: bool = False,
) -> subprocess.CompletedProcess:
    """Run a whole program (``nbgrader autograde``) in a jail with this environment's packages.

    ``scratch`` (a host folder owned by ``uid``) is the jail's only writable place, mounted at
    ``/jail/scratch``; ``cwd`` is a path inside the jail. The runtime is this environment's
    whole prefix (Jupyter, nbgrader), read-only, with the kit's library on ``PYTHONPATH`` at
    ``/jail/site``; loopback networking only. On timeout everything in the jail is killed and
    ``subprocess.TimeoutExpired`` is raised.
    """
    bwrap = None
    if not unsafe:
        require_jail()
        bwrap = bwrap_binary()
    layout = runtime_layout(("cs231n_lib",), venv=True)
    mounts = [*layout.mounts, Mount("rw", "/jail/scratch", str(scratch))]
    full_env = {**environment("/jail/scratch"), "PYTHONPATH": SITE, **(env or {})}
    if unsafe:
        full_env["PYTHONPATH"] = os.pathsep.join(
            str(Path(src).parent) for src in [m.source for m in mounts if m.dest.startswith(SITE)]
        )
    work = Path(tempfile.mkdtemp(prefix="cs231n-jail-cmd-"))
    os.chmod(work, 0o711)
    cgroup = Cgroup.create(f"cs231n-cmd-{os.getpid()}-{work.name[-8:]}", limits)
    try:
        proc = launch(
            mounts,
            limits,
            argv,
            work,
            uid,
            bwrap=bwrap,
            chdir=cwd,
            cgroup=cgroup,
            env=full_env,
        )
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            end_jail(proc, cgroup, uid)
            proc.communicate()
            raise
        finally:
            end_jail(proc, cgroup, uid)
        return subprocess.CompletedProcess(
            proc.args, proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")
        )
    finally:
        if cgroup is not None:
            cgroup.remove()
        shutil.rmtree(work, ignore_errors=True)

