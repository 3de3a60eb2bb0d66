"""Where the kit's course is, for the autograder's tests."""

from pathlib import Path

COURSE = Path(__file__).resolve().parents[2] / "assignments"
COURSE_SOURCE = COURSE / "source" / "convnets"
