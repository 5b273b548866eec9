"""The grader's agent inside the student's kernel.

The grader installs this module in the kernel before the first cell runs and calls it
through silent execute requests (nothing enters the kernel's history): to list the
kernel's names, to fetch the values of the names a test reads, to call a student's
function with arguments the evaluator sent, and to set state a test sets for the
student's code. It answers in plain data (autograder.judging.wire); an object that must
stay here (a model, a dict the test will pass back) is kept under a handle.

This is untrusted ground: the student's code shares the process and may change anything
here. Nothing the agent says is believed: the evaluator decodes and checks all of it.
"""
import builtins
import hashlib
import inspect
import sys
import traceback
import types
import warnings

import numpy as np

from . import models, wire

MAX_TEXT = 4000
FUNCTION_TYPES = (types.FunctionType, types.BuiltinFunctionType, types.MethodType)
NOT_NOTEBOOK_NAMES = ("In", "Out", "get_ipython", "exit", "quit", "open")
SETTERS = {"set_random_seed"}


def _short(text, limit=MAX_TEXT):
    text = str(text)
    return text if len(text) <= limit else text[:limit] + " ..."


class _Results(wire.Encoder):
    """Encodes what the kernel sends back: handles for mutable objects, references to the
    caller's own arguments, and descriptions of models, histories and functions."""

    def __init__(self, agent, arg_paths=None, by_value=()):
        super().__init__()
        self.agent, self.arg_paths, self.by_value = agent, arg_paths or {}, set(by_value)

    def special(self, obj):
        path = self.arg_paths.get(id(obj))
        if path is not None:
            return {"arg": path}
        return None

    def annotate(self, obj, encoded):
        if type(obj) in (list, dict, np.ndarray) and id(obj) not in self.by_value:
            encoded["handle"] = self.agent.keep(obj)
        return encoded

    def other(self, obj, depth):
        if isinstance(obj, FUNCTION_TYPES):
            self.number(obj)
            return {"function": {"name": _short(getattr(obj, "__name__", "function"), 200),
                                 "signature": self.agent.signature(obj)}, "handle": self.agent.keep(obj)}
        if models.is_model(obj):
            self.number(obj)
            return {"keras": models.describe(obj), "handle": self.agent.keep(obj)}
        if models.is_history(obj):
            self.number(obj)
            return {"history": models.describe_history(obj, lambda v: self.encode(v, depth + 1)),
                    "handle": self.agent.keep(obj)}
        raise wire.WireError(f"a {wire.type_name(obj)}")


class _Arguments(wire.Decoder):
    """Decodes the evaluator's arguments; {"ref": handle} is an object kept here."""

    def __init__(self, agent):
        super().__init__()
        self.agent = agent

    def special(self, tag, body, data, depth):
        if tag == "ref" and type(body) is str and body in self.agent.objects:
            return self.agent.objects[body]
        raise wire.WireError(f"unexpected data ({tag[:30]!r})")


def _walk(obj, path, found):
    """Record the path of every container, array and kept object inside obj."""
    if id(obj) in found:
        return
    if type(obj) in (list, dict, tuple, np.ndarray) or models.is_model(obj):
        found[id(obj)] = path
    if type(obj) in (list, tuple):
        for i, v in enumerate(obj):
            _walk(v, path + [i], found)
    elif type(obj) is dict:
        for k, v in obj.items():
            _walk(v, path + [wire.Encoder().encode(k)], found)


class _Fingerprint(wire.Encoder):
    """A value's content, for telling whether a call changed an argument."""

    def other(self, obj, depth):
        if models.is_model(obj):
            return {"keras": models.describe(obj)}
        return {"object": id(obj)}


def fingerprint(obj):
    try:
        return hashlib.sha1(wire.dumps(_Fingerprint().encode(obj)).encode()).hexdigest()
    except (wire.WireError, ValueError, TypeError):
        return None


