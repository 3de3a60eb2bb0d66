"""Does the sandbox grade what it should and survive what students do? Each test runs real children.

Each fault is placed between two ordinary calls: it must cost only its own call, with its reason
recorded, while the calls around it are graded normally. Small limits keep the file fast.
"""

import os
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from autograder.sandbox import Call, Limits, run_calls

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the sandbox relies on Linux namespaces and /proc"
)

LIMITS = Limits(
    wall_seconds_per_test=2.0,
    load_seconds=2.0,
    cpu_seconds=30,
    memory_mb=512,
    max_processes=16,
    max_output_bytes=10_000,
)
IS_ROOT = os.geteuid() == 0
# A uid of its own per test session, outside the grader's 61000..61999, so runs cannot collide.
TEST_UID = 64000 + os.getpid() % 1000 if IS_ROOT else None
needs_root = pytest.mark.skipif(not IS_ROOT, reason="a dedicated uid needs the tests to be root")

STUDENT = '''
import ctypes, os, sys, time, warnings
import numpy as np

def double(x):
    return 2 * x

def loop_forever():
    while True:
        pass

def hard_exit():
    os._exit(0)

def segfault():
    ctypes.string_at(0)

def huge_allocation():
    return bytearray(10**11)

def growing_list():
    # The limit counts address space, so untouched 10 MB blocks reach it as surely as
    # written ones, without page-faulting 0.5 GB: on a loaded machine that took longer
    # than the 2 s wall limit and read as a timeout.
    hog = []
    while True:
        hog.append(np.empty(10 * 2**20, dtype=np.uint8))

def call_exit():
    sys.exit(3)

def ignore_interrupts():
    while True:
        try:
            time.sleep(1)
        except KeyboardInterrupt:
            pass

def print_a_lot():
    line = "x" * 999 + "\\n"
    for _ in range(50_000):  # 50 MB
        sys.stdout.write(line)
    return 1

def warn():
    warnings.warn("careful: this is only a warning")
    return 1

class MyArray(np.ndarray):
    pass

def subclass_output():
    return np.zeros(3).view(MyArray)

def object_output():
    return np.array([1, "a", None], dtype=object)

def fork_bomb(seconds, escape):
    """Fork for a few seconds; the children sleep (30 s at most), in their own session if escape."""
    pids, failures = [], 0
    end = time.monotonic() + seconds
    while time.monotonic() < end and len(pids) < 200:
        try:
            pid = os.fork()
        except OSError:
            failures += 1
            time.sleep(0.01)
            continue
        if pid == 0:
            if escape:
                os.setsid()
            time.sleep(30)
            os._exit(0)
        pids.append(pid)
    return pids, failures
'''

CALL = "def run(ns, name, *args):\n    return [ns[name](*args)]\n"


def double_call(test_id, x=None):
    return Call(test_id, CALL, ("double", np.arange(6.0).reshape(2, 3) if x is None else x))


def fault_call(test_id, name, *args):
    return Call(test_id, CALL, (name, *args))


def summary(outcomes):
    return [(o.test_id, o.status, o.reason) for o in outcomes]


def assert_doubled(outcome, x=None):
    x = np.arange(6.0).reshape(2, 3) if x is None else x
    assert outcome.status == "ok", summary([outcome])
    (out,) = outcome.outputs
    assert type(out) is np.ndarray and out.dtype == x.dtype, (type(out), out.dtype)
    np.testing.assert_array_equal(out, 2 * x)


