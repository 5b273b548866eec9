"""Plain data across the grading boundary, as tagged JSON.

Every number, array and container is tagged with its exact type; decoding builds only
plain objects and checks every tag, size and dtype on the way:

    None, True, "text"           as themselves
    {"int": "-12"}               {"float": "0x1.8p+1"} (exact)     {"complex": [re, im]}
    {"scalar": {"dtype": "<f8", "data": base64}}                  a NumPy scalar
    {"array": {"dtype": "<f8", "shape": [2, 3], "data": base64}}  a NumPy array, 0-d included
    {"tuple": [...]}   {"list": [...]}   {"dict": [[key, value], ...]}  (keys str or int)
    {"same": n}                  the n-th container or array of this message again

Only bool, integer and float dtypes cross (never object dtype, never pickle). Each side
extends the format with its own tags (handles, functions, models: see agent and
evaluator), and a container may carry a "handle" naming an object that stays in the
kernel. Nothing here imports, unpickles or calls anything named by the data.
"""
import base64
import json
import re

import numpy as np

MAX_BYTES = 32 * 1024 ** 2   # one message, as JSON text
MAX_DEPTH = 64
MAX_INT_DIGITS = 4000
MAX_NDIM = 32

# The dtypes that cross, as NumPy writes them (native little-endian).
DTYPES = {np.dtype(t).str: np.dtype(t) for t in (
    np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
    np.float16, np.float32, np.float64)}
SCALAR_TYPES = frozenset(dt.type for dt in DTYPES.values())

_INT = re.compile(r"-?[0-9]{1,%d}" % MAX_INT_DIGITS)
_FLOAT = re.compile(r"-?(?:0x[0-9a-f]\.?[0-9a-f]*p[-+][0-9]{1,4}|0x0p\+0|inf|nan)")
_HANDLE = re.compile(r"[A-Za-z0-9_]{1,40}")


class WireError(ValueError):
    """A value that cannot cross the boundary; the message says what and why."""


def class_name(cls):
    """The qualified name of a class, e.g. 'numpy.ndarray', or 'ValueError' for a builtin."""
    module = getattr(cls, "__module__", "") or ""
    qualname = getattr(cls, "__qualname__", "") or getattr(cls, "__name__", "?")
    return qualname if module == "builtins" else f"{module}.{qualname}"


def type_name(obj):
    """The qualified name of obj's type, e.g. 'numpy.ndarray' or 'pandas.core.series.Series'."""
    return class_name(type(obj))


def dumps(data):
    """JSON text of encoded data (compact; NaN and infinities never appear: floats are tagged)."""
    return json.dumps(data, separators=(",", ":"), allow_nan=False, ensure_ascii=False)


def _refuse_float(text):
    raise WireError(f"an untagged number {text[:20]!r}")


def _pairs(pairs):
    out = {}
    for key, value in pairs:
        if key in out:
            raise WireError(f"the key {key[:40]!r} appears twice")
        out[key] = value
    return out


def loads(text, max_bytes=MAX_BYTES):
    """Parse JSON text from the other side: size-capped, no bare floats, NaN or duplicate keys."""
    if not isinstance(text, str):
        raise WireError(f"expected JSON text, got {type_name(text)}")
    if len(text) > max_bytes:
        raise WireError(f"the value is {len(text) / 2 ** 20:.1f} MB, over the {max_bytes / 2 ** 20:.0f} MB limit")
    try:
        return json.loads(text, parse_float=_refuse_float, parse_constant=_refuse_float, object_pairs_hook=_pairs)
    except WireError:
        raise
    except (ValueError, RecursionError) as err:
        raise WireError(f"unreadable data ({type(err).__name__})") from None