class Agent:
    def __init__(self, namespace=None):
        self.objects = {}   # handle -> object the evaluator holds a mirror of
        self.handles = {}   # id(object) -> handle
        self._namespace = namespace   # the notebook's names: IPython's user namespace by default

    @property
    def namespace(self):
        if self._namespace is None:
            from IPython import get_ipython
            return get_ipython().user_ns
        return self._namespace

    def keep(self, obj):
        """The handle of obj, kept alive for as long as the notebook is graded."""
        handle = self.handles.get(id(obj))
        if handle is None or self.objects.get(handle) is not obj:
            handle = f"h{len(self.objects) + 1}"
            self.objects[handle], self.handles[id(obj)] = obj, handle
        return handle

    def signature(self, fn):
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            return None
        params = []
        for p in sig.parameters.values():
            entry = {"name": p.name, "kind": int(p.kind)}
            if p.default is not inspect.Parameter.empty:
                try:
                    entry["default"] = wire.Encoder().encode(p.default)
                except wire.WireError as err:
                    entry["default"] = {"refused": {"type": wire.type_name(p.default), "why": str(err)}}
            params.append(entry)
        return params

    # -- entry points: JSON text in, JSON text out, never an exception

    def names(self, request="{}"):
        """The names defined in the notebook's namespace."""
        ns = self.namespace
        return wire.dumps(sorted(k for k in ns if type(k) is str and k.isidentifier() and k not in NOT_NOTEBOOK_NAMES))

    def fetch(self, request):
        """{"values": {name: encoded value, or {"refused": ...}}} of the names asked for."""
        ns = self.namespace
        values = {}
        for name in wire.loads(request)["names"]:
            if type(name) is str and name in ns:
                values[name] = self._encode(ns[name])
        return wire.dumps({"values": values})

    def _encode(self, value, **kw):
        try:
            return _Results(self, **kw).encode(value)
        except wire.WireError as err:
            return {"refused": {"type": wire.type_name(value), "why": _short(err, 300)}}
        except Exception as err:  # noqa: BLE001 - a student's object that fails while described
            return {"refused": {"type": wire.type_name(value), "why": f"{type(err).__name__}: {_short(err, 300)}"}}

    def call(self, request):
        """Call a kept function with the evaluator's arguments, under its warning filters and
        floating-point error state; send back the result, the arguments it changed, the
        warnings it raised, or the exception it raised."""
        request = wire.loads(request)
        fn = self.objects.get(request["fn"])
        if not callable(fn):
            return wire.dumps({"agent_error": "the function asked for is not kept here"})
        decoder = _Arguments(self)
        args = [decoder.decode(a) for a in request["args"]]
        kwargs = {name: decoder.decode(v) for name, v in request["kwargs"]}
        paths = {}
        for i, a in enumerate(args):
            _walk(a, ["a", i], paths)
        for name, v in kwargs.items():
            _walk(v, ["k", name], paths)
        by_value = [i for i in paths if i not in self.handles]
        top = [(["a", i], a) for i, a in enumerate(args)] + [(["k", n], v) for n, v in kwargs.items()]
        before = [fingerprint(v) for _, v in top]
        reply = {}
        with warnings.catch_warnings(record=True) as caught:
            warnings.resetwarnings()
            for action, message, category, module, lineno in request["warnings"]:
                category = _warning_class(category)
                if category is not None:
                    warnings.filterwarnings(action, message, category, module, lineno, append=True)
            try:
                with np.errstate(**request["errstate"]):
                    result = fn(*args, **kwargs)
            except KeyboardInterrupt:
                return wire.dumps({"interrupted": True})
            except BaseException as err:  # noqa: BLE001 - the student's exception goes back as data
                reply["exception"] = self._exception(err)
            else:
                reply["result"] = self._encode(result, arg_paths=paths)
        changed = []
        for (path, value), old in zip(top, before):
            if fingerprint(value) != old:
                # What this argument holds goes by value; references to the other arguments stay.
                others = {k: p for k, p in paths.items() if p[:len(path)] != path}
                changed.append([path, self._encode(value, arg_paths=others, by_value=by_value)])
        reply["changed"] = changed
        reply["warnings"] = [[_short(wire.class_name(w.category), 200) if isinstance(w.category, type) else "",
                              _short(w.message)] for w in caught[:50]]
        return wire.dumps(reply)

    def _exception(self, err):
        bases = [c.__name__ for c in type(err).__mro__ if c.__module__ == "builtins"]
        try:
            args = wire.Encoder().encode(err.args) if len(wire.dumps(wire.Encoder().encode(err.args))) < 20000 else None
        except (wire.WireError, ValueError, TypeError):
            args = None
        frames = []
        for frame in traceback.extract_tb(err.__traceback__)[1:]:
            if "ipykernel_" in frame.filename or frame.filename.startswith("<ipython-input"):
                frames.append(f"  line {frame.lineno}, in {frame.name}\n    {(frame.line or '').strip()}")
        try:
            message = _short(err)
        except Exception:  # noqa: BLE001 - a __str__ that fails
            message = ""
        return {"type": _short(type(err).__name__, 100), "module": _short(type(err).__module__, 200),
                "bases": bases, "args": args, "message": message, "frames": _short("\n".join(frames[-8:]))}

    def state(self, request):
        """Set state a test sets for the student's code; only the allowlisted setters."""
        request = wire.loads(request)
        if request.get("call") not in SETTERS:
            return wire.dumps({"ok": False})
        seed = int(request["seed"])
        if "tensorflow" in sys.modules or "keras" in sys.modules:
            import keras
            keras.utils.set_random_seed(seed)
        else:
            import random
            random.seed(seed)
            np.random.seed(seed)
        return wire.dumps({"ok": True})


