"""Release, grade and check, each a short arrangement of nbgrader's Python API.

A grading run keeps everything in one course folder (the --out DIR):
submitted/ (a copy of the submissions), autograded/, feedback/, gradebook.db
(nbgrader's SQLite gradebook) and grades.csv.
"""
import json
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import as_completed as as_completed_futures
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field

from nbgrader.api import Gradebook
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from nbgrader.plugins.export import CsvExportPlugin
from traitlets.config import PyFileConfigLoader

from autograder import CONFIG_FILE, NOTEBOOKS, SOLUTIONS, assignments
from autograder.worker import Job, Result, error_summary, grade_submission, read_tree, write_tree


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
    seconds: float = 0.0
    events: list = field(default_factory=list)   # what the evaluator refused; kernel or evaluator trouble

    @property
    def ok(self):
        return not self.error


@dataclass
class Report:
    out: str
    outcomes: list = field(default_factory=list)
    seconds: float = 0.0
    workers: object = 1
    sandbox: dict = field(default_factory=dict)  # {"sandboxed": bool, "isolation": [how kernels ran]}

    def write_summary(self):
        """summary.json beside grades.csv: the run in a form scripts can read."""
        summary = {
            "submissions": len(self.outcomes),
            "failed": sum(not o.ok for o in self.outcomes),
            "seconds": round(self.seconds, 2),
            "workers": self.workers,
            "sandbox": self.sandbox,
            "outcomes": [{"student": o.student, "assignment": o.assignment, "score": o.score,
                          "max_score": o.max_score, "error": o.error, "seconds": round(o.seconds, 2),
                          "events": o.events}
                         for o in self.outcomes],
        }
        with open(os.path.join(self.out, "summary.json"), "w") as f:
            json.dump(summary, f, indent=1)

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
            for event in o.events:
                where = "/".join(p for p in (o.student, o.assignment, event.get("cell")) if p)
                lines.append(f"~ {where}: {event.get('event', '')[:200]}")
        return "\n".join(lines)


def grade(submissions, out, workers=1, scheduler=None, progress=False, settings=None):
    """Autograde every student/assignment under submissions, write feedback and grades.csv.

    submissions is laid out as nbgrader's submitted/: student/assignment/notebook.ipynb.
    Each submission is graded in isolation (autograder.worker), by `workers`
    processes or on the Dask cluster at `scheduler`, and recorded here in the
    one gradebook. One student's failure is reported and never stops the run.
    settings: nbgrader overrides for the grading kernels, as load_config takes them.
    """
    started = time.perf_counter()
    out = os.path.abspath(out)
    submitted = os.path.join(out, "submitted")
    os.makedirs(submitted, exist_ok=True)
    if os.path.abspath(submissions) != submitted:
        for student in sorted(os.listdir(submissions)):
            src = os.path.join(submissions, student)
            if os.path.isdir(src) and not student.startswith("."):
                dst = os.path.join(submitted, student)
                shutil.rmtree(dst, ignore_errors=True)
                shutil.copytree(src, dst)
    students = sorted(s for s in os.listdir(submitted)
                      if os.path.isdir(os.path.join(submitted, s)) and not s.startswith("."))
    handed_in = {a: [s for s in students if os.path.isdir(os.path.join(submitted, s, a))] for a in assignments()}
    handed_in = {a: s for a, s in handed_in.items() if s}

    db_url = f"sqlite:///{os.path.join(out, 'gradebook.db')}"
    report = Report(out)
    # A student folder without any assignment folder still gets an outcome, saying what it holds.
    for student in students:
        if not any(student in names for names in handed_in.values()):
            found = sorted(os.listdir(os.path.join(submitted, student)))
            what = f"it has {', '.join(found[:5])}" if found else "it is empty"
            report.outcomes.append(Outcome(student, "-", error=(
                f"no assignment folder in the submission ({what}); expected a folder named "
                f"{' or '.join(assignments())} holding the notebook")))
    n_jobs = sum(len(names) for names in handed_in.values())
    # The workers start (and import nbgrader) while the gradebook is being prepared.
    with worker_pool(0 if scheduler else workers, n_jobs) as pool:
        failures, template = prepare_gradebook(list(handed_in), out, db_url)
        jobs = []
        for assignment, names in handed_in.items():
            if assignment in failures:
                report.outcomes += [Outcome(s, assignment, error=failures[assignment]) for s in names]
                continue
            source = read_tree(os.path.join(SOLUTIONS, assignment))
            jobs += [Job(s, assignment, source, read_tree(os.path.join(submitted, s, assignment)), template,
                         dict(settings or {})) for s in names]
        results = run_jobs(jobs, pool=pool, scheduler=scheduler, progress=progress)
    isolation = sorted({r.sandbox for r in results if r.sandbox})
    report.sandbox = {"sandboxed": bool(isolation) and all(i == "bubblewrap" for i in isolation),
                      "isolation": isolation}
    for how in isolation:
        if how != "bubblewrap":
            from autograder.sandbox import warn_unsandboxed
            warn_unsandboxed(how.split(": ", 1)[-1])
    with Gradebook(db_url) as gb:
        for result in results:
            record(gb, result, out)
            report.outcomes.append(Outcome(result.student, result.assignment, error=result.error,
                                           seconds=result.seconds, events=result.events))
        for outcome in report.outcomes:
            gb.update_or_create_student(outcome.student)
            if outcome.ok:
                submission = gb.find_submission(outcome.assignment, outcome.student)
                outcome.score, outcome.max_score = submission.score, submission.max_score
    report.outcomes.sort(key=lambda o: (o.student, o.assignment))

    export = CsvExportPlugin(config=load_config(root=out, db_url=db_url))
    export.to = os.path.join(out, "grades.csv")
    with Gradebook(db_url) as gb:
        export.export(gb)
    report.seconds = time.perf_counter() - started
    report.workers = scheduler or workers
    report.write_summary()
    return report


