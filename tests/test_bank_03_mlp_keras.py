"""Notebook 03 through the real nbgrader autograde: its mistake bank and correct alternatives."""
from bank_cases import make_bank_tests
from banks import nb03

(graded, test_solution_earns_full_marks, test_untouched_release_earns_zero,
 test_mistake_loses_points, test_alternative_earns_full_marks,
 test_visible_test_names_the_mistake) = make_bank_tests(nb03)
