"""Does the CLI refuse bad input with a message that names the problem, before it writes anything?

And does a run over some students keep the class-wide reports? The real CLI (``main``, as the
``cs231n-autograde`` script calls it) on real course folders.
"""

import csv
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from autograder import pipeline
from autograder.api import SECRET_FILE, course_secret
from autograder.cli import main
from autograder.demo import build_demo_course

from grading_setup import KIT_COURSE, SECRET, TEST_LIMITS

ROSTER = ["carla_m", "honest_alice", "partly_wrong_bob"]


@pytest.fixture
def course(tmp_path):
    """A course with source/ and three students' (ungraded) copies of the source."""
    root = tmp_path / "course"
    build_demo_course(root, only=[])
    for student in ROSTER:
        shutil.copytree(root / "release" / "convnets", root / "submitted" / student / "convnets")
    return root


def refused(capsys, argv) -> str:
    """Run the CLI; assert it exits 2 having written nothing; return its error line."""
    course_dir = argv[0]
    before = sorted(p.relative_to(course_dir) for p in _tree(course_dir))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("cs231n-autograde: error: "), err
    after = sorted(p.relative_to(course_dir) for p in _tree(course_dir))
    assert after == before, "a refused run wrote files"
    return err.strip()


def _tree(root):
    root = Path(root)
    return list(root.rglob("*")) if root.exists() else []


def test_an_unknown_student_is_an_error_naming_near_matches(course, capsys):
    err = refused(capsys, [str(course), "--student", "carl", "--secret", SECRET])
    assert f"no submission from student 'carl' in {course / 'submitted'}" in err
    assert "(did you mean carla_m?)" in err


def test_a_typo_of_a_longer_name_is_matched_too(course, capsys):
    err = refused(capsys, [str(course), "--student", "partly_wrong_bo", "--secret", SECRET])
    assert "did you mean partly_wrong_bob?" in err


def test_an_unknown_student_with_nothing_near_says_only_that(course, capsys):
    err = refused(capsys, [str(course), "--student", "zzz", "--secret", SECRET])
    assert err.endswith(f"no submission from student 'zzz' in {course / 'submitted'}")


def test_every_unknown_student_is_named(course, capsys):
    argv = [str(course), "--student", "honest_alice", "--student", "carl", "--student", "bobb"]
    err = refused(capsys, argv + ["--secret", SECRET])
    assert "'carl'" in err and "'bobb'" in err and "'honest_alice'" not in err


@pytest.mark.parametrize("workers", ["0", "-3"])
def test_workers_below_one_is_an_error(course, capsys, workers):
    err = refused(capsys, [str(course), "--workers", workers, "--secret", SECRET])
    assert err.endswith(f"--workers must be 1 or more, got {workers}")


def test_a_course_without_submitted_is_an_error(course, capsys):
    shutil.rmtree(course / "submitted")
    err = refused(capsys, [str(course), "--secret", SECRET])
    assert f"no submissions: {course / 'submitted'} does not exist" in err
    assert "nbgrader collect convnets" in err


def test_an_empty_submitted_folder_is_an_error(course, capsys):
    shutil.rmtree(course / "submitted")
    (course / "submitted").mkdir()
    err = refused(capsys, [str(course), "--secret", SECRET])
    assert f"no submissions of 'convnets' in {course / 'submitted'}: it is empty" in err


def test_student_folders_without_the_assignment_are_an_error(course, capsys):
    for student in ROSTER:
        (course / "submitted" / student / "convnets").rename(
            course / "submitted" / student / "homework1"
        )
    err = refused(capsys, [str(course), "--secret", SECRET])
    assert "none of its 3 student folders has a convnets/ folder" in err


def test_an_unknown_assignment_is_an_error_listing_the_course_assignments(course, capsys):
    (course / "source" / "fc_nets").mkdir()
    err = refused(capsys, [str(course), "--assignment", "convnet", "--secret", SECRET])
    assert f"no assignment 'convnet' in {course} (no source/convnet/)" in err
    assert err.endswith("the course's assignments: convnets, dropout, fc_nets")


