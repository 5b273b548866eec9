"""Write the sample submissions that `make grade` grades, into autograder/samples/.

Three students: sample-complete (the solutions), sample-mistakes (each bank's
SAMPLE_MISTAKES) and sample-untouched (the release as handed out). Run it after
changing a solution notebook: python tests/build_samples.py
"""
import os
import shutil
import sys

sys.path[:0] = [os.path.dirname(os.path.abspath(__file__)), os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]

from autograder import REPO, assignments  # noqa: E402
from cases import banks, solution_answers, write_submission  # noqa: E402

SAMPLES = os.path.join(REPO, "autograder", "samples")


def build(dest=SAMPLES):
    shutil.rmtree(dest, ignore_errors=True)
    bank_of = banks()
    for assignment in assignments():
        answers = solution_answers(assignment)
        write_submission(dest, "sample-complete", assignment, answers)
        with_mistakes = dict(answers)
        bank = bank_of.get(assignment)
        for name in getattr(bank, "SAMPLE_MISTAKES", []):
            with_mistakes.update(bank.MISTAKES[name].answers)
        write_submission(dest, "sample-mistakes", assignment, with_mistakes)
        write_submission(dest, "sample-untouched", assignment)
    return dest


if __name__ == "__main__":
    print(f"wrote {build()}")