def stamp_new_gradebook(path):
    """Create an empty SQLite gradebook stamped with nbgrader's alembic head, as nbgrader's
    Gradebook does for a new database; nbgrader then adds its tables to it.

    nbgrader learns the head by running `alembic heads` in a subprocess (about 4 s here, most
    of a small run's fixed cost); reading it from nbgrader's alembic scripts here is instant.
    """
    import sqlite3

    import nbgrader
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", os.path.join(os.path.dirname(nbgrader.__file__), "alembic"))
    head = ScriptDirectory.from_config(config).get_current_head()
    db = sqlite3.connect(path)
    try:
        with db:
            db.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
            db.execute("INSERT INTO alembic_version (version_num) VALUES (?)", (head,))
    finally:
        db.close()


def prepare_gradebook(names, out, db_url):
    """Run generate_assignment for each assignment; return (failures, template gradebook bytes).

    failures maps each assignment nbgrader could not prepare to why; the others are ready.

    The template is a gradebook that knows the assignments and no student: every
    job starts from it. The course's own gradebook is created from it, or
    brought up to date where it already exists (keeping every grade in it).
    """
    failures = {}
    with tempfile.TemporaryDirectory() as tmp:
        template_db = os.path.join(tmp, "gradebook.db")
        stamp_new_gradebook(template_db)
        api = nbgrader_api(load_config(root=tmp, source_directory=SOLUTIONS, db_url=f"sqlite:///{template_db}"))
        for assignment in names:
            result = api.generate_assignment(assignment)
            if not result["success"]:  # a broken source notebook fails its own assignment, nothing else
                failures[assignment] = "the source notebook could not be prepared: " + error_summary(result)
        with open(template_db, "rb") as f:
            template = f.read()
    course_db = os.path.join(out, "gradebook.db")
    if not os.path.exists(course_db):
        with open(course_db, "wb") as f:
            f.write(template)
    else:
        api = nbgrader_api(load_config(root=out, source_directory=SOLUTIONS,
                                       release_directory=os.path.join(out, "release"), db_url=db_url))
        for assignment in sorted(set(names) - set(failures)):
            _require(api.generate_assignment(assignment), f"generate_assignment {assignment}")
    return failures, template


def _die_with_parent(parent):
    """Linux: have the kernel send this process SIGTERM when the grading run that started it dies,
    so that a killed run leaves no workers (nor, through bwrap --die-with-parent, kernels) behind."""
    if sys.platform.startswith("linux"):
        import ctypes
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the run died before the line above took effect
        os._exit(1)


