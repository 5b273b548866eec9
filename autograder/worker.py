"""Grade one student's assignment in a private nbgrader course folder.

A job carries everything as bytes (the assignment's source files, a gradebook
that already knows the assignment, the student's files), so it runs the same in
this process, in a process pool or on a Dask worker on another machine, and a
submission can never touch the shared gradebook or another student's files.
The result carries the scores and the files nbgrader wrote; the caller records
them in the one gradebook (see autograder.course.record).
"""
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field


@dataclass
class Job:
    student: str
    assignment: str
    source: dict          # relative path -> bytes, the assignment's folder in solutions/
    submission: dict      # relative path -> bytes, the student's assignment folder (see autograder.intake)
    left_out: list        # [(relative path, why)]: the student's files not taken
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
    left_out: list = field(default_factory=list)  # the job's left_out, for the report
    kernels_ahead: int = 0   # notebooks that ran on a kernel started ahead (autograder.kernel_ahead)

    @property
    def ok(self):
        return not self.error


def read_tree(folder):
    """{relative path: bytes} of every regular file under folder (empty if it does not exist);
    links are not followed (see autograder.intake)."""
    from autograder import intake
    return intake.take(folder, limit=sys.maxsize)[0]


def write_tree(folder, files):
    for rel, data in files.items():
        path = os.path.join(folder, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)


MAX_NOTEBOOK_BYTES = 50 * 1024 ** 2
STUDENT = "student"
NBGRADER_FILES = ["timestamp.txt", "submission_secret.txt"]   # written by nbgrader's submit and collect

def submission_problem(job):
    """A clear reason this submission cannot be graded at all, or '' when nbgrader can take it."""
    import nbformat

    expected = sorted(p for p in job.source if p.endswith(".ipynb") and os.sep not in p)
    found = sorted(p for p in job.submission if p.endswith(".ipynb") and ".ipynb_checkpoints" not in p)
    if not job.submission and not job.left_out:
        return f"the {job.assignment} folder is empty: expected {', '.join(expected)}"
    present = [n for n in expected if n in job.submission]
    if not present:
        others = [p for p in found if p not in expected]
        if others:
            hint = f"; it has {', '.join(others)}: notebooks are graded by file name, rename it to {expected[0]}"
        elif job.submission:
            hint = f"; it has {', '.join(sorted(job.submission)[:5])}"
        else:
            hint = "; left out: " + "; ".join(f"{path} ({why})" for path, why in job.left_out[:5])
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


def kernel_name(source):
    """The kernel the assignment's notebooks ask for (trusted: from solutions/; nbgrader's
    OverwriteKernelspec gives the graded copy the same)."""
    import nbformat

    for rel, data in sorted(source.items()):
        if rel.endswith(".ipynb") and os.sep not in rel:
            return nbformat.reads(data.decode("utf-8"), as_version=4).metadata.get("kernelspec", {}).get("name", "")
    return ""


def read_events(path):
    """The judge's events of a grading run (see GradingExecute.report_file), [] if none."""
    import json
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def grade_submission(job, step=None, next_kernel=False):
    """Run nbgrader autograde and generate_feedback for one job; return a Result.

    step: called with what the job is doing ("autograding", "rendering feedback") as it goes.
    next_kernel: a worker serving jobs in turn keeps a kernel started ahead for the next job once
    this one's notebooks have run (autograder.kernel_ahead); else none outlives the call.
    """
    from nbgrader.api import Gradebook, MissingEntry

    from autograder import judge, kernel_ahead
    from autograder.execute import GradingExecute
    from autograder.nbgrader_setup import error_summary, load_config, nbgrader_api
    from autograder.sandbox import isolation_label

    started = time.perf_counter()
    result = Result(job.student, job.assignment, left_out=list(job.left_out))
    # Inside the private course folder the student is STUDENT: nbgrader reads student ids as
    # glob patterns and builds paths from them, so the real id (any name a file system allows)
    # stays with the caller, which records the result under it.
    student = STUDENT
    root = tempfile.mkdtemp(prefix="grade-")
    try:
        result.sandbox = isolation_label(job.settings.get("SandboxedKernelManager.sandbox") is not False)
        problem = submission_problem(job)
        if problem:
            result.error = problem
            return result
        source = os.path.join(root, "source")
        write_tree(os.path.join(source, job.assignment), job.source)
        write_tree(os.path.join(root, "submitted", student, job.assignment), job.submission)
        db = os.path.join(root, "gradebook.db")
        with open(db, "wb") as f:
            f.write(job.gradebook)
        db_url = f"sqlite:///{db}"
        report = os.path.join(root, "judge.jsonl")
        settings = {**job.settings, "GradingExecute.report_file": report,
                    "NoteLeftOutFiles.left_out": [f"{path} ({why})" for path, why in job.left_out]}
        config = load_config(settings, root=root, source_directory=source, db_url=db_url)
        if step:
            step("autograding")
        kernel = kernel_name(job.source)
        kernel_ahead.start(GradingExecute(config=config), kernel)   # unless one waits
        judge.prestart(config, judge.evaluator_sandboxed(config), course_imports(job.source))
        api = nbgrader_api(config)
        taken = kernel_ahead.taken
        outcome = api.autograde(job.assignment, student)
        result.kernels_ahead = kernel_ahead.taken - taken
        if next_kernel:
            kernel_ahead.start(GradingExecute(config=config), kernel)
        result.events = read_events(report)
        if not outcome["success"]:
            result.error = error_summary(outcome)
            return result
        if step:
            step("rendering feedback")
        outcome = api.generate_feedback(job.assignment, student)
        if not outcome["success"]:
            result.error = "feedback: " + error_summary(outcome)
            return result
        with Gradebook(db_url) as gb:
            try:
                submission = gb.find_submission(job.assignment, student)
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
        # Only the graded notebooks and their feedback pages come back, with the files nbgrader's
        # collect wrote and release_feedback reads: the student's other files stay in OUT/submitted.
        graded = [p for p in job.source if p.endswith(".ipynb") and os.sep not in p]
        autograded = read_tree(os.path.join(root, "autograded", student, job.assignment))
        feedback = read_tree(os.path.join(root, "feedback", student, job.assignment))
        result.autograded = {p: autograded[p] for p in graded + NBGRADER_FILES if p in autograded}
        pages = [p[:-len(".ipynb")] + ".html" for p in graded] + NBGRADER_FILES
        result.feedback = {p: feedback[p] for p in pages if p in feedback}
        return result
    except Exception as err:  # noqa: BLE001 - any failure is this submission's, never the run's
        result.error = f"{type(err).__name__}: {err}"[:300]
        return result
    finally:
        judge.discard_spare()
        if not next_kernel:
            kernel_ahead.discard()
        shutil.rmtree(root, ignore_errors=True)
        result.seconds = time.perf_counter() - started
