"""Does a real nbgrader autograde round trip give the right scores?"""

from course_tools import NOTEBOOKS


def _auto(results, student):
    return {nb: sum(score or 0 for _, score, _ in grades)
            for nb, grades in results[student].items()}


def _max(results, student):
    return {nb: sum(m for _, _, m in grades) for nb, grades in results[student].items()}


def test_every_notebook_is_graded(autograded):
    for student in autograded:
        assert sorted(autograded[student]) == sorted(NOTEBOOKS)


def test_source_submitted_as_a_student_gets_every_automatic_point(autograded):
    lost = [(nb, gid, score, top) for nb, grades in autograded["full_marks"].items()
            for gid, score, top in grades if score != top]
    assert not lost, lost
    assert sum(_max(autograded, "full_marks").values()) == 31


def test_untouched_release_gets_no_automatic_point(autograded):
    assert sum(_auto(autograded, "untouched").values()) == 0, autograded["untouched"]
