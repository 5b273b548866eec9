"""utils.init against Keras: the same shapes as Dense's kernel and bias, the Glorot uniform bound and distribution."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from scipy import stats  # noqa: E402

from utils.init import count_params, glorot_limit, init_params  # noqa: E402


def test_shapes_dtypes_and_zero_biases():
    params = init_params((25, 15, 1), 64, seed=0)
    assert list(params) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    shapes = {k: v.shape for k, v in params.items()}
    assert shapes == {"W1": (64, 25), "b1": (25,), "W2": (25, 15), "b2": (15,), "W3": (15, 1), "b3": (1,)}
    assert all(v.dtype == np.float64 for v in params.values())
    assert all(np.all(params[f"b{l}"] == 0) for l in (1, 2, 3))
    assert count_params(params) == 2031


def test_seeded():
    a, b = init_params((4, 1), 3, seed=7), init_params((4, 1), 3, seed=7)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    c = init_params((4, 1), 3, seed=8)
    assert not np.array_equal(a["W1"], c["W1"])


def test_limit_formula_and_values_within_it():
    assert glorot_limit(64, 25) == pytest.approx(np.sqrt(6 / 89))
    params = init_params((25, 15, 1), 64, seed=3)
    for l, (fan_in, fan_out) in enumerate([(64, 25), (25, 15), (15, 1)], start=1):
        W, limit = params[f"W{l}"], np.sqrt(6.0 / (fan_in + fan_out))
        assert np.all(np.abs(W) <= limit)
        if W.size >= 1000:  # a big layer reaches close to both ends of the interval
            assert W.max() > 0.99 * limit and W.min() < -0.99 * limit


def test_rejects_bad_sizes():
    with pytest.raises(ValueError):
        init_params((0, 1), 3)


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


def test_shapes_are_keras_dense_weights(keras):
    """The params load into a Keras model of Dense layers with set_weights, unchanged, in order."""
    sizes, n = (25, 15, 1), 64
    model = keras.Sequential([keras.Input(shape=(n,))] + [keras.layers.Dense(u, activation="sigmoid") for u in sizes])
    params = init_params(sizes, n, seed=0)
    ours = [params[f"{p}{l}"] for l in range(1, 4) for p in ("W", "b")]
    assert [w.shape for w in model.get_weights()] == [w.shape for w in ours]
    model.set_weights(ours)
    for got, expected in zip(model.get_weights(), ours):
        np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_keras_dense_uses_glorot_uniform_and_zeros(keras):
    """What init_params imitates really is Keras's default for Dense."""
    layer = keras.layers.Dense(3)
    assert isinstance(layer.kernel_initializer, keras.initializers.GlorotUniform)
    assert isinstance(layer.bias_initializer, keras.initializers.Zeros)


@pytest.mark.parametrize("fan_in, fan_out", [(64, 25), (300, 200)])
def test_same_distribution_as_keras_glorot_uniform(keras, fan_in, fan_out):
    """Our kernel and Keras's GlorotUniform kernel: same bound, mean 0, variance limit^2 / 3, same distribution."""
    limit = glorot_limit(fan_in, fan_out)
    ours = np.concatenate([init_params((fan_out,), fan_in, seed=s)["W1"].ravel() for s in range(4)])
    theirs = np.concatenate([
        np.asarray(keras.initializers.GlorotUniform(seed=s)(shape=(fan_in, fan_out), dtype="float64")).ravel()
        for s in range(4)])
    for sample in (ours, theirs):
        assert np.all(np.abs(sample) <= limit + 1e-12)
        assert sample.max() > 0.99 * limit and sample.min() < -0.99 * limit
        assert abs(sample.mean()) < 0.02 * limit
        assert sample.var() == pytest.approx(limit**2 / 3, rel=0.05)
    assert stats.ks_2samp(ours, theirs).pvalue > 0.001
