"""Notebook 02 through the real nbgrader autograde: its mistake bank and correct alternatives."""
import pytest
from bank_cases import make_bank_tests
from banks import nb02

(graded, in_kernel, test_case_earns_exactly_its_expected_grades,
 test_the_evaluator_and_the_students_kernel_give_the_same_verdicts, test_the_visible_test_names_the_mistake,
 test_every_mistake_loses_some_points_but_not_all) = make_bank_tests(nb02)

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]
