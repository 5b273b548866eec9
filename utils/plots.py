"""Plots the notebooks show: digits, cost curves, weights as images, activations."""
import matplotlib.pyplot as plt
import numpy as np


def _side(n_features):
    side = int(round(np.sqrt(n_features)))
    if side * side != n_features:
        raise ValueError(f"{n_features} features do not make a square image")
    return side


def plot_digits(X, y, predictions=None, n=24, cols=8, title=None):
    """Show the first n rows of X as images, titled with the label (and prediction)."""
    n = min(n, len(X))
    rows = int(np.ceil(n / cols))
    side = _side(X.shape[1])
    fig, axes = plt.subplots(rows, cols, figsize=(1.2 * cols, 1.4 * rows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= n:
            continue
        ax.imshow(X[k].reshape(side, side), cmap="gray_r", vmin=0, vmax=1)
        label = int(np.ravel(y)[k])
        if predictions is None:
            ax.set_title(f"y={label}", fontsize=9)
        else:
            guess = int(np.ravel(predictions)[k])
            ax.set_title(f"y={label} ŷ={guess}", fontsize=9, color="black" if guess == label else "red")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_cost(history, ylabel="cost J", title="Cost during training", log=False):
    """Plot the cost after each iteration (or epoch)."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(np.arange(1, len(history) + 1), history)
    ax.set_xlabel("iteration")
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_weights(w, title="Learned weights"):
    """Show a weight vector over the pixels as an image: red pushes towards 1, blue towards 0."""
    w = np.ravel(w)
    side = _side(w.size)
    limit = float(np.max(np.abs(w))) or 1.0
    fig, ax = plt.subplots(figsize=(3.5, 3.2))
    image = ax.imshow(w.reshape(side, side), cmap="bwr", vmin=-limit, vmax=limit)
    fig.colorbar(image, ax=ax)
    ax.set_title(title)
    ax.axis("off")
    fig.tight_layout()
    return fig


def plot_activations(functions, z=None):
    """Plot each named activation function g(z), given as {name: callable}."""
    z = np.linspace(-5, 5, 201) if z is None else z
    fig, axes = plt.subplots(1, len(functions), figsize=(3.2 * len(functions), 2.8), squeeze=False)
    for ax, (name, g) in zip(axes.flat, functions.items()):
        ax.plot(z, g(z))
        ax.set_title(name)
        ax.set_xlabel("z")
        ax.axhline(0, color="gray", lw=0.5)
        ax.axvline(0, color="gray", lw=0.5)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_costs(histories, title="Cost during training", log=True):
    """Plot several cost curves on one axis, given as {label: history}."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label, history in histories.items():
        ax.plot(np.arange(1, len(history) + 1), history, label=str(label))
    ax.set_xlabel("epoch")
    ax.set_ylabel("cost J")
    if log:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_hardest(X, y, probabilities, n=16, cols=8, title=None):
    """Show the n examples the model got most wrong: misclassified first, then the least confident.

    probabilities are the model's outputs f(x) in [0, 1]. Each image is titled
    with the label, the prediction and f(x), in red when the prediction is wrong.
    """
    y, p = np.ravel(y), np.ravel(probabilities)
    order = np.argsort(-np.abs(p - y), kind="stable")[:min(n, len(p))]
    rows = int(np.ceil(len(order) / cols))
    side = _side(X.shape[1])
    fig, axes = plt.subplots(rows, cols, figsize=(1.3 * cols, 1.95 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, order):
        guess = int(p[i] >= 0.5)
        ax.imshow(X[i].reshape(side, side), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f"y={int(y[i])} ŷ={guess}\nf={p[i]:.2f}", fontsize=8,
                     color="red" if guess != int(y[i]) else "black")
    n_wrong = int(np.sum((p >= 0.5).astype(int) != y))
    fig.suptitle(f"{title + ': ' if title else ''}{n_wrong} misclassified of {len(p)}"
                 + ("" if n_wrong else "; the least confident shown"))
    fig.tight_layout()
    return fig
