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
    AssignLatePenalties, CheckCellMetadata, Execute, GetGrades, IgnorePattern, LimitOutput, SaveAutoGrades)

from autograder.preprocessors import HideHiddenTests, StderrIsNotFailure  # noqa: E402

c.CourseDirectory.course_id = "nn-course"
c.CourseDirectory.root = REPO
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"

# Every cell gets a time limit; a cell that runs over is interrupted and fails alone.
c.Execute.timeout = 120
c.Execute.interrupt_on_timeout = True
c.Execute.startup_timeout = 120

# A student who deletes a test cell gets it back, with its original points.
c.OverwriteCells.add_missing_cells = True

# Keep autograded notebooks and feedback small whatever a submission prints.
c.LimitOutput.max_lines = 200
c.LimitOutput.max_traceback = 60

# A warning on stderr (TensorFlow's, NumPy's) must not zero a passing test cell:
# StderrIsNotFailure runs after Execute and before SaveAutoGrades records scores.
c.Autograde.autograde_preprocessors = [
    Execute,
    StderrIsNotFailure,
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadata,
]

# Feedback shows that a hidden test failed and its points, never its code.
c.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTests, CSSHTMLHeaderPreprocessor]