def test_a_missing_course_folder_is_an_error(tmp_path, capsys):
    assert main([str(tmp_path / "nowhere")]) == 2
    assert f"no course folder at {tmp_path / 'nowhere'}" in capsys.readouterr().err


# The secret: never created where `git add -A` would publish it.


def _git(*args, cwd):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def course_in_git(course):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    _git("init", "-q", cwd=course)
    return course


def test_the_secret_is_not_created_in_a_git_tree_that_would_track_it(course_in_git, capsys):
    err = refused(capsys, [str(course_in_git), "--student", "honest_alice"])
    assert f"{course_in_git / SECRET_FILE} would be inside a git work tree and not ignored" in err
    assert f"add `{SECRET_FILE}` to that folder's .gitignore" in err
    assert not (course_in_git / SECRET_FILE).exists()


def test_the_secret_is_created_where_git_ignores_it(course_in_git):
    (course_in_git / ".gitignore").write_text(f"{SECRET_FILE}\n")
    secret = course_secret(course_in_git)
    assert len(secret) == 64 and (course_in_git / SECRET_FILE).stat().st_mode & 0o077 == 0


def test_the_kit_course_ignores_its_private_state():
    """The tracked course folder: a `git add -A` there must not pick up any grading state."""
    COURSE = KIT_COURSE
    if shutil.which("git") is None or not (COURSE.parent / ".git").exists():
        pytest.skip("not a git checkout")
    private = [SECRET_FILE, "autograder/convnets/grades.csv", "grades.csv", "canvas.csv",
               "gradebook.db", "submitted/a/convnets/x.ipynb", "autograded/a/x.ipynb",
               "feedback/a/convnets/x.html"]
    res = subprocess.run(["git", "check-ignore", "--no-index", *private], cwd=COURSE,
                         capture_output=True, text=True)
    assert sorted(res.stdout.split()) == sorted(private)


# A run over some students updates their rows and keeps everyone else's.


@pytest.mark.slow
def test_a_partial_run_keeps_the_class_wide_reports(tmp_path, capsys):
    course = tmp_path / "course"
    build_demo_course(course, only=["honest_alice", "partly_wrong_bob"])
    limits = ["--wall-seconds-per-test", str(TEST_LIMITS.wall_seconds_per_test),
              "--memory-mb", str(TEST_LIMITS.memory_mb)]
    common = [str(course), "--secret", SECRET, "--no-progress", "--workers", "2", *limits]
    assert main(common) == 0
    out = course / "autograder" / "convnets"
    whole = {r["student_id"] for r in csv.DictReader((out / "grades.csv").open())}
    assert whole == {"honest_alice", "partly_wrong_bob"}
    before = (out / "grades.txt").read_text()
    capsys.readouterr()

    assert main([*common, "--student", "partly_wrong_bob", "--regrade"]) == 0
    printed = capsys.readouterr().out
    assert "graded 1, unchanged 0" in printed
    rows = list(csv.DictReader((out / "grades.csv").open()))
    assert {r["student_id"] for r in rows} == whole
    assert json.loads((out / "summary.json").read_text())["submissions"] == 2
    assert (out / "grades.txt").read_text() == before
    assert (out / "feedback" / "honest_alice.html").exists()


# The legend: grades.txt, the feedback pages and the README define the same words.


def test_the_readme_defines_every_status_and_flag_as_the_reports_do():
    from autograder.schema import FLAGS, SUBMISSION_STATUSES, TEST_STATUSES

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for words in (TEST_STATUSES, SUBMISSION_STATUSES, FLAGS):
        for word, meaning in words.items():
            assert f"| `{word}` | {meaning} |" in readme, word


def test_the_grade_table_ends_with_the_legend_of_its_words(tmp_path):
    from autograder.reports import grade_table, legend, write_all
    from autograder.schema import FLAGS, SubmissionResult

    results = [SubmissionResult(student_id="ann", status="graded", score=3, max_score=31),
               SubmissionResult(student_id="ben", status="empty", score=0, max_score=31)]
    write_all(results, tmp_path)
    text = (tmp_path / "grades.txt").read_text()
    assert text.startswith(grade_table(results))
    assert legend(results) in text
    assert "  empty       no solution code was written" in text
    assert not any(flag in text for flag in FLAGS)  # only the words the table uses


