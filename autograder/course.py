"""Release, grade and check, each a short arrangement of nbgrader's Python API.

A grading run keeps everything in one course folder (the --out DIR):
submitted/ (a copy of the submissions), autograded/, feedback/, gradebook.db
(nbgrader's SQLite gradebook) and grades.csv.
"""
import os
import shutil
import tempfile
from dataclasses import dataclass, field

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from nbgrader.plugins.export import CsvExportPlugin
from traitlets.config import Config, PyFileConfigLoader

from autograder import CONFIG_FILE, NOTEBOOKS, SOLUTIONS, assignments


def load_config(**course):
    """nbgrader_config.py with CourseDirectory settings overridden by **course."""
    config = PyFileConfigLoader(os.path.basename(CONFIG_FILE), os.path.dirname(CONFIG_FILE)).load_config()
    for key, value in course.items():
        config.CourseDirectory[key] = value
    return config


def nbgrader_api(config):
    """An NbGraderAPI on the course folder that config describes."""
    coursedir = CourseDirectory(config=config)
    return NbGraderAPI(coursedir=coursedir, config=config)


def _require(result, what):
    if not result["success"]:
        raise RuntimeError(f"{what} failed:\n{result.get('error') or result.get('log')}")


def release(dest=NOTEBOOKS, only=None):
    """Regenerate the student notebooks in dest from solutions/ (nbgrader generate_assignment).

    only: a list of assignments to release; by default every one.
    """
    with tempfile.TemporaryDirectory() as workdir:
        api = nbgrader_api(load_config(
            root=workdir, source_directory=SOLUTIONS, release_directory=os.path.abspath(dest),
            db_url=f"sqlite:///{os.path.join(workdir, 'release.db')}"))
        for assignment in only or assignments():
            _require(api.generate_assignment(assignment), f"generate_assignment {assignment}")
    return dest


@dataclass
class Outcome:
    """What happened to one student's assignment: score, or why it failed."""
    student: str
    assignment: str
    score: float = 0.0
    max_score: float = 0.0
    error: str = ""

    @property
    def ok(self):
        return not self.error


@dataclass
class Report:
    out: str
    outcomes: list = field(default_factory=list)

    def table(self):
        """Students x assignments, each cell 'score/max' or FAILED."""
        names = assignments()
        by_key = {(o.student, o.assignment): o for o in self.outcomes}
        students = sorted({o.student for o in self.outcomes})
        width = max([len("student")] + [len(s) for s in students])
        lines = ["  ".join(["student".ljust(width)] + [a.ljust(22) for a in names] + ["total"])]
        for student in students:
            cells, total, total_max = [], 0.0, 0.0
            for a in names:
                o = by_key.get((student, a))
                if o is None:
                    cells.append("not submitted".ljust(22))
                elif not o.ok:
                    cells.append("FAILED".ljust(22))
                else:
                    cells.append(f"{o.score:g}/{o.max_score:g}".ljust(22))
                    total, total_max = total + o.score, total_max + o.max_score
            lines.append("  ".join([student.ljust(width)] + cells + [f"{total:g}/{total_max:g}"]))
        for o in self.outcomes:
            if not o.ok:
                lines.append(f"! {o.student}/{o.assignment}: {o.error}")
        return "\n".join(lines)


def _first_line_of_error(result):
    text = (result.get("error") or result.get("log") or "unknown error").strip()
    for line in reversed(text.splitlines()):
        if line.strip():
            return line.strip()[:300]
    return "unknown error"


def grade(submissions, out):
    """Autograde every student/assignment under submissions, write feedback and grades.csv.

    submissions is laid out as nbgrader's submitted/: student/assignment/notebook.ipynb.
    One student's failure is recorded in the report and never stops the run.
    """
    out = os.path.abspath(out)
    os.makedirs(out, exist_ok=True)
    submitted = os.path.join(out, "submitted")
    if os.path.abspath(submissions) != submitted:
        for student in sorted(os.listdir(submissions)):
            src = os.path.join(submissions, student)
            if os.path.isdir(src) and not student.startswith("."):
                dst = os.path.join(submitted, student)
                shutil.rmtree(dst, ignore_errors=True)
                shutil.copytree(src, dst)
    db_url = f"sqlite:///{os.path.join(out, 'gradebook.db')}"
    api = nbgrader_api(load_config(
        root=out, source_directory=SOLUTIONS, release_directory=os.path.join(out, "release"), db_url=db_url))
    report = Report(out)
    students = sorted(s for s in os.listdir(submitted) if os.path.isdir(os.path.join(submitted, s)))
    for assignment in assignments():
        handed_in = [s for s in students if os.path.isdir(os.path.join(submitted, s, assignment))]
        if not handed_in:
            continue
        result = api.generate_assignment(assignment)
        if not result["success"]:  # a broken source notebook fails its own assignment, nothing else
            error = "the source notebook could not be prepared: " + _first_line_of_error(result)
            report.outcomes += [Outcome(s, assignment, error=error) for s in handed_in]
            continue
        for student in handed_in:
            report.outcomes.append(grade_one(api, db_url, student, assignment))

    export = CsvExportPlugin(config=load_config(root=out, db_url=db_url))
    export.to = os.path.join(out, "grades.csv")
    with Gradebook(db_url) as gb:
        export.export(gb)
    return report


def grade_one(api, db_url, student, assignment):
    """Autograde and generate feedback for one student's assignment."""
    outcome = Outcome(student, assignment)
    result = api.autograde(assignment, student)
    if not result["success"]:
        outcome.error = _first_line_of_error(result)
        return outcome
    result = api.generate_feedback(assignment, student)
    if not result["success"]:
        outcome.error = "feedback: " + _first_line_of_error(result)
    with Gradebook(db_url) as gb:
        try:
            submission = gb.find_submission(assignment, student)
        except MissingEntry:
            outcome.error = outcome.error or "no submission recorded"
            return outcome
        outcome.score, outcome.max_score = submission.score, submission.max_score
    return outcome


def check(out=None):
    """Grade each solution notebook as a student's submission; return (report, all_full_marks)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = out or os.path.join(tmp, "course")
        staged = os.path.join(tmp, "submissions", "solutions")
        for assignment in assignments():
            shutil.copytree(os.path.join(SOLUTIONS, assignment), os.path.join(staged, assignment))
        report = grade(os.path.dirname(staged), out)
    full = bool(report.outcomes) and all(o.ok and o.score == o.max_score for o in report.outcomes)
    return report, full
