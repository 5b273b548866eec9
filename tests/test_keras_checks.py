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


def test_adam_is_checked_by_class_and_learning_rate():
    for optimizer in (tf.keras.optimizers.Adam(learning_rate=0.001), "adam"):
        ok = model_of(3)
        ok.compile(loss="binary_crossentropy", optimizer=optimizer)
        assert kc.check_adam(ok, learning_rate=0.001) == "Adam"
    for optimizer, match in [(None, "RMSprop, which is what compile uses when it is given no optimizer"),
                             (tf.keras.optimizers.SGD(0.001), "SGD, plain"),
                             (tf.keras.optimizers.Adam(0.01), "learning rate is 0.01, expected 0.001"),
                             (tf.keras.optimizers.Nadam(0.001), "Nadam, expected Adam")]:
        wrong = model_of(3)
        wrong.compile(loss="binary_crossentropy", **({} if optimizer is None else {"optimizer": optimizer}))
        fails(kc.check_adam, wrong, match=match)
    fails(kc.check_adam, model_of(3), match="not compiled")


def test_hidden_nonlinear_accepts_a_network_and_refuses_a_linear_model():
    kc.check_hidden_nonlinear(model_of(2, units=(16, 1), acts=("relu", "sigmoid")), 2, "build_circles_model")
    kc.check_hidden_nonlinear(model_of(2, units=(8, 8, 1), acts=("linear", tf.nn.tanh, "sigmoid")), 2, "f")
    fails(kc.check_hidden_nonlinear, model_of(2, units=(16, 8, 1), acts=("linear", None, "sigmoid")), 2, "f",
          match="every hidden layer is linear")
    fails(kc.check_hidden_nonlinear, model_of(2, units=(1,), acts=("sigmoid",)), 2, "f", match="no hidden layer")
    fails(kc.check_hidden_nonlinear, model_of(2, units=(16, 1), acts=("relu", "linear")), 2, "f",
          match="Dense\\(1, activation='sigmoid'\\)")
    fails(kc.check_hidden_nonlinear, model_of(3, units=(16, 1), acts=("relu", "sigmoid")), 2, "f",
          match="built a model for 3 input features")


def test_decision_boundaries_and_the_cost_plot_label():
    import matplotlib
    matplotlib.use("Agg")
    from utils.plots import plot_cost, plot_decision_boundaries
    X = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    fig = plot_decision_boundaries({"a model": model_of(2, units=(3, 1), acts=("relu", "sigmoid")),
                                    "a function": lambda G: (G[:, 0] > 0.5).astype(float)}, X, [0, 1, 0, 1],
                                   resolution=20)
    assert [ax.get_title() for ax in fig.axes[:2]] == ["a model", "a function"]
    assert plot_cost([3, 2, 1], xlabel="epoch").axes[0].get_xlabel() == "epoch"
    assert plot_cost([3, 2, 1]).axes[0].get_xlabel() == "iteration"
