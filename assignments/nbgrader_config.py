"""nbgrader configuration of the convnets course; run nbgrader from this folder.

    nbgrader generate_assignment convnets --force   # source/ -> release/ (the student version)
    nbgrader autograde convnets                     # submitted/<student>/convnets -> autograded/

The notebooks read CS231N_NOTEBOOK_SCALE: export CS231N_NOTEBOOK_SCALE=small before
autograding to shrink the training and timing cells (tagged `heavy`) to seconds.
"""

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

c.CourseDirectory.course_id = "cs231n-convnets"
c.CourseDirectory.root = "."  # nbgrader is run from assignments/

# What the release puts in place of a solution region and of a written answer.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# The release and the autograder must never run the solutions; a generated release is
# checked by executing it in the test-suite instead.
c.GenerateAssignment.create_assignment = True

# A cell may train a network at full scale (a few minutes on a laptop).
c.Execute.timeout = 1800
