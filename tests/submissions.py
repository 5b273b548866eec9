"""Build student submissions from the release: the solution's answers, a mistake, or nothing.

A submission is the student notebook with some answer cells (by nbgrader
grade_id) replaced, as a student would fill them in.
"""
import importlib
import os
import pkgutil

import nbformat

from autograder import NOTEBOOKS, SOLUTIONS, assignments

SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def notebook_names(assignment):
    return sorted(f for f in os.listdir(os.path.join(SOLUTIONS, assignment)) if f.endswith(".ipynb"))


def solution_answers(assignment):
    """{grade_id: source} of every answer cell in the solution, markers removed."""
    answers = {}
    for name in notebook_names(assignment):
        nb = nbformat.read(os.path.join(SOLUTIONS, assignment, name), as_version=4)
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("solution"):
                lines = [ln for ln in cell.source.splitlines() if ln.strip() not in SOLUTION_MARKERS]
                answers[meta["grade_id"]] = "\n".join(lines)
    return answers


def filled_notebooks(assignment, answers):
    """{notebook file name: release notebook with the given answer cells filled in}."""
    filled = {}
    for name in notebook_names(assignment):
        nb = nbformat.read(os.path.join(NOTEBOOKS, assignment, name), as_version=4)
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id in answers:
                cell.source = answers[grade_id]
        filled[name] = nb
    return filled


def write_submission(root, student, assignment, answers=None, edit=None):
    """Write root/student/assignment/*.ipynb: the release with answers filled in.

    answers=None leaves the release untouched; edit(nb) may change a notebook further.
    """
    folder = os.path.join(root, student, assignment)
    os.makedirs(folder, exist_ok=True)
    for name, nb in filled_notebooks(assignment, answers or {}).items():
        if edit is not None:
            edit(nb)
        nbformat.write(nb, os.path.join(folder, name))
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


def banks():
    """{assignment: bank module} for every module in tests/banks."""
    import banks as package
    found = {}
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"banks.{info.name}")
        found[module.ASSIGNMENT] = module
    return {a: found[a] for a in assignments() if a in found}


def grade_bank(assignment, bank, root):
    """Grade the solution, the untouched release, every mistake and every alternative in one run.

    Returns {student: Outcome}; students are named solution, untouched,
    mistake-<name> and alternative-<name>. bank.EDITS may add cells to a mistake's notebook.
    """
    from autograder import course

    submissions = os.path.join(root, "submissions")
    answers = solution_answers(assignment)
    write_submission(submissions, "solution", assignment, answers)
    write_submission(submissions, "untouched", assignment)
    for kind, entries in (("mistake", bank.MISTAKES), ("alternative", bank.ALTERNATIVES)):
        for name, changes in entries.items():
            write_submission(submissions, f"{kind}-{name}".replace("_", "-"), assignment, {**answers, **changes},
                             edit=getattr(bank, "EDITS", {}).get(name))
    report = course.grade(submissions, os.path.join(root, "course"), workers=2)
    return {o.student: o for o in report.outcomes if o.assignment == assignment}


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
