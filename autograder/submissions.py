"""Synthetic submissions: the student release with answer cells filled in.

The benchmark, the sample submissions and the tests all build students from these: the solution's
answers (solution_answers), some replaced, written into the release as handed out.
"""
import os

import nbformat

from autograder import NOTEBOOKS, SOLUTIONS, markers


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
                answers[meta["grade_id"]] = markers.answer(cell.source)
    return answers


def filled_notebooks(assignment, answers, source=NOTEBOOKS):
    """{notebook file name: notebook from source (the release) with the given answer cells filled in}."""
    filled = {}
    for name in notebook_names(assignment):
        nb = nbformat.read(os.path.join(source, assignment, name), as_version=4)
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
