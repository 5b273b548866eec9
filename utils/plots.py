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


def plot_cost(history, ylabel="cost J", title="Cost during training", log=False, xlabel="iteration"):
    """Plot the cost after each iteration of gradient descent, or (xlabel="epoch") after each epoch."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(np.arange(1, len(history) + 1), history)
    ax.set_xlabel(xlabel)
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


def plot_decision_boundaries(models, X, y, resolution=100, title=None):
    """Side by side, each model's decision boundary f(x) = 0.5 over 2-D data X (m, 2) coloured by label y.

    models: {title: model}, where a model is a Keras model (its predict is used) or a callable
    mapping an (k, 2) array to probabilities f of shape (k,) or (k, 1). The background shades
    f from 0 (blue) to 1 (red); the black line is where f = 0.5, where the prediction changes.
    """
    X, y = np.asarray(X, dtype=np.float64), np.ravel(y)
    pad = 0.25 * (X.max(axis=0) - X.min(axis=0))
    (x0_min, x1_min), (x0_max, x1_max) = X.min(axis=0) - pad, X.max(axis=0) + pad
    g0, g1 = np.meshgrid(np.linspace(x0_min, x0_max, resolution), np.linspace(x1_min, x1_max, resolution))
    grid = np.column_stack([g0.ravel(), g1.ravel()])
    fig, axes = plt.subplots(1, len(models), figsize=(4.2 * len(models), 3.9), squeeze=False)
    for ax, (name, model) in zip(axes.flat, models.items()):
        # one batch for the whole grid: predict's default of 32 rows would take hundreds of steps
        predict = (lambda G, m=model: m.predict(G, batch_size=len(G), verbose=0)) if hasattr(model, "predict") \
            else model
        f = np.asarray(predict(grid), dtype=np.float64).reshape(g0.shape)
        ax.contourf(g0, g1, f, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.35)
        ax.contour(g0, g1, f, levels=[0.5], colors="black", linewidths=1.5)
        for label, marker in ((0, "o"), (1, "^")):
            ax.scatter(X[y == label, 0], X[y == label, 1], s=14, marker=marker, edgecolors="k", linewidths=0.3,
                       color="C0" if label == 0 else "C3", label=f"y = {label}")
        ax.set(title=name, xlabel="$x_1$", ylabel="$x_2$")
        ax.legend(loc="lower right", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
