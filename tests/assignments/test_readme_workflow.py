"""Does the README's instructor workflow run as written, from release to the LMS export?

The code block after the README's ``instructor-workflow`` marker is run by bash, command for
command, in a fresh copy of the course, with real nbgrader and no virtualenv on PATH (the
commands name ``../.venv/bin/`` themselves). Between release and collect, two students fetch
and submit through nbgrader's exchange; the block's one interactive line (JupyterLab, for
formgrader) is replaced by what formgrader does: manual scores written through nbgrader's
gradebook API.
"""

from __future__ import annotations

import csv
import html
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.demo import build_demo_course

from course_tools import ASSIGNMENT, COURSE, NOTEBOOKS, REPO

pytestmark = pytest.mark.slow

STUDENTS = ["honest_alice", "partly_wrong_bob"]
MANUAL_POINTS = 1.0  # given to each written answer (of 2) in the formgrader step
COURSE_ID = "cs231n-convnets"


def readme_block() -> list[str]:
    text = (REPO / "README.md").read_text()
    marker = text.index("<!-- instructor-workflow")
    start = text.index("```bash\n", marker) + len("```bash\n")
    return text[start : text.index("```", start)].splitlines()


def hidden_test_lines() -> set[str]:
    """Distinctive lines of every hidden-test region of the source notebooks."""
    found = set()
    for name in NOTEBOOKS:
        nb = nbformat.read(str(COURSE / "source" / ASSIGNMENT / f"{name}.ipynb"), as_version=4)
        for cell in nb.cells:
            inside = False
            for line in cell.source.splitlines():
                if "BEGIN HIDDEN TESTS" in line:
                    inside = True
                elif "END HIDDEN TESTS" in line:
                    inside = False
                elif inside and len(line.strip()) >= 20:
                    found.add(line.strip())
    assert len(found) > 20, "the source notebooks should have hidden tests"
    return found


MANUAL_GRADING = f"""
import sys
from nbgrader.api import Gradebook
with Gradebook("sqlite:///gradebook.db") as gb:
    for student in {STUDENTS!r}:
        for nb in gb.find_submission("{ASSIGNMENT}", student).notebooks:
            for g in nb.grades:
                if g.cell.cell_type == "markdown":
                    g.manual_score = {MANUAL_POINTS}
    gb.db.commit()
"""


def student_submits(root: Path, env: dict[str, str], student: str, work: Path) -> None:
    """What a student does: fetch from the exchange, put their work in, submit."""
    home = root / "students" / student
    home.mkdir(parents=True)
    nbgrader = [str(root / ".venv" / "bin" / "nbgrader")]
    common = ["--course", COURSE_ID, f"--Exchange.root={env['CS231N_EXCHANGE']}"]
    subprocess.run([*nbgrader[:1], "fetch_assignment", ASSIGNMENT, *common], cwd=home,
                   env=env, check=True, capture_output=True, timeout=300)
    for name in NOTEBOOKS:
        shutil.copy2(work / f"{name}.ipynb", home / ASSIGNMENT / f"{name}.ipynb")
    subprocess.run([*nbgrader[:1], "submit", ASSIGNMENT, *common, f"--student={student}"],
                   cwd=home, env=env, check=True, capture_output=True, timeout=300)


@pytest.fixture(scope="module")
def workflow(tmp_path_factory):
    root = tmp_path_factory.mktemp("fresh")
    # A fresh copy of the course as git tracks it, and the kit's environment as .venv.
    untracked = shutil.ignore_patterns("submitted", "autograded", "feedback", "gradebook.db*",
                                       "autograder", ".autograder_secret", "*.csv",
                                       "__pycache__", ".ipynb_checkpoints")
    shutil.copytree(COURSE, root / "assignments", ignore=untracked)
    (root / ".venv").symlink_to(Path(sys.prefix))
    demo = tmp_path_factory.mktemp("demo") / "course"
    build_demo_course(demo, only=STUDENTS)

    venv_bin = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CS231N_", "NBGRADER_"))}
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p != venv_bin)
    env["CS231N_EXCHANGE"] = str(root / "exchange")
    env["MPLBACKEND"] = "Agg"

    lines = readme_block()
    interactive = [i for i, line in enumerate(lines) if "interactive" in line]
    assert len(interactive) == 1 and "jupyter lab" in lines[interactive[0]]
    collect = next(i for i, line in enumerate(lines) if "nbgrader collect" in line)
    before, after = lines[:collect], lines[collect:]
    manual = (root / "manual_grading.py")
    manual.write_text(MANUAL_GRADING)
    after = [f"../.venv/bin/python {manual}" if "interactive" in line else line for line in after]

    def bash(script: list[str]) -> subprocess.CompletedProcess:
        proc = subprocess.run(["bash", "-euo", "pipefail", "-c", "\n".join(script)], cwd=root,
                              env=env, capture_output=True, text=True, timeout=1500)
        assert proc.returncode == 0, f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        return proc

    first = bash(before)
    for student in STUDENTS:
        student_submits(root, env, student, demo / "submitted" / student / ASSIGNMENT)
    second = bash(["cd assignments", *after])
    return root, first.stdout + first.stderr + second.stdout + second.stderr, env


