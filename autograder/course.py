"""Release, grade and check, each a short arrangement of nbgrader's Python API.

A grading run keeps everything in one course folder (the --out DIR):
submitted/ (a copy of the submissions), autograded/, feedback/, gradebook.db
(nbgrader's SQLite gradebook) and grades.csv.
"""
import filecmp
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field

from nbgrader.api import Gradebook

from autograder import NOTEBOOKS, SOLUTIONS, assignments, intake
from autograder.export import QuotedCsvExport
from autograder.nbgrader_setup import error_summary, load_config, nbgrader_api
from autograder.pool import run_jobs, worker_pool
from autograder.worker import Job, read_tree, write_tree


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


def stale_release_files(fresh, committed=NOTEBOOKS):
    """The files in which the committed release differs from a fresh one (missing, extra or changed),
    as paths relative to the release folders; empty when notebooks/ is in sync with solutions/."""
    def files(root):
        return {os.path.relpath(os.path.join(d, f), root) for d, _, names in os.walk(root) for f in names}

    ours, theirs = files(fresh), files(committed)
    changed = {rel for rel in ours & theirs
               if not filecmp.cmp(os.path.join(fresh, rel), os.path.join(committed, rel), shallow=False)}
    return sorted((ours ^ theirs) | changed)


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
    left_out: list = field(default_factory=list)  # [(path, why)]: files of the submission not taken

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
    kernels_ahead: int = 0   # notebooks run on a kernel started ahead (autograder.kernel_ahead)

    def write_summary(self):
        """summary.json beside grades.csv: the run in a form scripts can read."""
        summary = {
            "submissions": len(self.outcomes),
            "failed": sum(not o.ok for o in self.outcomes),
            "seconds": round(self.seconds, 2),
            "workers": self.workers,
            "sandbox": self.sandbox,
            "kernels_ahead": self.kernels_ahead,
            "outcomes": [{"student": o.student, "assignment": o.assignment, "score": o.score,
                          "max_score": o.max_score, "error": o.error, "seconds": round(o.seconds, 2),
                          "events": o.events,
                          "left_out": [{"path": path, "why": why} for path, why in o.left_out]}
                         for o in self.outcomes],
        }
        with open(os.path.join(self.out, "summary.json"), "w") as f:
            json.dump(summary, f, indent=1)

    def table(self):
        """Students x assignments, each cell 'score/max' or FAILED."""
        names = assignments()
        by_key = {(o.student, o.assignment): o for o in self.outcomes}
        students = sorted({o.student for o in self.outcomes})
        width = max([len("student")] + [len(shown(s)) for s in students])
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
            lines.append("  ".join([shown(student).ljust(width)] + cells + [f"{total:g}/{total_max:g}"]))
        for o in self.outcomes:
            who = f"{shown(o.student)}/{o.assignment}"
            if not o.ok:
                lines.append(f"! {who}: {shown(o.error)}")
            if o.left_out:
                lines.append(f"- {who}: left out: {shown(intake.describe(o.left_out))[:300]}")
            for event in o.events:
                where = "/".join(p for p in (who, event.get("cell")) if p)
                lines.append(f"~ {where}: {shown(event.get('event', ''))[:200]}")
        return "\n".join(lines)


# nbgrader's formgrader prints student ids into its pages and scripts unescaped (autoescape is
# off in its Jinja environment, and in nbconvert's for the submission page), so an id holding
# these would run as HTML or JavaScript in the instructor's browser. Any other name is an id.
MARKUP = set("<>&\"'`\\")