# make student: a working folder outside the checkout, never overwritten.


def test_make_student_copies_the_release_outside_the_checkout_and_keeps_work(tmp_path):
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    repo = Path(__file__).resolve().parents[2]
    venv = tmp_path / "venv"  # the install step is taken as done (-o): only the copy runs
    stamp = venv / ".installed-student"
    work = tmp_path / "home" / "cs231n-convnets"

    def make(where):
        return subprocess.run(["make", "-s", "-o", str(stamp), "student", f"VENV={venv}",
                               f"WORK={where}"], cwd=repo, capture_output=True, text=True)

    first = make(work)
    assert first.returncode == 0, first.stderr
    release = repo / "assignments" / "release" / "convnets"
    assert sorted(p.name for p in work.iterdir()) == sorted(p.name for p in release.iterdir())
    assert f'{venv}/bin/jupyter lab "{work}"' in first.stdout
    (work / "01_convolution.ipynb").write_text("my work")
    again = make(work)
    assert again.returncode == 0 and "left as it is, your work is kept" in again.stdout
    assert (work / "01_convolution.ipynb").read_text() == "my work"
    inside = make(repo / "assignments" / "mine")
    assert inside.returncode == 2 and "is inside this checkout" in inside.stderr
    assert not (repo / "assignments" / "mine").exists()


def test_make_student_copies_the_assignment_asked_for_and_names_a_wrong_one(tmp_path):
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    repo = Path(__file__).resolve().parents[2]
    venv = tmp_path / "venv"
    stamp = venv / ".installed-student"

    def make(*args):
        return subprocess.run(["make", "-s", "-o", str(stamp), "student", f"VENV={venv}",
                               f"HOME={tmp_path / 'home'}", *args], cwd=repo,
                              capture_output=True, text=True)

    done = make("ASSIGNMENT=dropout")
    assert done.returncode == 0, done.stderr
    work = tmp_path / "home" / "cs231n-dropout"  # the default folder follows the assignment
    release = repo / "assignments" / "release" / "dropout"
    assert sorted(p.name for p in work.iterdir()) == sorted(p.name for p in release.iterdir())
    wrong = make("ASSIGNMENT=dropuot")
    assert wrong.returncode == 2
    assert "no assignment named 'dropuot'" in wrong.stderr and "convnets" in wrong.stderr
    assert not (tmp_path / "home" / "cs231n-dropuot").exists()


def test_a_student_folder_without_this_assignment_is_named_so(course, capsys):
    (course / "submitted" / "dora").mkdir()
    (course / "submitted" / "dora" / "dropout").mkdir()
    err = refused(capsys, [str(course), "--student", "dora", "--secret", SECRET])
    assert f"student 'dora' has no convnets/ folder in {course / 'submitted'}" in err


def test_convnets_is_graded_by_its_test_cells_and_a_rerun_reuses_the_result(tmp_path, capsys):
    course = tmp_path / "course"
    build_demo_course(course, only=["honest_alice"])
    common = [str(course), "--secret", SECRET, "--no-progress", "--workers", "1",
              "--memory-mb", str(TEST_LIMITS.memory_mb)]
    out = course / "autograder" / "convnets"

    def rows():
        return list(csv.DictReader((out / "grades.csv").open()))

    assert main(common) == 0
    first = rows()
    assert {r["status"] for r in first} == {"passed"}
    assert sum(float(r["points"]) for r in first) == 31
    # A test cell's checks are its own: no one threshold or error stands for the test.
    assert not any(r["threshold"] or r["rel_error"] for r in first)
    capsys.readouterr()
    assert main(common) == 0
    assert "graded 0, unchanged 1" in capsys.readouterr().out
    assert rows() == first
    pipeline.close_worker_jails()  # this run's limits are its own: leave no jail behind
