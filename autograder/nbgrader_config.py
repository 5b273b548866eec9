"""nbgrader configuration for this course: the one place grading behaviour is set.

`python -m autograder` loads this file, and so do nbgrader's own apps and the
formgrader when JUPYTER_CONFIG_PATH includes this folder (as `make lab` sets it).
"""
import os
import sys

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import (  # noqa: E402
    AssignLatePenalties, CheckCellMetadata, ClearOutput, DeduplicateIds, GetGrades, IgnorePattern, LimitOutput,
    OverwriteCells, OverwriteKernelspec, SaveAutoGrades)

from autograder.feedback import FeedbackExporter  # noqa: E402
from autograder.execute import GradingExecute  # noqa: E402
from autograder.preprocessors import (  # noqa: E402
    HideHiddenTests, NormaliseGradeMetadata, NoteLeftOutFiles, RestoreMissingCells)
from autograder.sandbox import SandboxedKernelManager  # noqa: E402
from autograder.sanitize import SanitizeNotebook  # noqa: E402

c.CourseDirectory.course_id = "nn-course"
c.CourseDirectory.root = REPO
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"

# Every cell gets a time limit; a cell that runs over is interrupted and fails alone.
# GradingExecute also bounds the whole notebook: each cell gets min(timeout, time left
# of GradingExecute.deadline), and once that is used up the remaining cells fail unrun.
c.Execute.timeout = 120
c.Execute.interrupt_on_timeout = True
c.Execute.startup_timeout = 120
c.Execute.raise_on_iopub_timeout = False  # a late flood of output must not fail the whole notebook
c.GradingExecute.deadline = 900
c.GradingExecute.max_output_chars = 100_000

# Test cells never run in the student's kernel: GradingExecute has each judged by the
# submission's evaluator process (autograder/judge.py), which runs no student code and
# takes the student's work only as plain data. Its own memory limit and start-up time:
c.EvaluatorProcess.memory_limit = 6 * 1024 ** 3
c.EvaluatorProcess.startup_timeout = 120

# Each grading kernel runs in a bubblewrap sandbox (autograder/sandbox.py) with limits:
# it sees the Python installation and a copy of the submission's folder, nothing else,
# and has no network. A sandbox that cannot start stops grading; only the explicit
# opt-out (--no-sandbox, make grade SANDBOX=off: sandbox = False) runs kernels unsandboxed.
# The limits (the evaluator's too), in bytes, CPU seconds and processes plus threads:
c.GradingExecute.kernel_manager_class = SandboxedKernelManager
c.SandboxedKernelManager.sandbox = True
c.SandboxedKernelManager.require_sandbox = True
c.SandboxedKernelManager.memory_limit = 6 * 1024 ** 3
c.SandboxedKernelManager.file_size_limit = 512 * 1024 ** 2
c.SandboxedKernelManager.tmp_size = 256 * 1024 ** 2     # private /tmp
c.SandboxedKernelManager.shm_size = 64 * 1024 ** 2      # private /dev/shm
c.SandboxedKernelManager.work_size = 256 * 1024 ** 2    # working folder, a copy of the submission's files
# Left at their defaults, which grow with the cores: RLIMIT_CPU 900 s per core, at least 1800
# (cpu_time_limit), and 512 processes and threads, 4 per core beyond 128 cores (pids_limit).

# Test cells come from the gradebook whatever the submission did to them: metadata reset
# first (so malformed metadata cannot crash nbgrader), nbgrader's own checks, then every
# deleted gradebook cell (test, answer or locked) put back in place.
c.OverwriteCells.add_missing_cells = False
c.Autograde.sanitize_preprocessors = [
    ClearOutput,
    NormaliseGradeMetadata,
    DeduplicateIds,
    OverwriteKernelspec,
    OverwriteCells,
    RestoreMissingCells,
    CheckCellMetadata,
]

# Keep autograded notebooks and feedback small whatever a submission prints.
c.LimitOutput.max_lines = 200
c.LimitOutput.max_traceback = 60

# A test cell's outputs are the evaluator's: its printed text (stdout only) and, when the
# test failed, one error. So SaveAutoGrades scores exactly the evaluator's verdict.
c.Autograde.autograde_preprocessors = [
    GradingExecute,
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadata,
    SanitizeNotebook,  # last: grades see the submission as it was, autograded/ gets it safe
]

# Feedback shows that a hidden test failed and its points, never its code.
c.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTests, NoteLeftOutFiles, SanitizeNotebook,
                                    CSSHTMLHeaderPreprocessor]
# nbgrader's HTMLExporter, compiling its templates once per grading process, not once per student.
c.GenerateFeedback.exporter_class = FeedbackExporter

# Nothing a student wrote or printed runs in a browser (autograder/sanitize.py): SanitizeNotebook
# keeps allowlisted content only, and every HTMLExporter built from this config (feedback pages,
# the formgrader) cleans HTML and markdown with the same allowlist when it renders.
c.SanitizeNotebook.max_markdown_chars = 10_000   # longer markdown is shown as code, not rendered
c.SanitizeNotebook.max_markdown_total = 50_000   # per notebook
c.HTMLExporter.sanitize_html = True
c.HTMLExporter.filters = {name: f"autograder.sanitize.{name}"
                          for name in ("clean_html", "markdown2html", "get_metadata")}

# `nbgrader export` writes grades.csv with every field quoted (student ids may hold commas).
c.ExportApp.plugin_class = "autograder.export.QuotedCsvExport"
