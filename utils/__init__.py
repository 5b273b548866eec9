"""Helpers shared by the course notebooks: data, plots, gradient checking, checks.

Nothing here implements a graded function: the students write those.
"""
from utils.data import load_digits_01, load_mnist_01, make_regression_data
from utils.gradient_check import numerical_gradient, rel_error
from utils.init import init_params
from utils.checks import compare

__all__ = [
    "load_digits_01", "load_mnist_01", "make_regression_data",
    "numerical_gradient", "rel_error", "compare", "init_params",
]
