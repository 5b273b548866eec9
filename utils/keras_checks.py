"""Checks for the Keras notebook: read a model's architecture, loss and weights, and say what is wrong.

Everything is read in ways that hold across Keras versions: a layer's class name,
`units` and kernel shape, its activation by the values it computes, the loss by
its type or its resolved name, and the loss the compiled model actually computes.
Nothing here builds, compiles or trains the course's models: the students write those.
"""
import contextlib

import numpy as np
from scipy.special import expit
import tensorflow as tf

from utils.checks import CheckFailed

keras = tf.keras

# The activations a student may pick, recognised by their values on a few z.
_Z = np.array([-4.0, -1.5, -0.5, 0.0, 0.5, 1.5, 4.0])
_ACTIVATIONS = {
    "sigmoid": expit(_Z),
    "relu": np.maximum(_Z, 0.0),
    "linear": _Z,
    "tanh": np.tanh(_Z),
    "softmax": None,  # only recognised by name
}
_LOSS_ALIASES = {"bce": "binary_crossentropy", "mse": "mean_squared_error",
                 "binarycrossentropy": "binary_crossentropy", "meansquarederror": "mean_squared_error"}


def activation_name(layer):
    """The name of the activation a layer applies ('sigmoid', 'relu', 'linear', 'tanh'), or a description."""
    fn = getattr(layer, "activation", None)
    if fn is None:
        return "none"
    try:
        values = np.asarray(fn(tf.constant(_Z, dtype=tf.float32)), dtype=np.float64)
    except Exception:  # noqa: BLE001 (an activation we cannot evaluate on a vector)
        values = None
    if values is not None and values.shape == _Z.shape:
        for name, expected in _ACTIVATIONS.items():
            if expected is not None and np.allclose(values, expected, atol=1e-5):
                return name
    config = layer.get_config().get("activation")
    if isinstance(config, dict):
        config = config.get("config", {}).get("name") or config.get("class_name")
    return str(config or getattr(fn, "__name__", "an unknown activation"))


def dense_layers(model):
    """The model's layers, without an InputLayer (Keras 2 and 3 list them differently)."""
    return [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]


def n_inputs(model):
    """The number of input features the model was built for, or None when it has no Input yet."""
    if not getattr(model, "built", False):
        return None
    layers = dense_layers(model)
    kernel = getattr(layers[0], "kernel", None) if layers else None
    if kernel is not None:
        return int(kernel.shape[0])
    try:
        return int(model.inputs[0].shape[-1])
    except (AttributeError, IndexError, TypeError, ValueError):
        return None


def describe(model):
    """One line per layer: name, class, units, activation. What a test prints when a model is wrong."""
    lines = []
    for layer in dense_layers(model):
        units = getattr(layer, "units", "-")
        lines.append(f"{layer.name}: {type(layer).__name__}, units={units}, activation={activation_name(layer)}")
    return "\n".join(lines)


def _check_is_model(fn_name, model):
    if model is None:
        raise CheckFailed(f"{fn_name} returned None: did you forget to return the model?")
    if not isinstance(model, keras.Model):
        raise CheckFailed(f"{fn_name} should return a Keras model, got {type(model).__name__}.")


def check_input(model, n_features, fn_name="build_model"):
    """Fail unless the model was built for n_features inputs (it began with an Input of that shape)."""
    got = n_inputs(model)
    if got is None:
        raise CheckFailed(
            f"{fn_name}({n_features}) returned a model that has no Input yet, so Keras does not know how many "
            f"features come in and has created no weights. Begin the Sequential with "
            f"tf.keras.Input(shape=(n_features,)).")
    if got != n_features:
        raise CheckFailed(
            f"{fn_name}({n_features}) built a model for {got} input features, expected {n_features}: use the "
            f"argument, tf.keras.Input(shape=(n_features,)), not a fixed number.")


