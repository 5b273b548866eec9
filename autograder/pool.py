"""Grading jobs in worker processes that can be killed, one job per process at a time.

A step that never ends (a regular expression stuck in C while a feedback page renders,
a library call that ignores interrupts) cannot be stopped inside its process. So every
job, with one worker too, runs in a spawned worker process: past `job_deadline` the
worker is killed (its kernels and evaluator die with it) and replaced, and that job
alone fails with the step it was in. A worker that dies is replaced and its job graded
once more in a fresh one; if that dies too, the job fails with that reason. A worker
dies with the run that started it. Its memory is bounded (`memory_limit`, the soft address
space limit: a notebook whose parsing or rendering would take gigabytes fails alone), and
its temporary files go into the pool's own folder, removed when the pool closes, so a
killed worker leaves nothing behind.

worker_pool sizes a pool to the run; run_jobs grades every job in it, or on a Dask cluster.
"""
import multiprocessing
import os
import resource
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import deque
from contextlib import contextmanager
from multiprocessing.connection import wait

from traitlets import Integer
from traitlets.config import Configurable

from autograder.judge import describe_exit
from autograder.worker import Result, grade_submission


class WorkerPool(Configurable):
    """`workers` spawned processes grading jobs; see the module."""

    job_deadline = Integer(1800, help="Seconds for one submission, from start to feedback page, before its "
                           "worker is killed and it fails alone (0: no limit). Above GradingExecute.deadline "
                           "plus kernel start-up and feedback.").tag(config=True)
    memory_limit = Integer(8 * 1024 ** 3, help="Soft address-space limit of a worker process in bytes (0: "
                           "none). The kernels and evaluators it starts have their own limits.").tag(config=True)

    def __init__(self, workers, **kwargs):
        super().__init__(**kwargs)
        self._context = multiprocessing.get_context("spawn")
        self._scratch = tempfile.mkdtemp(prefix="grading-workers-")
        self._slots = [self._spawn() for _ in range(max(1, workers))]

    def _spawn(self):
        ours, theirs = self._context.Pipe()
        process = self._context.Process(target=_serve, args=(theirs, os.getpid(), self._scratch, self.memory_limit),
                                        daemon=True)
        process.start()
        theirs.close()
        return _Slot(process, ours)

    def run(self, jobs, done):
        """Grade every job; done(index, result) as each finishes."""
        waiting, attempts = deque(range(len(jobs))), [0] * len(jobs)

        def failed(slot, why):
            i = slot.job
            slot.kill()
            self._slots[self._slots.index(slot)] = self._spawn()
            if why is None and attempts[i] < 2:   # the worker died: once more, in a fresh worker
                waiting.appendleft(i)
                return
            done(i, Result(jobs[i].student, jobs[i].assignment, left_out=list(jobs[i].left_out),
                           error=why or f"the grading worker process died while grading this submission "
                                        f"({slot.exit_description()})", seconds=slot.elapsed()))

        while waiting or any(s.job is not None for s in self._slots):
            for slot in self._slots:
                if slot.job is None and waiting:
                    i = waiting.popleft()
                    attempts[i] += 1
                    slot.give(i, jobs[i])
            busy = [s for s in self._slots if s.job is not None]
            timeout = None
            if self.job_deadline:
                timeout = max(0.0, min(self.job_deadline - s.elapsed() for s in busy))
            ready = wait([s.conn for s in busy] + [s.process.sentinel for s in busy], timeout)
            for slot in busy:
                if slot.conn in ready:
                    try:
                        kind, value = slot.conn.recv()
                    except (EOFError, OSError):
                        failed(slot, None)
                        continue
                    if kind == "step":
                        slot.step = value
                    else:
                        i, slot.job = slot.job, None
                        done(i, value)
                elif slot.process.sentinel in ready:
                    failed(slot, None)
                elif self.job_deadline and slot.elapsed() >= self.job_deadline:
                    failed(slot, f"stopped after {self.job_deadline} s (WorkerPool.job_deadline) while "
                                 f"{slot.step or 'starting'}: the grading of this submission did not finish")

    def close(self):
        for slot in self._slots:
            slot.stop()
        shutil.rmtree(self._scratch, ignore_errors=True)


class _Slot:
    """One worker process and the job it holds."""

    def __init__(self, process, conn):
        self.process, self.conn = process, conn
        self.job, self.step, self.started = None, "", 0.0

    def give(self, index, job):
        """Send the job from a thread: a worker that does not read (still starting, or stuck) must
        not stop the run from keeping the deadlines."""
        self.job, self.step, self.started = index, "", time.monotonic()
        threading.Thread(target=_send, args=(self.conn, job), daemon=True).start()

    def elapsed(self):
        return time.monotonic() - self.started

    def exit_description(self):
        return describe_exit(self.process.exitcode)

    def kill(self):
        if self.process.is_alive():
            self.process.kill()
        self.process.join(10)
        self.conn.close()

    def stop(self):
        try:
            self.conn.send(None)
        except (OSError, ValueError):
            pass
        self.process.join(10)
        self.kill()


def _send(conn, job):
    try:
        conn.send(job)
    except (OSError, ValueError):   # the worker is gone: its sentinel says so
        pass


def _serve(conn, parent, scratch, memory_limit):
    """A worker: tied to the run, bounded, nbgrader imported before the first job, then jobs until None."""
    _die_with_parent(parent)
    tempfile.tempdir = scratch
    if memory_limit:
        hard = resource.getrlimit(resource.RLIMIT_AS)[1]
        if hard == resource.RLIM_INFINITY or memory_limit < hard:
            resource.setrlimit(resource.RLIMIT_AS, (memory_limit, hard))
    import nbgrader.apps  # noqa: F401

    from autograder.sandbox import probe
    probe()
    from autograder import kernel_ahead
    try:
        while True:
            try:
                job = conn.recv()
            except (EOFError, OSError):
                return
            if job is None:
                return
            result = grade_submission(job, step=lambda what: conn.send(("step", what)), next_kernel=True)
            conn.send(("result", result))
    finally:
        kernel_ahead.discard()


def _die_with_parent(parent):
    """Linux: have the kernel send this process SIGTERM when the grading run that started it dies,
    so that a killed run leaves no workers (nor, through bwrap --die-with-parent, kernels) behind."""
    if sys.platform.startswith("linux"):
        import ctypes
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the run died before the line above took effect
        os._exit(1)


@contextmanager
def worker_pool(workers, n_jobs, config=None):
    """A WorkerPool of min(workers, n_jobs) processes, started at once (None with no jobs)."""
    if n_jobs < 1 or workers < 1:
        yield None
        return
    pool = WorkerPool(min(workers, n_jobs), config=config)
    try:
        yield pool
    finally:
        pool.close()


def run_jobs(jobs, pool=None, scheduler=None, progress=False):
    """Grade every job, in pool or on the Dask cluster at scheduler; results in the jobs' order."""
    from tqdm.auto import tqdm

    bar = tqdm(total=len(jobs), unit="submission", disable=not progress, dynamic_ncols=True)
    failed = 0
    results = [None] * len(jobs)

    def done(i, result):
        nonlocal failed
        results[i] = result
        failed += not result.ok
        bar.set_postfix(failed=failed, refresh=False)
        bar.update(1)

    try:
        if scheduler:
            from distributed import Client, as_completed
            with Client(scheduler) as client:
                futures = client.map(grade_submission, jobs, pure=False)
                index = {f.key: i for i, f in enumerate(futures)}
                for future in as_completed(futures):
                    done(index[future.key], future.result())
        elif jobs:
            pool.run(jobs, done)
    finally:
        bar.close()
    return results