def _warning_class(name):
    """A warning category named by the evaluator: a builtin one, or NumPy's."""
    if type(name) is not str:
        return None
    module, _, qualname = name.rpartition(".")
    source = vars(builtins) if not module else None
    if module.startswith("numpy") and module in sys.modules:
        source = vars(sys.modules[module])
    cls = (source or {}).get(qualname)
    return cls if isinstance(cls, type) and issubclass(cls, Warning) else None


def safely(method, request):
    """Run an entry point; any failure of the agent itself is reported as data, not raised."""
    try:
        return method(request)
    except KeyboardInterrupt:
        return wire.dumps({"interrupted": True})
    except BaseException as err:  # noqa: BLE001
        return wire.dumps({"agent_error": f"{type(err).__name__}: {_short(err, 500)}"})


AGENT = Agent()


class _Printed:
    """sys.stdout and sys.stderr while the agent serves: what the student's code prints, capped."""

    def __init__(self, limit=100_000):
        self.parts, self.size, self.limit = [], 0, limit

    def write(self, text):
        text = str(text)
        if self.size < self.limit:
            self.parts.append(text[:self.limit - self.size])
        self.size += len(text)
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return False

    def text(self):
        more = f"\n... {self.size - self.limit} more characters not kept ...\n" if self.size > self.limit else ""
        return "".join(self.parts) + more


def serve_socket(path, agent=AGENT):
    """Serve the grader's requests for one test over the Unix socket at path, a line each way,
    until the grader ends the session. An interrupt that arrives between requests is answered
    as the interruption of the last one."""
    import contextlib
    import json
    import socket
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.connect(path)
    reader, last = connection.makefile("rb"), None
    try:
        while True:
            try:
                line = reader.readline()
            except KeyboardInterrupt:
                if last is not None:
                    connection.sendall(json.dumps({"id": last, "interrupted": True}).encode() + b"\n")
                continue
            if not line:
                return
            try:
                request = json.loads(line)
                last, kind = request["id"], request["kind"]
            except (ValueError, KeyError, TypeError):
                continue
            if kind == "end":
                return
            printed = _Printed()
            with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
                answer = serve(kind, request.get("payload", ""), agent)
            connection.sendall(json.dumps({"id": last, "answer": answer, "printed": printed.text()}).encode()
                               + b"\n")
    finally:
        reader.close()
        connection.close()


def serve(kind, request, agent=AGENT):
    """The grader's entry point: a request of one kind, answered as JSON text."""
    method = {"names": agent.names, "fetch": agent.fetch, "call": agent.call, "state": agent.state}.get(kind)
    if method is None:
        return wire.dumps({"agent_error": f"unknown request {str(kind)[:40]!r}"})
    return safely(method, request)