def check_architecture(model, n_features, units=(25, 15, 1), activations=("sigmoid",) * 3,
                       names=("layer1", "layer2", "layer3"), model_name="my_model", fn_name="build_model"):
    """Fail with a message naming the first difference from the architecture asked for."""
    _check_is_model(fn_name, model)
    layers = dense_layers(model)
    if len(layers) != len(units):
        raise CheckFailed(
            f"the model has {len(layers)} layers, expected {len(units)} Dense layers with "
            f"{', '.join(map(str, units))} units.\n{describe(model)}")
    for k, (layer, n_units, activation, name) in enumerate(zip(layers, units, activations, names), 1):
        if type(layer).__name__ != "Dense":
            raise CheckFailed(f"layer {k} is a {type(layer).__name__}, expected a Dense layer.")
        if name is not None and layer.name != name:
            raise CheckFailed(f"layer {k} is named {layer.name!r}, expected {name!r}: pass name={name!r} to Dense.")
        if layer.units != n_units:
            raise CheckFailed(f"{layer.name} has {layer.units} units, expected {n_units}.")
        got = activation_name(layer)
        if got != activation:
            raise CheckFailed(
                f"{layer.name} uses the {got} activation, expected {activation}: pass activation={activation!r}.")
    if model_name is not None and model.name != model_name:
        raise CheckFailed(f"the model is named {model.name!r}, expected {model_name!r}: "
                             f"pass name={model_name!r} to Sequential.")
    check_input(model, n_features, fn_name)


def check_output_layer(model, n_features, fn_name="build_regression_model"):
    """For regression: built for n_features inputs, and the last layer a Dense of 1 unit with a linear output."""
    _check_is_model(fn_name, model)
    layers = dense_layers(model)
    if not layers or type(layers[-1]).__name__ != "Dense":
        raise CheckFailed("the model should end with a Dense layer of 1 unit.")
    last = layers[-1]
    if last.units != 1:
        raise CheckFailed(f"the output layer {last.name} has {last.units} units, expected 1: one number per example.")
    got = activation_name(last)
    if got != "linear":
        raise CheckFailed(
            f"the output layer {last.name} uses the {got} activation, but a regression output must be able to take "
            f"any value: use activation='linear'.")
    check_input(model, n_features, fn_name)


def check_param_counts(counts, n_features, units=(25, 15, 1)):
    """Check a student's {"layer1": ..., "total": ...} against the formula and Keras's count_params."""
    if not isinstance(counts, dict):
        raise CheckFailed(f"param_counts should be a dict, got {type(counts).__name__}.")
    sizes = (n_features,) + tuple(units)
    total = 0
    for k, (n_in, n_units) in enumerate(zip(sizes, sizes[1:]), 1):
        key = f"layer{k}"
        if counts.get(key) is None:
            raise CheckFailed(f"param_counts has no value for {key!r}.")
        got = counts[key]
        layer = keras.layers.Dense(n_units)
        layer.build((None, n_in))
        expected = layer.count_params()  # Keras's count, for a Dense layer n_in * n_units + n_units
        assert expected == n_in * n_units + n_units
        total += expected
        if got == expected:
            continue
        for wrong, why in [(n_in * n_units, "only the weights: each of the units also has a bias b"),
                           (n_in * n_units + n_in, "one bias per input: there is one bias per unit"),
                           (n_in + n_units, "W has one weight for every (input, unit) pair: multiply"),
                           (n_units, "only the biases: W has n_in x n_units weights too")]:
            if got == wrong:
                raise CheckFailed(f"param_counts[{key!r}] = {got} counts {why}. "
                                     f"Layer {k} has n_in = {n_in} inputs and {n_units} units.")
        raise CheckFailed(f"param_counts[{key!r}] = {got} is wrong. Layer {k} has n_in = {n_in} inputs and "
                             f"{n_units} units: count the entries of W and of b.")
    if "total" in counts and counts["total"] != total:
        raise CheckFailed(f"param_counts['total'] = {counts['total']} is not the sum of the three layers.")


