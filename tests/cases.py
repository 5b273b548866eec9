"""Test submissions and what each must earn: one record type for banks, alternatives and faults.

A Case is the student release with some answer cells filled in (the solution's answers,
some replaced), perhaps edited further, and its expected outcome: the test cells it
loses (every other one earns full marks), or the reason it fails. The helpers write
cases as a submitted/ folder, grade them in one run, and read back per-cell grades.
"""
import importlib
import os
import pkgutil
from dataclasses import dataclass, field

import nbformat
from nbgrader.api import Gradebook

from autograder import SOLUTIONS, assignments
from autograder.submissions import (filled_notebooks, notebook_names, solution_answers,  # noqa: F401 (for tests)
                                    write_submission)


@dataclass(frozen=True)
class Case:
    """A submission and its expected outcome."""
    answers: dict = field(default_factory=dict)   # grade_id -> source, over the solution's answers
    loses: tuple = ()       # the test cells that score 0; every other test cell earns its points
    says: str = ""          # text a visible test prints about the mistake
    edit: object = None     # edit(nb): a further change to the filled-in notebook
    files: object = None    # files(folder): writes (or adds to) the assignment folder itself
    failed: str = ""        # instead of grades: the submission fails, the reason contains this
    blank: bool = False     # the release as handed out, no answer filled in
    left_out: tuple = ()    # paths in the submission the grader must leave out (links, files over the limit)
    what: str = ""          # what the case does, in one line: shown when its test fails


# The test side's own reading of nbgrader's markers (independent of autograder.markers, which it checks).
SOLUTION_REGION = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN_REGION = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")


def region_lines(source, regions=(SOLUTION_REGION,)):
    """{line number (from 1): line} of every line inside one of the regions, markers excluded."""
    inside, found = None, {}
    for number, line in enumerate(source.splitlines(), start=1):
        stripped = line.strip()
        begin = [r for r in regions if r[0] in stripped]
        if begin:
            inside = begin[0]
        elif inside is not None and inside[1] in stripped:
            inside = None
        elif inside is not None:
            found[number] = line
    return found


def write_case(root, student, assignment, case):
    """Write one case's submission as root/student/assignment/ (or just the student folder)."""
    folder = os.path.join(root, student, assignment)
    if case.files is not None and not case.answers and case.edit is None:
        os.makedirs(folder, exist_ok=True)
        case.files(folder)
        return folder
    answers = None if case.blank else {**solution_answers(assignment), **case.answers}
    write_submission(root, student, assignment, answers, edit=case.edit)
    if case.files is not None:
        case.files(folder)
    return folder


def cell_by_id(nb, grade_id):
    """The cell of a notebook with this nbgrader grade_id."""
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return cell
    raise KeyError(grade_id)


def insert_before(*cells):
    """An edit that inserts code cells before test cells: insert_before((grade_id, source), ...)."""
    def edit(nb):
        for grade_id, source in cells:
            nb.cells.insert(nb.cells.index(cell_by_id(nb, grade_id)), nbformat.v4.new_code_cell(source))
    return edit


def test_cells(assignment):
    """{grade_id: points} of every test cell of the assignment's solution notebooks."""
    points = {}
    for name in notebook_names(assignment):
        for cell in nbformat.read(os.path.join(SOLUTIONS, assignment, name), as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade") and not meta.get("solution"):
                points[meta["grade_id"]] = float(meta["points"])
    return points


def expected_grades(assignment, case):
    """{test cell: score} a case must earn."""
    return {cell: 0.0 if cell in case.loses else points for cell, points in test_cells(assignment).items()}


def gradebook_cells(course, assignment, students=None):
    """{(student, notebook, test cell): (auto_score, needs_manual_grade)} from a course folder's gradebook."""
    cells = {}
    with Gradebook(f"sqlite:///{os.path.join(course, 'gradebook.db')}") as gb:
        for submission in gb.find_assignment(assignment).submissions:
            if students is None or submission.student.id in students:
                for nb in submission.notebooks:
                    for g in nb.grades:
                        cells[(submission.student.id, nb.name, g.name)] = (g.auto_score, g.needs_manual_grade)
    return cells


def cell_grades(course, assignment, students=None):
    """{student: {test cell: auto_score}} from a course folder's gradebook."""
    grades = {}
    for (student, _, cell), (score, _) in gradebook_cells(course, assignment, students).items():
        grades.setdefault(student, {})[cell] = score
    return grades


def banks():
    """{assignment: bank module} for every module in tests/banks."""
    import banks as package
    found = {}
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"banks.{info.name}")
        found[module.ASSIGNMENT] = module
    return {a: found[a] for a in assignments() if a in found}


def bank_cases(bank):
    """{student: Case} of a bank: the solution, the untouched release, each mistake and alternative."""
    cases = {"solution": Case(), "untouched": Case(blank=True, loses=tuple(test_cells(bank.ASSIGNMENT)))}
    cases.update({"mistake-" + name.replace("_", "-"): c for name, c in bank.MISTAKES.items()})
    cases.update({"alternative-" + name.replace("_", "-"): c for name, c in bank.ALTERNATIVES.items()})
    return cases


def grade_cases(assignment, cases, root, workers=2, settings=None):
    """Write every case and grade them all in one run; return the grading report."""
    from autograder import course

    submissions = os.path.join(root, "submissions")
    for student, case in cases.items():
        write_case(submissions, student, assignment, case)
    return course.grade(submissions, os.path.join(root, "course"), workers=workers, settings=settings)


def autograded_text(course_root, student, assignment):
    """Everything the autograded notebooks of one student printed, as one string."""
    folder = os.path.join(course_root, "autograded", student, assignment)
    chunks = []
    for name in sorted(os.listdir(folder)):
        if name.endswith(".ipynb"):
            for cell in nbformat.read(os.path.join(folder, name), as_version=4).cells:
                for output in cell.get("outputs", []):
                    chunks.append(output.get("text", "") + output.get("evalue", ""))
    return "\n".join(chunks)


def stock_autograde(submissions, assignment, root):
    """{student: {test cell: score}} from plain `nbgrader autograde`, stock configuration: the tests
    run in the student's kernel. What this project's grader is compared against."""
    import subprocess
    import sys

    course = os.path.join(root, "stock")
    os.makedirs(course)
    with open(os.path.join(course, "nbgrader_config.py"), "w") as f:
        f.write(f"c = get_config()\nc.CourseDirectory.source_directory = {SOLUTIONS!r}\nc.Execute.timeout = 120\n")
    os.symlink(os.path.abspath(submissions), os.path.join(course, "submitted"))
    for step in ("generate_assignment", "autograde"):   # autograde exits 1 when a submission fails
        subprocess.run([sys.executable, "-m", "nbgrader", step, assignment], cwd=course, check=step != "autograde",
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cell_grades(course, assignment)
