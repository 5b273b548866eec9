"""Student-facing checks: a wrong answer becomes a message naming the likely mistake.

The visible test cells call these with values worked out by hand in the cell
itself; nothing here knows a correct implementation.
"""
import os
import sys
import traceback
import warnings

import numpy as np

_UTILS = os.path.dirname(os.path.abspath(__file__))


class CheckFailed(AssertionError):
    """A visible or hidden check that failed: its message is the diagnosis.

    Shown by IPython (JupyterLab, nbgrader's Validate) through `_render_traceback_`: the
    message first, then only the lines of notebook cells where the error arose, never
    a frame inside `utils`. It is an AssertionError, so a test cell that raises it fails.
    """

    def _render_traceback_(self):
        first, *rest = str(self).splitlines() or [""]
        lines = [f"\x1b[0;31m\u2718 {first}\x1b[0m", *rest]
        cause = self.__cause__
        if cause is not None and not isinstance(cause, CheckFailed):
            frames = _cell_frames(cause.__traceback__)
            if frames:
                lines += ["", f"{type(cause).__name__} raised in your code:", *frames]
        return lines


def _cell_frames(tb):
    """Formatted frames of tb that belong to notebook cells (not to utils, NumPy or Python itself)."""
    try:
        cells = get_ipython().compile._filename_map   # noqa: F821 (IPython's own global)
    except (NameError, AttributeError):
        cells = {}
    library = tuple({os.path.dirname(os.__file__), os.path.dirname(np.__path__[0]), _UTILS, sys.prefix})
    lines = []
    for frame in traceback.extract_tb(tb):
        if frame.filename.startswith(library) and frame.filename not in cells:
            continue
        where = f"Cell In[{cells[frame.filename]}]" if frame.filename in cells else frame.filename
        lines.append(f"  {where}, line {frame.lineno}, in {frame.name}")
        if frame.line:
            lines.append(f"    {frame.line.strip()}")
    return lines


def expect(condition, message):
    """Fail with message (the diagnosis) unless condition holds: a test cell's `assert`."""
    if not condition:
        raise CheckFailed(message)


def compare(name, got, expected):
    """Print whether got equals expected exactly, approximately, and the max difference.

    Karpathy's `cmp` from the makemore backprop lecture. Returns the approximate verdict.
    """
    got, expected = np.asarray(got), np.asarray(expected)
    if got.shape != expected.shape:
        print(f"{name:15s} | shape {got.shape} but expected {expected.shape}")
        return False
    exact = bool(np.all(got == expected))
    approx = bool(np.allclose(got, expected, rtol=1e-7, atol=1e-10))
    maxdiff = float(np.max(np.abs(got - expected))) if got.size else 0.0
    print(f"{name:15s} | exact: {exact!s:5} | approx: {approx!s:5} | maxdiff: {maxdiff:.2e}")
    return approx


def _is_close(got, expected, rtol, atol):
    return got.shape == expected.shape and bool(np.allclose(got, expected, rtol=rtol, atol=atol))


def check_shape(name, got, shape):
    """Fail unless got is an array (or scalar) of exactly this shape."""
    got_shape = np.shape(got)
    if got_shape == tuple(shape):
        return
    hint = ""
    if len(got_shape) == 2 and tuple(got_shape[::-1]) == tuple(shape):
        hint = " It looks transposed: check the order of the matrix product."
    elif np.prod(got_shape, dtype=int) == np.prod(shape, dtype=int):
        hint = " The numbers are there but the shape is not: check reshape, keepdims or a missing/extra axis."
    elif len(got_shape) == len(shape) + 1 or len(got_shape) + 1 == len(shape):
        hint = " One axis too many or too few: did you sum over the examples (or forget to)?"
    raise CheckFailed(f"{name} has shape {got_shape}, expected {tuple(shape)}.{hint}")


