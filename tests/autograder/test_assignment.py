"""Is an assignment's autograder.json read, checked, and kept out of the students' release?"""

from __future__ import annotations

import json
import re

import pytest

from autograder.assignment import load_assignment
from autograder.notebook import read_cells

from grading_setup import KIT_COURSE


def test_the_kit_assignments_files_are_read():
    convnets = load_assignment(KIT_COURSE / "source" / "convnets")
    assert "conv_forward_fast" in convnets.refused("test_conv_forward_same")
    assert "max_pool_forward_fast" not in convnets.refused("test_conv_forward_same")
    assert "scipy.signal" in dict(convnets.forbidden)["conv_*_naive"]
    assert convnets.array_hooks_allowed == ("ThreeLayerConvNet",)
    dropout = load_assignment(KIT_COURSE / "source" / "dropout")
    assert dropout.refused("test_dropout_net") == (
        "eval_numerical_gradient", "eval_numerical_gradient_array")
    assert dropout.forbidden == {}
    assert dropout.demo["wrong_unscaled"].loses == ("test_dropout_forward",)
    assert dropout.demo["wrong_unscaled"].replace["dropout_forward"] == (
        ("out = x * mask / p", "out = x * mask"),)
    assert "while True" in dropout.demo["crash_hangs"].set["dropout_backward"]


def test_every_pattern_matches_a_test_or_a_solution_of_its_assignment():
    """A typo in a pattern would silently refuse nothing."""
    import fnmatch

    for name in ("convnets", "dropout"):
        folder = KIT_COURSE / "source" / name
        ids = {c.get("metadata", {}).get("nbgrader", {}).get("grade_id")
               for p in folder.glob("*.ipynb") for c in read_cells(p)} - {None}
        a = load_assignment(folder)
        for table in (a.refuse, a.forbidden):
            for pattern in table:
                assert any(fnmatch.fnmatchcase(i, pattern) for i in ids), (name, pattern)


def test_an_assignment_without_the_file_has_empty_tables(tmp_path):
    a = load_assignment(tmp_path / "hw1")
    assert a.name == "hw1" and a.refused("anything") == () and a.demo == {}


@pytest.mark.parametrize("content, message", [
    ("{not json", "cannot be read as JSON"),
    ("[1, 2]", "must hold one JSON object"),
    ('{"refuse": {"t*": ["conv_forward_fst"]}}', "names conv_forward_fst, which cannot be refused"),
    ('{"refuse": {"t*": "conv_forward_fast"}}', "refuse['t*'] must be a list of names"),
    ('{"demo": []}', "'demo' must be an object keyed by student names"),
    ('{"demo": {"ann": {"loses": "all"}}}', "demo['ann']: 'loses' must be the list of test"),
    ('{"demo": {"ann": {"loses": [], "replace": {"c": ["a"]}}}}',
     "demo['ann']: replace['c'] must be a list of [old, new] strings"),
    ('{"demo": {"ann": {"loses": [], "set": {"c": 1}}}}', "demo['ann']: set['c'] must be"),
    ('{"demo": {"ann": {"loses": [], "edits": {}}}}', "demo['ann']: unknown key(s) edits"),
    ('{"demo": {"../ann": {"loses": []}}}', "a student name must be a plain folder name"),
    ('{"refused": {}}', "unknown key(s) refused"),
    ('{"array_hooks_allowed": "Net"}', "'array_hooks_allowed' must be a list of class names"),
])
def test_a_bad_file_is_an_error_naming_the_file_and_the_key(tmp_path, content, message):
    folder = tmp_path / "hw1"
    folder.mkdir()
    (folder / "autograder.json").write_text(content)
    with pytest.raises(ValueError) as err:
        load_assignment(folder)
    assert message in str(err.value) and "hw1/autograder.json" in str(err.value)


def test_nbgrader_keeps_the_file_out_of_the_release():
    for name in ("convnets", "dropout"):
        assert (KIT_COURSE / "source" / name / "autograder.json").is_file()
        assert not (KIT_COURSE / "release" / name / "autograder.json").exists()
    config = (KIT_COURSE / "nbgrader_config.py").read_text()
    assert '"autograder.json"' in config
    json.loads((KIT_COURSE / "source" / "convnets" / "autograder.json").read_text())


def test_a_declared_demo_that_does_not_fit_the_notebooks_is_named(tmp_path):
    from autograder.demo import DROPOUT, build_demo_course, declared_class

    course = tmp_path / "course"
    build_demo_course(course, only=[])
    config = course / "source" / DROPOUT / "autograder.json"
    data = json.loads(config.read_text())
    for entry, message in (
        ({"replace": {"dropout_forward": [["no such line", "x"]]}, "loses": []},
         "the cell 'dropout_forward' has no 'no such line' to replace"),
        ({"set": {"dropout_fwd": "pass"}, "loses": []},
         "0 cells have the grade id 'dropout_fwd'"),
        ({"loses": ["test_dropout_fwd"]}, "which no test cell has as its grade id"),
    ):
        data["demo"] = {"ann": entry}
        config.write_text(json.dumps(data))
        with pytest.raises(ValueError, match=re.escape(message)):
            declared_class(course, DROPOUT)


def test_an_assignment_that_declares_no_demo_gets_its_solution_and_its_release(tmp_path):
    from autograder.demo import DROPOUT, build_demo_course, declared_class

    course = tmp_path / "course"
    build_demo_course(course, only=[])
    (course / "source" / DROPOUT / "autograder.json").unlink()
    expected = declared_class(course, DROPOUT)
    assert expected["honest"] == []
    assert sorted(expected["release_untouched"]) == [
        "test_dropout_backward", "test_dropout_forward", "test_dropout_net"]
    assert (course / "submitted" / "honest" / DROPOUT / "dropout.ipynb").is_file()


def test_an_earlier_versions_topic_table_is_read_and_ignored(tmp_path):
    folder = tmp_path / "hw1"
    folder.mkdir()
    (folder / "autograder.json").write_text(
        '{"topic": {"test_*": "conv_forward"}, "refuse": {"test_*": ["conv_forward_fast"]}}')
    a = load_assignment(folder)
    assert a.refused("test_a") == ("conv_forward_fast",) and not hasattr(a, "topic")
