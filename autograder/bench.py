"""Benchmark: notebook run times, and grading time per submission against plain nbgrader.

    python -m autograder.bench [--sizes 1 10 40] [--assignment 01-logistic-regression]

For each N it grades N synthetic submissions (a cycle of correct, partial and
blank) four ways, in one run, and prints a Markdown table:
  floor      merely executing the N notebooks with nbclient, one after another;
  nbgrader   plain `nbgrader autograde` (stock configuration) on a course folder;
  workers 1  `python -m autograder grade --workers 1` (autograde + feedback + export);
  workers 2  the same with --workers 2.
The machine should be otherwise idle; figures are wall-clock seconds.
"""
import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time

import nbformat

from autograder import REPO, SOLUTIONS, assignments
from autograder.submissions import solution_answers, write_submission


def make_class(root, assignment, n):
    """n submissions cycling through correct, partial (first answer blanked) and blank."""
    answers = solution_answers(assignment)
    partial = dict(answers)
    partial.pop(next(iter(answers)))
    for i in range(n):
        kind = ("correct", "partial", "blank")[i % 3]
        write_submission(root, f"s{i:03d}-{kind}", assignment, {"correct": answers, "partial": partial}.get(kind))
    return root


def run(cmd, cwd=None):
    started = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def floor(submissions):
    """Seconds to execute every submitted notebook with nbclient, sequentially."""
    from nbclient import NotebookClient
    started = time.perf_counter()
    for dirpath, _, names in sorted(os.walk(submissions)):
        for name in sorted(names):
            if name.endswith(".ipynb"):
                nb = nbformat.read(os.path.join(dirpath, name), as_version=4)
                NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                               resources={"metadata": {"path": dirpath}}).execute()
    return time.perf_counter() - started


def plain_nbgrader(submissions, assignment, tmp):
    """Seconds for stock `nbgrader generate_assignment` + `nbgrader autograde` over the class."""
    course = os.path.join(tmp, "plain")
    os.makedirs(course)
    with open(os.path.join(course, "nbgrader_config.py"), "w") as f:
        f.write(f"c = get_config()\nc.CourseDirectory.source_directory = {SOLUTIONS!r}\n"
                "c.Execute.timeout = 120\n")
    os.symlink(submissions, os.path.join(course, "submitted"))
    nbgrader = [sys.executable, "-m", "nbgrader"]
    started = time.perf_counter()
    subprocess.run(nbgrader + ["generate_assignment", assignment], cwd=course, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(nbgrader + ["autograde", assignment], cwd=course, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def ours(submissions, tmp, workers):
    out = os.path.join(tmp, f"workers{workers}")
    return run([sys.executable, "-m", "autograder", "grade", submissions, "--out", out,
                "--workers", str(workers), "--quiet"], cwd=REPO)


def notebook_times():
    """Seconds to run each solution notebook top to bottom with nbclient."""
    from nbclient import NotebookClient
    times = {}
    for assignment in assignments():
        folder = os.path.join(SOLUTIONS, assignment)
        for name in sorted(os.listdir(folder)):
            if name.endswith(".ipynb"):
                nb = nbformat.read(os.path.join(folder, name), as_version=4)
                started = time.perf_counter()
                NotebookClient(nb, timeout=600, kernel_name="python3",
                               resources={"metadata": {"path": folder}}).execute()
                times[f"{assignment}/{name}"] = time.perf_counter() - started
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 40])
    parser.add_argument("--assignment", default="01-logistic-regression")
    parser.add_argument("--skip-notebooks", action="store_true")
    args = parser.parse_args(argv)

    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, {platform.machine()}\n")
    if not args.skip_notebooks:
        print("| solution notebook | run time (s) |\n|---|---|")
        for name, seconds in notebook_times().items():
            print(f"| {name} | {seconds:.1f} |")
        print()
    print(f"grading `{args.assignment}`, seconds per submission (a cycle of correct, partial, blank):\n")
    print("| N | floor (nbclient) | plain nbgrader | --workers 1 | --workers 2 "
          "| overhead of --workers 1 over floor | --workers 2 vs plain nbgrader |")
    print("|---|---|---|---|---|---|---|")
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            submissions = make_class(os.path.join(tmp, "submitted"), args.assignment, n)
            t_floor = floor(submissions)
            t_plain = plain_nbgrader(submissions, args.assignment, tmp)
            t_one = ours(submissions, tmp, 1)
            t_two = ours(submissions, tmp, 2)
        print(f"| {n} | {t_floor / n:.2f} | {t_plain / n:.2f} | {t_one / n:.2f} | {t_two / n:.2f} "
              f"| {100 * (t_one / t_floor - 1):+.0f}% | {t_plain / t_two:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
