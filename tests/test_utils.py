"""utils: data, gradient checking, student-facing checks and plots, against independent references."""
import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient
from scipy.optimize import approx_fprime
from sklearn.datasets import load_digits

from utils import load_digits_01, load_mnist_01, make_regression_data, numerical_gradient, rel_error
from utils import checks, plots


# data ---------------------------------------------------------------------------------------------

def test_digits_are_the_0s_and_1s_of_scikit_learn_scaled_to_unit_range():
    X_train, X_test, y_train, y_test = load_digits_01()
    digits = load_digits()
    assert len(X_train) + len(X_test) == np.sum(digits.target <= 1)
    assert X_train.shape[1] == 64 and X_train.min() >= 0 and X_train.max() == 1.0
    assert set(np.unique(np.r_[y_train, y_test])) == {0, 1}
    # every returned row is a real 0 or 1 digit with the right label
    originals = {tuple(x / 16): t for x, t in zip(digits.data, digits.target)}
    assert all(originals[tuple(x)] == t for x, t in zip(X_train, y_train))


def test_digits_split_is_seeded_stratified_and_column_on_request():
    a, b = load_digits_01(seed=3), load_digits_01(seed=3)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert not np.array_equal(load_digits_01(seed=4)[0], a[0])
    _, X_test, _, y_test = load_digits_01(test_size=0.25)
    assert abs(y_test.mean() - 0.5) < 0.05
    assert load_digits_01(column=True)[2].shape[1] == 1


def test_mnist_loader_never_fetches(tmp_path):
    with pytest.raises(FileNotFoundError, match="never downloads"):
        load_mnist_01(tmp_path / "mnist.npz")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "mnist.npz", x_train=rng.integers(0, 256, (40, 28, 28)), y_train=np.arange(40) % 10,
             x_test=rng.integers(0, 256, (10, 28, 28)), y_test=np.arange(10) % 10)
    X_train, X_test, y_train, y_test = load_mnist_01(tmp_path / "mnist.npz", test_size=0.5)
    assert X_train.shape[1] == 784 and X_train.max() <= 1 and set(np.r_[y_train, y_test]) == {0, 1}
    assert len(X_train) + len(X_test) == 10


def test_regression_data_is_seeded_and_curved():
    X, y = make_regression_data(200, seed=1)
    assert X.shape == y.shape == (200, 1)
    assert np.array_equal(make_regression_data(200, seed=1)[1], y)
    line = np.polyfit(X[:, 0], y[:, 0], 1)
    quad = np.polyfit(X[:, 0], y[:, 0], 2)
    assert np.allclose(quad, [3, -1, 0.5], atol=0.1)
    assert np.mean((np.polyval(line, X[:, 0]) - y[:, 0]) ** 2) > 5 * np.mean((np.polyval(quad, X[:, 0]) - y[:, 0]) ** 2)


# gradient checking ---------------------------------------------------------------------------------

def test_rel_error_is_cs231n_definition():
    assert rel_error(1.0, 1.0) == 0.0
    assert rel_error(1.0, 3.0) == pytest.approx(2 / 4)
    assert rel_error(0.0, 0.0) == 0.0
    assert rel_error([1.0, 0.0], [1.0, 1e-9]) == pytest.approx(1e-9 / 1e-8)


def test_numerical_gradient_matches_analytic_and_scipy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4))
    f = lambda: float(np.sum(np.sin(x) * x ** 2))
    analytic = np.cos(x) * x ** 2 + 2 * x * np.sin(x)
    x_before = x.copy()
    num = numerical_gradient(f, x)
    assert np.array_equal(x, x_before), "numerical_gradient must restore x"
    assert rel_error(num, analytic) < 1e-8
    flat = approx_fprime(x.ravel(), lambda v: float(np.sum(np.sin(v) * v ** 2)), 1e-7)
    assert np.allclose(num.ravel(), flat, atol=1e-5)


def test_numerical_gradient_detects_a_wrong_gradient():
    x = np.array([1.0, -2.0, 0.5])
    num = numerical_gradient(lambda: float(np.sum(x ** 3)), x)
    assert rel_error(num, 3 * x ** 2) < 1e-8
    assert rel_error(num, 2 * x ** 2) > 1e-2


# student-facing checks ------------------------------------------------------------------------------

@pytest.mark.parametrize("got, phrase", [
    (12.0, "1/m"), (4.0 / 3, "1/m is applied twice"), (-4.0, "wrong sign"), (5.0, "max difference"),
    (np.nan, "nan"), (None, "return"), (np.array([4.0, 4.0]), "shape"),
])
def test_check_close_names_the_mistake(got, phrase):
    with pytest.raises(AssertionError, match=None) as err:
        checks.check_close("cost", got, 4.0, m=3)
    assert phrase in str(err.value)