def check_close(name, got, expected, *, rtol=1e-7, atol=1e-10, m=None, hints=()):
    """Fail with a diagnosis unless got is close to expected.

    m: the number of examples, to recognise a missing or doubled 1/m.
    hints: (wrong_value, message) pairs, for mistakes specific to one exercise.
    """
    if got is None:
        raise CheckFailed(f"{name} is None: did you forget to return it?")
    expected = np.asarray(expected, dtype=np.float64)
    try:
        got_arr = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        raise CheckFailed(f"{name} should be numeric, got {type(got).__name__}: {got!r}") from None
    check_shape(name, got_arr, expected.shape)
    if not np.all(np.isfinite(got_arr)):
        raise CheckFailed(
            f"{name} contains nan or inf: {got_arr}. Look for log(0), an overflowing exp, or 0/0.")
    if _is_close(got_arr, expected, rtol, atol):
        return
    diagnoses = []
    if m is not None and m > 1:
        diagnoses += [(expected * m, f"it is m = {m} times too large: the 1/m (mean over examples) is missing."),
                      (expected / m, f"it is m = {m} times too small: 1/m is applied twice.")]
    diagnoses.append((-expected, "it has the wrong sign: check the order of (prediction - y), or a minus sign."))
    diagnoses += [(np.asarray(v, dtype=np.float64), msg) for v, msg in hints]
    for wrong, message in diagnoses:
        if np.any(expected != 0) and _is_close(got_arr, np.broadcast_to(wrong, expected.shape), rtol, atol):
            raise CheckFailed(f"{name} is wrong: {message}\n  got      {got_arr}\n  expected {expected}")
    diff = float(np.max(np.abs(got_arr - expected)))
    raise CheckFailed(f"{name} is wrong (max difference {diff:.3g}).\n  got      {got_arr}\n  expected {expected}")


def check_probabilities(name, p):
    """Fail unless every entry of p lies in [0, 1]: a sigmoid output."""
    p = np.asarray(p, dtype=np.float64)
    if np.any(p < 0) or np.any(p > 1) or not np.all(np.isfinite(p)):
        raise CheckFailed(
            f"{name} should be probabilities in [0, 1], but ranges over [{p.min():.3g}, {p.max():.3g}]. "
            "Was the sigmoid applied to z = X w + b?")


def check_binary(name, pred, shape):
    """Fail unless pred is an integer array of 0s and 1s with this shape."""
    pred = np.asarray(pred)
    check_shape(name, pred, shape)
    if not np.all(np.isin(pred, (0, 1))):
        raise CheckFailed(
            f"{name} should hold only 0 and 1, but has values such as {np.unique(pred)[:5]}. "
            "Threshold the probabilities: 1 where f >= 0.5, else 0.")
    if not np.issubdtype(pred.dtype, np.integer):
        raise CheckFailed(
            f"{name} has dtype {pred.dtype}; return integers, for example with .astype(int).")


def check_unchanged(name, before, after):
    """Fail if an input array was modified by the function under test."""
    if not np.array_equal(before, after):
        raise CheckFailed(
            f"{name} was modified in place. Work on a copy (w = w_in.copy()) or write "
            "w = w - alpha * dj_dw instead of w -= alpha * dj_dw.")


def check_no_warnings(name, fn, *args):
    """Call fn(*args) with NumPy overflow and every warning turned into a failure."""
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        try:
            return fn(*args)
        except (FloatingPointError, RuntimeWarning) as err:
            raise CheckFailed(
                f"{name} overflowed ({err}). np.exp(-z) overflows for large negative z: "
                "use a formula that only ever exponentiates -|z|.") from None


def passed(name):
    """Print the line a student sees when every visible check of an exercise passes."""
    print(f"\u2714 {name}: all visible tests passed.")


# Notebook 02: checks for forward and backward propagation. They compare a
# student's arrays with values worked out by hand or with numerical gradients;
# none of them computes a layer, a cost or a gradient itself.

def check_call(name, fn, *args, hint=""):
    """Return fn(*args); if it raises, fail with a message naming the likely cause (shapes, a missing key).

    hint: what to check, for example the shapes the product should have.
    """
    try:
        return fn(*args)
    except CheckFailed:
        raise
    except Exception as err:
        text = str(err)
        if isinstance(err, ValueError) and any(word in text for word in ("mismatch", "shape", "broadcast", "align")):
            message = f"{name} crashed because shapes do not fit ({text}). {hint}"
        elif isinstance(err, KeyError):
            message = f"{name} crashed looking up the key {err}, which is not there. {hint}"
        else:
            message = f"{name} raised {type(err).__name__}: {text}"
        raise CheckFailed(message.rstrip()) from err


def check_keys(name, d, keys):
    """Fail unless d is a dict holding every one of keys."""
    if not isinstance(d, dict):
        raise CheckFailed(f"{name} should be a dict, got {type(d).__name__}.")
    missing = [k for k in keys if k not in d]
    if missing:
        raise CheckFailed(f"{name} has no {', '.join(map(repr, missing))}; it should hold {', '.join(map(repr, keys))}.")


