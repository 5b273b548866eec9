"""utils.keras_checks: each check accepts a right model and names the mistake in a wrong one."""
import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
tf = pytest.importorskip("tensorflow")

from utils import keras_checks as kc  # noqa: E402

Dense = tf.keras.layers.Dense


def model_of(n_features=4, units=(25, 15, 1), acts=("sigmoid",) * 3, with_input=True, name="my_model"):
    layers = [tf.keras.Input(shape=(n_features,))] if with_input else []
    layers += [Dense(u, activation=a, name=f"layer{k}") for k, (u, a) in enumerate(zip(units, acts), 1)]
    return tf.keras.Sequential(layers, name=name)


def fails(fn, *args, match, **kw):
    with pytest.raises(AssertionError, match=match):
        fn(*args, **kw)


def test_architecture_accepts_the_network_and_names_each_mistake():
    kc.check_architecture(model_of(4), 4)
    kc.check_architecture(model_of(4, acts=(tf.nn.sigmoid, "sigmoid", tf.keras.activations.sigmoid)), 4)
    fails(kc.check_architecture, model_of(4, acts=("sigmoid", "relu", "sigmoid")), 4, match="layer2 uses the relu")
    fails(kc.check_architecture, model_of(4, units=(25, 16, 1)), 4, match="layer2 has 16 units")
    fails(kc.check_architecture, model_of(4, with_input=False), 4, match="has no Input")
    fails(kc.check_architecture, model_of(5), 4, match="built a model for 5 input features")
    fails(kc.check_architecture, model_of(4, name="sequential"), 4, match="named 'sequential'")
    fails(kc.check_architecture, model_of(4, units=(25, 1), acts=("sigmoid",) * 2), 4, match="has 2 layers")
    fails(kc.check_architecture, None, 4, match="returned None")


def test_activation_names_are_read_from_values():
    for act, name in [("sigmoid", "sigmoid"), ("relu", "relu"), (None, "linear"), ("linear", "linear"), ("tanh", "tanh")]:
        assert kc.activation_name(Dense(2, activation=act)) == name


@pytest.mark.parametrize("loss, expected", [
    ("binary_crossentropy", ("binary_crossentropy", False)),
    ("bce", ("binary_crossentropy", False)),
    ("mse", ("mean_squared_error", False)),
])
def test_loss_of_resolves_strings(loss, expected):
    model = model_of(3)
    model.compile(loss=loss, optimizer="adam")
    assert kc.loss_of(model) == expected


def test_classification_loss():
    ok = model_of(3)
    ok.compile(loss=tf.keras.losses.BinaryCrossentropy(), optimizer="adam")
    kc.check_classification_loss(ok)
    for loss, match in [(tf.keras.losses.BinaryCrossentropy(from_logits=True), "from_logits=True"),
                        (tf.keras.losses.MeanSquaredError(), "which is for regression")]:
        wrong = model_of(3)
        wrong.compile(loss=loss, optimizer="adam")
        fails(kc.check_classification_loss, wrong, match=match)
    fails(kc.check_classification_loss, model_of(3), match="not compiled")


def test_regression_checks():
    model = model_of(2, acts=("relu", "relu", "linear"))
    model.compile(loss=tf.keras.losses.MeanSquaredError(), optimizer="adam")
    kc.check_output_layer(model, 2)
    kc.check_regression_loss(model)
    fails(kc.check_output_layer, model_of(2), 2, match="uses the sigmoid activation")
    wrong = model_of(2, acts=("relu", "relu", "linear"))
    wrong.compile(loss="binary_crossentropy", optimizer="adam")
    fails(kc.check_regression_loss, wrong, match="which is for 0/1 labels")


def test_param_counts():
    kc.check_param_counts({"layer1": 125, "layer2": 390, "layer3": 16, "total": 531}, 4)
    fails(kc.check_param_counts, {"layer1": 100, "layer2": 375, "layer3": 15}, 4, match="counts only the weights")
    fails(kc.check_param_counts, {"layer1": 125, "layer2": 390, "layer3": 16, "total": 530}, 4, match="not the sum")


def test_weights_loaded_and_transposed():
    rng = np.random.default_rng(0)
    params = {"W1": rng.normal(size=(4, 4)), "b1": rng.normal(size=4),
              "W2": rng.normal(size=(4, 3)), "b2": rng.normal(size=3),
              "W3": rng.normal(size=(3, 1)), "b3": rng.normal(size=1)}
    model = model_of(4, units=(4, 3, 1))
    for k, layer in enumerate(model.layers, 1):
        layer.set_weights([params[f"W{k}"], params[f"b{k}"]])
    kc.check_weights_loaded(model, params)
    model.layers[0].set_weights([params["W1"].T, params["b1"]])
    fails(kc.check_weights_loaded, model, params, match="transposed")

    def load_transposed(m, p):
        for k, layer in enumerate(m.layers, 1):
            layer.set_weights([p[f"W{k}"].T, p[f"b{k}"]])
        return m
    fails(kc.call_load, load_transposed, model_of(4), {**params, "W1": rng.normal(size=(4, 25))},
          match="not transposed")
    fails(kc.call_load, load_transposed, model_of(4, with_input=False), params, match="no weights yet")


def test_history_and_float64():
    model = model_of(2, units=(3, 2, 1))
    model.compile(loss="binary_crossentropy", optimizer="sgd")
    X, y = np.ones((4, 2)), np.ones((4, 1))
    history = model.fit(X, y, epochs=2, verbose=0)
    assert len(kc.check_history(history, 2)) == 2
    fails(kc.check_history, history, 3, match="ran for 2 epochs, expected 3")
    fails(kc.check_history, None, 3, match="returned None")
    with kc.float64():
        layer = Dense(2)
    layer.build((None, 3))
    assert layer.kernel.dtype == "float64" and Dense(2).dtype == "float32"
