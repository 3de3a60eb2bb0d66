"""The limits of one jail: time per test, memory, processes, bytes in and out.

Imports: the standard library only.
"""

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Limits:
    """Resource limits of a jail and of each call in it (every number positive)."""

    wall_seconds_per_test: float = 20.0  # one call, enforced by the parent (kill on expiry)
    load_seconds: float = 30.0  # running one notebook's cells before its first test
    # A test cell's calls into the jail together (assignments graded by their own test cells,
    # autograder.cellgrade); each call still ends at wall_seconds_per_test.
    test_cell_seconds: float = 60.0
    # An instructor's cell that is not a test (a demo, a plot, a timing): its calls together.
    # It grades nothing, so code that hangs in it costs this much, and then the tests go on.
    plain_cell_seconds: float = 10.0
    cpu_seconds: int = 120  # RLIMIT_CPU of each process in the jail
    memory_mb: int = 2048  # RLIMIT_AS of each process in the jail
    max_processes: int = 32  # processes and threads in the jail (cgroup pids, else RLIMIT_NPROC)
    max_output_bytes: int = 64_000  # stdout+stderr kept per jail; the rest is drained and dropped
    max_file_mb: int = 256  # RLIMIT_FSIZE: largest file a process may write
    tmp_mb: int = 64  # size of each of the jail's private /tmp and /dev/shm
    max_result_mb: int = 64  # what one call may send back: its report and its arrays
    max_submission_result_mb: int = 512  # what all calls of one jail may send back together
    network: bool = False  # False: a new network namespace with nothing but loopback

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type is bool:
                if not isinstance(value, bool):
                    raise TypeError(f"Limits.{f.name} must be a bool, got {value!r}")
            elif isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"Limits.{f.name} must be a positive number, got {value!r}")
            elif f.type is int and not isinstance(value, int):
                raise TypeError(f"Limits.{f.name} must be a whole number, got {value!r}")


DEFAULT_LIMITS = Limits()
