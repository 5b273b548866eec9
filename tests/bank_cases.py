"""The checks every bank test file makes: mistakes lose points, alternatives earn full marks."""
import pytest


def make_bank_tests(bank):
    """Return the test functions for one assignment's bank, to be bound in a test module."""
    from submissions import autograded_text, grade_bank

    @pytest.fixture(scope="module")
    def graded(tmp_path_factory):
        root = tmp_path_factory.mktemp(bank.ASSIGNMENT)
        outcomes = grade_bank(bank.ASSIGNMENT, bank, root)
        outcomes["_root"] = root
        return outcomes

    def test_solution_earns_full_marks(graded):
        o = graded["solution"]
        assert o.ok and o.max_score > 0 and o.score == o.max_score, o

    def test_untouched_release_earns_zero(graded):
        o = graded["untouched"]
        assert o.ok and o.score == 0 and o.max_score == graded["solution"].max_score, o

    @pytest.mark.parametrize("name", sorted(bank.MISTAKES))
    def test_mistake_loses_points(graded, name):
        o = graded["mistake-" + name.replace("_", "-")]
        assert o.ok, o.error
        assert o.score < o.max_score, f"mistake {name} earned full marks"
        assert o.score > 0, f"mistake {name} lost every point: the bank entry should break one thing"

    @pytest.mark.parametrize("name", sorted(bank.ALTERNATIVES))
    def test_alternative_earns_full_marks(graded, name):
        o = graded["alternative-" + name.replace("_", "-")]
        assert o.ok and o.score == o.max_score, o

    @pytest.mark.parametrize("name", sorted(getattr(bank, "MESSAGES", {})))
    def test_visible_test_names_the_mistake(graded, name):
        student = "mistake-" + name.replace("_", "-")
        text = autograded_text(graded["_root"] / "course", student, bank.ASSIGNMENT)
        assert bank.MESSAGES[name] in text, f"no message containing {bank.MESSAGES[name]!r} for mistake {name}"

    return graded, test_solution_earns_full_marks, test_untouched_release_earns_zero, \
        test_mistake_loses_points, test_alternative_earns_full_marks, test_visible_test_names_the_mistake