class Encoder:
    """Encodes a value for the other side. Subclasses add handles and extra types.

    `special(obj)` may return an encoding for obj before the type dispatch (a reference
    to something the other side already holds); `other(obj)` encodes what plain data
    does not cover or raises WireError; `annotate(obj, encoded)` may add a handle to a
    container's encoding.
    """

    def __init__(self):
        self._index = {}   # id(obj) -> its number among this message's containers
        self._alive = []   # the objects numbered, so that their ids stay theirs

    def encode(self, obj, depth=0):
        if depth > MAX_DEPTH:
            raise WireError(f"the value is nested more than {MAX_DEPTH} levels deep")
        t = type(obj)
        if obj is None or t is bool or t is str:
            return obj
        if t is int:
            text = str(obj) if -10 ** MAX_INT_DIGITS < obj < 10 ** MAX_INT_DIGITS else ""
            if not text:
                raise WireError(f"an integer with more than {MAX_INT_DIGITS} digits")
            return {"int": text}
        if t is float:
            return {"float": obj.hex()}
        if t is complex:
            return {"complex": [obj.real.hex(), obj.imag.hex()]}
        if t in SCALAR_TYPES:
            return {"scalar": {"dtype": np.dtype(t).str, "data": base64.b64encode(obj.tobytes()).decode()}}
        special = self.special(obj)
        if special is not None:
            return special
        if id(obj) in self._index:
            return {"same": self._index[id(obj)]}
        if t in (tuple, list, dict, np.ndarray):
            self._index[id(obj)] = len(self._alive)
            self._alive.append(obj)
            if t is np.ndarray:
                out = {"array": encode_array(obj)}
            elif t is tuple:
                out = {"tuple": [self.encode(v, depth + 1) for v in obj]}
            elif t is list:
                out = {"list": [self.encode(v, depth + 1) for v in obj]}
            else:
                pairs = []
                for key, value in obj.items():
                    if type(key) not in (str, int):
                        raise WireError(f"a dict key of type {type_name(key)}: keys must be str or int")
                    pairs.append([self.encode(key, depth + 1), self.encode(value, depth + 1)])
                out = {"dict": pairs}
            return self.annotate(obj, out)
        return self.other(obj, depth)

    def number(self, obj):
        """Give obj (an extra type's object) a number among the containers, like a container."""
        self._index[id(obj)] = len(self._alive)
        self._alive.append(obj)

    def special(self, obj):
        return None

    def annotate(self, obj, encoded):
        return encoded

    def other(self, obj, depth):
        raise WireError(f"a {type_name(obj)}")


def encode_array(a):
    """{"dtype", "shape", "data"} of a NumPy array of an allowed dtype (byte order made native)."""
    if a.nbytes > MAX_BYTES // 2:
        raise WireError(f"a NumPy array of {a.nbytes / 2 ** 20:.0f} MB, over the size limit "
                        f"({MAX_BYTES // 2 // 2 ** 20} MB)")
    if a.dtype.str not in DTYPES:
        if a.dtype.kind in "biuf" and a.dtype.newbyteorder("=").str in DTYPES and not a.dtype.fields:
            a = a.astype(a.dtype.newbyteorder("="))
        else:
            raise WireError(f"a NumPy array of dtype {a.dtype}: only bool, integer and float arrays cross")
    return {"dtype": a.dtype.str, "shape": list(a.shape),
            "data": base64.b64encode(np.ascontiguousarray(a).tobytes()).decode()}


