"""``cs231n-autograde`` / ``python -m autograder``: a thin layer over :func:`autograder.api.grade`.

Imports: ``autograder.api`` and the standard library.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import fields

from autograder.api import grade
from autograder.reports import grade_table, legend
from autograder.sandbox import JailUnavailable, Limits


def _boolean(text: str) -> bool:
    if text.lower() in ("1", "true", "yes"):
        return True
    if text.lower() in ("0", "false", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cs231n-autograde",
        description="Grade an nbgrader course's submissions outside the students' kernels.",
    )
    p.add_argument("course_dir", help="the nbgrader course directory (has source/ and submitted/)")
    p.add_argument("--assignment", default="convnets", help="assignment name (default: convnets)")
    p.add_argument(
        "--out", help="results and reports folder (default: COURSE/autograder/ASSIGNMENT)"
    )
    p.add_argument("--student", action="append", help="grade only this student (repeatable)")
    p.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="local worker processes (default: all cores)",
    )
    p.add_argument("--scheduler", help="address of a running Dask scheduler to grade on instead")
    p.add_argument(
        "--secret",
        help="course secret (default: $CS231N_GRADER_SECRET or COURSE/.autograder_secret)",
    )
    p.add_argument("--regrade", action="store_true", help="regrade even unchanged submissions")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--nbgrader",
        action="store_true",
        help="also run nbgrader's in-notebook tests (sandboxed) and write the scores "
        "into the course's gradebook.db",
    )
    p.add_argument(
        "--no-similarity",
        action="store_true",
        help="skip the class's similarity report (OUT/similarity.csv and .html)",
    )
    p.add_argument(
        "--unsafe-no-jail",
        action="store_true",
        help="grade without the jail where it cannot be built (macOS, Windows, no user "
        "namespaces): the students' code can then read the course; every result and "
        "report says so",
    )
    limits = p.add_argument_group("jail limits (autograder.sandbox.Limits)")
    for f in fields(Limits):
        flag = "--" + f.name.replace("_", "-")
        if f.type is bool:
            limits.add_argument(
                flag,
                type=_boolean,
                default=f.default,
                metavar="BOOL",
                help=f"default {f.default}",
            )
        else:  # the field's own type: int or float
            limits.add_argument(flag, type=f.type, default=f.default, help=f"default {f.default}")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    limits = Limits(**{f.name: getattr(args, f.name) for f in fields(Limits)})
    try:
        run = grade(
            args.course_dir,
            args.assignment,
            out_dir=args.out,
            students=args.student,
            workers=args.workers,
            scheduler=args.scheduler,
            secret=args.secret,
            limits=limits,
            regrade=args.regrade,
            progress=not args.no_progress,
            nbgrader=args.nbgrader,
            jail=not args.unsafe_no_jail,
            similarity=not args.no_similarity,
        )
    except (FileNotFoundError, ValueError, JailUnavailable) as err:
        print(f"cs231n-autograde: error: {err}", file=sys.stderr)
        return 2
    print(grade_table(run.results))
    print("\n" + legend(run.results))
    if args.nbgrader:
        for student, grade_id, before, now in run.gradebook_changes:
            was = "no score" if before is None else f"{before:g}"
            print(f"gradebook: {student} {grade_id}: {was} -> {now:g} (the out-of-kernel grade)")
        print(
            f"gradebook: {len(run.results)} submission(s) written, "
            f"{len(run.gradebook_changes)} score(s) changed"
        )
    if run.similar:
        top = run.similar[0]
        print(
            f"similarity: highest pair {top.student_a} and {top.student_b}, score "
            f"{top.score:.2f} of 1 (a screening aid: read the code side by side in "
            f"{run.out_dir / 'similarity.html'})"
        )
    print(f"\ngraded {len(run.graded)}, unchanged {len(run.reused)}; reports in {run.out_dir}")
    return 0
