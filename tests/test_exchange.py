"""nbgrader's exchange, as on a JupyterHub, on one machine: a temporary exchange folder
(Exchange.root), an instructor's course folder and two students' home folders.

The instructor releases every assignment (the course tool's release, then release_assignment),
the students fetch, work and submit, the instructor collects, grades what was collected with
`python -m autograder grade`, and releases the feedback, which a student fetches. Each step is
nbgrader's own exchange (the classes its release_assignment, fetch_assignment, submit, collect,
release_feedback and fetch_feedback apps run), configured as those apps are.

To keep the grading short, alice solves 01 and leaves the other assignments as handed out, and bob
submits everything untouched.
"""
import csv
import glob
import os
import subprocess
import sys

import nbformat
import pytest
from nbgrader.auth import Authenticator
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange.default import (ExchangeFetchAssignment, ExchangeFetchFeedback, ExchangeList,
                                       ExchangeSubmit)
from traitlets.config import Config

from autograder import REPO, SOLUTIONS, assignments, course, nbgrader_setup

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]
SOLVED = "01-logistic-regression"
STUDENTS = ("alice", "bob")


def _student_app(cls, home, exchange, student, assignment=""):
    """One of nbgrader's student-side exchange apps, configured as `nbgrader fetch_assignment ...`
    run in the student's home folder on a hub would be."""
    c = Config()
    c.CourseDirectory.course_id = nbgrader_setup.load_config().CourseDirectory.course_id
    c.CourseDirectory.root = str(home)
    c.CourseDirectory.assignment_id = assignment
    c.CourseDirectory.student_id = student
    c.Exchange.root = str(exchange)
    c.Exchange.assignment_dir = str(home)
    c.Exchange.cache = str(home / ".nbgrader-cache")
    coursedir = CourseDirectory(config=c)
    app = cls(coursedir=coursedir, authenticator=Authenticator(config=c), config=c)
    app.start()  # raises ExchangeError on failure
    return app


def _instructor(course_dir, exchange):
    c = nbgrader_setup.load_config(root=str(course_dir), source_directory=SOLUTIONS, release_directory="release",
                           db_url=f"sqlite:///{course_dir / 'gradebook.db'}")
    c.Exchange.root = str(exchange)
    c.ExchangeCollect.check_owner = False  # every student here is the same OS user
    return nbgrader_setup.nbgrader_api(c)


def _ok(result, what):
    assert result["success"], f"{what}: {result.get('error') or result.get('log')}"
    return result


def _round_trip(root):
    from cases import filled_notebooks, solution_answers
    exchange, course_dir = root / "exchange", root / "course"
    homes = {s: root / "home" / s for s in STUDENTS}
    for home in homes.values():
        home.mkdir(parents=True)
    api = _instructor(course_dir, exchange)
    steps = {}

    # instructor: the course tool's release into the course folder, then nbgrader's release_assignment
    course.release(str(course_dir / "release"))
    for a in assignments():
        steps[("release", a)] = _ok(api.release_assignment(a), f"release_assignment {a}")

    # students: list, fetch, work, submit
    for student, home in homes.items():
        steps[("list", student)] = _student_app(ExchangeList, home, exchange, student).start()
        for a in assignments():
            _student_app(ExchangeFetchAssignment, home, exchange, student, a)
            if student == "alice" and a == SOLVED:
                for name, nb in filled_notebooks(a, solution_answers(a)).items():
                    nbformat.write(nb, str(home / a / name))
            _student_app(ExchangeSubmit, home, exchange, student, a)

    # instructor: collect, grade what was collected (the course tool's CLI), release feedback
    for a in assignments():
        steps[("collect", a)] = _ok(api.collect(a), f"collect {a}")
    graded = subprocess.run([sys.executable, "-m", "autograder", "grade", str(course_dir / "submitted"),
                             "--out", str(course_dir)], cwd=REPO, capture_output=True, text=True, timeout=1800)
    assert graded.returncode == 0, graded.stdout + graded.stderr
    steps["grade"] = graded.stdout
    for a in assignments():
        for student in STUDENTS:
            steps[("release_feedback", a, student)] = _ok(api.release_feedback(a, student),
                                                          f"release_feedback {a} {student}")
    _student_app(ExchangeFetchFeedback, homes["alice"], exchange, "alice", SOLVED)
    return root, exchange, course_dir, homes, steps


def _check_release_puts_every_assignment_in_the_exchange(hub):
    root, exchange, course_dir, homes, steps = hub
    course_id = nbgrader_setup.load_config().CourseDirectory.course_id
    for a in assignments():
        outbound = exchange / course_id / "outbound" / a
        assert sorted(os.listdir(outbound)) == sorted(os.listdir(os.path.join(SOLUTIONS, a))), a
        for name in os.listdir(outbound):
            with open(outbound / name) as f:
                text = f.read()
            assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text, f"{a}/{name}"


def _check_students_fetch_the_release(hub):
    root, exchange, course_dir, homes, steps = hub
    for student, home in homes.items():
        for a in assignments():
            for name in os.listdir(os.path.join(SOLUTIONS, a)):
                if student == "alice" and a == SOLVED:
                    continue
                with open(home / a / name) as got, open(course_dir / "release" / a / name) as released:
                    assert got.read() == released.read(), f"{student} {a}/{name}"


def _check_collect_brings_every_submission(hub):
    root, exchange, course_dir, homes, steps = hub
    for student in STUDENTS:
        for a in assignments():
            folder = course_dir / "submitted" / student / a
            assert (folder / "timestamp.txt").is_file(), folder
            assert sorted(glob.glob(str(folder / "*.ipynb"))), folder
    solved = glob.glob(str(course_dir / "submitted" / "alice" / SOLVED / "*.ipynb"))
    assert all("raise NotImplementedError()" not in open(p).read() for p in solved)


def _check_grading_what_was_collected(hub):
    root, exchange, course_dir, homes, steps = hub
    with open(course_dir / "grades.csv") as f:
        rows = {(r["student_id"], r["assignment"]): r for r in csv.DictReader(f)}
    assert {s for s, _ in rows} == set(STUDENTS)
    for a in assignments():
        for student in STUDENTS:
            row = rows[(student, a)]
            score, max_score = float(row["raw_score"]), float(row["max_score"])
            assert max_score > 0, row
            expected = max_score if (student, a) == ("alice", SOLVED) else 0.0
            assert score == expected, f"{student} {a}: {score}/{max_score}\n{steps['grade']}"
            assert glob.glob(str(course_dir / "feedback" / student / a / "*.html")), f"no feedback {student} {a}"


def _check_student_fetches_feedback_without_hidden_tests(hub):
    root, exchange, course_dir, homes, steps = hub
    fetched = glob.glob(str(homes["alice"] / SOLVED / "feedback" / "*" / "*.html"))
    assert fetched, f"no feedback under {homes['alice'] / SOLVED}"
    for path in fetched:
        with open(path) as f:
            html = f.read()
        assert "BEGIN HIDDEN TESTS" not in html
        assert "The hidden tests passed." in html


@pytest.mark.filterwarnings("ignore:Passing unrecognized arguments:DeprecationWarning")  # nbgrader's own typo
def test_exchange_round_trip(tmp_path):
    """One test, so that pytest-xdist runs the round trip once: each check names its step."""
    hub = _round_trip(tmp_path)
    _check_release_puts_every_assignment_in_the_exchange(hub)
    _check_students_fetch_the_release(hub)
    _check_collect_brings_every_submission(hub)
    _check_grading_what_was_collected(hub)
    _check_student_fetches_feedback_without_hidden_tests(hub)
