"""The kit's timing runs with the instructor's naive layers: ``python -m autograder.timing``.

:mod:`cs231n_lib.bench` and :mod:`cs231n_lib.tour` time naive layers they are given and never
read the course; the naive layers and ThreeLayerConvNet are the students' work. In the kit's
repository this module takes them from the solution cells of the source notebooks
(:func:`autograder.references.build_reference_namespace`, the grader's own reader) and runs:

- ``python -m autograder.timing [--quick] [--out DIR]``: the benchmark (``cs231n-bench``);
- ``python -m autograder.timing --tour [...]``: the tour (``cs231n-tour``).

Without the course (an installed kit), the naive rows are left out, as the library does.

Imports: the standard library, :mod:`autograder.references` and ``cs231n_lib``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from cs231n_lib import bench, tour

COURSE_SOURCE = Path(__file__).resolve().parents[1] / "assignments" / "source" / "convnets"


def naive_layers(folder: Path = COURSE_SOURCE) -> dict[str, Any]:
    """The naive layers and ThreeLayerConvNet of the source notebooks; {} without them.

    The cells are the instructor's own code and run as such: never point this at
    students' notebooks.
    """
    from autograder.references import build_reference_namespace

    found: dict[str, Any] = {}
    for path in sorted(Path(folder).glob("*.ipynb")):
        namespace = build_reference_namespace(path)
        found.update({n: namespace[n] for n in bench.NAIVE_NAMES if callable(namespace.get(n))})
    return found


def bench_main(argv: list[str] | None = None) -> int:
    return bench.main(argv, naive=naive_layers(), child="autograder.timing")


def tour_main(argv: list[str] | None = None) -> int:
    return tour.main(argv, naive=naive_layers())


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--tour"]:
        return tour_main(argv[1:])
    return bench_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
