"""Numerical gradients by central differences, and the relative error to compare them.

As in CS231n: if your analytic gradient and the numerical one agree to a relative
error below 1e-7 (in float64), your backpropagation is almost certainly right.
"""
import numpy as np


def rel_error(a, b):
    """Largest elementwise |a - b| / max(1e-8, |a| + |b|)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def numerical_gradient(f, x, h=1e-5):
    """Gradient of the scalar function f() with respect to the array x, in place.

    f takes no arguments and reads x; each entry of x is nudged by +h and -h
    and restored: df/dx_i = (f(x + h e_i) - f(x - h e_i)) / 2h.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        f_plus = f()
        x[i] = old - h
        f_minus = f()
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad
