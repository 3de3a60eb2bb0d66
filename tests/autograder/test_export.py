"""Does the Canvas export write what Canvas's gradebook import reads, with nbgrader's points?

A real nbgrader gradebook (sqlite), the real ``nbgrader export`` command line with the plugin.
"""

import csv
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

pytest.importorskip("nbgrader")

from nbgrader.api import Gradebook  # noqa: E402
from sqlalchemy.exc import SAWarning  # noqa: E402

from autograder.export import (  # noqa: E402
    STUDENT_COLUMNS,
    CanvasExportError,
    write_canvas_csv,
)

COURSE_ID = "cs231n-convnets"
VENV_BIN = str(Path(sys.executable).parent)  # nbgrader runs `alembic` by name


@pytest.fixture(scope="module")
def gradebook(tmp_path_factory):
    """convnets (auto 6 + written 4 = 10 points) and pooling (5 points), four students.

    alice  convnets: auto 4 overridden by hand to 5, written 3.5 -> 8.5;  pooling 5
    bob    convnets: 6 + 4 with a late penalty of 2          -> 8;    pooling not submitted
    carol  convnets: auto 1, written ungraded, penalty 3     -> 0;    pooling not submitted
    dodo   nothing submitted
    """
    db = tmp_path_factory.mktemp("gradebook") / "gradebook.db"
    with pytest.MonkeyPatch.context() as mp, warnings.catch_warnings():
        mp.setenv("PATH", f"{VENV_BIN}:{os.environ.get('PATH', '')}")
        # nbgrader's own add_submission trips SQLAlchemy's autoflush warnings.
        warnings.simplefilter("ignore", SAWarning)
        with Gradebook(f"sqlite:///{db}", COURSE_ID) as gb:
            gb.add_assignment("convnets", duedate="2024-05-01 17:00:00")
            gb.add_notebook("layers", "convnets")
            gb.add_grade_cell("conv_forward", "layers", "convnets", max_score=6, cell_type="code")
            gb.add_grade_cell("why_pad", "layers", "convnets", max_score=4, cell_type="markdown")
            gb.add_assignment("pooling", duedate="2024-06-01 17:00:00")
            gb.add_notebook("pool", "pooling")
            gb.add_grade_cell("max_pool", "pool", "pooling", max_score=5, cell_type="code")

            gb.add_student("alice", first_name="Alice", last_name="Liddell")
            gb.add_student("bob")
            gb.add_student("carol", first_name="Carol", last_name="Smith, Jr.")
            gb.add_student("dodo", first_name="Dodo")

            def grade(assignment, notebook, cell, student, auto=None, manual=None):
                g = gb.find_grade(cell, notebook, assignment, student)
                g.auto_score, g.manual_score = auto, manual
                g.needs_manual_grade = auto is None and manual is None

            gb.add_submission("convnets", "alice")
            grade("convnets", "layers", "conv_forward", "alice", auto=4, manual=5)
            grade("convnets", "layers", "why_pad", "alice", manual=3.5)
            gb.add_submission("pooling", "alice")
            grade("pooling", "pool", "max_pool", "alice", auto=5)

            gb.add_submission("convnets", "bob")
            grade("convnets", "layers", "conv_forward", "bob", auto=6)
            grade("convnets", "layers", "why_pad", "bob", manual=4)
            gb.find_submission_notebook("layers", "convnets", "bob").late_submission_penalty = 2

            gb.add_submission("convnets", "carol")
            grade("convnets", "layers", "conv_forward", "carol", auto=1)
            gb.find_submission_notebook("layers", "convnets", "carol").late_submission_penalty = 3
            gb.db.commit()
    return db


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def by_login(rows):
    """Student rows (after the header and Points Possible) keyed by SIS Login ID."""
    login = STUDENT_COLUMNS.index("SIS Login ID")
    return {r[login]: r for r in rows[2:]}


def test_header_and_points_possible_are_canvas_import_rows(gradebook, tmp_path):
    rows = read_csv(_export(gradebook, tmp_path))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                       "convnets", "pooling"]  # fmt: skip
    assert rows[1] == ["Points Possible", "", "", "", "", "10", "5"]
    assert len(rows) == 2 + 4 and all(len(r) == len(rows[0]) for r in rows)


def test_points_are_nbgraders_score_less_late_penalty(gradebook, tmp_path):
    rows = by_login(read_csv(_export(gradebook, tmp_path)))
    assert rows["alice"][5:] == ["8.5", "5"]  # the manual score replaces the auto one
    assert rows["bob"][5:] == ["8", ""]  # 10 - 2 late
    assert rows["carol"][5:] == ["0", ""]  # 1 - 3 late, not below zero


def test_a_student_without_a_submission_gets_a_blank_cell_unless_told(gradebook, tmp_path):
    assert by_login(read_csv(_export(gradebook, tmp_path)))["dodo"][5:] == ["", ""]
    zero = by_login(read_csv(_export(gradebook, tmp_path, unsubmitted="0")))
    assert zero["dodo"][5:] == ["0", "0"] and zero["bob"][5:] == ["8", "0"]
    excused = by_login(read_csv(_export(gradebook, tmp_path, unsubmitted="EX")))
    assert excused["dodo"][5:] == ["EX", "EX"]
    with pytest.raises(CanvasExportError, match=r"unsubmitted='zero'"):
        _export(gradebook, tmp_path, unsubmitted="zero")