def check_dict_unchanged(name, before, after):
    """Fail if an array in a dict (params, cache) was modified: before holds copies taken before the call."""
    for key, value in before.items():
        if key not in after or not np.array_equal(value, after[key]):
            raise CheckFailed(
                f"{name}[{key!r}] was modified in place. Leave the inputs alone: W - alpha * dW makes a new "
                f"array, W -= alpha * dW overwrites W itself; put the new arrays in a new dict.")


def _layer_of(key):
    digits = "".join(ch for ch in str(key) if ch.isdigit())
    return int(digits) if digits else None


def _gradient_shape_message(key, got_shape, shape):
    if len(got_shape) == 2 and tuple(got_shape[::-1]) == tuple(shape):
        return (f"has shape {got_shape}, the transpose of {tuple(shape)}: it looks transposed. "
                "A gradient has the shape of its parameter: dW = A_prev.T @ dZ is (n_in, n_units).")
    if str(key).startswith("db") and len(got_shape) == 2 and got_shape[-1:] == tuple(shape):
        return (f"has shape {got_shape}, one row per example: db was not summed over the examples. "
                "Sum dZ over axis 0, so that db has the shape of b.")
    return f"has shape {got_shape}, but a gradient has the shape of its parameter, {tuple(shape)}."


def _gradient_value_message(key, got, num, m, rel):
    close = lambda wrong: bool(np.allclose(got, wrong, rtol=1e-5, atol=1e-12))  # noqa: E731
    if np.any(num != 0):
        if m is not None and m > 1 and close(num * m):
            return f"is m = {m} times too large: the 1/m (mean over the examples) is missing."
        if m is not None and m > 1 and close(num / m):
            return f"is m = {m} times too small: 1/m is applied twice (dZ already holds it)."
        if close(-num):
            return "has the wrong sign: the output layer's dZ is (A - y) / m, prediction minus label."
    return f"disagrees with the numerical gradient (relative error {rel:.1e})."


def check_gradients(grads, numerical, *, m=None, tol=1e-7, show=True):
    """Compare backpropagation's gradients with numerical ones, key by key, and name the likely mistake.

    grads: what backward returned; numerical: {"dW1": array, "db1": array, ...}
    from numerical_gradient. As in CS231n, a relative error below 1e-7 (in
    float64) means the gradient is right. m: the number of examples, to
    recognise a missing or doubled 1/m. Prints one line per key and returns
    {key: relative error}.
    """
    from utils.gradient_check import rel_error

    if not isinstance(grads, dict):
        raise CheckFailed(f"backward should return a dict of gradients, got {type(grads).__name__}.")
    missing = [k for k in numerical if k not in grads]
    if missing:
        raise CheckFailed(f"the gradients have no {', '.join(missing)}: return a dict with the keys "
                             f"{', '.join(numerical)}.")
    errors, problems, shapes_ok = {}, {}, True
    for key, num in numerical.items():
        num = np.asarray(num, dtype=np.float64)
        if grads[key] is None:
            raise CheckFailed(f"{key} is None: did you forget to store it?")
        dtype = np.asarray(grads[key]).dtype
        got = np.asarray(grads[key], dtype=np.float64)
        if dtype != np.float64:
            errors[key] = np.inf
            problems[key] = (f"has dtype {dtype}: gradients should be float64 arrays, like the parameters "
                             "(the numerical check needs float64 precision).")
        elif got.shape != num.shape:
            errors[key], shapes_ok = np.inf, False
            problems[key] = _gradient_shape_message(key, got.shape, num.shape)
        elif not np.all(np.isfinite(got)):
            errors[key] = np.inf
            problems[key] = "contains nan or inf."
        else:
            errors[key] = rel_error(got, num)
            if errors[key] >= tol:
                problems[key] = _gradient_value_message(key, got, num, m, errors[key])
    if show:
        for key, err in errors.items():
            verdict = "ok" if err < tol else "WRONG"
            print(f"  {key:5s} relative error {err:8.1e}  {verdict}")
    if not problems:
        return errors
    lines = [f"{key} {message}" for key, message in problems.items()]
    layers = sorted({_layer_of(k) for k in numerical if _layer_of(k) is not None})
    bad_layers = {_layer_of(k) for k in problems}
    if shapes_ok and len(layers) > 1 and layers[-1] not in bad_layers:
        lines.append("The last layer's gradients are right but earlier layers' are not, so the mistake is in how "
                     "the gradient flows back: dA_prev = dZ @ W.T, then the layer below's "
                     "dZ = activation_backward(dA_prev, its Z, its activation).")
    raise CheckFailed("backward disagrees with the numerical gradient:\n  " + "\n  ".join(lines))
