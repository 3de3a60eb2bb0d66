"""nbgrader configuration of the convnets course; nbgrader reads it from this folder.

Grading is `cs231n-autograde`, out of the students' kernels (see the README):

    ../.venv/bin/nbgrader generate_assignment convnets --force  # source/ -> release/
    ../.venv/bin/cs231n-autograde . --nbgrader                  # grades into gradebook.db
    ../.venv/bin/nbgrader generate_feedback convnets            # feedback/, no hidden test
    ../.venv/bin/nbgrader export                                # grades.csv

Plain `nbgrader autograde` is refused here: it runs the tests in the student's own kernel,
where a submission can fool them, and would replace the out-of-kernel grades.
"""

import os
import sys

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

c.CourseDirectory.course_id = "cs231n-convnets"
# This file's folder, absolute (a relative root makes nbgrader warn on every command).
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))

# nbgrader starts `alembic` by name when it creates a gradebook: make the one beside this
# interpreter findable, so that `.venv/bin/nbgrader ...` works without an activated venv.
os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")

# nbgrader's exchange, where release_assignment puts the release, students submit and
# release_feedback returns feedback: nbgrader's default folder, or $CS231N_EXCHANGE.
c.Exchange.root = os.environ.get("CS231N_EXCHANGE", "/srv/nbgrader/exchange")

# What the release puts in place of a solution region and of a written answer.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# The release and the autograder must never run the solutions; a generated release is
# checked by executing it in the test-suite instead.
c.GenerateAssignment.create_assignment = True
# Each assignment's autograder.json (what the grader refuses and flags) stays out of release/.
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "autograder.json",
]

# A cell may train a network at full scale (a few minutes on a laptop).
c.Execute.timeout = 1800

# Feedback shows the out-of-kernel verdicts and the assignment's total, and never a hidden
# test (autograder/nbgrader_hooks.py).
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "autograder.nbgrader_hooks.OutOfKernelFeedback",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]

# `nbgrader autograde` from the command line: refused, naming the command that grades.
# The kit's own in-kernel run (on a scratch copy, jailed, for flags only) sets
# CS231N_IN_KERNEL_RUN.
if sys.argv[1:2] == ["autograde"] and not os.environ.get("CS231N_IN_KERNEL_RUN"):
    sys.exit(
        "This course is graded out of the students' kernels: run\n"
        f"    {os.path.join(os.path.dirname(sys.executable), 'cs231n-autograde')} . --nbgrader\n"
        "in this folder instead of `nbgrader autograde` (which runs the tests in the "
        "student's own kernel, where a submission can fool them, and would replace the "
        "out-of-kernel grades in gradebook.db)."
    )