def loss_of(model):
    """(name, from_logits) of the loss a model was compiled with, e.g. ('binary_crossentropy', False).

    Accepts a Loss object, the function, or a string such as "binary_crossentropy" or "bce".
    """
    loss = getattr(model, "loss", None)
    if loss is None:
        return None, False
    if isinstance(loss, str):
        key = _LOSS_ALIASES.get(loss.lower().replace("_", ""), loss)
        try:
            loss = keras.losses.get(key)
        except (ValueError, TypeError):
            return loss, False
    if isinstance(loss, keras.losses.BinaryCrossentropy):
        return "binary_crossentropy", bool(loss.get_config().get("from_logits", False))
    if isinstance(loss, keras.losses.MeanSquaredError):
        return "mean_squared_error", False
    fn = getattr(loss, "fn", loss)  # a LossFunctionWrapper wraps a function
    config = loss.get_config() if hasattr(loss, "get_config") else {}
    name = getattr(fn, "__name__", None) or config.get("name") or type(loss).__name__
    return name, bool(config.get("from_logits", False))


def computed_loss(model, y, y_pred):
    """The cost the compiled model computes for labels y and predictions y_pred, or None if it cannot say."""
    compute = getattr(model, "compute_loss", None)
    if compute is None:
        return None
    try:
        value = compute(y=tf.constant(y, tf.float32), y_pred=tf.constant(y_pred, tf.float32))
    except TypeError:
        value = compute(None, tf.constant(y, tf.float32), tf.constant(y_pred, tf.float32))
    return float(np.asarray(value))


def _check_compiled(model, fn_name):
    _check_is_model(fn_name, model)
    if getattr(model, "optimizer", None) is None or getattr(model, "loss", None) is None:
        raise CheckFailed(f"{fn_name}'s model is not compiled: call model.compile(loss=..., optimizer=...) "
                             f"and return the model.")


def check_classification_loss(model, fn_name="compile_model"):
    """Fail unless the model is compiled with binary cross-entropy on probabilities (from_logits=False)."""
    _check_compiled(model, fn_name)
    name, from_logits = loss_of(model)
    if name == "mean_squared_error":
        raise CheckFailed(
            "the loss is MeanSquaredError, which is for regression. A 0/1 classifier with a sigmoid output is "
            "trained with BinaryCrossentropy, the loss of logistic regression.")
    if name != "binary_crossentropy":
        raise CheckFailed(f"the loss is {name}, expected BinaryCrossentropy.")
    if from_logits:
        raise CheckFailed(
            "the loss has from_logits=True, which tells Keras the outputs are z, before the sigmoid; but layer3 "
            "already applies the sigmoid, so the loss would apply a second one. Use BinaryCrossentropy() "
            "(from_logits=False).")
    # The loss Keras will compute: labels 1, 0 and predictions 3/4, 1/4 give -log(3/4) each.
    value = computed_loss(model, [[1.0], [0.0]], [[0.75], [0.25]])
    if value is not None and not np.isclose(value, np.log(4 / 3), rtol=1e-4):
        raise CheckFailed(
            f"for labels (1, 0) and predictions (3/4, 1/4) the compiled loss gives {value:.6f}, but the mean binary "
            f"cross-entropy is log(4/3) = {np.log(4 / 3):.6f}. Use BinaryCrossentropy() with its defaults.")


def check_regression_loss(model, fn_name="build_regression_model"):
    """Fail unless the model is compiled with Keras's mean squared error, mean((y_hat - y)**2)."""
    _check_compiled(model, fn_name)
    name, _ = loss_of(model)
    if name == "binary_crossentropy":
        raise CheckFailed("the loss is BinaryCrossentropy, which is for 0/1 labels. Regression is trained with "
                             "MeanSquaredError.")
    if name != "mean_squared_error":
        raise CheckFailed(f"the loss is {name}, expected MeanSquaredError.")
    value = computed_loss(model, [[1.0], [2.0]], [[1.5], [1.0]])
    if value is not None and not np.isclose(value, 0.625, rtol=1e-4):
        raise CheckFailed(f"for labels (1, 2) and predictions (1.5, 1) the compiled loss gives {value:.6f}, but "
                             f"mean((y_hat - y)**2) = 0.625. Use MeanSquaredError() with its defaults.")


