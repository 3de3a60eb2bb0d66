"""Grade the mutation corpus and the correct variants with the real CLI; print the figures.

    .venv/bin/python tests/autograder/corpus/sweep.py --ids 20            (make sweep)
    .venv/bin/python tests/autograder/corpus/sweep.py --ids 2 --only pool_fwd_round

Builds a real course with one submission per (implementation, student), plus the
instructor's solution for every student as a control, grades it with ``python -m
autograder``, and prints: mutants caught on every student, mutants caught by every item
they are declared to be caught by, variants at full marks on every student, and a table of
each. Writes everything as JSON (``--json``). Every notebook is graded by its own test
cells, as the CLI always grades.

Imports: the corpus (from tests/autograder), the standard library.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/autograder: the corpus

import corpus  # noqa: E402
from corpus.course import build_course, figures, grade_with_cli  # noqa: E402

SECRET = "corpus-sweep"


def _table(rows: list[tuple[str, ...]]) -> str:
    """Columns padded to their widest cell (the last one left as it is)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)] + [0]
    lines = ("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)
    return "\n".join(line.rstrip() for line in lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="sweep.py", description=__doc__.split("\n")[0])
    p.add_argument("--ids", type=int, default=20, help="students per implementation (20)")
    p.add_argument("--workers", type=int, default=2, help="the CLI's --workers (2)")
    p.add_argument("--only", action="append", help="only this implementation (repeatable)")
    p.add_argument("--dest", help="build the course here (default: a temporary folder)")
    p.add_argument("--json", default="sweep-results/corpus_sweep.json", help="figures as JSON")
    args = p.parse_args(argv)

    impls = corpus.MUTANTS + corpus.VARIANTS
    if args.only:
        unknown = sorted(set(args.only) - set(corpus.BY_NAME))
        if unknown:
            p.error(f"no implementation named {unknown}; known: {sorted(corpus.BY_NAME)}")
        impls = [i for i in impls if i.name in args.only]
    mutants = [i for i in impls if i.kind == "mutant"]
    variants = [i for i in impls if i.kind == "variant"]
    ids = range(args.ids)
    report: dict = {"ids": args.ids, "mutants": {}, "variants": {}}

    if args.ids:
        with tempfile.TemporaryDirectory(prefix="corpus-sweep-") as tmp:
            dest = Path(args.dest or Path(tmp) / "course").resolve()
            students = build_course(dest, impls, ids, honest=True)
            print(f"{len(mutants)} mutants and {len(variants)} variants x {args.ids} students "
                  f"(+ the instructor's solution each): grading {len(students)} submissions "
                  f"with {args.workers} workers ...", flush=True)
            results, seconds = grade_with_cli(
                dest, SECRET, args.workers,
                ("--wall-seconds-per-test", "5"),
            )
        fig = figures(impls, results, ids, honest=True)
        honest = [results[f"reference--s{k:02d}"] for k in ids]
        report.update(seconds=round(seconds, 1), submissions=len(students))
        report["reference"] = {
            "full_marks": fig.full_marks("reference"),
            "median_seconds": sorted(r.seconds for r in honest)[len(honest) // 2],
        }
        print(f"graded in {seconds:.0f} s\n")
        rows = [("mutant", "family", "caught", "items that caught it for every student")]
        for m in mutants:
            always = fig.always_lost(m.name)
            rows.append((m.name, m.family, f"{fig.caught(m)}/{args.ids}",
                         ", ".join(g.removeprefix("test_") for g in always)))
            report["mutants"][m.name] = {
                "family": m.family, "notebook": m.notebook, "cell": m.cell,
                "caught": fig.caught(m), "caught_where_declared": fig.caught_where_declared(m),
                "declared": list(m.caught_by), "always_lost": always,
                "a_reason": fig.reasons[m.name],
            }
        if mutants:
            print(_table(rows) + "\n")
        rows = [("variant", "how it differs", "full marks", "needs a change elsewhere")]
        for v in variants:
            rows.append((v.name, v.family, f"{fig.full_marks(v.name)}/{args.ids}", v.depends))
            report["variants"][v.name] = {
                "family": v.family, "notebook": v.notebook, "depends": v.depends,
                "full_marks": fig.full_marks(v.name), "lost": fig.reasons[v.name],
                "static_findings": fig.findings[v.name],
            }
        if variants:
            print(_table(rows))
        for v in variants:
            for finding in fig.findings[v.name]:
                print(f"  static finding, {v.name}: {finding}")
        every = sum(fig.caught(m) == args.ids for m in mutants)
        declared = sum(fig.caught_where_declared(m) == args.ids for m in mutants)
        full = sum(fig.full_marks(v.name) == args.ids for v in variants)
        summary = [
            f"mutants caught: {every}/{len(mutants)} on every one of {args.ids} ids",
            f"mutants caught by every item declared to catch them: {declared}/{len(mutants)} "
            f"on every one of {args.ids} ids",
            f"correct variants at full marks: {full}/{len(variants)} on every one of "
            f"{args.ids} ids",
            f"instructor's solution (4 notebooks) at full marks: "
            f"{fig.full_marks('reference')}/{args.ids} ids, "
            f"{report['reference']['median_seconds']:.2f} s each (median)",
        ]
        report["summary"] = summary
        print("\n" + "\n".join(summary))

    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print(f"figures in {out}")
    ok = all(
        m.get("caught") == args.ids for m in report["mutants"].values()
    ) and all(v.get("full_marks") == args.ids for v in report["variants"].values())
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
