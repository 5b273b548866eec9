"""Grade one student's assignment in a private nbgrader course folder.

A job carries everything as bytes (the assignment's source files, a gradebook
that already knows the assignment, the student's files), so it runs the same in
this process, in a process pool or on a Dask worker on another machine, and a
submission can never touch the shared gradebook or another student's files.
The result carries the scores and the files nbgrader wrote; the caller records
them in the one gradebook (see autograder.course.record).
"""
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field


@dataclass
class Job:
    student: str
    assignment: str
    source: dict          # relative path -> bytes, the assignment's folder in solutions/
    submission: dict      # relative path -> bytes, the student's assignment folder
    gradebook: bytes      # an nbgrader SQLite gradebook that knows the assignment
    settings: dict = field(default_factory=dict)   # nbgrader overrides, {"Class.trait": value}


@dataclass
class Result:
    student: str
    assignment: str
    error: str = ""
    timestamp: object = None
    notebooks: dict = field(default_factory=dict)  # notebook -> {"grades": {...}, "comments": {...}, "penalty": float}
    autograded: dict = field(default_factory=dict)  # relative path -> bytes
    feedback: dict = field(default_factory=dict)    # relative path -> bytes
    seconds: float = 0.0
    sandbox: str = ""   # how the kernel was isolated: "bubblewrap" or "unsandboxed: why"
    events: list = field(default_factory=list)  # what the evaluator refused, kernel or evaluator trouble

    @property
    def ok(self):
        return not self.error


def read_tree(folder):
    """{relative path: bytes} of every file under folder (empty if it does not exist)."""
    files = {}
    for dirpath, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                files[os.path.relpath(path, folder)] = f.read()
    return files


def write_tree(folder, files):
    for rel, data in files.items():
        path = os.path.join(folder, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)


MAX_NOTEBOOK_BYTES = 50 * 1024 ** 2

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


def submission_problem(job):
    """A clear reason this submission cannot be graded at all, or '' when nbgrader can take it."""
    import nbformat

    expected = sorted(p for p in job.source if p.endswith(".ipynb") and os.sep not in p)
    found = sorted(p for p in job.submission if p.endswith(".ipynb") and ".ipynb_checkpoints" not in p)
    if not job.submission:
        return f"the {job.assignment} folder is empty: expected {', '.join(expected)}"
    present = [n for n in expected if n in job.submission]
    if not present:
        others = [p for p in found if p not in expected]
        hint = (f"; it has {', '.join(others)}: notebooks are graded by file name, rename it to "
                f"{expected[0]}" if others else f"; it has {', '.join(sorted(job.submission)[:5])}")
        return f"no {', '.join(expected)} in the submission{hint}"
    for name in present:
        data = job.submission[name]
        if len(data) > MAX_NOTEBOOK_BYTES:
            return f"{name} is {len(data) / 1024 ** 2:.0f} MB, over the {MAX_NOTEBOOK_BYTES // 1024 ** 2} MB limit"
        try:
            nbformat.reads(data.decode("utf-8"), as_version=4)
        except UnicodeDecodeError:
            return f"{name} is not a notebook: it is not UTF-8 text"
        except Exception as err:  # noqa: BLE001 - nbformat raises several kinds
            detail = str(err).splitlines()[0] if str(err) else type(err).__name__
            return f"{name} is not a valid notebook ({type(err).__name__}): {detail}"[:300]
    return ""


def course_imports(source):
    """The modules the locked cells of an assignment's notebooks import (trusted: from solutions/)."""
    import nbformat

    from autograder.judging import names

    modules = []
    for rel, data in sorted(source.items()):
        if rel.endswith(".ipynb") and os.sep not in rel:
            for cell in nbformat.reads(data.decode("utf-8"), as_version=4).cells:
                if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("locked"):
                    tree = names.parse(cell.source)
                    modules += names.imported_modules(tree) if tree is not None else []
    return list(dict.fromkeys(modules))


def read_events(path):
    """The judge's events of a grading run (see GradingExecute.report_file), [] if none."""
    import json
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def grade_submission(job):
    """Run nbgrader autograde and generate_feedback for one job; return a Result."""
    from nbgrader.api import Gradebook, MissingEntry

    from autograder import judge
    from autograder.course import load_config, nbgrader_api
    from autograder.sandbox import isolation_label

    started = time.perf_counter()
    result = Result(job.student, job.assignment)
    root = tempfile.mkdtemp(prefix="grade-")
    try:
        result.sandbox = isolation_label(job.settings.get("SandboxedKernelManager.sandbox") is not False)
        problem = submission_problem(job)
        if problem:
            result.error = problem
            return result
        source = os.path.join(root, "source")
        write_tree(os.path.join(source, job.assignment), job.source)
        write_tree(os.path.join(root, "submitted", job.student, job.assignment), job.submission)
        db = os.path.join(root, "gradebook.db")
        with open(db, "wb") as f:
            f.write(job.gradebook)
        db_url = f"sqlite:///{db}"
        report = os.path.join(root, "judge.jsonl")
        settings = {**job.settings, "GradingExecute.report_file": report}
        config = load_config(settings, root=root, source_directory=source, db_url=db_url)
        judge.prestart(config, judge.evaluator_sandboxed(config), course_imports(job.source))
        api = nbgrader_api(config)
        outcome = api.autograde(job.assignment, job.student)
        result.events = read_events(report)
        if not outcome["success"]:
            result.error = error_summary(outcome)
            return result
        outcome = api.generate_feedback(job.assignment, job.student)
        if not outcome["success"]:
            result.error = "feedback: " + error_summary(outcome)
            return result
        with Gradebook(db_url) as gb:
            try:
                submission = gb.find_submission(job.assignment, job.student)
            except MissingEntry:
                result.error = "nbgrader recorded no submission"
                return result
            result.timestamp = submission.timestamp
            for nb in submission.notebooks:
                result.notebooks[nb.name] = {
                    "grades": {g.name: (g.auto_score, g.needs_manual_grade) for g in nb.grades},
                    "comments": {c.name: c.auto_comment for c in nb.comments},
                    "penalty": nb.late_submission_penalty,
                }
        result.autograded = read_tree(os.path.join(root, "autograded", job.student, job.assignment))
        result.feedback = read_tree(os.path.join(root, "feedback", job.student, job.assignment))
        return result
    except Exception as err:  # noqa: BLE001 - any failure is this submission's, never the run's
        result.error = f"{type(err).__name__}: {err}"[:300]
        return result
    finally:
        judge.discard_spare()
        shutil.rmtree(root, ignore_errors=True)
        result.seconds = time.perf_counter() - started