def test_every_student_is_collected_and_graded(workflow):
    root, log, _ = workflow
    course = root / "assignments"
    assert sorted(p.name for p in (course / "submitted").iterdir()) == STUDENTS
    grades = {r["student_id"] for r in csv.DictReader(
        (course / "autograder" / ASSIGNMENT / "grades.csv").open())}
    assert grades == set(STUDENTS)


def test_the_exported_points_are_the_out_of_kernel_ones_plus_the_manual_ones(workflow):
    root, _, _ = workflow
    course = root / "assignments"
    auto: dict[str, float] = {}
    for r in csv.DictReader((course / "autograder" / ASSIGNMENT / "grades.csv").open()):
        auto[r["student_id"]] = auto.get(r["student_id"], 0.0) + float(r["points"])
    assert auto["honest_alice"] == 31  # every automatic point of the README's table
    assert auto["partly_wrong_bob"] < 31
    written = 4 * MANUAL_POINTS  # four written answers, one per notebook
    rows = {r["student_id"]: r for r in csv.DictReader((course / "grades.csv").open())}
    for student in STUDENTS:
        assert float(rows[student]["raw_score"]) == auto[student] + written
        assert float(rows[student]["max_score"]) == 39


def test_the_canvas_export_has_each_student_out_of_39(workflow):
    root, _, _ = workflow
    lines = list(csv.reader((root / "assignments" / "canvas.csv").open()))
    header, possible, *students = lines
    assert header[:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert possible[0].strip() == "Points Possible" and float(possible[5]) == 39
    got = {row[2]: float(row[5]) for row in students}  # SIS User ID
    assert got["honest_alice"] == 31 + 4 * MANUAL_POINTS


def test_no_feedback_file_holds_hidden_test_code(workflow):
    root, _, _ = workflow
    pages = list((root / "assignments" / "feedback").rglob("*.html"))
    pages += list((root / "exchange").rglob("*.html"))  # what release_feedback handed out
    assert len(pages) >= 2 * len(NOTEBOOKS) * 2
    hidden = hidden_test_lines()
    for page in pages:
        text = html.unescape(page.read_text())
        assert "HIDDEN TESTS" not in text, page
        leaked = [line for line in hidden if line in text]
        assert not leaked, f"{page} shows hidden-test code: {leaked[:3]}"


def test_feedback_shows_verdicts_reasons_and_the_total_out_of_39(workflow):
    root, _, _ = workflow
    course = root / "assignments"
    auto = sum(float(r["points"]) for r in csv.DictReader(
        (course / "autograder" / ASSIGNMENT / "grades.csv").open())
        if r["student_id"] == "partly_wrong_bob")
    total = auto + 4 * MANUAL_POINTS
    folder = course / "feedback" / "partly_wrong_bob" / ASSIGNMENT
    pages = [html.unescape((folder / f"{name}.html").read_text()) for name in NOTEBOOKS]
    for text in pages:
        assert f"convnets: {total:g} / 39 points" in text
    everything = "\n".join(pages)
    assert re.search(r"Out-of-kernel grade: failed, 0 / 1 points.\s*conv_forward_naive out: "
                     r"relative error \S+ is above the threshold 1e-07", everything)
    assert "Out-of-kernel grade: passed, 1 / 1 points." in everything


def test_grading_prints_no_checksum_warnings(workflow):
    _, log, _ = workflow
    assert "has changed!" not in log
    assert "gradebook: 2 submission(s) written" in log


def test_plain_nbgrader_autograde_is_refused_and_changes_nothing(workflow):
    root, _, env = workflow
    course = root / "assignments"
    before = (course / "gradebook.db").read_bytes()
    proc = subprocess.run([str(root / ".venv" / "bin" / "nbgrader"), "autograde", ASSIGNMENT,
                           "--force"], cwd=course, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode != 0
    assert "cs231n-autograde . --nbgrader" in proc.stdout + proc.stderr
    assert (course / "gradebook.db").read_bytes() == before


def test_the_similarity_report_is_written(workflow):
    root, _, _ = workflow
    out = root / "assignments" / "autograder" / ASSIGNMENT
    rows = list(csv.DictReader((out / "similarity.csv").open()))
    assert [(r["student_a"], r["student_b"]) for r in rows] == [tuple(STUDENTS)]
    assert 0 <= float(rows[0]["score"]) <= 1
    assert (out / "similarity.html").exists()
