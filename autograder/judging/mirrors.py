"""The evaluator's own copies of a student's Keras models and training histories.

A model never crosses as itself: the kernel describes it (autograder.judging.models) and
this module builds a fresh Keras model from the description, after checking every part
of it: a Sequential of Dense layers only, an activation, loss and optimizer from an
allowlist, sizes within bounds, weights of exactly the right shapes and dtypes. Anything
else is refused with a message that says what.
"""
import numpy as np

from . import models, wire

MAX_LAYERS = 64
MAX_UNITS = 100_000
MAX_FEATURES = 1_000_000
DTYPES = ("float16", "float32", "float64")
LOSS_FUNCTIONS = ("binary_crossentropy", "mean_squared_error", "mean_absolute_error", "categorical_crossentropy",
                  "sparse_categorical_crossentropy", "hinge", "huber")


class History:
    """What model.fit returned, as plain data: .history, .params and .epoch."""

    def __init__(self, history, params, epoch):
        self.history, self.params, self.epoch = history, params, epoch

    def __repr__(self):
        return f"<History of {len(self.epoch) if isinstance(self.epoch, list) else '?'} epochs>"


def history(body, decode):
    if type(body) is not dict or set(body) != {"history", "params", "epoch"}:
        raise wire.WireError("a malformed History")
    h = History(decode(body["history"]), decode(body["params"]), decode(body["epoch"]))
    if type(h.history) is not dict or type(h.params) is not dict or type(h.epoch) is not list:
        raise wire.WireError("a History whose parts are not a dict, a dict and a list")
    return h


def _name(value, what):
    if type(value) is not str or not 0 < len(value) <= 200 or not value.isprintable() or "/" in value:
        raise wire.WireError(f"{what} has a name the grader does not accept")
    return value


def _settings(encoded, allowed, what):
    settings = wire.Decoder().decode(encoded)
    if type(settings) is not dict:
        raise wire.WireError(f"malformed {what} settings")
    for key, value in settings.items():
        if key not in allowed or not (value is None or type(value) in (bool, int, float, str)):
            raise wire.WireError(f"the {what} setting {str(key)[:40]!r} is not one the grader rebuilds")
        if type(value) is str and (len(value) > 100 or not value.isprintable()):
            raise wire.WireError(f"the {what} setting {key!r} has a value the grader does not accept")
    return settings


def check(description):
    """(architecture, weights, compile) of a valid description, else WireError saying what is refused."""
    if type(description) is not dict or set(description) != {"class", "name", "input", "layers", "compile"}:
        raise wire.WireError("a malformed model description")
    if description["class"] != "Sequential":
        raise wire.WireError(f"a Keras {str(description['class'])[:60]} model: the grader rebuilds Sequential "
                             "models of Dense layers only")
    name = _name(description["name"], "the model")
    size = description["input"]
    if size is not None and (type(size) is not list or len(size) != 1 or type(size[0]) is not int
                             or not 0 < size[0] <= MAX_FEATURES):
        raise wire.WireError("the model's Input is not a vector of features: the grader rebuilds Input(shape=(n,)) only")
    layers = description["layers"]
    if type(layers) is not list or len(layers) > MAX_LAYERS:
        raise wire.WireError("a model with too many layers")
    arch, weights, seen = [], [], set()
    n_in = size[0] if size else None
    for k, layer in enumerate(layers, 1):
        if type(layer) is not dict or layer.get("class") != "Dense":
            kind = layer.get("class") if type(layer) is dict else None
            raise wire.WireError(f"layer {k} is a {str(kind)[:60]}: the grader rebuilds Dense layers only")
        if set(layer) != {"class", "name", "units", "activation", "use_bias", "dtype", "weights"}:
            raise wire.WireError(f"layer {k} is described in a way the grader does not accept")
        layer_name = _name(layer["name"], f"layer {k}")
        if layer_name in seen:
            raise wire.WireError(f"two layers are named {layer_name!r}")
        seen.add(layer_name)
        units, activation = layer["units"], layer["activation"]
        if type(units) is not int or not 0 < units <= MAX_UNITS:
            raise wire.WireError(f"{layer_name} has a number of units the grader does not accept")
        if activation not in models.ACTIVATIONS:
            raise wire.WireError(f"{layer_name}'s activation, {str(activation)[:60]}, is not one the grader rebuilds "
                                 f"({', '.join(sorted(models.ACTIVATIONS))})")
        if type(layer["use_bias"]) is not bool or layer["dtype"] not in DTYPES:
            raise wire.WireError(f"{layer_name} is described in a way the grader does not accept")
        arrays = layer["weights"]
        if type(arrays) is not list or len(arrays) not in (0, 1 + layer["use_bias"]):
            raise wire.WireError(f"{layer_name} holds {len(arrays) if type(arrays) is list else '?'} weight arrays")
        arrays = [wire.decode_array(a) for a in arrays]
        if arrays:
            kernel = arrays[0]
            if kernel.ndim != 2 or kernel.shape[1] != units or (n_in is not None and kernel.shape[0] != n_in):
                raise wire.WireError(f"{layer_name}'s kernel has shape {kernel.shape}, which does not fit the layer")
            if any(str(a.dtype) != layer["dtype"] for a in arrays) or (len(arrays) == 2 and arrays[1].shape != (units,)):
                raise wire.WireError(f"{layer_name}'s weights do not fit the layer")
            n_in = kernel.shape[0]
        elif n_in is not None and k > 1 and weights and weights[-1]:
            raise wire.WireError(f"{layer_name} holds no weights though the layers before it do")
        arch.append((layer_name, units, activation, layer["use_bias"], layer["dtype"]))
        weights.append(arrays)
        n_in = units
    compiled = description["compile"]
    if compiled is not None:
        compiled = _compile_spec(compiled)
    built = any(weights)
    if built and not all(weights):
        raise wire.WireError("some layers of the model hold weights and others do not")
    return (name, tuple(size) if size else None, tuple(arch)), weights, compiled


