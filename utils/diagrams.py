"""Drawings for notebook 02: the network as columns of units, and how the forward cache feeds
backpropagation. They only draw boxes, dots and arrows; nothing here computes a layer or a gradient.
"""
import matplotlib.pyplot as plt
from matplotlib.collections import LineCollection
from matplotlib.patches import FancyArrowPatch

MAX_DRAWN = 25          # a layer with more units is drawn as its first units and an ellipsis
_UNIT, _EDGE = "#4c72b0", "#c8c8c8"


def _shown(n_units):
    """How many of a layer's units are drawn."""
    return n_units if n_units <= MAX_DRAWN else 16


def draw_network(layer_sizes=(25, 15, 1), n_features=64, ax=None):
    """Draw a network of dense layers as columns of units, each labelled with its size and the
    shapes of W^[l] (n_in, n_units) and b^[l] (n_units,). Returns the figure.

    Each column is one scatter (a PathCollection) whose gid is "layer{l}" (l = 0 for the inputs), one
    point per unit; a layer larger than MAX_DRAWN units shows its first 16 and an ellipsis.
    """
    sizes = [int(n_features)] + [int(n) for n in layer_sizes]
    if ax is None:
        fig, ax = plt.subplots(figsize=(1.9 * len(sizes) + 0.6, 3.6))
    fig = ax.figure
    height = max(_shown(n) for n in sizes)
    columns = []
    for l, n in enumerate(sizes):
        shown = _shown(n)
        gap = height / max(shown, 1)
        ys = [height / 2 - (k + 0.5) * gap for k in range(shown)]
        columns.append(ys)
        ax.scatter([l] * shown, ys, s=min(60.0, max(12.0, 260.0 / shown)), facecolor="white" if l == 0 else _UNIT,
                   edgecolor=_UNIT, lw=0.8, zorder=3, gid=f"layer{l}")
        if shown < n:
            ax.text(l, -height / 2 - 0.1, "⋮", ha="center", va="top", fontsize=12)
    edges = [[(l - 1, y0), (l, y1)] for l in range(1, len(sizes)) for y0 in columns[l - 1] for y1 in columns[l]]
    ax.add_collection(LineCollection(edges, colors=_EDGE, linewidths=0.3, zorder=1, gid="edges"))
    bottom = -height / 2 - 1.0
    ax.text(0, bottom, f"input\n$A^{{[0]}} = X$\n{sizes[0]} features", ha="center", va="top", fontsize=9,
            gid="label0")
    for l in range(1, len(sizes)):
        ax.text(l, bottom, f"layer {l}\n{sizes[l]} unit{'s' if sizes[l] > 1 else ''}\n"
                           f"$W^{{[{l}]}}$: ({sizes[l - 1]}, {sizes[l]})\n$b^{{[{l}]}}$: ({sizes[l]},)",
                ha="center", va="top", fontsize=9, gid=f"label{l}")
    ax.set_xlim(-0.6, len(sizes) - 0.4)
    ax.set_ylim(bottom - 3.2, height / 2 + 0.5)
    ax.set_aspect("auto")
    ax.axis("off")
    ax.set_title("-".join(map(str, sizes)) + " network: each column is a layer", fontsize=10)
    fig.tight_layout()
    return fig


def _box(ax, x, y, text, color):
    ax.text(x, y, text, ha="center", va="center", fontsize=10, zorder=3, gid="box",
            bbox=dict(boxstyle="round,pad=0.3", facecolor=color, edgecolor="0.4", lw=0.8))


def _arrow(ax, start, end, color="0.25", style="-|>", ls="-", rad=0.0, shrink=13):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=10, color=color, lw=1.0,
                                 linestyle=ls, connectionstyle=f"arc3,rad={rad}", shrinkA=shrink,
                                 shrinkB=shrink, zorder=2))


def draw_backprop(n_layers=3, ax=None):
    """Draw forward propagation (A0 -> Z1 -> A1 -> ... -> cost J, top row), backpropagation
    (dZ[L] -> dA[L-1] -> dZ[L-1] -> ... -> dZ1, middle row, right to left), the gradients each
    layer hands to gradient descent (dW, db, bottom row), and the cache entries each backward
    step reads (dashed arrows). Returns the figure."""
    L = int(n_layers)
    if ax is None:
        fig, ax = plt.subplots(figsize=(1.15 * (2 * L + 2) + 0.6, 3.4))
    fig = ax.figure
    top, mid, low = 2.0, 1.0, 0.0
    fwd, back, cache = "#dbe8f6", "#f9e0cc", "#2a7f3f"
    _box(ax, 0, top, "$A^{[0]}$", fwd)
    for l in range(1, L + 1):
        _box(ax, 2 * l - 1, top, f"$Z^{{[{l}]}}$", fwd)
        _box(ax, 2 * l, top, f"$A^{{[{l}]}}$", fwd)
        _arrow(ax, (2 * l - 2, top), (2 * l - 1, top))
        _arrow(ax, (2 * l - 1, top), (2 * l, top))
    _box(ax, 2 * L + 1, top, "$J$", "white")
    _arrow(ax, (2 * L, top), (2 * L + 1, top))
    for l in range(L, 0, -1):
        _box(ax, 2 * l - 1, mid, f"$dZ^{{[{l}]}}$", back)
        _box(ax, 2 * l - 1, low, f"$dW^{{[{l}]}}, db^{{[{l}]}}$", back)
        _arrow(ax, (2 * l - 1, mid), (2 * l - 1, low))
        if l > 1:
            _box(ax, 2 * l - 2, mid, f"$dA^{{[{l - 1}]}}$", back)
            _arrow(ax, (2 * l - 1, mid), (2 * l - 2, mid))
            _arrow(ax, (2 * l - 2, mid), (2 * l - 3, mid))
            _arrow(ax, (2 * l - 3, top), (2 * l - 3, mid), color=cache, ls="--")       # Z[l-1] -> dZ[l-1]
        _arrow(ax, (2 * l - 2, top), (2 * l - 1, low), color=cache, ls="--", rad=0.25)   # A[l-1] -> dW[l]
    _arrow(ax, (2 * L, top), (2 * L - 1, mid), color=cache, ls="--")                   # A[L] -> dZ[L]
    ax.text(2 * L + 1, mid, "backward:\nright to left", ha="center", va="center", fontsize=8, color="0.3")
    ax.plot([], [], color="0.25", label="computes")
    ax.plot([], [], color=cache, ls="--", label="read from the cache")
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    ax.set_xlim(-0.6, 2 * L + 1.6)
    ax.set_ylim(-0.5, 2.5)
    ax.axis("off")
    ax.set_title("Forward (top) fills the cache; backward (middle) reads it and gives the gradients (bottom)",
                 fontsize=10)
    fig.tight_layout()
    return fig
