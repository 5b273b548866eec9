"""Class benchmark: the solution notebooks' run times, then a class graded four ways in one run.

    python -m autograder.bench [--students 6] [--skip-notebooks]

N students (a cycle of correct, partial and blank) each submit all three notebooks. The class
is graded four ways, one after another, and a Markdown table gives wall and CPU seconds:
  floor         every notebook executed once with nbclient, one after another (execution only);
  nbgrader      plain `nbgrader autograde` per assignment, stock configuration (no feedback);
  --workers 1   `python -m autograder grade --workers 1`: autograde, evaluator, feedback, export;
  --workers 2   the same with two workers.
CPU seconds are the whole machine's busy time (/proc/stat), sandboxed kernels included.
The machine should be otherwise idle: its speed drifts, so compare rows of one run only.
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


def make_class(root, n):
    """n students, each submitting every assignment: correct, partial (first answer blanked), blank."""
    for assignment in assignments():
        answers = solution_answers(assignment)
        partial = dict(answers)
        partial.pop(next(iter(answers)))
        for i in range(n):
            kind = ("correct", "partial", "blank")[i % 3]
            write_submission(root, f"s{i:03d}-{kind}", assignment,
                             {"correct": answers, "partial": partial}.get(kind))
    return root


def _busy_cpu_seconds():
    """CPU seconds the whole machine has been busy since boot (/proc/stat). Machine-wide, because
    sandboxed kernels are reaped inside their own PID namespace, out of reach of getrusage; so the
    machine must be otherwise idle."""
    with open("/proc/stat") as f:
        user, nice, system, idle, iowait, irq, softirq, steal = map(int, f.readline().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def measured(step):
    """(wall seconds, CPU seconds) of step()."""
    wall, cpu = time.perf_counter(), _busy_cpu_seconds()
    step()
    return time.perf_counter() - wall, _busy_cpu_seconds() - cpu


def run(cmd, cwd=None):
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def floor(submissions):
    """Execute every submitted notebook with nbclient, one after another."""
    from nbclient import NotebookClient
    for dirpath, _, names in sorted(os.walk(submissions)):
        for name in sorted(names):
            if name.endswith(".ipynb"):
                nb = nbformat.read(os.path.join(dirpath, name), as_version=4)
                NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                               resources={"metadata": {"path": dirpath}}).execute()


def plain_nbgrader(submissions, tmp):
    """Stock `nbgrader generate_assignment` + `nbgrader autograde`, one assignment after another."""
    course = os.path.join(tmp, "stock")
    os.makedirs(course)
    with open(os.path.join(course, "nbgrader_config.py"), "w") as f:
        f.write(f"c = get_config()\nc.CourseDirectory.source_directory = {SOLUTIONS!r}\n"
                "c.Execute.timeout = 300\n")
    os.symlink(submissions, os.path.join(course, "submitted"))
    for assignment in assignments():
        run([sys.executable, "-m", "nbgrader", "generate_assignment", assignment], cwd=course)
        run([sys.executable, "-m", "nbgrader", "autograde", assignment], cwd=course)


def ours(submissions, tmp, workers):
    run([sys.executable, "-m", "autograder", "grade", submissions, "--out", os.path.join(tmp, f"workers{workers}"),
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
    parser.add_argument("--students", type=int, default=6)
    parser.add_argument("--skip-notebooks", action="store_true")
    args = parser.parse_args(argv)
    n = args.students

    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, {platform.machine()}\n")
    if not args.skip_notebooks:
        print("| solution notebook | run time (s) |\n|---|---|")
        for name, seconds in notebook_times().items():
            print(f"| {name} | {seconds:.1f} |", flush=True)
        print()
    with tempfile.TemporaryDirectory() as tmp:
        submissions = make_class(os.path.join(tmp, "submitted"), n)
        rows = {"floor: nbclient, one notebook after another": measured(lambda: floor(submissions)),
                "plain `nbgrader autograde`, per assignment": measured(lambda: plain_nbgrader(submissions, tmp)),
                "`python -m autograder grade --workers 1`": measured(lambda: ours(submissions, tmp, 1)),
                "`python -m autograder grade --workers 2`": measured(lambda: ours(submissions, tmp, 2))}
    walls = [wall for wall, _ in rows.values()]
    t_floor, t_plain = walls[0], walls[1]
    print(f"{n} students x {len(assignments())} notebooks (a cycle of correct, partial, blank):\n")
    print("| | wall s | wall s per student | CPU s per student | vs plain nbgrader | vs floor / 2 |")
    print("|---|---|---|---|---|---|")
    for name, (wall, cpu) in rows.items():
        print(f"| {name} | {wall:.0f} | {wall / n:.1f} | {cpu / n:.1f} | {t_plain / wall:.2f}x "
              f"| {100 * (wall / (t_floor / 2) - 1):+.0f}% |")


if __name__ == "__main__":
    main()