def id_problem(name):
    """Why a folder name cannot be a student id ('' if it can): the gradebook and grades.csv need
    text, and the formgrader must not show it as HTML. An undecodable name is reported escaped,
    with backslashes, which this refuses in turn: neither form reaches the gradebook."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid UTF-8"
    if set(name) & MARKUP:
        return f"has characters the formgrader would show as HTML ({' '.join(sorted(set(name) & MARKUP))})"
    return ""


def shown(text):
    """text as the terminal should print it: control characters (newlines, escape sequences) escaped."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def grade(submissions, out, workers=1, scheduler=None, progress=False, settings=None):
    """Autograde every student/assignment under submissions, write feedback and grades.csv.

    submissions is laid out as nbgrader's submitted/: student/assignment/notebook.ipynb.
    Each submission is graded in isolation (autograder.worker), by `workers`
    processes or on the Dask cluster at `scheduler`, and recorded here in the
    one gradebook. One student's failure is reported and never stops the run.
    settings: nbgrader overrides for the grading kernels, as load_config takes them.
    """
    from autograder import sandbox

    started = time.perf_counter()
    limits = sandbox.limit_settings(load_config(settings))
    sandbox.require(limits["sandbox"], required=limits["require_sandbox"])   # or SandboxUnavailable: no run
    out = os.path.abspath(out)
    submitted = os.path.join(out, "submitted")
    os.makedirs(submitted, exist_ok=True)
    in_place = os.path.realpath(submissions) == os.path.realpath(submitted)
    report = Report(out)
    taken = {}   # (student, assignment) -> (files, left out)
    notebooks = {a: sorted(n for n in os.listdir(os.path.join(SOLUTIONS, a)) if n.endswith(".ipynb"))
                 for a in assignments()}
    for student in sorted(os.listdir(submissions)):
        folder = os.path.join(submissions, student)
        if student.startswith("."):
            continue
        why = id_problem(student)
        if why:
            if intake.is_folder(folder) or os.path.islink(folder):
                report.outcomes.append(Outcome(os.fsencode(student).decode("utf-8", "backslashreplace"), "-",
                                               error=f"the student's folder name {why}: not graded; rename the folder"))
            continue
        if not intake.is_folder(folder):
            if os.path.islink(folder):
                report.outcomes.append(Outcome(student, "-", error="the student's folder is a symbolic link: "
                                               "not followed, not graded"))
            continue
        found = []
        for assignment in assignments():
            path = os.path.join(folder, assignment)
            if intake.is_folder(path):
                taken[(student, assignment)] = intake.take(path, first=notebooks[assignment])
                found.append(assignment)
            elif os.path.islink(path):
                report.outcomes.append(Outcome(student, assignment, error=f"the {assignment} folder is a "
                                               "symbolic link: not followed, not graded"))
                found.append(assignment)
        if not found:   # the student still gets an outcome, saying what the folder holds
            entries = sorted(os.listdir(folder))
            what = f"it has {', '.join(entries[:5])}" if entries else "it is empty"
            report.outcomes.append(Outcome(student, "-", error=(
                f"no assignment folder in the submission ({what}); expected a folder named "
                f"{' or '.join(assignments())} holding the notebook")))
    if not in_place:   # OUT/submitted holds exactly what was graded
        for (student, assignment), (files, _) in taken.items():
            dst = os.path.join(submitted, student, assignment)
            shutil.rmtree(dst, ignore_errors=True)
            write_tree(dst, files)
    handed_in = {}
    for student, assignment in sorted(taken):
        handed_in.setdefault(assignment, []).append(student)
    handed_in = {a: handed_in[a] for a in assignments() if a in handed_in}

    db_url = f"sqlite:///{os.path.join(out, 'gradebook.db')}"
    n_jobs = sum(len(names) for names in handed_in.values())
    # The workers start (and import nbgrader) while the gradebook is being prepared.
    with worker_pool(0 if scheduler else workers, n_jobs, load_config(settings)) as pool:
        failures, template = prepare_gradebook(list(handed_in), out, db_url)
        jobs = []
        for assignment, names in handed_in.items():
            if assignment in failures:
                report.outcomes += [Outcome(s, assignment, error=failures[assignment],
                                            left_out=taken[(s, assignment)][1]) for s in names]
                continue
            source = read_tree(os.path.join(SOLUTIONS, assignment))
            jobs += [Job(s, assignment, source, *taken[(s, assignment)], template, dict(settings or {}))
                     for s in names]
        results = run_jobs(jobs, pool=pool, scheduler=scheduler, progress=progress)
    isolation = sorted({r.sandbox for r in results if r.sandbox})
    report.kernels_ahead = sum(r.kernels_ahead for r in results)
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
                                           seconds=result.seconds, events=result.events,
                                           left_out=result.left_out))
        for outcome in report.outcomes:
            if id_problem(outcome.student):   # refused above: no such id in the gradebook
                continue
            gb.update_or_create_student(outcome.student)
            if outcome.ok:
                submission = gb.find_submission(outcome.assignment, outcome.student)
                outcome.score, outcome.max_score = submission.score, submission.max_score
    report.outcomes.sort(key=lambda o: (o.student, o.assignment))

    export = QuotedCsvExport(config=load_config(root=out, db_url=db_url))
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


def check(out=None, settings=None):
    """Grade each solution notebook as a student's submission; return (report, all_full_marks).

    settings: nbgrader overrides, as grade takes them.
    """
    with tempfile.TemporaryDirectory() as tmp:
        out = out or os.path.join(tmp, "course")
        staged = os.path.join(tmp, "submissions", "solutions")
        for assignment in assignments():
            shutil.copytree(os.path.join(SOLUTIONS, assignment), os.path.join(staged, assignment))
        report = grade(os.path.dirname(staged), out, settings=settings)
    full = bool(report.outcomes) and all(o.ok and o.score == o.max_score for o in report.outcomes)
    return report, full