def _compile_spec(compiled):
    if type(compiled) is not dict or set(compiled) != {"loss", "optimizer"}:
        raise wire.WireError("a malformed compile description")
    loss = compiled["loss"]
    if type(loss) is not dict or len(loss) not in (1, 2):
        raise wire.WireError("a malformed loss")
    if "name" in loss and len(loss) == 1:
        if loss["name"] not in models.LOSS_NAMES:
            raise wire.WireError(f"the loss {str(loss['name'])[:60]!r} is not one the grader rebuilds")
        loss_spec = ("name", loss["name"])
    elif "function" in loss and len(loss) == 1:
        if loss["function"] not in LOSS_FUNCTIONS:
            raise wire.WireError(f"the loss function {str(loss['function'])[:60]!r} is not one the grader rebuilds")
        loss_spec = ("function", loss["function"])
    elif set(loss) == {"class", "config"}:
        if loss["class"] not in models.LOSS_CLASSES:
            raise wire.WireError(f"the loss {str(loss['class'])[:60]} is not one the grader rebuilds")
        loss_spec = ("class", loss["class"], tuple(sorted(_settings(loss["config"], models.LOSS_SETTINGS, "loss").items())))
    else:
        what = loss.get("unsupported", "a loss") if type(loss.get("unsupported")) is str else "a loss"
        raise wire.WireError(f"the model is compiled with {what[:80]}, which the grader does not rebuild: "
                             "use a Keras loss such as BinaryCrossentropy()")
    optimizer = compiled["optimizer"]
    opt_spec = None
    if optimizer is not None:
        if type(optimizer) is not dict or optimizer.get("class") not in models.OPTIMIZERS or set(optimizer) != {
                "class", "config"}:
            what = optimizer.get("class") if type(optimizer) is dict else None
            raise wire.WireError(f"the optimizer {str(what)[:60]} is not one the grader rebuilds "
                                 f"({', '.join(sorted(models.OPTIMIZERS))}, with a number as learning rate)")
        opt_spec = (optimizer["class"], tuple(sorted(_settings(optimizer["config"], models.OPTIMIZER_SETTINGS,
                                                               "optimizer").items())))
    return loss_spec, opt_spec


def _loss(keras, spec):
    if spec[0] == "name":
        return spec[1]
    if spec[0] == "function":
        return getattr(keras.losses, spec[1])
    return getattr(keras.losses, spec[1])(**dict(spec[2]))


def _optimizer(keras, spec):
    return None if spec is None else getattr(keras.optimizers, spec[0])(**dict(spec[1]))


def build(description):
    """A new Keras model built from a checked description; WireError if it is refused."""
    arch, weights, compiled = check(description)
    import keras
    name, size, layers = arch
    stack = [keras.Input(shape=size, dtype=layers[0][4] if layers else None)] if size else []
    for layer_name, units, activation, use_bias, dtype in layers:
        stack.append(keras.layers.Dense(units, activation=activation, use_bias=use_bias, name=layer_name, dtype=dtype))
    try:
        model = keras.Sequential(stack, name=name)
        if any(weights) and not model.built:
            model.build((None, weights[0][0].shape[0]))
        for layer, arrays in zip(model.layers, weights):
            if arrays:
                layer.set_weights(arrays)
        if compiled is not None:
            model.compile(loss=_loss(keras, compiled[0]), optimizer=_optimizer(keras, compiled[1]))
    except (ValueError, TypeError) as err:
        raise wire.WireError(f"a model the grader could not rebuild ({type(err).__name__}: {str(err)[:200]})") from None
    return model, (arch, compiled)


def update(model, spec, description):
    """model brought up to date with a new description of the same kernel model: the same
    object when its architecture is unchanged (new weights, compiled again if that changed),
    else a new model. Returns (model, spec)."""
    arch, weights, compiled = check(description)
    if spec[0] != arch:
        return build(description)
    import keras
    try:
        for layer, arrays in zip(model.layers, weights):
            if arrays:
                layer.set_weights(arrays)
        if compiled is not None and compiled != spec[1]:
            model.compile(loss=_loss(keras, compiled[0]), optimizer=_optimizer(keras, compiled[1]))
    except (ValueError, TypeError) as err:
        raise wire.WireError(f"a model the grader could not update ({type(err).__name__}: {str(err)[:200]})") from None
    if compiled is None and spec[1] is not None:
        return build(description)
    return model, (arch, compiled)