class Decoder:
    """Decodes data from the other side into plain objects, checking everything.

    Subclasses handle their own tags in `special(tag, body, data)` and may act on a
    container's handle in `adopt(handle, obj)` (returning the object to use).
    """

    def __init__(self):
        self._made = []   # the containers of this message in encoding order

    def decode(self, data, depth=0):
        if depth > MAX_DEPTH:
            raise WireError(f"the value is nested more than {MAX_DEPTH} levels deep")
        if data is None or type(data) is bool:
            return data
        if type(data) is str:
            return _check_text(data)
        if type(data) is not dict or not 1 <= len(data) <= 2:
            raise WireError(f"unexpected data ({type(data).__name__})")
        handle = data.get("handle")
        if handle is not None and (type(handle) is not str or not _HANDLE.fullmatch(handle)):
            raise WireError("a malformed handle")
        tags = [k for k in data if k != "handle"]
        if len(tags) != 1 or (len(data) == 2 and handle is None):
            raise WireError("unexpected data")
        tag = tags[0]
        body = data[tag]
        if tag == "int":
            if type(body) is not str or not _INT.fullmatch(body):
                raise WireError("a malformed integer")
            return int(body)
        if tag == "float":
            return _float(body)
        if tag == "complex":
            if type(body) is not list or len(body) != 2:
                raise WireError("a malformed complex number")
            return complex(_float(body[0]), _float(body[1]))
        if tag == "scalar":
            return _scalar(body)
        if tag == "same":
            if type(body) is not int or not 0 <= body < len(self._made) or self._made[body] is _BUILDING:
                raise WireError("a malformed reference")
            return self._made[body]
        if tag == "array":
            slot = self.reserve()
            obj = self._made[slot] = decode_array(body)
        elif tag in ("list", "dict"):
            if type(body) is not list:
                raise WireError(f"a malformed {tag}")
            slot = self.reserve()
            obj = self._made[slot] = [] if tag == "list" else {}
            if tag == "list":
                obj.extend(self.decode(v, depth + 1) for v in body)
            else:
                for pair in body:
                    if type(pair) is not list or len(pair) != 2:
                        raise WireError("a malformed dict")
                    key = self.decode(pair[0], depth + 1)
                    if type(key) not in (str, int):
                        raise WireError("a dict key that is not str or int")
                    obj[key] = self.decode(pair[1], depth + 1)
        elif tag == "tuple":
            if type(body) is not list:
                raise WireError("a malformed tuple")
            slot = self.reserve()
            obj = self._made[slot] = tuple(self.decode(v, depth + 1) for v in body)
        else:
            return self.special(tag, body, data, depth)
        if handle is not None:
            obj = self._made[slot] = self.adopt(handle, obj)
        return obj

    def reserve(self):
        """Number the next object among this message's containers (its encoder numbered it
        before encoding what it holds); fill the slot once the object is made."""
        self._made.append(_BUILDING)
        return len(self._made) - 1

    def fill(self, slot, obj):
        self._made[slot] = obj
        return obj

    def special(self, tag, body, data, depth):
        raise WireError(f"unexpected data ({tag[:30]!r})")

    def adopt(self, handle, obj):
        return obj


_BUILDING = object()   # a tuple still being decoded: a "same" reference to it is malformed


def _check_text(text):
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise WireError("text that is not valid Unicode") from None
    return text


def _float(body):
    if type(body) is not str or len(body) > 40 or not _FLOAT.fullmatch(body):
        raise WireError("a malformed float")
    return float.fromhex(body)


def _raw(body, dtype, count):
    if type(body) is not str:
        raise WireError("malformed array data")
    try:
        raw = base64.b64decode(body.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        raise WireError("malformed array data") from None
    if len(raw) != count * dtype.itemsize:
        raise WireError("array data of the wrong length")
    if dtype == np.bool_ and raw.strip(b"\x00\x01"):
        raise WireError("a bool array holding values other than 0 and 1")
    return raw


def _dtype(code):
    if type(code) is not str or code not in DTYPES:
        raise WireError(f"an array of dtype {str(code)[:20]!r}: only bool, integer and float arrays cross")
    return DTYPES[code]


def _scalar(body):
    if type(body) is not dict or set(body) != {"dtype", "data"}:
        raise WireError("a malformed NumPy scalar")
    dtype = _dtype(body["dtype"])
    return np.frombuffer(_raw(body["data"], dtype, 1), dtype=dtype)[0]


def decode_array(body):
    """A new, writable NumPy array from {"dtype", "shape", "data"}."""
    if type(body) is not dict or set(body) != {"dtype", "shape", "data"}:
        raise WireError("a malformed array")
    dtype, shape = _dtype(body["dtype"]), body["shape"]
    if type(shape) is not list or len(shape) > MAX_NDIM or any(type(n) is not int or n < 0 for n in shape):
        raise WireError("an array with a malformed shape")
    count = 1
    for n in shape:
        count *= n
    if count * dtype.itemsize > MAX_BYTES:
        raise WireError(f"an array of shape {tuple(shape)}, over the size limit")
    return np.frombuffer(_raw(body["data"], dtype, count), dtype=dtype).reshape(shape).copy()
