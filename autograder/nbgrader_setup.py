"""The nbgrader setup every step shares: the course's configuration, nbgrader's API on a course
folder, and why an API call failed, in one line.

Below both `course` (release, grade, check) and `worker` (one submission), so neither imports the other.
"""
import os
import re

from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from traitlets.config import PyFileConfigLoader

from autograder import CONFIG_FILE


def load_config(settings=None, **course):
    """nbgrader_config.py with CourseDirectory settings overridden by **course.

    settings: further overrides as {"Class.trait": value}, e.g. {"Execute.timeout": 10}.
    """
    config = PyFileConfigLoader(os.path.basename(CONFIG_FILE), os.path.dirname(CONFIG_FILE)).load_config()
    for key, value in course.items():
        config.CourseDirectory[key] = value
    for key, value in (settings or {}).items():
        section, trait = key.rsplit(".", 1)
        config[section][trait] = value
    return config


def nbgrader_api(config):
    """An NbGraderAPI on the course folder that config describes."""
    coursedir = CourseDirectory(config=config)
    return NbGraderAPI(coursedir=coursedir, config=config)


_EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Failed|Exceeded)): (.+)$")


def error_summary(result):
    """Why an nbgrader API call failed, in one line: our SubmissionFailed message if there is one,
    else the last exception line of the logged traceback, else the last line of the log."""
    text = (result.get("error") or "") + "\n" + (result.get("log") or "")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for line in reversed(lines):
        if "SubmissionFailed: " in line:
            return line.split("SubmissionFailed: ", 1)[1][:300]
    for line in reversed(lines):
        match = _EXCEPTION_LINE.match(line)
        if match:
            return f"{match.group(1).rsplit('.', 1)[-1]}: {match.group(2)}"[:300]
    return lines[-1][:300] if lines else "unknown error"
