"""utils.diagrams: the drawings of notebook 02 draw, with one point per unit and the shapes labelled."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from utils.diagrams import MAX_DRAWN, draw_backprop, draw_network  # noqa: E402


def _texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts]


@pytest.mark.parametrize("sizes, n_features", [((25, 15, 1), 64), ((3, 1), 2), ((1,), 5)])
def test_network_draws_one_point_per_unit_and_labels_the_shapes(sizes, n_features):
    fig = draw_network(sizes, n_features)
    ax = fig.axes[0]
    for l, n in enumerate((n_features, *sizes)):
        (column,) = [c for c in ax.collections if c.get_gid() == f"layer{l}"]
        assert len(column.get_offsets()) == (n if n <= MAX_DRAWN else 16)
    labels = "\n".join(_texts(fig))
    n_in = n_features
    for l, n in enumerate(sizes, start=1):
        assert f"$W^{{[{l}]}}$: ({n_in}, {n})" in labels and f"$b^{{[{l}]}}$: ({n},)" in labels
        assert f"{n} unit" in labels
        n_in = n
    fig.canvas.draw()
    plt.close(fig)


def test_a_large_layer_is_cut_with_an_ellipsis():
    fig = draw_network((25, 15, 1), 64)
    assert "⋮" in _texts(fig) and "64 features" in "\n".join(_texts(fig))
    plt.close(fig)


@pytest.mark.parametrize("n_layers", [1, 3])
def test_backprop_draws_the_forward_row_the_backward_row_and_the_gradients(n_layers):
    fig = draw_backprop(n_layers)
    texts = _texts(fig)
    L = n_layers
    assert [t for t in texts if t.startswith("$A^")] == [f"$A^{{[{l}]}}$" for l in range(L + 1)]
    assert sum(t.startswith("$Z^") for t in texts) == L
    assert sum(t.startswith("$dZ^") for t in texts) == L
    assert sum(t.startswith("$dA^") for t in texts) == L - 1
    assert sum(t.startswith("$dW^") for t in texts) == L
    # arrows: 2L + 1 forward, L dZ -> dW, 2(L - 1) backward; cache: L (A -> dW), L - 1 (Z -> dZ), 1 (A[L] -> dZ[L])
    assert len(fig.axes[0].patches) == (2 * L + 1) + L + 2 * (L - 1) + L + (L - 1) + 1
    fig.canvas.draw()
    plt.close(fig)
