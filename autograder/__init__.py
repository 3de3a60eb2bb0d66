"""The kit's autograder: grades a class's submissions outside the students' kernels.

``autograder.api.grade`` is the Python API; ``python -m autograder`` (also the
``cs231n-autograde`` command) is a thin CLI that forwards to it.

Imports: ``cs231n_lib`` is not needed here; the grader reads the course
directory (the instructor's source notebooks are the reference) and runs
students' code only inside ``autograder.sandbox``.
"""

__version__ = "0.1.0"
