"""The fairness sweep: does the instructor's solution pass every test on every student's draw?"""

from __future__ import annotations

import json

import nbformat
import pytest

from autograder import fairness

from grading_setup import KIT_COURSE
from grading_setup import nbgrader_cell as _cell


@pytest.fixture
def unfair_course(tmp_path):
    """A test whose threshold holds on the notebook's draw but not on every student's."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        _cell("import numpy as np\nfrom cs231n_lib.grading import grading_rng\n"),
        _cell("def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n",
              solution=True, grade_id="double"),
        # default_rng(5)'s first normal is below 1: the notebook's own run passes.
        _cell("x = grading_rng(5).standard_normal()\nassert double(x) < 2.0, 'too big'\n",
              grade=True, grade_id="test_unfair", points=1),
        _cell("assert double(3) == 6\n", grade=True, grade_id="test_fixed", points=1),
        _cell("v = grading_rng(6).standard_normal(4)\nassert (double(v) == v + v).all()\n",
              grade=True, grade_id="test_fair", points=1),
    ]
    src = tmp_path / "source" / "a"
    src.mkdir(parents=True)
    nbformat.write(nb, src / "a.ipynb")
    return src


def test_an_unfair_threshold_is_found_and_a_fair_one_passes(unfair_course, tmp_path, capsys):
    out = tmp_path / "sweep.json"
    assert fairness.main([str(unfair_course), "--draws", "60", "--json", str(out)]) == 1
    rows = {r["grade_id"]: r for r in json.loads(out.read_text())}
    unfair, fixed, fair = rows["test_unfair"], rows["test_fixed"], rows["test_fair"]
    # P(z > 1) is 0.16: over 60 draws about 10 fail; none would be a broken sweep.
    assert unfair["draws"] == 60 and 2 <= unfair["failures"] <= 25, unfair
    assert "too big" in unfair["first_failure"] and unfair["seeds"] == [5]
    assert fixed == {**fixed, "draws": 1, "failures": 0, "uses_grading_rng": False}
    assert fair["draws"] == 60 and fair["failures"] == 0
    text = capsys.readouterr().out
    assert "test_unfair" in text and "fixed" in text and "fails 1 test(s)" in text


def test_the_draws_differ_per_student_and_the_notebook_draw_is_kept(unfair_course):
    results = fairness.sweep(unfair_course, 3, only={"test_fair"})
    assert [r.grade_id for r in results] == ["test_fair"] and results[0].failures == 0
    a = fairness.cellgrade.student_grading_rng(fairness.SECRET, "draw-0", 6).standard_normal()
    b = fairness.cellgrade.student_grading_rng(fairness.SECRET, "draw-1", 6).standard_normal()
    assert a != b


def test_bad_input_is_named(tmp_path, capsys):
    with pytest.raises(SystemExit):
        fairness.main([str(tmp_path / "nowhere")])
    assert "is not an assignment folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        fairness.main([str(tmp_path), "--draws", "0"])
    assert "--draws must be 1 or more" in capsys.readouterr().err


@pytest.mark.parametrize("assignment", ["convnets", "dropout"])
def test_the_kits_solutions_pass_their_hidden_tests_on_other_students_draws(assignment):
    """A few draws here; the README quotes the long sweep (500 draws per test)."""
    results = fairness.sweep(KIT_COURSE / "source" / assignment, 3)
    assert results and all(r.draws for r in results)
    assert [r.grade_id for r in results if r.failures] == [], fairness.table(results)
    assert any(r.uses_grading_rng for r in results)
