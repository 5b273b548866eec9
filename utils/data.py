"""The course's data: handwritten 0s and 1s, and a small regression set.

Everything ships with installed packages (scikit-learn's bundled digits), so no
notebook ever downloads anything.
"""
import os

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split


def _split(X, y, test_size, seed, column):
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, random_state=seed, stratify=y)
    if column:
        y_train, y_test = y_train.reshape(-1, 1), y_test.reshape(-1, 1)
    return X_train, X_test, y_train, y_test


def load_digits_01(test_size=0.25, seed=0, column=False):
    """Return X_train, X_test, y_train, y_test for the 8x8 digits 0 and 1.

    X has 64 features scaled to [0, 1] (pixel / 16); y is 0 or 1, shape (m,),
    or (m, 1) with column=True as the neural-network notebooks want it.
    The split is stratified and seeded, so every run sees the same examples.
    """
    digits = load_digits()
    keep = digits.target <= 1
    X = digits.data[keep].astype(np.float64) / 16.0
    y = digits.target[keep].astype(np.int64)
    return _split(X, y, test_size, seed, column)


def load_mnist_01(path, test_size=0.25, seed=0, column=False):
    """Like load_digits_01, from a local copy of Keras's mnist.npz (28x28, 784 features).

    It never fetches the file: pass the path of a copy you already have.
    """
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"{path} not found. This course never downloads data; "
            "use load_digits_01() or copy mnist.npz here first.")
    with np.load(path) as f:
        X = np.concatenate([f["x_train"], f["x_test"]]).reshape(-1, 784)
        y = np.concatenate([f["y_train"], f["y_test"]])
    keep = y <= 1
    return _split(X[keep].astype(np.float64) / 255.0, y[keep].astype(np.int64),
                  test_size, seed, column)


def make_regression_data(m=100, seed=0):
    """A small 1-feature regression set: y = 3 x^2 - x + 0.5 plus noise, x in [-1, 1].

    Returns X (m, 1) and y (m, 1). Curved on purpose, so a network with a
    hidden layer beats a straight line.
    """
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(m, 1))
    y = 3.0 * X**2 - X + 0.5 + rng.normal(0.0, 0.1, size=(m, 1))
    return X, y
