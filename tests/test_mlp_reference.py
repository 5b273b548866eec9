"""Notebook 02's solution against independent references: TensorFlow's GradientTape and Keras.

The solution's code is taken from the solution notebook (its answer cells, plus
the given cell that defines the activation functions) and run in a plain
namespace, so these tests check exactly what the notebook ships.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from autograder import SOLUTIONS  # noqa: E402
from cases import cell_by_id, solution_answers  # noqa: E402
from utils.gradient_check import rel_error  # noqa: E402

ASSIGNMENT = "02-mlp-numpy"
ANSWERS = ("sigmoid", "dense", "forward", "binary_cross_entropy", "mean_squared_error", "activation_backward",
           "dense_backward", "backward", "update_params", "train", "predict")

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")


def _given_cell(grade_id):
    nb = nbformat.read(os.path.join(SOLUTIONS, ASSIGNMENT, "mlp_numpy.ipynb"), as_version=4)
    return cell_by_id(nb, grade_id).source


@pytest.fixture(scope="module")
def sol():
    """The solution's functions, run from its source in a namespace with numpy as np."""
    import copy

    from utils.init import init_params

    ns = {"np": np, "copy": copy, "init_params": init_params}
    exec(_given_cell("activations"), ns)
    answers = solution_answers(ASSIGNMENT)
    for grade_id in ANSWERS:
        exec(answers[grade_id], ns)
    return ns


def _random_network(n, sizes, m, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, n))
    y = rng.integers(0, 2, size=(m, 1)).astype(np.float64)
    params, n_in = {}, n
    for l, units in enumerate(sizes, start=1):
        params[f"W{l}"] = rng.normal(size=(n_in, units))
        params[f"b{l}"] = rng.normal(size=units)
        n_in = units
    return X, y, params


TF_ACTIVATIONS = {"sigmoid": tf.sigmoid, "relu": tf.nn.relu, "linear": tf.identity}

NETWORKS = [  # (n_features, layer sizes, activations, m, seed)
    (64, (25, 15, 1), ("sigmoid", "sigmoid", "sigmoid"), 30, 0),
    (4, (6, 5, 1), ("relu", "sigmoid", "sigmoid"), 9, 1),
    (5, (7, 2, 3, 1), ("sigmoid", "relu", "linear", "sigmoid"), 11, 2),
    (2, (3, 1), ("linear", "sigmoid"), 13, 3),
    (3, (1,), ("sigmoid",), 1, 4),
    (6, (8, 8, 1), ("relu", "relu", "sigmoid"), 40, 5),
]


@pytest.mark.parametrize("n, sizes, acts, m, seed", NETWORKS)
def test_backward_equals_gradient_tape(sol, n, sizes, acts, m, seed):
    """backward's gradients equal TensorFlow's automatic differentiation of the same cost, in float64."""
    X, y, params = _random_network(n, sizes, m, seed)
    _, cache = sol["forward"](X, params, acts)
    grads = sol["backward"](y, params, cache, acts)

    variables = {k: tf.Variable(v, dtype=tf.float64) for k, v in params.items()}
    with tf.GradientTape() as tape:
        A = tf.constant(X, dtype=tf.float64)
        for l, act in enumerate(acts, start=1):
            Z = A @ variables[f"W{l}"] + variables[f"b{l}"]
            A = TF_ACTIVATIONS[act](Z)
        cost = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.constant(y), logits=Z))
    tape_grads = dict(zip(variables, tape.gradient(cost, list(variables.values()))))

    # from probabilities, log(1 - a) loses digits when a is near 1: a sanity check, not the test
    assert sol["binary_cross_entropy"](cache[f"A{len(acts)}"], y) == pytest.approx(float(cost), rel=1e-6)
    assert set(grads) == {"d" + k for k in params}
    for key, value in tape_grads.items():
        assert grads["d" + key].shape == params[key].shape
        assert rel_error(grads["d" + key], value.numpy()) < 1e-10, key


def _keras_model(n, sizes, acts):
    inputs = keras.Input(shape=(n,), dtype="float64")
    outputs, x = [], inputs
    for l, (units, act) in enumerate(zip(sizes, acts), start=1):
        x = keras.layers.Dense(units, activation=act, dtype="float64", name=f"layer{l}")(x)
        outputs.append(x)
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("n, sizes, acts, m, seed", NETWORKS)
def test_forward_equals_keras(sol, n, sizes, acts, m, seed):
    """forward equals a Keras model of Dense layers given the same weights with set_weights, layer by layer."""
    X, _, params = _random_network(n, sizes, m, seed)
    model = _keras_model(n, sizes, acts)
    model.set_weights([params[f"{p}{l}"] for l in range(1, len(sizes) + 1) for p in ("W", "b")])
    keras_outputs = model(X, training=False)
    if len(sizes) == 1:  # a one-output Keras model returns the tensor, not a list
        keras_outputs = [keras_outputs]
    A_out, cache = sol["forward"](X, params, acts)
    np.testing.assert_allclose(A_out, keras_outputs[-1].numpy(), rtol=1e-12, atol=1e-14)
    for l, out in enumerate(keras_outputs, start=1):
        np.testing.assert_allclose(cache[f"A{l}"], out.numpy(), rtol=1e-12, atol=1e-14)


def test_costs_equal_keras_losses(sol):
    """binary_cross_entropy and mean_squared_error equal Keras's loss objects (away from Keras's 1e-7 clip)."""
    rng = np.random.default_rng(9)
    p = rng.uniform(0.01, 0.99, size=(50, 1))
    y = rng.integers(0, 2, size=(50, 1)).astype(np.float64)
    bce = keras.losses.BinaryCrossentropy()(y, p)
    assert sol["binary_cross_entropy"](p, y) == pytest.approx(float(bce), rel=1e-6)
    t, f = rng.normal(size=(40, 1)), rng.normal(size=(40, 1))
    mse = keras.losses.MeanSquaredError()(t, f)
    assert sol["mean_squared_error"](f, t) == pytest.approx(float(mse), rel=1e-6)


def test_one_training_step_equals_keras_sgd(sol):
    """One epoch of train equals one full-batch step of Keras's SGD from the same initial weights."""
    from utils.init import init_params

    X, _, _ = _random_network(5, (4, 1), 16, 21)
    y = (X[:, :1] > 0).astype(np.float64)
    sizes, acts, alpha = (4, 3, 1), ("relu", "sigmoid", "sigmoid"), 0.3
    params, history = sol["train"](X, y, sizes, acts, alpha, 1, seed=5)

    initial = init_params(sizes, 5, seed=5)
    model = keras.Sequential([keras.Input(shape=(5,), dtype="float64")]
                             + [keras.layers.Dense(u, activation=a, dtype="float64") for u, a in zip(sizes, acts)])
    model.set_weights([initial[f"{p}{l}"] for l in range(1, 4) for p in ("W", "b")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=alpha),
                  loss=keras.losses.BinaryCrossentropy(from_logits=False))
    fit = model.fit(X, y, batch_size=len(X), epochs=1, shuffle=False, verbose=0)
    assert history[0] == pytest.approx(fit.history["loss"][0], rel=1e-6)
    for got, expected in zip([params[f"{p}{l}"] for l in range(1, 4) for p in ("W", "b")], model.get_weights()):
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)