def live_processes(uid):
    """Pids of live (not zombie) processes whose real uid is ``uid``, read from /proc here."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            status = (entry / "status").read_text()
        except (OSError, NotADirectoryError):
            continue
        lines = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(lines["Uid"].split()[0]) == uid and lines["State"].split()[0] != "Z":
            pids.append(int(entry.name))
    return pids


def is_alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


# --- the happy path -------------------------------------------------------------------------------


def test_arrays_and_json_round_trip_through_a_student_function():
    driver = (
        "def run(ns, x, factor, shape_only=False):\n"
        "    y = ns['scale'](x, factor)\n"
        "    return [y, float(y.sum()), {'shape': y.shape, 'ok': True}, np.int64(3), None]\n"
        "import numpy as np\n"
    )
    code = "def scale(x, factor):\n    return x * factor\n"
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    outcomes, _ = run_calls(code, [Call("scale", driver, (x, 2.5), {"shape_only": False})], LIMITS)
    (outcome,) = outcomes
    assert outcome.status == "ok", summary(outcomes)
    y, total, info, three, nothing = outcome.outputs
    assert type(y) is np.ndarray and y.dtype == np.float32 and y.flags.owndata
    np.testing.assert_array_equal(y, x * 2.5)
    assert total == pytest.approx(float((x * 2.5).sum()))
    assert info == {"shape": [3, 4], "ok": True}
    assert three == 3 and type(three) is int and nothing is None
    assert outcome.output_types == ["numpy.ndarray", "float", "dict", "numpy.int64", "NoneType"]


def test_nested_arguments_arrive_with_their_types():
    driver = (
        "def run(ns, params, shape, conv_param):\n"
        "    return [params['W'], params['b'].tolist(), list(shape), type(shape).__name__,\n"
        "            conv_param]\n"
    )
    params = {"W": np.eye(3, dtype=np.int16), "b": np.array([True, False])}
    outcomes, _ = run_calls(
        "",
        [Call("nested", driver, (params, (2, 3)), {"conv_param": {"stride": 1, "pad": None}})],
        LIMITS,
    )
    assert outcomes[0].status == "ok", summary(outcomes)
    w, b, shape, kind, conv_param = outcomes[0].outputs
    np.testing.assert_array_equal(w, np.eye(3, dtype=np.int16))
    assert (b, shape, kind) == ([True, False], [2, 3], "tuple")
    assert conv_param == {"stride": 1, "pad": None}


def test_a_raising_call_is_an_error_with_the_exception_named_and_its_traceback_logged():
    code = "def broken():\n    return 1 / 0\n" + STUDENT
    outcomes, text = run_calls(
        code, [double_call("before"), fault_call("raises", "broken"), double_call("after")], LIMITS
    )
    assert [o.status for o in outcomes] == ["ok", "error", "ok"], summary(outcomes)
    assert outcomes[1].reason == "the student code raised ZeroDivisionError: division by zero"
    assert "return 1 / 0" in text and "_zygote.py" not in text


def test_warnings_on_stderr_are_not_failures():
    outcomes, text = run_calls(
        STUDENT + "\nimport warnings\nwarnings.warn('at load')\n",
        [fault_call("warns", "warn"), double_call("after")],
        LIMITS,
    )
    assert [o.status for o in outcomes] == ["ok", "ok"], summary(outcomes)
    assert "careful: this is only a warning" in text and "at load" in text


# --- the fault suite ------------------------------------------------------------------------------

FAULTS = {
    # name: (student function, status, words the reason must contain)
    "infinite loop": ("loop_forever", "timeout", "did not finish within 2 s (killed)"),
    "os._exit(0)": ("hard_exit", "crashed", "exited with code 0 during the call (os._exit?)"),
    "segfault": ("segfault", "crashed", "signal SIGSEGV (segmentation fault)"),
    "bytearray(10**11)": ("huge_allocation", "memory", "out of memory"),
    "growing list": ("growing_list", "memory", "out of memory"),
    "sys.exit(3)": ("call_exit", "error", "SystemExit raised (sys.exit called) during the call"),
    "swallowed KeyboardInterrupt": ("ignore_interrupts", "timeout", "did not finish within 2 s"),
    "ndarray subclass": ("subclass_output", "bad_output", "is a MyArray (ndarray subclass)"),
    "object array": ("object_output", "bad_output", "dtype object"),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_a_fault_costs_only_its_own_call(fault):
    name, status, words = FAULTS[fault]
    calls = [double_call("before"), fault_call(fault, name), double_call("after", np.ones(4))]
    outcomes, _ = run_calls(STUDENT, calls, LIMITS)
    assert [o.status for o in outcomes] == ["ok", status, "ok"], summary(outcomes)
    assert words in outcomes[1].reason, outcomes[1].reason
    assert outcomes[1].outputs is None
    assert_doubled(outcomes[0])
    assert_doubled(outcomes[2], np.ones(4))


@pytest.mark.parametrize("as_uid", [False, pytest.param(True, marks=needs_root)])
def test_all_faults_in_one_batch_each_cost_one_call(as_uid):
    """Also under a dedicated uid: each restarted child sets up its namespaces again."""
    calls, expected = [], []
    for i, (fault, (name, status, _)) in enumerate(FAULTS.items()):
        calls += [fault_call(fault, name), double_call(f"after {i}", np.full(2, float(i)))]
        expected += [status, "ok"]
    outcomes, _ = run_calls(STUDENT, calls, LIMITS, uid=TEST_UID if as_uid else None)
    assert [o.status for o in outcomes] == expected, summary(outcomes)
    for i in range(len(FAULTS)):
        assert_doubled(outcomes[2 * i + 1], np.full(2, float(i)))


def test_megabytes_of_output_are_drained_and_truncated():
    outcomes, text = run_calls(
        STUDENT, [fault_call("print", "print_a_lot"), double_call("after")], LIMITS
    )
    assert [o.status for o in outcomes] == ["ok", "ok"], summary(outcomes)
    assert outcomes[0].outputs == [1]
    kept, _, notice = text.partition("[jail:")
    assert len(kept.encode()) <= LIMITS.max_output_bytes + 1
    assert "more bytes of output were dropped" in notice


def test_a_cell_that_loops_forever_is_stopped_and_the_calls_still_run():
    start = time.monotonic()
    cells = [("cell 1", STUDENT), ("cell 2", "while True:\n    pass\n")]
    outcomes, text = run_calls(cells, [double_call("a"), double_call("b")], LIMITS)
    assert [o.status for o in outcomes] == ["ok", "ok"], summary(outcomes)
    assert "cell 2: loading the student code raised CellTimeout" in text, text
    assert time.monotonic() - start < LIMITS.load_seconds + 5


def test_a_notebook_that_blocks_the_cell_timer_is_a_load_timeout_for_every_call():
    start = time.monotonic()
    hang = "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n    pass\n"
    outcomes, _ = run_calls(STUDENT + hang, [double_call("a"), double_call("b")], LIMITS)
    assert [o.status for o in outcomes] == ["load_timeout", "load_timeout"], summary(outcomes)
    assert "running the notebook's cells did not finish within 2 s" in outcomes[0].reason
    assert time.monotonic() - start < LIMITS.load_seconds * 2 + 5


def test_a_cell_that_raises_is_recorded_and_the_next_cells_still_run():
    cells = [
        ("cell 1", STUDENT),
        ("cell 2", "undefined_name\n"),
        ("cell 3", "def triple(x):\n    return 3 * x\n"),
    ]
    triple = Call("triple", CALL, ("triple", np.ones(2)))
    outcomes, text = run_calls(cells, [double_call("a"), triple], LIMITS)
    assert [o.status for o in outcomes] == ["ok", "ok"], summary(outcomes)
    assert_doubled(outcomes[0])
    np.testing.assert_array_equal(outcomes[1].outputs[0], 3 * np.ones(2))
    assert "cell 2: loading the student code raised NameError" in text, text


def test_a_crash_while_the_cells_run_is_a_load_error_for_every_call_and_quick():
    start = time.monotonic()
    outcomes, _ = run_calls(
        STUDENT + "\nos._exit(9)\n", [double_call("a"), double_call("b")], LIMITS
    )
    assert [o.status for o in outcomes] == ["load_error", "load_error"], summary(outcomes)
    assert "exited with code 9" in outcomes[0].reason, outcomes[0].reason
    assert time.monotonic() - start < 5


def test_a_fork_bomb_is_bounded_and_leaves_no_process_behind():
    # The children escape into sessions of their own: only the jail's end can take them all.
    calls = [
        double_call("before"),
        fault_call("fork bomb", "fork_bomb", 1.5, True),
        double_call("after"),
    ]
    uid = TEST_UID
    outcomes, _ = run_calls(STUDENT, calls, LIMITS, uid=uid)
    assert [o.status for o in outcomes] == ["ok", "ok", "ok"], summary(outcomes)
    pids, failures = outcomes[1].outputs[0]
    assert pids, "the bomb did not fork at all"
    assert len(pids) < LIMITS.max_processes and failures > 0, (len(pids), failures)
    if IS_ROOT:
        assert live_processes(uid) == []
    assert_doubled(outcomes[2])


# --- what the student code can see and do --------------------------------------------------------


def test_the_environment_is_scrubbed(monkeypatch):
    for name, value in [
        ("NBGRADER_EXECUTION", "autograde"),
        ("CS231N_GRADER_SECRET", "s3cret"),
        ("CI", "true"),
        ("PYTHONPATH", "/elsewhere"),
    ]:
        monkeypatch.setenv(name, value)
    driver = (
        "import os\n"
        "def run(ns):\n"
        "    return [sorted(os.environ), os.environ['HOME'], os.getcwd()]\n"
    )
    outcomes, _ = run_calls("", [Call("env", driver)], LIMITS)
    assert outcomes[0].status == "ok", summary(outcomes)
    names, home, cwd = outcomes[0].outputs
    assert set(names) <= {
        "PWD",
        "PATH",
        "HOME",
        "LANG",
        "OPENBLAS_NUM_THREADS",
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "PYTHONDONTWRITEBYTECODE",
        "MPLBACKEND",
        "PYTHONHASHSEED",
    }, names
    assert home == cwd


@pytest.mark.parametrize("network", [False, True], ids=["isolated", "control: network allowed"])
def test_the_network_is_unreachable_unless_allowed(network):
    driver = (
        "import socket\n"
        "def run(ns, port):\n"
        "    try:\n"
        "        socket.create_connection(('127.0.0.1', port), timeout=1).close()\n"
        "    except OSError as err:\n"
        "        return [str(err)]\n"
        "    return ['connected']\n"
    )
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        limits = Limits(**{**LIMITS.__dict__, "network": network})
        outcomes, _ = run_calls("", [Call("connect", driver, (server.getsockname()[1],))], limits)
    assert outcomes[0].status == "ok", summary(outcomes)
    assert (outcomes[0].outputs == ["connected"]) == network, outcomes[0].outputs


def test_the_jail_sees_nothing_of_the_host_and_writes_only_its_work_folder():
    target = Path(tempfile.mkdtemp(prefix="sandbox-test-ro-"))
    try:
        target.chmod(0o755)
        (target / "existing.txt").write_text("readable to everyone on the host")
        driver = (
            "import os\n"
            "def run(ns, target):\n"
            "    seen = os.path.exists(os.path.join(target, 'existing.txt'))\n"
            "    written = []\n"
            "    for d in ('/usr', '/jail/site/cs231n_lib', '/jail/inputs', '/', os.getcwd()):\n"
            "        try:\n"
            "            open(os.path.join(d, 'new.txt'), 'w').close()\n"
            "            written.append(d)\n"
            "        except OSError:\n"
            "            pass\n"
            "    return [seen, written, os.getcwd(), os.getuid()]\n"
        )
        outcomes, _ = run_calls("", [Call("write", driver, (str(target),))], LIMITS, uid=TEST_UID)
        assert outcomes[0].status == "ok", summary(outcomes)
        seen, written, cwd, uid = outcomes[0].outputs
        assert seen is False
        assert written == [cwd] == ["/jail/work"]
        if IS_ROOT:
            assert uid == TEST_UID
        assert not (target / "new.txt").exists()
    finally:
        shutil.rmtree(target)


# --- a child that lies ---------------------------------------------------------------------------

FORGERIES = {
    # name: (code run during call 1, status, words the reason must contain)
    "junk on every fd": (
        "for fd in range(3, 64):\n    try: os.write(fd, b'garbage\\n')\n    except OSError: pass\n",
        "bad_output",
        "malformed report",
    ),
    "a file that does not exist": (
        "for fd in range(3, 64):\n    try: os.write(fd, FORGED)\n    except OSError: pass\n",
        "bad_output",
        "out-1-0.npy does not exist",
    ),
    "a symlink to a system file": (
        "os.symlink('/etc/passwd', 'out-1-0.npy')\n"
        "for fd in range(3, 64):\n"
        "    try: os.write(fd, FORGED)\n"
        "    except OSError: pass\n",
        "bad_output",
        "out-1-0.npy cannot be opened",
    ),
    "closed result channel": (
        "for fd in range(3, 64):\n    try: os.close(fd)\n    except OSError: pass\n",
        "crashed",
        "result channel",
    ),
}
FORGED = (
    b'{"call": 1, "status": "ok", "reason": "", "outputs": [{"npy": true}], '
    b'"types": ["numpy.ndarray"]}\n'
)


@pytest.mark.parametrize("forgery", FORGERIES)
def test_forged_results_do_not_crash_the_parent(forgery):
    body, status, words = FORGERIES[forgery]
    code = (
        STUDENT
        + f"\nFORGED = {FORGED!r}\ndef forge():\n"
        + "".join(f"    {line}\n" for line in body.splitlines())
        + "    return 1\n"
    )
    outcomes, _ = run_calls(
        code, [double_call("before"), fault_call("forge", "forge"), double_call("after")], LIMITS
    )
    assert [o.status for o in outcomes] == ["ok", status, "ok"], summary(outcomes)
    assert words in outcomes[1].reason, outcomes[1].reason
    assert_doubled(outcomes[2])


# --- mistakes of the grader are errors at the boundary -------------------------------------------


def test_bad_calls_and_limits_are_rejected_before_anything_runs():
    with pytest.raises(TypeError, match=r"call 'x' argument 0\[1\] is a set"):
        run_calls("", [Call("x", CALL, ([1, {2}],))], LIMITS)
    with pytest.raises(ValueError, match="call 'y': the driver does not compile"):
        run_calls("", [Call("y", "def run(ns:\n")], LIMITS)
    with pytest.raises(ValueError, match="Limits.memory_mb must be a positive number, got 0"):
        Limits(memory_mb=0)
    if not IS_ROOT:
        with pytest.raises(PermissionError, match="needs root"):
            run_calls("", [double_call("a")], LIMITS, uid=64999)
