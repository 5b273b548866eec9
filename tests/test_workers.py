"""The grading run's own machinery: the gradebook it starts from and the worker processes it runs.

A killed worker costs no student a grade; a job past its deadline fails alone; a killed
run leaves no worker behind; the gradebook a run creates is the one nbgrader itself
would create.
"""
import multiprocessing
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest
from nbgrader.api import Gradebook

from autograder import REPO, SOLUTIONS, course, nbgrader_setup
from autograder.pool import run_jobs, worker_pool
from autograder.worker import Job, read_tree

SAMPLE = os.path.join(REPO, "autograder", "samples", "sample-complete")
FIRST = "01-logistic-regression"
pytestmark = pytest.mark.slow


def schema(path):
    db = sqlite3.connect(path)
    try:
        tables = sorted(db.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL").fetchall())
        return tables, db.execute("SELECT version_num FROM alembic_version").fetchall()
    finally:
        db.close()


def test_a_stamped_gradebook_is_the_one_nbgrader_creates(tmp_path):
    """nbgrader's own Gradebook on a new database (it runs `alembic heads`) against ours."""
    theirs, ours = str(tmp_path / "theirs.db"), str(tmp_path / "ours.db")
    Gradebook(f"sqlite:///{theirs}").close()
    course.stamp_new_gradebook(ours)
    Gradebook(f"sqlite:///{ours}").close()
    assert schema(ours) == schema(theirs)
    assert schema(ours)[1] and schema(ours)[1][0][0]


def full_marks_jobs(tmp_path, n):
    """n copies of the complete sample's notebook-01 submission, as grading jobs."""
    failures, template = course.prepare_gradebook([FIRST], str(tmp_path), f"sqlite:///{tmp_path}/gradebook.db")
    assert not failures
    source, submission = read_tree(os.path.join(SOLUTIONS, FIRST)), read_tree(os.path.join(SAMPLE, FIRST))
    return [Job(f"student{i}", FIRST, source, submission, [], template) for i in range(n)]


def score(result):
    return sum(s for nb in result.notebooks.values() for s, _ in nb["grades"].values())


@pytest.mark.sandbox
def test_a_worker_killed_mid_run_costs_no_grade(tmp_path):
    jobs = full_marks_jobs(tmp_path, 4)
    killed = []

    def kill_a_busy_worker():
        time.sleep(6)  # the workers are started and each is grading its first submission
        workers = multiprocessing.active_children()
        if workers:
            os.kill(workers[0].pid, signal.SIGKILL)
            killed.append(workers[0].pid)

    with worker_pool(2, len(jobs)) as pool:
        threading.Thread(target=kill_a_busy_worker, daemon=True).start()
        results = run_jobs(jobs, pool=pool)
    assert killed, "no worker process was found to kill"
    assert [r.student for r in results] == [j.student for j in jobs]
    assert all(r.ok for r in results), [r.error for r in results]
    assert len({score(r) for r in results}) == 1 and score(results[0]) > 0


@pytest.mark.sandbox
def test_a_job_past_its_deadline_fails_alone_with_its_step(tmp_path):
    """A job that never ends (here: a worker stopped with SIGSTOP, as a call stuck in C would
    be) is killed at the deadline; the other job, and a job after it in the same slot, grade."""
    jobs = full_marks_jobs(tmp_path, 3)
    config = nbgrader_setup.load_config({"WorkerPool.job_deadline": 40})

    def stop_the_first_worker():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:   # autograding once its evaluator or kernel has started
            busy = [p.pid for p in multiprocessing.active_children()
                    if any(b"judging" in cmdline(c) or b"ipykernel" in cmdline(c) for c in children(p.pid))]
            if busy:
                os.kill(busy[0], signal.SIGSTOP)
                return
            time.sleep(0.2)

    with worker_pool(2, len(jobs), config) as pool:
        threading.Thread(target=stop_the_first_worker, daemon=True).start()
        started = time.monotonic()
        results = run_jobs(jobs, pool=pool)
    failed = [r for r in results if not r.ok]
    assert len(failed) == 1, [r.error for r in results]
    assert "stopped after 40 s (WorkerPool.job_deadline) while autograding" in failed[0].error
    assert all(score(r) == score(results[-1]) > 0 for r in results if r.ok)
    assert time.monotonic() - started < 120


def children(pid):
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            found += [int(c) for c in f.read().split()]
    return found


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b""


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.sandbox
def test_a_killed_run_leaves_no_worker_behind(tmp_path):
    submissions = tmp_path / "submitted"
    for i in range(3):
        shutil.copytree(os.path.join(SAMPLE, FIRST), submissions / f"student{i}" / FIRST)
    run = subprocess.Popen([sys.executable, "-m", "autograder", "grade", str(submissions),
                            "--out", str(tmp_path / "out"), "--workers", "2", "--quiet"],
                           cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        workers = []
        while len(workers) < 2 and time.monotonic() < deadline and run.poll() is None:
            time.sleep(0.2)
            workers = [p for p in children(run.pid) if alive(p) and b"spawn_main" in cmdline(p)]
        assert len(workers) == 2, "the run did not start its two workers"
        time.sleep(3)  # and they are busy
        run.kill()
        run.wait()
        deadline = time.monotonic() + 20
        while any(alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(alive(p) for p in workers), "worker processes outlived the killed run"
    finally:
        if run.poll() is None:
            run.kill()
