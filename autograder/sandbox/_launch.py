"""The jail's first step, run by the grader's own interpreter just before bubblewrap.

:mod:`autograder.sandbox.jail` starts it as ``python -I -S _launch.py CONFIG`` in a new session.
It is trusted and short: it joins the jail's cgroups, sets the resource limits, and, when run
as root, makes the jail's sources reachable for the jail's uid and becomes that uid for good:

- In a private mount namespace, a fresh tmpfs (the *stage*) receives a bind mount of every
  directory and file the jail is built from. The jail's uid, which has no account and may not
  traverse private directories such as ``/root`` (home of a pyenv Python) or a ``chmod 700``
  checkout, reaches them there; nothing else of those directories is reachable.
- Then ``setgroups([])``, the uid's own gid and uid, a parent-death signal, and ``execve`` of
  bubblewrap, which builds the namespaces and the jail's root from the stage.

Not root, it only sets the limits and executes bubblewrap with the host paths. With
``"bwrap": null`` (``--unsafe-no-jail``) it executes the zygote directly instead.

Imports: the standard library only (``-S``: not even site-packages).
"""

import ctypes
import json
import os
import resource
import signal
import sys

CLONE_NEWNS = 0x00020000
MS_BIND, MS_REC, MS_PRIVATE = 0x1000, 0x4000, 0x40000
PR_SET_PDEATHSIG = 1

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None):
    _check(
        _libc.mount(
            source and source.encode(),
            target.encode(),
            fstype and fstype.encode(),
            ctypes.c_ulong(flags),
            data and data.encode(),
        ),
        f"mount {source} on {target}",
    )


def _set_limit(which: int, soft: int) -> None:
    """Set a limit, never above the hard limit inherited (raising it needs privileges)."""
    hard = soft
    inherited = resource.getrlimit(which)[1]
    if inherited != resource.RLIM_INFINITY:
        hard = min(hard, inherited)
        soft = min(soft, hard)
    resource.setrlimit(which, (soft, hard))


def stage(sources: list[str], root: str) -> None:
    """Bind each source at ``root/<index>`` on a fresh tmpfs, in a private mount namespace."""
    if hasattr(os, "unshare"):  # Python 3.12+
        os.unshare(CLONE_NEWNS)
    else:
        _check(_libc.unshare(ctypes.c_int(CLONE_NEWNS)), "unshare")
    _mount(None, "/", None, MS_REC | MS_PRIVATE, None)  # nothing below reaches the host
    _mount("tmpfs", root, "tmpfs", 0, "mode=0755,size=64k")
    for index, source in enumerate(sources):
        target = os.path.join(root, str(index))
        if os.path.isdir(source):
            os.mkdir(target, 0o755)
        else:
            os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
        _mount(source, target, None, MS_BIND | MS_REC, None)


def become(uid: int) -> None:
    """Become ``uid`` (group ``uid``, no supplementary groups) with no way back."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    try:
        os.setuid(0)
    except PermissionError:
        return
    raise RuntimeError(f"the process could become root again after setuid({uid})")


def main(argv: list[str]) -> int:
    with open(argv[1], encoding="utf-8") as f:
        config = json.load(f)
    for procs in config["cgroup_procs"]:
        with open(procs, "w") as f:
            f.write(str(os.getpid()))
    _set_limit(resource.RLIMIT_CORE, 0)
    _set_limit(resource.RLIMIT_CPU, config["cpu_seconds"])
    _set_limit(resource.RLIMIT_FSIZE, config["max_file_mb"] << 20)
    if config["nproc"] is not None:  # only where no cgroup counts the jail's processes
        _set_limit(resource.RLIMIT_NPROC, config["nproc"])
    if config["stage"] is not None:
        stage(config["sources"], config["stage"])
    if config["uid"] is not None:
        become(config["uid"])
    # After the uid change, which clears it: the jail dies with its grader.
    _check(_libc.prctl(PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGKILL), 0, 0, 0), "prctl")
    if os.getppid() != config["parent"]:  # the grader died before the signal was armed
        return 1
    argv = config["argv"]
    os.execve(argv[0], argv, config["env"])
    return 1  # not reached


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except Exception as exc:  # the grader reads this from the jail's output
        sys.stderr.write(f"jail launcher: {type(exc).__name__}: {exc}\n")
        sys.exit(125)