def check_optimizer(model):
    """Fail unless the model has an optimizer; return its class name (e.g. 'Adam')."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        raise CheckFailed("the model has no optimizer: pass optimizer=tf.keras.optimizers.Adam(...) to compile.")
    return type(optimizer).__name__


def check_adam(model, learning_rate=0.001, fn_name="compile_model"):
    """Fail unless the model was compiled with the Adam optimizer at this learning rate."""
    _check_compiled(model, fn_name)
    name = type(model.optimizer).__name__
    if name == "RMSprop":
        raise CheckFailed(
            "the optimizer is RMSprop, which is what compile uses when it is given no optimizer. Pass the one the "
            f"lecture recommends: optimizer=Adam(learning_rate={learning_rate:g}).")
    if name == "SGD":
        raise CheckFailed(
            "the optimizer is SGD, plain (mini-batch) gradient descent. Use Adam, which scales each parameter's "
            f"step by running averages of its gradient: optimizer=Adam(learning_rate={learning_rate:g}).")
    if name != "Adam":
        raise CheckFailed(f"the optimizer is {name}, expected Adam: optimizer=Adam(learning_rate={learning_rate:g}).")
    rate = model.optimizer.get_config().get("learning_rate")
    try:
        rate = float(rate)
    except (TypeError, ValueError):
        raise CheckFailed("Adam's learning rate should be a number, "
                          f"Adam(learning_rate={learning_rate:g}), not a schedule.") from None
    if not np.isclose(rate, learning_rate, rtol=1e-6):
        raise CheckFailed(f"Adam's learning rate is {rate:g}, expected {learning_rate:g}: "
                          f"Adam(learning_rate={learning_rate:g}).")
    return name


def check_hidden_nonlinear(model, n_features, fn_name):
    """For a classifier that must beat logistic regression: Dense layers ending in one sigmoid unit, with
    at least one hidden layer whose activation is not linear (else the network is a linear model)."""
    _check_is_model(fn_name, model)
    layers = dense_layers(model)
    if any(type(layer).__name__ != "Dense" for layer in layers):
        raise CheckFailed(f"{fn_name} should build a model of Dense layers only.\n{describe(model)}")
    if not layers or layers[-1].units != 1 or activation_name(layers[-1]) != "sigmoid":
        raise CheckFailed("the output layer should be Dense(1, activation='sigmoid'): one probability f per "
                          f"example.\n{describe(model)}")
    hidden = layers[:-1]
    if not hidden:
        raise CheckFailed("the model has no hidden layer: Dense(1, activation='sigmoid') alone is logistic "
                          "regression, whose decision boundary is a straight line. Add a hidden Dense layer "
                          "with the ReLU activation before the output layer.")
    if all(activation_name(layer) == "linear" for layer in hidden):
        raise CheckFailed("every hidden layer is linear, so the whole network computes a linear function of x "
                          "before the output's sigmoid: it is logistic regression again, with a straight "
                          f"boundary. Give the hidden layer a nonlinear activation such as 'relu'.\n{describe(model)}")
    check_input(model, n_features, fn_name)


def check_history(history, epochs, fn_name="fit_model"):
    """Fail unless history is what model.fit returns, for exactly this many epochs."""
    if history is None:
        raise CheckFailed(f"{fn_name} returned None: return what model.fit returns (a History).")
    losses = getattr(history, "history", {}).get("loss") if isinstance(getattr(history, "history", None), dict) else None
    if losses is None:
        raise CheckFailed(f"{fn_name} should return what model.fit returns, a History whose .history['loss'] "
                             f"holds the cost after each epoch; got {type(history).__name__}.")
    if len(losses) != epochs:
        raise CheckFailed(f"training ran for {len(losses)} epochs, expected {epochs}: pass epochs=epochs to "
                             f"model.fit instead of a fixed number.")
    if not np.all(np.isfinite(losses)):
        raise CheckFailed(f"the loss became nan or inf during training: {losses}")
    return np.asarray(losses, dtype=np.float64)


def check_weights_loaded(model, params):
    """Fail unless each Dense layer l holds exactly params["W<l>"] (n_in, n_units) and params["b<l>"] (n_units,)."""
    _check_is_model("load_numpy_params", model)
    for k, layer in enumerate(dense_layers(model), 1):
        W, b = np.asarray(params[f"W{k}"]), np.asarray(params[f"b{k}"])
        weights = layer.get_weights()
        if len(weights) != 2:
            raise CheckFailed(f"{layer.name} holds {len(weights)} arrays, expected its kernel and bias.")
        kernel, bias = weights
        if kernel.shape == W.T.shape and kernel.shape != W.shape:
            raise CheckFailed(f"{layer.name}'s kernel has shape {kernel.shape}, the transpose of W{k} {W.shape}.")
        if not np.allclose(kernel, W, rtol=1e-6, atol=1e-7):
            if kernel.shape == W.T.shape and np.allclose(kernel, W.T, rtol=1e-6, atol=1e-7):
                raise CheckFailed(
                    f"{layer.name}'s kernel holds W{k} transposed. W{k} already has Keras's layout "
                    f"(n_in, n_units): set it unchanged.")
            raise CheckFailed(f"{layer.name}'s kernel is not W{k}: put W{k} and b{k} into layer {k}.")
        if not np.allclose(bias, b, rtol=1e-6, atol=1e-7):
            raise CheckFailed(f"{layer.name}'s bias is not b{k}.")


def call_load(load_numpy_params, model, params):
    """Call the student's load_numpy_params, turning a shape error into a message about the layout."""
    if n_inputs(model) is None:
        raise CheckFailed("build_model's model has no weights yet (it has no Input), so there is nothing to load "
                             "them into: fix build_model first.")
    try:
        out = load_numpy_params(model, params)
    except ValueError as err:
        text = str(err)
        if "shape" in text:
            raise CheckFailed(
                "load_numpy_params crashed on a shape: a Dense kernel has shape (n_in, n_units), exactly the shape "
                "of W in params, so set W unchanged (not transposed) and the bias b as it is.\n  " + text) from err
        raise
    if out is None:
        raise CheckFailed("load_numpy_params returned None: return the model.")
    return out


def check_same_predictions(model, X, expected, atol=1e-6, reference="numpy_forward"):
    """Fail unless model.predict(X) equals the NumPy network's predictions to atol (Keras computes in float32)."""
    got = np.asarray(model.predict(X, verbose=0), dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if got.shape != expected.shape:
        raise CheckFailed(f"the Keras model predicts shape {got.shape}, {reference} shape {expected.shape}.")
    diff = float(np.max(np.abs(got - expected)))
    if not diff <= atol:
        raise CheckFailed(
            f"the kernels and biases are loaded, but the Keras model's predictions differ from {reference}'s by up "
            f"to {diff:.2g} (more than {atol:g}): do build_model and {reference} compute the same network, with a "
            f"sigmoid in every layer?\n{describe(model)}")


@contextlib.contextmanager
def float64():
    """Inside this block, new Keras layers and losses compute in float64 instead of float32."""
    floatx, policy = keras.backend.floatx(), keras.mixed_precision.global_policy()
    keras.backend.set_floatx("float64")  # the dtype of new losses
    keras.mixed_precision.set_global_policy("float64")  # the dtype of new layers
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(policy)
        keras.backend.set_floatx(floatx)
