"""Wall time of grading the demo class: this autograder against plain ``nbgrader autograde``.

``python -m autograder.bench`` builds the demo class (``make demo``'s 24
submissions), then, in one run:

1. grades it with this autograder, ``--workers 2``, as ``make demo`` does;
2. grades its 15 well-formed submissions the same way, and with plain
   ``nbgrader autograde <assignment> --force`` (one after the other, as
   nbgrader does, on a copy of the course). Plain nbgrader stops its whole
   run at the first malformed submission, so those 15 are what both can grade;
   the run over all 24 is recorded too.

It prints the wall times, the ratio on the 15 and the target (<= 0.6), and
writes ``autograde_bench.json``.

Plain nbgrader is given two settings that can only make it faster, so the
ratio is not flattered: ``CS231N_NOTEBOOK_SCALE=small`` (what the course's
``nbgrader_config.py`` tells instructors to export, shrinking the training
and timing cells), and a per-cell timeout of ``--cell-timeout`` seconds
(default 60) instead of the course's 1800, without which the demo's
infinite loop would stall it for half an hour. Because the demo includes a
fork bomb and memory bombs, plain nbgrader runs inside the sandbox's process
and memory limits (as a sandbox uid when run as root); the limits cost it
no time.

Imports: the autograder, nbgrader, the standard library.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from autograder.demo import ASSIGNMENT, build_demo_course
from autograder.gradebook import generate_assignment, hand_over, kernel_env, kernel_limits
from autograder.sandbox import Limits, jail_uid, run_command

TARGET_RATIO = 0.6
DEMO_LIMITS = Limits(wall_seconds_per_test=5.0)  # as `make demo`


def time_autograder(course: Path, workers: int) -> tuple[float, dict[str, Any]]:
    """Seconds to grade every submission with :func:`autograder.api.grade`, and a summary."""
    from autograder.api import grade

    start = time.perf_counter()
    run = grade(
        course, ASSIGNMENT, workers=workers, secret="demo-secret", regrade=True, limits=DEMO_LIMITS
    )
    seconds = time.perf_counter() - start
    scores = {r.student_id: r.score for r in run.results}
    return seconds, {"submissions": len(run.results), "scores": scores}


def time_plain_nbgrader(
    course: Path, cell_timeout: int, students: str = "*"
) -> tuple[float, dict[str, Any]]:
    """Seconds for plain ``nbgrader autograde`` over the submissions, on a scratch copy.

    ``students`` is nbgrader's ``--student`` glob (all of them by default).
    """
    scratch = Path(tempfile.mkdtemp(prefix="cs231n-plain-nbgrader-"))
    try:
        copy = scratch / "course"
        shutil.copytree(
            course, copy, ignore=shutil.ignore_patterns("autograded", "grades", "gradebook.db")
        )
        res = generate_assignment(copy, ASSIGNMENT)
        if res.returncode != 0:
            raise RuntimeError(f"nbgrader generate_assignment failed: {res.stderr[-1000:]}")
        argv = [
            sys.executable,
            "-m",
            "nbgrader",
            "autograde",
            ASSIGNMENT,
            "--force",
            f"--Execute.timeout={cell_timeout}",
            f"--student={students}",
        ]
        with jail_uid() as uid:
            hand_over(scratch, uid)
            start = time.perf_counter()
            res = run_command(
                argv,
                scratch,
                cwd=f"/jail/scratch/{copy.relative_to(scratch)}",
                limits=kernel_limits(cpu_seconds=7200),
                uid=uid,
                env=kernel_env("/jail/scratch"),
                timeout=4 * 3600,
            )
            seconds = time.perf_counter() - start
        graded = sorted(p.name for p in (copy / "autograded").glob("*") if p.is_dir())
        return seconds, {
            "exit_code": res.returncode,
            "autograded_folders": len(graded),
            "stderr_tail": res.stderr[-1500:],
        }
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autograder.bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--cell-timeout", type=int, default=60, help="plain nbgrader's per-cell timeout, seconds"
    )
    parser.add_argument("--out", default="bench-results", help="folder for autograde_bench.json")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="cs231n-autograde-bench-"))
    try:
        everyone = build_demo_course(work / "all")
        print(f"demo class: {len(everyone)} submissions")
        all_s, all_info = time_autograder(work / "all", args.workers)
        print(f"autograder, --workers {args.workers}, all {len(everyone)}: {all_s:.1f} s")
        # Plain nbgrader stops the whole run at the first malformed submission (a
        # duplicated cell id, say), so the comparison uses the well-formed ones.
        well_formed = build_demo_course(work / "ok", bad=False)
        kit_s, kit_info = time_autograder(work / "ok", args.workers)
        print(
            f"autograder, --workers {args.workers}, {len(well_formed)} well-formed: {kit_s:.1f} s"
        )
        print(
            f"plain nbgrader autograde on the same {len(well_formed)} "
            "(every notebook in a kernel, one after the other: about ten minutes) ...",
            flush=True,
        )
        plain_s, plain_info = time_plain_nbgrader(work / "ok", args.cell_timeout, students="[!b]*")
        print(
            f"plain nbgrader autograde, the same {len(well_formed)}: {plain_s:.1f} s "
            f"({plain_info['autograded_folders']} autograded, exit code {plain_info['exit_code']})"
        )
        print(f"plain nbgrader autograde on all {len(everyone)} ...", flush=True)
        _, all_plain = time_plain_nbgrader(work / "all", args.cell_timeout)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ratio = kit_s / plain_s
    report = {
        "submissions": len(well_formed),
        "workers": args.workers,
        "cpus": len(os.sched_getaffinity(0)),
        "autograder_seconds": kit_s,
        "plain_nbgrader_seconds": plain_s,
        "ratio": ratio,
        "target": TARGET_RATIO,
        "met": ratio <= TARGET_RATIO,
        "cell_timeout": args.cell_timeout,
        "autograder": kit_info,
        "plain_nbgrader": plain_info,
        "whole_class": {
            "submissions": len(everyone),
            "autograder_seconds": all_s,
            "autograder": all_info,
            "plain_nbgrader_autograded_folders": all_plain["autograded_folders"],
            "plain_nbgrader_exit_code": all_plain["exit_code"],
        },
    }
    print(
        f"\nthe whole class ({len(everyone)}, with the malformed ones): autograder {all_s:.1f} s; "
        f"plain nbgrader exited with {all_plain['exit_code']} after "
        f"{all_plain['autograded_folders']} submission(s)"
    )
    print(f"\n{'target':<58} {'limit':>8} {'measured':>9}  result")
    print("-" * 90)
    print(
        f"{'autograding the demo class, autograder / plain nbgrader':<58} "
        f"{TARGET_RATIO:>7.2f}x {ratio:>8.2f}x  {'met' if report['met'] else 'NOT MET'}"
        f"  ({kit_s:.1f} s / {plain_s:.1f} s, {len(well_formed)} well-formed submissions)"
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "autograde_bench.json").write_text(json.dumps(report, indent=1))
    print(f"\nwrote {out / 'autograde_bench.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
