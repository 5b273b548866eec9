"""Grade a class of notebook-01 submissions, honest and hostile, and report what held.

    .venv/bin/python tests/class_run.py [--honest 40] [--workers 2] [--out DIR]

The honest students (the solution, or the solution with one mistake from the
notebook-01 bank; two of them are tests/faults.py's HONEST, whom the link faults
point at) and one submission of each fault in CLASS_FAULTS. The class is graded,
then the honest students alone; the honest students' gradebook rows must be
identical in both runs ("grades lost" counts those that differ). A fault "holds"
when its submission gets exactly the outcome tests/faults.py expects, files left
out included. Not collected by pytest (no test_ prefix).
"""
import argparse
import os
import random
import socket
import sys
import tempfile
import time

TESTS = os.path.dirname(os.path.abspath(__file__))
for path in (TESTS, os.path.dirname(TESTS)):
    if path not in sys.path:
        sys.path.insert(0, path)

# The faults in the class: one of each kind that matters for the other students, the kernel's
# (time, memory, crashes, secrets, network) and the pipeline's (links, sizes, floods, odd ids).
CLASS_FAULTS = ["fault-deadline", "fault-os-exit", "fault-segfault", "fault-memory-bomb", "fault-output-flood",
                "fault-patch-modules", "fault-read-secrets", "fault-write-outside", "fault-network",
                "fault-not-json", "fault-tests-deleted", "fault-infinite-loop", "fault-empty-student-folder",
                "fault-link-to-solution", "fault-link-to-friend", "fault-dangling-link", "fault-link-loop",
                "fault-linked-folder", "fault-big-file", "fault-update-flood", "fault-glob-[x]*?",
                "fault-csv-a,b c", "fault-html-<img src=x onerror=alert(1)>"]
SETTINGS = {"Execute.timeout": 30, "GradingExecute.deadline": 120,
            "SandboxedKernelManager.memory_limit": 3 * 1024 ** 3}


def main():
    import faults as F
    from banks import nb01
    from cases import gradebook_cells

    from autograder import REPO, course

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--honest", type=int, default=40, help="honest students (at least 2)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=None, help="keep the grading folders here")
    args = parser.parse_args()

    root = args.out or tempfile.mkdtemp(prefix="class-run-")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.1)
    targets = F.Targets(repo=REPO, course=os.path.join(root, "class"), port=listener.getsockname()[1])
    cases = F.faults(targets)

    rng = random.Random(2024)
    mistakes = sorted(nb01.MISTAKES)
    class_dir, honest_dir = os.path.join(root, "submissions"), os.path.join(root, "honest-submissions")
    honest = dict(F.HONEST)
    for i in range(args.honest - len(honest)):
        honest[f"student-{i:02d}"] = F.Case() if rng.random() < 0.4 else nb01.MISTAKES[rng.choice(mistakes)]
    for student, case in honest.items():
        for folder in (class_dir, honest_dir):
            F.write_fault(folder, student, case)
    attackers = {}
    for i, name in enumerate(CLASS_FAULTS):
        student = f"student-{len(honest) + i:02d}-{name}"
        F.write_fault(class_dir, student, cases[name])
        attackers[student] = cases[name]

    started = time.perf_counter()
    report = course.grade(class_dir, targets.course, workers=args.workers, settings=SETTINGS)
    wall = time.perf_counter() - started
    course.grade(honest_dir, os.path.join(root, "honest"), workers=args.workers, settings=SETTINGS)

    by_student = {o.student: o for o in report.outcomes}
    held = []
    for student, fault in attackers.items():
        outcome = by_student.get(student)
        if fault.failed:
            ok = outcome is not None and not outcome.ok and fault.failed in outcome.error
        else:
            cells = gradebook_cells(targets.course, F.ASSIGNMENT, {student})
            got = {cell: score for (_, _, cell), (score, _) in cells.items()}
            ok = outcome is not None and outcome.ok and got == F.expected_grades(fault)
        left_out = sorted(path for path, _ in outcome.left_out) if outcome else []
        ok = ok and left_out == sorted(fault.left_out)
        held.append(ok)
        if not ok:
            print(f"FAULT NOT HELD: {student} ({fault.what}): {outcome}", file=sys.stderr)
    graded_class = gradebook_cells(targets.course, F.ASSIGNMENT, set(honest))
    graded_alone = gradebook_cells(os.path.join(root, "honest"), F.ASSIGNMENT, set(honest))
    lost = sorted({s for (s, _, _) in set(graded_class) | set(graded_alone)
                   if {k: v for k, v in graded_class.items() if k[0] == s}
                   != {k: v for k, v in graded_alone.items() if k[0] == s}})
    lost += [s for s in honest if not by_student[s].ok]
    listener_heard = False
    try:
        listener.accept()
        listener_heard = True
    except OSError:
        pass
    listener.close()

    print(f"submissions graded: {len(report.outcomes)} ({sum(o.ok for o in report.outcomes)} scored, "
          f"{sum(not o.ok for o in report.outcomes)} failed with a reason)")
    print(f"faults held: {sum(held)}/{len(held)}")
    print(f"grades lost: {len(sorted(set(lost)))} of {len(honest)} honest students")
    print(f"loopback listener heard from a kernel: {listener_heard}")
    print(f"sandbox: {report.sandbox}")
    print(f"wall time: {wall:.0f} s for the class ({args.workers} workers), "
          f"{wall / max(1, len(report.outcomes)):.1f} s per submission")
    print(f"grading folders: {root}")
    return 0 if all(held) and not lost and not listener_heard else 1


if __name__ == "__main__":
    sys.exit(main())
