"""The tests each bank file makes: every case earns exactly its expected grades, judged by the
evaluator, and each test cell's verdict is the one the student's own kernel gives."""
import os
from concurrent.futures import ProcessPoolExecutor

import pytest
from nbclient import NotebookClient

from autograder import SOLUTIONS
from cases import (autograded_text, bank_cases, banks, cell_grades, expected_grades, filled_notebooks, grade_cases,
                   solution_answers)


def kernel_verdicts(assignment, student, folder):
    """{test cell: passed} when a bank case's notebook, hidden tests included, runs in a plain kernel
    (as stock nbgrader runs it, and as JupyterLab runs the visible tests): a test passes unless it raises."""
    case = bank_cases(banks()[assignment])[student]
    if case.blank:
        release = filled_notebooks(assignment, {})
        answers = {c.metadata["nbgrader"]["grade_id"]: c.source for nb in release.values() for c in nb.cells
                   if c.metadata.get("nbgrader", {}).get("solution")}
    else:
        answers = {**solution_answers(assignment), **case.answers}
    verdicts = {}
    for name, nb in filled_notebooks(assignment, answers, source=SOLUTIONS).items():
        if case.edit is not None:
            case.edit(nb)
        os.makedirs(folder, exist_ok=True)
        NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": folder}}).execute()
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade") and not meta.get("solution"):
                verdicts[meta["grade_id"]] = not any(o.output_type == "error" for o in cell.outputs)
    return verdicts


def make_bank_tests(bank):
    """Return the test functions for one assignment's bank, to be bound in a test module."""
    cases = bank_cases(bank)

    @pytest.fixture(scope="module")
    def graded(tmp_path_factory):
        root = tmp_path_factory.mktemp(bank.ASSIGNMENT)
        report = grade_cases(bank.ASSIGNMENT, cases, str(root))
        return {"root": root, "outcomes": {o.student: o for o in report.outcomes},
                "grades": cell_grades(str(root / "course"), bank.ASSIGNMENT)}

    @pytest.fixture(scope="module")
    def in_kernel(tmp_path_factory):
        root = tmp_path_factory.mktemp(bank.ASSIGNMENT + "-kernel")
        with ProcessPoolExecutor(2) as pool:
            futures = {s: pool.submit(kernel_verdicts, bank.ASSIGNMENT, s, str(root / s)) for s in cases}
            return {s: f.result() for s, f in futures.items()}

    @pytest.mark.parametrize("student", sorted(cases))
    def test_case_earns_exactly_its_expected_grades(graded, student):
        outcome = graded["outcomes"][student]
        assert outcome.ok, outcome.error
        assert graded["grades"][student] == expected_grades(bank.ASSIGNMENT, cases[student])
        assert not outcome.events, outcome.events

    @pytest.mark.parametrize("student", sorted(cases))
    def test_the_evaluator_and_the_students_kernel_give_the_same_verdicts(graded, in_kernel, student):
        judged = {cell: score > 0 for cell, score in graded["grades"][student].items()}
        assert judged == in_kernel[student]

    @pytest.mark.parametrize("student", sorted(s for s, c in cases.items() if c.says))
    def test_the_visible_test_names_the_mistake(graded, student):
        text = autograded_text(graded["root"] / "course", student, bank.ASSIGNMENT)
        assert cases[student].says in text, f"no message containing {cases[student].says!r}"

    def test_every_mistake_loses_some_points_but_not_all(graded):
        for name, case in bank.MISTAKES.items():
            assert 0 < len(case.loses) < len(expected_grades(bank.ASSIGNMENT, case)), name

    return (graded, in_kernel, test_case_earns_exactly_its_expected_grades,
            test_the_evaluator_and_the_students_kernel_give_the_same_verdicts, test_the_visible_test_names_the_mistake,
            test_every_mistake_loses_some_points_but_not_all)