def test_students_are_named_last_first_and_matched_by_sis_ids(gradebook, tmp_path):
    path = _export(gradebook, tmp_path)
    rows = by_login(read_csv(path))
    assert rows["alice"][:5] == ["Liddell, Alice", "", "alice", "alice", ""]
    assert rows["carol"][0] == "Smith, Jr., Carol"
    assert '"Smith, Jr., Carol"' in path.read_text()  # quoted, so still one field
    assert rows["dodo"][0] == "Dodo"  # the one name part known
    assert rows["bob"][0] == "bob"  # no name: the id, so Canvas's review screen shows someone
    only_login = by_login(read_csv(_export(gradebook, tmp_path, id_columns=["SIS Login ID"])))
    assert only_login["alice"][:5] == ["Liddell, Alice", "", "", "alice", ""]
    with pytest.raises(CanvasExportError, match="student_id_columns"):
        _export(gradebook, tmp_path, id_columns=["Email"])


def test_column_titles_come_from_the_mapping(gradebook, tmp_path):
    rows = read_csv(_export(gradebook, tmp_path, columns={"convnets": "ConvNets (12345)"}))
    assert rows[0][5:] == ["ConvNets (12345)", "pooling"]


@pytest.mark.parametrize(
    "columns, message",
    [
        ({"convnets": "Pooling", "pooling": "Pooling"}, "both have the column title 'Pooling'"),
        ({"convnets": "pooling"}, "both have the column title 'pooling'"),
        ({"convnets": "Section"}, "is a Canvas student column"),
        ({"convnets": "Final Score (1)"}, "contains 'Final Score'"),
        ({"convnet": "ConvNets (12345)"}, r"names \['convnet'\], not assignments"),
        ({"convnets": "  "}, "is blank"),
    ],
)
def test_a_title_canvas_would_misread_is_refused_and_nothing_written(
    gradebook, tmp_path, columns, message
):
    with pytest.raises(CanvasExportError, match=message):
        _export(gradebook, tmp_path, columns=columns)
    assert not (tmp_path / "canvas.csv").exists()


def test_filters_keep_what_was_asked_in_gradebook_order(gradebook, tmp_path):
    rows = read_csv(_export(gradebook, tmp_path, assignments=["pooling"], students=["bob"]))
    assert rows[0][5:] == ["pooling"] and rows[1][5:] == ["5"]
    assert [r[3] for r in rows[2:]] == ["bob"]
    # nbgrader documents `--student [alice,bob]`; traitlets passes it on as one string.
    rows = read_csv(_export(gradebook, tmp_path, students=["[alice,bob]"]))
    assert sorted(by_login(rows)) == ["alice", "bob"]


def test_unknown_filter_names_are_refused(gradebook, tmp_path):
    with pytest.raises(CanvasExportError, match=r"assignment=\['convnet'\] are not in"):
        _export(gradebook, tmp_path, assignments=["convnet"])
    with pytest.raises(CanvasExportError, match=r"student=\['eve'\] are not in"):
        _export(gradebook, tmp_path, students=["alice", "eve"])


def test_submissions_still_being_graded_are_reported(gradebook, tmp_path):
    table = write_canvas_csv(gradebook, tmp_path / "canvas.csv")
    assert table.needs_manual_grade == [("convnets", "carol")]


def test_a_missing_gradebook_is_refused_not_created(tmp_path):
    for missing in (tmp_path / "nope.db", f"sqlite:///{tmp_path / 'nope.db'}"):
        with pytest.raises(FileNotFoundError, match="no such gradebook"):
            write_canvas_csv(missing, tmp_path / "canvas.csv")
    assert not (tmp_path / "nope.db").exists()


def _export(gradebook, tmp_path, **kwargs):
    path = tmp_path / "canvas.csv"
    write_canvas_csv(gradebook, path, **kwargs)
    return path


# The real command line: nbgrader imports the plugin by name and runs it in a course folder.


@pytest.fixture
def course(gradebook, tmp_path):
    root = tmp_path / "course"
    root.mkdir()
    shutil.copy(gradebook, root / "gradebook.db")
    (root / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(root)!r}\n"
        f"c.CourseDirectory.course_id = {COURSE_ID!r}\n"
        'c.CanvasExportPlugin.assignment_columns = {"convnets": "ConvNets (12345)"}\n'
    )
    return root


def nbgrader_export(course, *args):
    env = {**os.environ, "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}"}
    return subprocess.run(
        [sys.executable, "-m", "nbgrader", "export",
         "--exporter=autograder.export.CanvasExportPlugin", *args],
        cwd=course, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.slow
def test_nbgrader_export_writes_the_canvas_csv(course):
    done = nbgrader_export(course, "--to=canvas.csv", "--assignment=[convnets]")
    assert done.returncode == 0, done.stderr
    rows = read_csv(course / "canvas.csv")
    assert rows[0] == [*STUDENT_COLUMNS, "ConvNets (12345)"]
    assert rows[1] == ["Points Possible", "", "", "", "", "10"]
    assert {k: r[5] for k, r in by_login(rows).items()} == {
        "alice": "8.5", "bob": "8", "carol": "0", "dodo": ""
    }  # fmt: skip
    assert "still need manual grading" in done.stderr and "convnets/carol" in done.stderr


@pytest.mark.slow
def test_nbgrader_export_without_to_fails_with_a_sentence(course):
    done = nbgrader_export(course)
    assert done.returncode == 1
    assert "Canvas export: --to is required" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (course / "grades.csv").exists()
