"""Seeded initial weights for the NumPy network, drawn as Keras's Dense layer draws them.

Keras initialises a Dense kernel with Glorot (Xavier) uniform and its bias with
zeros. This module does the same with NumPy, so the NumPy network of notebook 02
starts where a Keras network would (same shapes, same distribution; the random
numbers themselves come from NumPy's generator, not TensorFlow's).
It is given code: it only draws numbers, it never runs the network.
"""
import numpy as np


def glorot_limit(fan_in, fan_out):
    """The Glorot uniform bound: weights are drawn from U(-limit, limit), limit = sqrt(6 / (fan_in + fan_out))."""
    return float(np.sqrt(6.0 / (fan_in + fan_out)))


def glorot_uniform(fan_in, fan_out, rng):
    """A (fan_in, fan_out) kernel drawn from U(-limit, limit), as keras.initializers.GlorotUniform draws it."""
    limit = glorot_limit(fan_in, fan_out)
    return rng.uniform(-limit, limit, size=(fan_in, fan_out))


def init_params(layer_sizes, n_features, seed=0):
    """Initial parameters {"W1", "b1", "W2", "b2", ...} of a stack of Dense layers.

    layer_sizes lists each layer's units, as Keras does, e.g. (25, 15, 1);
    n_features is the size of the input. Layer l gets W{l} of shape
    (n_in, n_units), drawn Glorot uniform, and b{l} = zeros(n_units): Keras's
    Dense kernel and bias, ready for model.set_weights. All float64. The same
    seed always gives the same numbers; the layers are drawn in order from one
    generator, np.random.default_rng(seed).
    """
    if n_features < 1 or any(int(n) < 1 for n in layer_sizes):
        raise ValueError(f"sizes must be positive: n_features={n_features}, layer_sizes={layer_sizes}")
    rng = np.random.default_rng(seed)
    params, n_in = {}, int(n_features)
    for l, n_units in enumerate(layer_sizes, start=1):
        n_units = int(n_units)
        params[f"W{l}"] = glorot_uniform(n_in, n_units, rng)
        params[f"b{l}"] = np.zeros(n_units)
        n_in = n_units
    return params


def count_params(params):
    """The number of trainable numbers in a params dict (what Keras's model.summary() calls Param #)."""
    return int(sum(np.size(v) for v in params.values()))
