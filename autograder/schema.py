"""The grader's data: what a test is, and what grading found.

Plain dataclasses, serialised to JSON for reports and for resuming a run.

Imports: the standard library only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# Verdicts of one out-of-kernel test (one nbgrader test cell).
PASSED = "passed"
FAILED = "failed"  # ran, but the outputs are wrong
ERROR = "error"  # the student's code raised, hung, crashed or returned the wrong kind of thing
MISSING = "missing"  # the code to test is not in the submission

# The words of the reports, defined once: grades.txt, the feedback pages, nbgrader's
# feedback and the README print these (tests hold the README to them).
TEST_STATUSES = {
    PASSED: "every case, visible and hidden, within the threshold: full points",
    FAILED: "the code ran but an output was wrong (shape, dtype, values): no points",
    ERROR: "the code raised, hung, crashed, or called a provided routine it must not: no points",
    MISSING: "the function or class to test is not in the submission: no points",
}
SUBMISSION_STATUSES = {
    "graded": "every notebook was read and graded",
    "problems": "graded as far as possible; the submission has problems (a missing or "
    "corrupt notebook, edited test cells, extra files), listed in the report",
    "empty": "no solution code was written (the untouched release)",
    "failed": "the grader itself failed on this submission: look at the report, then "
    "re-run with --regrade",
}
FLAGS = {
    "mismatch": "a test passed in the student's own kernel (nbgrader's run) but failed "
    "outside it: possible tampering with the checks; the score is the out-of-kernel one",
    "tamper": "the notebook's locked cells or metadata were edited, or its code reaches "
    "for the checks (rebinding rel_error, patching numpy, ...)",
    "suspicious": "the code calls a provided fast layer or an outside convolution, or "
    "imports os, subprocess or ctypes: read it",
    "in_kernel": "nbgrader's in-kernel run of the notebook failed, so no mismatch could "
    "be looked for",
    "not_jailed": "graded with --unsafe-no-jail: the code could read the course",
}


@dataclass
class TestResult:
    """The out-of-kernel verdict on one graded test cell."""

    grade_id: str
    notebook: str
    points: float
    max_points: float
    status: str  # PASSED | FAILED | ERROR | MISSING
    reason: str  # a sentence for the student: what was wrong, never the hidden inputs
    rel_error: float | None = None  # worst relative error over the cases, when outputs compared
    threshold: float | None = None
    in_notebook: str | None = None  # "passed"/"failed" from nbgrader's own run, when it ran
    flagged: bool = False  # passed in the student's kernel, failed outside it


@dataclass
class Flag:
    """Something an instructor should look at; not a score by itself."""

    kind: str  # "tamper", "static", "in_kernel_mismatch", ...
    message: str
    grade_id: str | None = None


@dataclass
class SubmissionResult:
    """Everything grading found about one student's submission."""

    student_id: str
    status: str  # "graded" | "problems" | "empty" | "failed"
    score: float = 0.0
    max_score: float = 0.0
    tests: list[TestResult] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)
    static_findings: list[dict[str, Any]] = field(default_factory=list)
    cell_errors: list[dict[str, str]] = field(default_factory=list)  # notebook, label, reason
    fingerprint: str = ""  # hash of the submission and the grading setup: unchanged -> not regraded
    seconds: float = 0.0

    @property
    def flagged(self) -> bool:
        return bool(self.flags) or any(t.flagged for t in self.tests)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SubmissionResult:
        data = dict(data)
        data["tests"] = [TestResult(**t) for t in data.get("tests", [])]
        data["flags"] = [Flag(**f) for f in data.get("flags", [])]
        return cls(**data)
