"""The plain-data encoding between the evaluator and the kernel (autograder/judging/wire.py)."""
import json
import math

import numpy as np
import pytest

from autograder.judging import wire


def round_trip(value):
    text = wire.dumps(wire.Encoder().encode(value))
    return wire.Decoder().decode(wire.loads(text))


PLAIN = [None, True, False, 0, -7, 10 ** 80, 0.1, -0.0, 1e-320, math.inf, -math.inf, 2 + 3j, "", "naïve ✔",
         np.float64(0.25), np.float32(1.5), np.int64(-3), np.uint8(200), np.bool_(True),
         np.array(3.5), np.zeros((0, 4)), np.arange(12, dtype=np.int32).reshape(3, 4),
         np.array([[True, False]]), np.linspace(0, 1, 7, dtype=np.float16),
         (1, (2.0, "x")), [1, [2, [3]]], {"W1": np.eye(2), 3: [None]}, ()]


@pytest.mark.parametrize("value", PLAIN, ids=lambda v: type(v).__name__)
def test_plain_values_cross_with_their_exact_type_dtype_and_shape(value):
    got = round_trip(value)
    assert type(got) is type(value)
    if isinstance(value, np.ndarray):
        assert got.dtype == value.dtype and got.shape == value.shape and np.array_equal(got, value)
        assert got.flags.writeable and got.flags.owndata
    elif isinstance(value, float):
        assert got == value and math.copysign(1, got) == math.copysign(1, value)
    elif isinstance(value, np.generic):
        assert got.dtype == value.dtype and got == value
    elif isinstance(value, (tuple, list)):
        assert repr(got) == repr(value)
    elif isinstance(value, dict):
        assert list(got) == list(value) and np.array_equal(got["W1"], value["W1"]) and got[3] == [None]
    else:
        assert got == value


def test_nan_crosses_as_nan():
    assert math.isnan(round_trip(float("nan"))) and np.isnan(round_trip(np.array([np.nan]))[0])


def test_shared_and_cyclic_containers_keep_their_identity():
    inner = [1.0]
    outer = [inner, inner]
    outer.append(outer)
    got = round_trip(outer)
    assert got[0] is got[1] and got[2] is got


class Liar(float):
    """A float subclass whose comparisons always agree."""

    def __eq__(self, other):
        return True


class Sub(np.ndarray):
    pass


class PretendsToBeFloat:
    @property
    def __class__(self):
        return float

    def __array__(self, *a, **k):
        return np.array(0.5)


@pytest.mark.parametrize("value, named", [
    (Liar(1.0), "Liar"), (PretendsToBeFloat(), "PretendsToBeFloat"), (np.array([1, "a"], dtype=object), "dtype object"),
    (np.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")]), "dtype"), (np.array([1j]), "complex128"),
    (np.ma.masked_array([1.0]), "MaskedArray"), (np.zeros(2).view(Sub), "Sub"), ({(1, 2): 3}, "dict key"),
    (10 ** 5000, "digits"), (range(3), "range"), (lambda: 0, "function"), ({1, 2}, "set"),
    (np.datetime64("2020-01-01"), "datetime64")], ids=lambda v: v if isinstance(v, str) else "")
def test_anything_else_is_refused_with_its_type_named(value, named):
    with pytest.raises(wire.WireError, match=named):
        wire.Encoder().encode(value)


def deep(n):
    value = []
    for _ in range(n):
        value = [value]
    return value


def test_nesting_is_capped():
    with pytest.raises(wire.WireError, match="nested"):
        wire.Encoder().encode(deep(wire.MAX_DEPTH + 5))
    text = "[" * 10_000 + "]" * 10_000
    with pytest.raises(wire.WireError):
        wire.Decoder().decode(wire.loads(text))


ARRAY = {"dtype": "<f8", "shape": [2], "data": "AAAAAAAA8D8AAAAAAAAAQA=="}


@pytest.mark.parametrize("data", [
    {"array": dict(ARRAY, dtype="|O")}, {"array": dict(ARRAY, dtype="<c16")}, {"array": dict(ARRAY, shape=[3])},
    {"array": dict(ARRAY, shape=[-2])}, {"array": dict(ARRAY, shape=[2 ** 40, 2 ** 40])},
    {"array": dict(ARRAY, data="not base64!")}, {"array": dict(ARRAY, extra=1)},
    {"array": {"dtype": "|b1", "shape": [2], "data": "AQI="}},
    {"scalar": {"dtype": "<f8", "data": "AAA="}}, {"int": "12a"}, {"int": "1" * (wire.MAX_INT_DIGITS + 1)},
    {"float": "1e3"}, {"float": "0x1.8p+1" + "0" * 50}, {"complex": ["0x1p+0"]}, {"same": 0}, {"pickle": "gASV"},
    {"list": [], "handle": "../etc"}, {"list": [], "tuple": []}, {"dict": [[["k"], 1]]}, {"dict": [[1.5, 1]]},
    {"tuple": [{"same": 0}]}, "\ud800", 3, [1, 2]])
def test_malformed_data_is_refused(data):
    with pytest.raises(wire.WireError):
        wire.Decoder().decode(data)


@pytest.mark.parametrize("text", ['1.5', '{"a": NaN}', '{"a": Infinity}', '{"a": 1, "a": 2}', "[", 'x' * 10])
def test_json_with_bare_floats_special_constants_or_duplicate_keys_is_refused(text):
    with pytest.raises(wire.WireError):
        wire.loads(text)


def test_oversized_text_is_refused_before_it_is_parsed():
    with pytest.raises(wire.WireError, match="over the"):
        wire.loads(json.dumps("x" * 2000), max_bytes=1000)


def test_arrays_of_another_byte_order_cross_in_native_order():
    value = np.array([1.5, -2.0], dtype=">f8")
    got = round_trip(value)
    assert got.dtype == np.dtype("<f8") and np.array_equal(got, value)
