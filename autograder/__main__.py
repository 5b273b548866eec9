"""Command line: python -m autograder {release,grade,check}."""
import argparse
import os
import shutil
import sys

from autograder import NOTEBOOKS, REPO

CHECK_RELEASE = os.path.join(REPO, "build", "release")   # where `release --check` releases by default

NO_SANDBOX = dict(action="store_true", help="run grading kernels without the bubblewrap sandbox, with your rights "
                  "(where it cannot work: macOS, a container without user namespaces)")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("release", help="regenerate notebooks/ from solutions/")
    p.add_argument("--dest", default=None, help="where to write the student notebooks (default: notebooks/, "
                   "or build/release with --check)")
    p.add_argument("--check", action="store_true",
                   help="release into --dest and fail unless the committed notebooks/ is the same release")
    p.add_argument("--assignment", action="append", help="release only this assignment (repeatable)")
    p.add_argument("--bundle", metavar="PATH",
                   help="then write what students receive to PATH: a folder, or a zip if PATH ends in .zip")
    p = sub.add_parser("grade", help="autograde submissions, write feedback and grades.csv")
    p.add_argument("submissions", help="folder laid out as student/assignment/notebook.ipynb")
    p.add_argument("--out", required=True, help="course folder for the gradebook, feedback and grades.csv")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="submissions graded at once on this machine (default: the number of cores)")
    p.add_argument("--scheduler", help="address of a Dask scheduler to grade on instead, e.g. tcp://host:8786")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--no-sandbox", **NO_SANDBOX)
    p = sub.add_parser("check", help="grade the solutions; fail unless each earns full marks")
    p.add_argument("--out", help="keep the grading folder here (default: a temporary one)")
    p.add_argument("--no-sandbox", **NO_SANDBOX)
    args = parser.parse_args(argv)

    from autograder import course, nbgrader_setup  # imported late: nbgrader is slow to import

    if args.command == "release":
        dest = args.dest or (CHECK_RELEASE if args.check else NOTEBOOKS)
        if args.check:
            if os.path.abspath(dest) == NOTEBOOKS:
                parser.error("--check compares a fresh release with notebooks/: give another --dest")
            shutil.rmtree(dest, ignore_errors=True)   # a fresh release, nothing left from an earlier one
        print(f"released to {course.release(dest, only=args.assignment)}")
        if args.check:
            stale = [rel for rel in course.stale_release_files(dest)
                     if not args.assignment or rel.split(os.sep)[0] in args.assignment]
            if stale:
                print("error: notebooks/ is not the release of solutions/; these files differ:\n  "
                      + "\n  ".join(stale) + "\nrun `make release` and commit notebooks/", file=sys.stderr)
                return 1
            print("notebooks/ is the release of solutions/")
        if args.bundle:
            from autograder import bundle
            print(f"student bundle: {bundle.write_bundle(args.bundle, dest)}")
        return 0
    from autograder import sandbox
    settings = {"SandboxedKernelManager.sandbox": False} if args.no_sandbox else {}
    try:
        # One line saying how kernels will run; a sandbox that cannot start stops here, not per student.
        limits = sandbox.limit_settings(nbgrader_setup.load_config(settings))
        print(f"sandbox: {sandbox.require(limits['sandbox'], required=limits['require_sandbox'])}", flush=True)
        if args.command == "grade":
            report = course.grade(args.submissions, args.out, workers=args.workers,
                                  scheduler=args.scheduler, progress=not args.quiet, settings=settings)
        else:
            report, full = course.check(args.out, settings=settings)
    except sandbox.SandboxUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.command == "grade":
        print(report.table())
        failed = sum(not o.ok for o in report.outcomes)
        print(f"\n{len(report.outcomes)} submissions graded in {report.seconds:.0f} s, {failed} failed"
              f"\ngrades: {report.out}/grades.csv   summary: {report.out}/summary.json"
              f"   feedback: {report.out}/feedback/")
        return 0
    print(report.table())
    print("\nall solutions earn full marks" if full else "\nSOME SOLUTION DOES NOT EARN FULL MARKS")
    return 0 if full else 1


if __name__ == "__main__":
    sys.exit(main())
