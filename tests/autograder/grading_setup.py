"""Settings shared by the grading tests."""

from pathlib import Path

from autograder.sandbox import Limits

# Short per-call limits keep the fault suite quick; honest calls take milliseconds.
TEST_LIMITS = Limits(wall_seconds_per_test=4.0, load_seconds=30.0, memory_mb=1536)
SECRET = "test-secret"
# The kit's own nbgrader course (read, never written, by these tests).
KIT_COURSE = Path(__file__).resolve().parents[2] / "assignments"
