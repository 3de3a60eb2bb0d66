"""Is an assignment's autograder.json read, checked, and kept out of the students' release?"""

from __future__ import annotations

import json

import pytest

from autograder.assignment import load_assignment
from autograder.notebook import read_cells

from grading_setup import KIT_COURSE


def test_the_kit_assignments_files_are_read():
    convnets = load_assignment(KIT_COURSE / "source" / "convnets")
    assert "conv_forward_fast" in convnets.refused("test_conv_forward_same")
    assert "max_pool_forward_fast" not in convnets.refused("test_conv_forward_same")
    assert convnets.topic_of("test_spatial_groupnorm_backward") == "spatial_groupnorm_backward"
    assert convnets.topic_of("test_spatial_groupnorm_forward") == "spatial_groupnorm"
    assert "scipy.signal" in dict(convnets.forbidden)["conv_*_naive"]
    assert convnets.array_hooks_allowed == ("ThreeLayerConvNet",)
    dropout = load_assignment(KIT_COURSE / "source" / "dropout")
    assert dropout.refused("test_dropout_net") == (
        "eval_numerical_gradient", "eval_numerical_gradient_array")
    assert dropout.topic_of("test_dropout_net") is None and dropout.forbidden == {}


def test_every_pattern_matches_a_test_or_a_solution_of_its_assignment():
    """A typo in a pattern would silently refuse nothing."""
    import fnmatch

    for name in ("convnets", "dropout"):
        folder = KIT_COURSE / "source" / name
        ids = {c.get("metadata", {}).get("nbgrader", {}).get("grade_id")
               for p in folder.glob("*.ipynb") for c in read_cells(p)} - {None}
        a = load_assignment(folder)
        for table in (a.refuse, a.topic, a.forbidden):
            for pattern in table:
                assert any(fnmatch.fnmatchcase(i, pattern) for i in ids), (name, pattern)


def test_an_assignment_without_the_file_has_empty_tables(tmp_path):
    a = load_assignment(tmp_path / "hw1")
    assert a.name == "hw1" and a.refused("anything") == () and a.topic_of("x") is None


@pytest.mark.parametrize("content, message", [
    ("{not json", "cannot be read as JSON"),
    ("[1, 2]", "must hold one JSON object"),
    ('{"refuse": {"t*": ["conv_forward_fst"]}}', "names conv_forward_fst, which cannot be refused"),
    ('{"refuse": {"t*": "conv_forward_fast"}}', "refuse['t*'] must be a list of names"),
    ('{"topic": {"t*": 3}}', "topic['t*'] must be a topic name"),
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
