"""Keras models as plain descriptions: what the kernel sends instead of the model itself.

A description names a Sequential model's Input size, its Dense layers (units, activation,
bias, dtype, name, weights) and what it was compiled with (the loss and optimizer by
class and a few settings). The evaluator never deserialises a model: it builds its own
from such a description (autograder.judging.mirrors), refusing anything else. The same
function describes a model on either side, so the evaluator can also tell whether a
model it holds has changed.
"""
import sys

import numpy as np

from . import wire

# Activations a description may name. The first four are recognised by their values too,
# so an activation passed as a function (tf.nn.sigmoid) is named as Keras would name it.
_Z = np.array([-4.0, -1.5, -0.5, 0.0, 0.5, 1.5, 4.0], dtype=np.float32)
VALUES = {"sigmoid": 1.0 / (1.0 + np.exp(-_Z.astype(np.float64))), "relu": np.maximum(_Z, 0.0),
          "linear": _Z.astype(np.float64), "tanh": np.tanh(_Z.astype(np.float64))}
ACTIVATIONS = frozenset(VALUES) | {"softmax", "softplus", "elu", "selu", "silu", "swish", "gelu", "leaky_relu"}
LOSS_CLASSES = frozenset({"BinaryCrossentropy", "MeanSquaredError", "MeanAbsoluteError", "CategoricalCrossentropy",
                          "SparseCategoricalCrossentropy", "Hinge", "Huber"})
LOSS_NAMES = frozenset({"binary_crossentropy", "bce", "BinaryCrossentropy", "mean_squared_error", "mse",
                        "MeanSquaredError", "mean_absolute_error", "mae", "categorical_crossentropy",
                        "sparse_categorical_crossentropy", "hinge", "huber"})
LOSS_SETTINGS = ("from_logits", "label_smoothing", "axis", "reduction", "name", "delta")
OPTIMIZERS = frozenset({"SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam"})
OPTIMIZER_SETTINGS = ("learning_rate", "beta_1", "beta_2", "epsilon", "amsgrad", "momentum", "nesterov", "rho",
                      "weight_decay", "centered", "initial_accumulator_value")


def keras_module():
    """Keras, if this process has imported it (never imported here)."""
    return sys.modules.get("keras")


def is_model(obj):
    keras = keras_module()
    return keras is not None and isinstance(obj, keras.Model)


def is_history(obj):
    keras = keras_module()
    return keras is not None and isinstance(obj, keras.callbacks.History)


def activation_name(fn):
    """The name of an activation function, from its values when it is one of the common four."""
    name = getattr(fn, "__name__", "") or ""
    try:
        values = np.asarray(fn(_Z), dtype=np.float64)
    except Exception:  # noqa: BLE001 - an activation that cannot take a vector
        values = None
    if values is not None and values.shape == _Z.shape:
        if name in VALUES and np.allclose(values, VALUES[name], atol=1e-5):
            return name
        for known, expected in VALUES.items():
            if np.allclose(values, expected, atol=1e-5):
                return known
    return name if name in ACTIVATIONS else f"unrecognised ({name or type(fn).__name__})"


def _plain(value):
    """value if it is a plain setting (bool, int, float, str, None), a float for NumPy numbers, else None."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return None


def describe_loss(loss):
    if type(loss) is str:
        return {"name": loss}
    keras = keras_module()
    if keras is not None and isinstance(loss, keras.losses.Loss):
        config = loss.get_config() if hasattr(loss, "get_config") else {}
        settings = {k: _plain(config[k]) for k in LOSS_SETTINGS if k in config and _plain(config[k]) is not None}
        return {"class": type(loss).__name__, "config": wire.Encoder().encode(settings)}
    if callable(loss) and (getattr(loss, "__module__", "") or "").startswith("keras"):
        return {"function": getattr(loss, "__name__", "")}
    return {"unsupported": wire.type_name(loss)}


def describe_optimizer(optimizer):
    config = optimizer.get_config() if hasattr(optimizer, "get_config") else {}
    settings = {}
    for key in OPTIMIZER_SETTINGS:
        if key in config:
            value = _plain(config[key])
            if value is None and config[key] is not None:
                return {"class": type(optimizer).__name__, "unsupported": f"{key} of type {wire.type_name(config[key])}"}
            if value is not None:
                settings[key] = value
    return {"class": type(optimizer).__name__, "config": wire.Encoder().encode(settings)}


def input_size(model):
    """The Input's shape without the batch axis, as a list, or None when the model has no Input."""
    try:
        shape = model.inputs[0].shape
    except (AttributeError, IndexError, TypeError, ValueError):
        return None
    return [None if n is None else int(n) for n in list(shape)[1:]]


def describe(model):
    """The plain description of a Keras model: what the evaluator may rebuild it from."""
    layers = []
    for layer in model.layers:
        entry = {"class": type(layer).__name__, "name": str(layer.name)}
        if entry["class"] == "Dense":
            entry.update(units=int(layer.units), activation=activation_name(layer.activation),
                         use_bias=bool(layer.use_bias), dtype=str(layer.dtype),
                         weights=[wire.encode_array(np.asarray(w)) for w in layer.get_weights()])
        layers.append(entry)
    compiled = None
    if getattr(model, "compiled", False) or getattr(model, "optimizer", None) is not None:
        optimizer = getattr(model, "optimizer", None)
        compiled = {"loss": describe_loss(getattr(model, "loss", None)),
                    "optimizer": describe_optimizer(optimizer) if optimizer is not None else None}
    return {"class": type(model).__name__, "name": str(model.name), "input": input_size(model),
            "layers": layers, "compile": compiled}


def describe_history(history, encode):
    """A History's record, each part encoded with encode (the caller's encoder)."""
    return {"history": encode(history.history), "params": encode(history.params), "epoch": encode(history.epoch)}
