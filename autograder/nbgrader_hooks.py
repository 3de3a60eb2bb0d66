"""What the course's ``nbgrader_config.py`` plugs into nbgrader's own commands.

``OutOfKernelFeedback`` runs in ``nbgrader generate_feedback`` after nbgrader's
``GetGrades``. nbgrader renders feedback from ``autograded/``, whose test cells
hold the hidden tests and the outputs of the student's own kernel. This
preprocessor makes the page true to the out-of-kernel grade and safe to hand
out:

- every hidden-test region is removed from every cell, whoever made the file
  (``cs231n-autograde --nbgrader`` already removes them; plain ``nbgrader
  autograde`` does not);
- a graded test cell whose notebook was not annotated by the kit shows no
  output, since its outputs came from the student's kernel;
- a first cell gives the assignment's total over all its notebooks, automatic
  and written points apart, and what the verdicts mean.

Imports: nbgrader and traitlets (this module runs inside nbgrader only); the
autograder's gradebook helpers and words.
"""

from __future__ import annotations

from nbformat.v4 import new_markdown_cell
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import List, Unicode

from autograder.notebook import has_hidden_tests, without_hidden_tests
from autograder.schema import TEST_STATUSES


def _points(x: float | None) -> str:
    return f"{(x or 0):g}"


class OutOfKernelFeedback(NbGraderPreprocessor):
    """Feedback with the out-of-kernel verdicts, the assignment total and no hidden test."""

    # nbconvert's exporter hands this option to every preprocessor it runs; declared here
    # so that traitlets does not warn about it on every page. The preprocessor ignores it.
    display_data_priority = List(Unicode(), default_value=[]).tag(config=True)

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        annotated = "cs231n_autograder" in nb.metadata
        for cell in nb.cells:
            if has_hidden_tests(cell.source):
                cell.source = without_hidden_tests(cell.source)
            meta = cell.metadata.get("nbgrader", {})
            if (
                cell.cell_type == "code"
                and meta.get("grade")
                and meta.get("locked")
                and not annotated
            ):
                cell.outputs = []  # the student's kernel's word, not the grade
        nb.cells.insert(0, new_markdown_cell(self._summary(info, annotated)))
        return nb, resources

    def _summary(self, info: dict, annotated: bool) -> str:
        with Gradebook(info["db_url"]) as gb:
            try:
                sub = gb.find_submission(info["assignment"], info["student"])
            except MissingEntry:
                return "No grade has been recorded for this submission yet."
            total, top = sub.score - (sub.late_submission_penalty or 0), sub.max_score
            lines = [
                f"**{info['assignment']}: {_points(total)} / {_points(top)} points** over "
                f"all its notebooks: automatic tests {_points(sub.code_score)} / "
                f"{_points(sub.max_code_score)}, written answers "
                f"{_points(sub.written_score)} / {_points(sub.max_written_score)}"
                + (
                    f", late penalty {_points(sub.late_submission_penalty)}."
                    if sub.late_submission_penalty
                    else "."
                ),
                "",
            ]
        if annotated:
            lines.append(
                "Each test ran your functions outside your notebook, on the visible inputs "
                "and on hidden ones of the same kinds, and compared them with the reference "
                "by relative error. Under each test cell: its verdict and, when it failed, "
                "what was wrong."
            )
        else:
            lines.append(
                "These scores come from nbgrader's run of your notebook; the out-of-kernel "
                "verdicts were not recorded for it."
            )
        lines += ["", "Verdicts:", ""]
        lines += [f"- **{word}**: {meaning}" for word, meaning in TEST_STATUSES.items()]
        return "\n".join(lines)
