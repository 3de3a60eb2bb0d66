"""Reports from graded submissions: CSV, feedback pages, Gradescope JSON, a class summary.

Feedback shows each test's verdict, points, relative error and reason: never
the inputs or the code of a test (the reasons are written by the grader and
name shapes and dtypes, not values).

Imports: the standard library; matplotlib (Agg) for the histogram.
"""

from __future__ import annotations

import csv
import html
import json
import os
from collections import defaultdict
from pathlib import Path

from autograder.schema import FLAGS, PASSED, SUBMISSION_STATUSES, TEST_STATUSES, SubmissionResult


def _atomic_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_csv(results: list[SubmissionResult], path: Path) -> None:
    """One row per student and test."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "student_id",
                "notebook",
                "grade_id",
                "status",
                "points",
                "max_points",
                "rel_error",
                "threshold",
                "flagged",
                "reason",
            ]
        )
        for r in results:
            for t in r.tests:
                w.writerow(
                    [
                        r.student_id,
                        t.notebook,
                        t.grade_id,
                        t.status,
                        t.points,
                        t.max_points,
                        "" if t.rel_error is None else f"{t.rel_error:.3e}",
                        "" if t.threshold is None else t.threshold,
                        int(t.flagged),
                        t.reason,
                    ]
                )
    os.replace(tmp, path)


def gradescope_json(result: SubmissionResult) -> dict:
    """The Gradescope autograder ``results.json`` of one submission."""
    tests = []
    for t in result.tests:
        output = "passed" if t.status == PASSED else f"{t.status}: {t.reason}"
        if t.rel_error is not None:
            output += f" (relative error {t.rel_error:.1e}, threshold {t.threshold:.0e})"
        tests.append(
            {
                "name": f"{t.notebook}: {t.grade_id}",
                "score": t.points,
                "max_score": t.max_points,
                "status": "passed" if t.status == PASSED else "failed",
                "output": output,
                "visibility": "visible",
            }
        )
    return {
        "score": result.score,
        "execution_time": round(result.seconds, 2),
        "tests": tests,
        "output": f"{len(result.problems)} problem(s) with the submission"
        if result.problems
        else "",
    }


def feedback_html(result: SubmissionResult) -> str:
    """A student's feedback page."""
    rows = []
    for t in result.tests:
        err = "" if t.rel_error is None else f"{t.rel_error:.1e}"
        rows.append(
            f"<tr class='{html.escape(t.status)}'><td>{html.escape(t.notebook)}</td>"
            f"<td>{html.escape(t.grade_id)}</td><td>{html.escape(t.status)}</td>"
            f"<td>{t.points:g} / {t.max_points:g}</td><td>{err}</td>"
            f"<td>{html.escape(t.reason)}</td></tr>"
        )
    problems = "".join(f"<li>{html.escape(p['message'])}</li>" for p in result.problems)
    legend = "".join(
        f"<dt>{html.escape(word)}</dt><dd>{html.escape(meaning)}</dd>"
        for word, meaning in TEST_STATUSES.items()
    )
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Feedback: {html.escape(result.student_id)}</title>
<style>body{{font-family:sans-serif;margin:2em}}
td,th{{padding:.3em .6em;border-bottom:1px solid #ddd}}
tr.passed td:nth-child(3){{color:#060}} tr.failed td:nth-child(3),tr.error td:nth-child(3),
tr.missing td:nth-child(3){{color:#a00}}</style></head><body>
<h1>Feedback for {html.escape(result.student_id)}</h1>
<p>Score: <b>{result.score:g} / {result.max_score:g}</b> (automatically graded parts).
Each test ran your functions on new inputs outside your notebook and compared the
results with the reference by relative error.</p>
{"<h2>Problems with the submission</h2><ul>" + problems + "</ul>" if problems else ""}
<table><tr><th>notebook</th><th>test</th><th>verdict</th><th>points</th>
<th>relative error</th><th>what was wrong</th></tr>
{"".join(rows)}
</table>
<h2>Verdicts</h2><dl>{legend}</dl>
</body></html>
"""


def _flag_words(r: SubmissionResult) -> list[str]:
    return sorted(
        {f.kind for f in r.flags} | ({"mismatch"} if any(t.flagged for t in r.tests) else set())
    )


def grade_table(results: list[SubmissionResult]) -> str:
    """A fixed-width table: one line per student."""
    w = max([len("student")] + [len(r.student_id) for r in results])
    lines = [f"{'student':<{w}} {'score':>9}  {'status':<9} flags", "-" * (w + 38)]
    for r in sorted(results, key=lambda r: r.student_id):
        lines.append(
            f"{r.student_id:<{w}} {r.score:>4g}/{r.max_score:<4g}  {r.status:<9} "
            f"{', '.join(_flag_words(r))}"
        )
    return "\n".join(lines)


def legend(results: list[SubmissionResult]) -> str:
    """What each status and flag of the grade table means: those the table uses."""
    statuses = sorted({r.status for r in results})
    flags = sorted({word for r in results for word in _flag_words(r)})
    lines = ["status:"] + [f"  {s:<11} {SUBMISSION_STATUSES.get(s, '')}" for s in statuses]
    if flags:
        lines += ["flags (to look at; they change no score):"]
        lines += [f"  {f:<11} {FLAGS.get(f, '')}" for f in flags]
    return "\n".join(lines)


def summary(results: list[SubmissionResult]) -> dict:
    """Class statistics: scores, pass rate per test, flagged submissions."""
    per_test: dict[str, list[bool]] = defaultdict(list)
    for r in results:
        for t in r.tests:
            per_test[t.grade_id].append(t.status == PASSED)
    return {
        "submissions": len(results),
        "scores": {r.student_id: r.score for r in results},
        "max_score": max((r.max_score for r in results), default=0.0),
        "pass_rate": {k: sum(v) / len(v) for k, v in per_test.items()},
        "flagged": {
            r.student_id: [f.message for f in r.flags]
            + [
                f"{t.grade_id}: passed in the notebook, failed outside it"
                for t in r.tests
                if t.flagged
            ]
            for r in results
            if r.flagged
        },
        "problems": {
            r.student_id: [p["message"] for p in r.problems] for r in results if r.problems
        },
    }


def histogram_png(results: list[SubmissionResult], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    scores = [r.score for r in results]
    top = max((r.max_score for r in results), default=1.0) or 1.0
    ax.hist(scores, bins=min(20, max(5, len(scores))), range=(0, top), color="#4878a8")
    ax.set_xlabel("score (automatically graded)")
    ax.set_ylabel("submissions")
    ax.set_title(f"{len(results)} submissions")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_all(results: list[SubmissionResult], out_dir: Path) -> None:
    """grades.csv, feedback/<id>.html, gradescope/<id>/results.json, summary.json, scores.png."""
    out_dir = Path(out_dir)
    write_csv(results, out_dir / "grades.csv")
    for r in results:
        _atomic_text(out_dir / "feedback" / f"{r.student_id}.html", feedback_html(r))
        _atomic_text(
            out_dir / "gradescope" / r.student_id / "results.json",
            json.dumps(gradescope_json(r), indent=1),
        )
    _atomic_text(out_dir / "summary.json", json.dumps(summary(results), indent=1))
    _atomic_text(out_dir / "grades.txt", grade_table(results) + "\n\n" + legend(results) + "\n")
    if results:
        histogram_png(results, out_dir / "scores.png")