def _start_worker(parent):
    """Pool initializer: tie the worker to the run, and pay nbgrader's import before the first job."""
    _die_with_parent(parent)
    import nbgrader.apps  # noqa: F401

    from autograder.sandbox import probe
    probe()


def _new_pool(workers):
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_start_worker, initargs=(os.getpid(),))
    for _ in range(workers):  # each submit to a pool with no idle worker starts one: all start now
        pool.submit(int)
    pool.workers = workers
    return pool


@contextmanager
def worker_pool(workers, n_jobs):
    """A pool of min(workers, n_jobs) spawned processes, started at once; None when one would do."""
    workers = min(workers, n_jobs)
    if workers <= 1:
        yield None
        return
    with _temporary_pool(workers) as pool:
        yield pool


def run_jobs(jobs, pool=None, scheduler=None, progress=False):
    """Grade every job, in pool, on the Dask cluster at scheduler, or here; results in the jobs' order."""
    from tqdm.auto import tqdm

    bar = tqdm(total=len(jobs), unit="submission", disable=not progress, dynamic_ncols=True)
    failed = 0

    def tick(result):
        nonlocal failed
        failed += not result.ok
        bar.set_postfix(failed=failed, refresh=False)
        bar.update(1)

    results = [None] * len(jobs)
    try:
        if scheduler:
            from distributed import Client, as_completed
            with Client(scheduler) as client:
                futures = client.map(grade_submission, jobs, pure=False)
                index = {f.key: i for i, f in enumerate(futures)}
                for future in as_completed(futures):
                    results[index[future.key]] = future.result()
                    tick(results[index[future.key]])
        elif pool is None:
            for i, job in enumerate(jobs):
                results[i] = grade_submission(job)
                tick(results[i])
        else:
            _run_in_pool(pool, jobs, results, tick)
    finally:
        bar.close()
    return results


def _run_in_pool(pool, jobs, results, tick):
    """Fill results from the pool. A worker process that dies breaks the pool and fails every job
    still in it: those are graded again in a fresh pool and, if that breaks too, each alone in its
    own process, so that only a submission that kills its own worker fails (with that reason)."""
    def collect(pool, indices, last):
        broken, futures = [], {}

        def died(i):
            if not last:
                broken.append(i)
                return
            results[i] = Result(jobs[i].student, jobs[i].assignment,
                                error="the grading worker process died while grading this submission")
            tick(results[i])

        for i in indices:
            try:
                futures[pool.submit(grade_submission, jobs[i])] = i
            except BrokenProcessPool:  # the pool broke before this job was queued
                died(i)
        for future in as_completed_futures(futures):
            i = futures[future]
            try:
                results[i] = future.result()
            except BrokenProcessPool:
                died(i)
                continue
            except Exception as err:  # noqa: BLE001 - a job the pool could not run fails alone
                results[i] = Result(jobs[i].student, jobs[i].assignment, error=f"worker error: {err}"[:300])
            tick(results[i])
        return sorted(broken)

    broken = collect(pool, range(len(jobs)), last=False)
    if broken:
        with _temporary_pool(min(pool.workers, len(broken))) as fresh:
            broken = collect(fresh, broken, last=False)
    for i in broken:
        with _temporary_pool(1) as alone:
            collect(alone, [i], last=True)


@contextmanager
def _temporary_pool(workers):
    pool = _new_pool(workers)
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def record(gb, result, out):
    """Record one graded submission in the course gradebook and write its files under out."""
    gb.update_or_create_student(result.student)
    if not result.ok:
        return
    gb.update_or_create_submission(result.assignment, result.student, timestamp=result.timestamp)
    for notebook, data in result.notebooks.items():
        submitted = gb.find_submission_notebook(notebook, result.assignment, result.student)
        submitted.late_submission_penalty = data["penalty"]
        for cell, (score, needs_manual) in data["grades"].items():
            grade = gb.find_grade(cell, notebook, result.assignment, result.student)
            grade.auto_score, grade.needs_manual_grade = score, needs_manual
        for cell, text in data["comments"].items():
            gb.find_comment(cell, notebook, result.assignment, result.student).auto_comment = text
    gb.db.commit()
    for step, files in (("autograded", result.autograded), ("feedback", result.feedback)):
        folder = os.path.join(out, step, result.student, result.assignment)
        shutil.rmtree(folder, ignore_errors=True)
        write_tree(folder, files)


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