def test_check_close_passes_close_values_and_uses_hints():
    checks.check_close("x", [1.0, 2.0], np.array([1.0, 2.0]) + 1e-12)
    with pytest.raises(AssertionError, match="add the other term"):
        checks.check_close("x", 0.7, 1.0, hints=[(0.7, "add the other term")])


def test_check_shape_spots_a_transpose():
    with pytest.raises(AssertionError, match="transposed"):
        checks.check_shape("W1", np.zeros((25, 64)), (64, 25))
    checks.check_shape("W1", np.zeros((64, 25)), (64, 25))


def test_probability_binary_unchanged_and_warning_checks():
    checks.check_probabilities("f", [0.0, 0.5, 1.0])
    with pytest.raises(AssertionError, match="sigmoid"):
        checks.check_probabilities("f", [-0.2, 1.3])
    checks.check_binary("p", np.array([0, 1, 1]), (3,))
    with pytest.raises(AssertionError, match="Threshold"):
        checks.check_binary("p", np.array([0.2, 0.9, 0.6]), (3,))
    with pytest.raises(AssertionError, match="integers"):
        checks.check_binary("p", np.array([0.0, 1.0]), (2,))
    with pytest.raises(AssertionError, match="in place"):
        checks.check_unchanged("w_in", np.zeros(2), np.ones(2))
    naive = lambda z: 1 / (1 + np.exp(-z))
    with pytest.raises(AssertionError, match="overflowed"):
        checks.check_no_warnings("sigmoid", naive, np.array([-1000.0]))
    assert checks.check_no_warnings("f", np.tanh, np.array([1.0])) == pytest.approx(np.tanh(1.0))


@pytest.mark.slow
def test_a_failed_check_in_a_kernel_shows_the_diagnosis_first_and_only_the_students_lines():
    """What JupyterLab and Validate show: the kernel's error output for a failing check."""
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import numpy as np\nfrom utils.checks import check_call, check_close, expect"),
        nbformat.v4.new_code_cell("def forward(X):\n    Z = X @ np.ones((4, 1))\n    return Z"),
        nbformat.v4.new_code_cell('check_close("sigmoid(ln 3)", 0.25, 0.75, hints=[(0.25, "that is g(-z).")])'),
        nbformat.v4.new_code_cell('check_call("forward", forward, np.ones((2, 3)))'),
        nbformat.v4.new_code_cell('expect(len([]) == 1, "J_history should hold one cost per iteration.")'),
    ])
    NotebookClient(nb, kernel_name="python3", allow_errors=True, timeout=120).execute()
    shown = ["\n".join(cell.outputs[0]["traceback"]) for cell in nb.cells[2:]]
    assert shown[0].startswith("\x1b[0;31m\u2718 sigmoid(ln 3) is wrong: that is g(-z).")
    assert shown[1].startswith("\x1b[0;31m\u2718 forward crashed because shapes do not fit")
    assert "ValueError raised in your code:" in shown[1] and "Z = X @ np.ones((4, 1))" in shown[1]
    assert shown[2] == "\x1b[0;31m\u2718 J_history should hold one cost per iteration.\x1b[0m"
    assert not any("utils" in text or "site-packages" in text for text in shown), shown
    assert all(cell.outputs[0]["ename"] == "CheckFailed" for cell in nb.cells[2:])


def test_compare_prints_exact_approx_and_maxdiff(capsys):
    assert checks.compare("dW1", np.ones(3), np.ones(3) + 1e-12)
    assert not checks.compare("dW1", np.ones(3), np.zeros(3))
    out = capsys.readouterr().out
    assert "exact: False | approx: True" in out and "maxdiff: 1.00e+00" in out


# plots -----------------------------------------------------------------------------------------------

def test_plots_draw_what_they_are_given():
    X, _, y, _ = load_digits_01()
    fig = plots.plot_digits(X, y, predictions=1 - y, n=10)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 10 and np.array_equal(shown[0].images[0].get_array(), X[0].reshape(8, 8))
    assert shown[0].title.get_color() == "red"
    fig = plots.plot_cost([3.0, 2.0, 1.0])
    assert list(fig.axes[0].lines[0].get_ydata()) == [3.0, 2.0, 1.0]
    fig = plots.plot_weights(np.arange(64.0))
    assert fig.axes[0].images[0].get_array().shape == (8, 8)
    fig = plots.plot_activations({"tanh": np.tanh})
    assert np.allclose(fig.axes[0].lines[0].get_ydata(), np.tanh(fig.axes[0].lines[0].get_xdata()))
    with pytest.raises(ValueError):
        plots.plot_weights(np.zeros(10))
