"""Keras models across the boundary: described in the kernel, rebuilt (never deserialised) in the evaluator."""
import json

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = tf.keras

from autograder.judging import mirrors, models, wire  # noqa: E402


def over_the_wire(description):
    """The description as the evaluator receives it: JSON text from the kernel, parsed with the caps."""
    return wire.loads(wire.dumps(description))


def network(activation="sigmoid", compiled=True, n=6):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(n,)), keras.layers.Dense(4, activation=activation, name="layer1"),
                              keras.layers.Dense(1, activation="sigmoid", name="layer2")], name="my_model")
    if compiled:
        model.compile(loss=keras.losses.BinaryCrossentropy(), optimizer=keras.optimizers.Adam(learning_rate=0.01))
    return model


def test_a_rebuilt_model_predicts_what_the_original_predicts_bit_for_bit():
    original = network()
    mirror, _ = mirrors.build(over_the_wire(models.describe(original)))
    X = np.random.default_rng(1).normal(size=(5, 6))
    assert mirror is not original and mirror.name == "my_model"
    assert [layer.name for layer in mirror.layers] == ["layer1", "layer2"]
    assert np.array_equal(mirror.predict(X, verbose=0), original.predict(X, verbose=0))
    assert type(mirror.loss).__name__ == "BinaryCrossentropy" and type(mirror.optimizer).__name__ == "Adam"
    assert np.isclose(float(mirror.optimizer.learning_rate.numpy()), 0.01)


def test_an_activation_given_as_a_function_is_named_as_keras_names_it():
    description = models.describe(network(activation=tf.nn.relu))
    assert description["layers"][0]["activation"] == "relu"


def test_an_updated_model_stays_the_same_object_and_takes_the_new_weights():
    original = network()
    mirror, spec = mirrors.build(over_the_wire(models.describe(original)))
    original.fit(np.ones((4, 6)), np.ones((4, 1)), epochs=2, verbose=0)
    updated, _ = mirrors.update(mirror, spec, over_the_wire(models.describe(original)))
    assert updated is mirror
    for a, b in zip(mirror.get_weights(), original.get_weights()):
        assert np.array_equal(a, b)


def test_an_unbuilt_model_crosses_unbuilt():
    model = keras.Sequential([keras.layers.Dense(3, name="only")], name="no_input")
    mirror, _ = mirrors.build(over_the_wire(models.describe(model)))
    assert not mirror.built and mirror.layers[0].units == 3


def edit(description, change):
    description = json.loads(json.dumps(description))
    change(description)
    return description


@pytest.mark.parametrize("change, refusal", [
    (lambda d: d.update({"class": "Functional"}), "Sequential models of Dense layers only"),
    (lambda d: d["layers"][0].update({"class": "Dropout"}), "layer 1 is a Dropout"),
    (lambda d: d["layers"][0].update({"activation": "unrecognised (mine)"}), "is not one the grader rebuilds"),
    (lambda d: d["layers"][0].update({"units": 10 ** 9}), "number of units"),
    (lambda d: d["layers"][1].update({"name": "layer1"}), "two layers are named"),
    (lambda d: d["layers"][0].update({"name": "a/b"}), "name the grader does not accept"),
    (lambda d: d["layers"][0]["weights"].pop(), "holds 1 weight arrays"),
    (lambda d: d["layers"][0]["weights"][0].update({"shape": [4, 6]}), "does not fit"),
    (lambda d: d["layers"][0]["weights"][0].update({"dtype": "<f8"}), "wrong length"),
    (lambda d: d["layers"][0].update({"config": {"py/object": "os.system"}}), "does not accept"),
    (lambda d: d["compile"].update({"loss": {"unsupported": "my_loss"}}), "my_loss"),
    (lambda d: d["compile"]["loss"].update({"class": "Lambda"}), "not one the grader rebuilds"),
    (lambda d: d["compile"]["optimizer"].update({"class": "Evil"}), "optimizer Evil"),
    (lambda d: d.update({"input": [3, 4]}), "vector of features"),
])
def test_anything_but_input_and_dense_layers_from_the_allowlist_is_refused(change, refusal):
    description = edit(models.describe(network()), change)
    with pytest.raises(wire.WireError, match=refusal):
        mirrors.build(over_the_wire(description))


def test_a_custom_loss_or_optimizer_setting_is_refused_with_what_it_is():
    model = network(compiled=False)
    model.compile(loss=lambda y, p: (y - p) ** 2, optimizer="sgd")
    with pytest.raises(wire.WireError, match="function"):
        mirrors.build(over_the_wire(models.describe(model)))
