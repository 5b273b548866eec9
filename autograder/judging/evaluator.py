"""The evaluator: runs a notebook's test cells where no student code ever runs.

One evaluator process serves one submission. The grader sends it, in notebook order,
the locked cells whose names it can define itself (imports, data, helpers: trusted code
from the gradebook) and the test cells. A test cell runs here against:

- the names the trusted cells and earlier tests defined, and
- the student's work, fetched from the kernel when the test reads it: a function
  becomes a StudentFunction, which calls the function in the kernel with plain-data
  arguments; a value arrives as plain data; a Keras model as a model built here from
  its description (autograder.judging.mirrors).

So every check runs on objects made here, and the verdict (the test raised or not) is
this process's. The grader relays each request for the kernel and each reply; it never
runs the tests, and the kernel never sees them.

Protocol: one JSON object per line on the pipes the grader opened (stdin, stdout).
  grader -> evaluator: {"op": "trusted"|"test", "id", "source", "cell"} and
                       {"op": "reply", "ok", "data" | "problem", "message"} to a kernel request
  evaluator -> grader: {"op": "output", "text"}, {"op": "kernel", "kind", "payload"},
                       {"op": "done", "id", "ok", "error", "events"}
"""
import builtins
import hashlib
import inspect
import json
import os
import signal
import sys
import traceback
import warnings

import numpy as np

from . import mirrors, models, names, wire


class GraderRefused(Exception):
    """A value from the student's kernel the grader does not take: the message says what."""


class KernelUnavailable(BaseException):
    """The kernel cannot serve this test (it died, hung or flooded output): the test fails.
    A BaseException, so that no `except Exception` in a test can swallow it."""


class TestTimeout(BaseException):
    """The test ran out of time; a BaseException for the same reason."""


class GraderGone(BaseException):
    """The grader closed the pipe: the evaluator ends."""


class StudentError(Exception):
    """An exception of the student's code whose type has no builtin counterpart here."""


class Unavailable:
    """A name of the student's notebook whose value could not cross; using it fails the test."""

    def __init__(self, evaluator, name, why):
        object.__setattr__(self, "_refusal", (evaluator, name, why))

    def _refuse(self, *args, **kwargs):
        evaluator, name, why = object.__getattribute__(self, "_refusal")
        raise evaluator.refuse(f"`{name}` in your notebook is {why}")

    __call__ = __getattr__ = __getitem__ = __iter__ = __len__ = __bool__ = __float__ = __int__ = _refuse
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __matmul__ = _refuse
    __eq__ = __lt__ = __le__ = __gt__ = __ge__ = __array__ = _refuse
    __hash__ = None

    def __repr__(self):
        return f"<unavailable {object.__getattribute__(self, '_refusal')[1]}>"


class StudentFunction:
    """A function of the student's notebook: calling it runs it in the kernel."""

    def __init__(self, evaluator, handle, name, signature):
        self._evaluator, self._handle = evaluator, handle
        self.__name__ = self.__qualname__ = name
        self.__signature__ = signature

    def __call__(self, *args, **kwargs):
        return self._evaluator.call(self, args, kwargs)

    def __repr__(self):
        return f"<function {self.__name__} of your notebook>"


def _signature(params, decode):
    """An inspect.Signature from the kernel's plain description, or None if it does not make one."""
    if type(params) is not list:
        return None
    try:
        parameters = []
        for p in params:
            kind = inspect._ParameterKind(p["kind"])
            if "default" in p:
                d = p["default"]
                default = (f"<a {d['refused'].get('type', 'value')}>" if type(d) is dict and "refused" in d
                           else decode(d))
                parameters.append(inspect.Parameter(p["name"], kind, default=default))
            else:
                parameters.append(inspect.Parameter(p["name"], kind))
        return inspect.Signature(parameters)
    except (TypeError, ValueError, KeyError, wire.WireError):
        return None


class _Content(wire.Encoder):
    """A value's full content (mirrors included), to tell whether it changed since it arrived."""

    def other(self, obj, depth):
        if models.is_model(obj):
            return {"keras": models.describe(obj)}
        if isinstance(obj, mirrors.History):
            return {"history": [self.encode(obj.history), self.encode(obj.params), self.encode(obj.epoch)]}
        if isinstance(obj, StudentFunction):
            return {"function": obj._handle}
        raise wire.WireError(f"a {wire.type_name(obj)}")


def fingerprint(obj):
    return hashlib.sha1(wire.dumps(_Content().encode(obj)).encode()).hexdigest()


class _ToKernel(wire.Encoder):
    """Arguments for a student function: plain data, or the handle of an object the kernel
    made when this process holds its unchanged mirror."""

    def __init__(self, evaluator):
        super().__init__()
        self.evaluator = evaluator

    def special(self, obj):
        if isinstance(obj, StudentFunction):
            return {"ref": obj._handle}
        handle = self.evaluator.handle_of(obj)
        if handle is None:
            return None
        if fingerprint(obj) == self.evaluator.synced.get(handle):
            return {"ref": handle}
        if models.is_model(obj) or isinstance(obj, mirrors.History):
            raise wire.WireError(f"a {wire.type_name(obj)} from your notebook that the test changed")
        return None   # changed here since it arrived: it goes by value

    def other(self, obj, depth):
        if isinstance(obj, Unavailable):
            obj._refuse()
        raise wire.WireError(f"a {wire.type_name(obj)}, which the grader cannot pass to your code")


class _FromKernel(wire.Decoder):
    """Decodes what the kernel sent, into plain objects and mirrors made here."""

    def __init__(self, evaluator, args=(), kwargs=None):
        super().__init__()
        self.evaluator, self.args, self.kwargs = evaluator, args, kwargs or {}
        self.adopted = []

    def special(self, tag, body, data, depth):
        handle = data.get("handle")
        if tag == "arg":
            return self._argument(body)
        if tag == "refused":
            why = body.get("why") if type(body) is dict else None
            raise wire.WireError(str(why)[:300] if type(why) is str and why else "a value")
        if handle is None:
            raise wire.WireError(f"unexpected data ({tag[:30]!r})")
        slot = self.reserve()
        if tag == "function":
            if type(body) is not dict or type(body.get("name")) is not str:
                raise wire.WireError("a malformed function")
            obj = self.evaluator.mirrors.get(handle)
            if not isinstance(obj, StudentFunction):
                obj = StudentFunction(self.evaluator, handle, body["name"][:200],
                                      _signature(body.get("signature"), wire.Decoder().decode))
        elif tag == "keras":
            obj = self.evaluator.model_mirror(handle, body)
        elif tag == "history":
            obj = mirrors.history(body, lambda v: self.decode(v, depth + 1))
            old = self.evaluator.mirrors.get(handle)
            if isinstance(old, mirrors.History):
                old.history, old.params, old.epoch, obj = obj.history, obj.params, obj.epoch, old
        else:
            raise wire.WireError(f"unexpected data ({tag[:30]!r})")
        self.fill(slot, obj)
        return self.adopt(handle, obj)

    def adopt(self, handle, obj):
        obj = self.evaluator.adopt(handle, obj)
        self.adopted.append(handle)
        return obj

    def _argument(self, path):
        if type(path) is not list or len(path) < 2 or path[0] not in ("a", "k"):
            raise wire.WireError("a malformed reference to an argument")
        try:
            obj = self.args[path[1]] if path[0] == "a" else self.kwargs[path[1]]
            for step in path[2:]:
                obj = obj[wire.Decoder().decode(step)] if type(obj) is dict else obj[step]
        except (IndexError, KeyError, TypeError):
            raise wire.WireError("a reference to an argument that is not there") from None
        return obj


def assign(old, new, seen=None):
    """Make old hold new's content, in place where the types allow; return what to use."""
    seen = set() if seen is None else seen
    if old is new or (id(old), id(new)) in seen:
        return old
    seen.add((id(old), id(new)))
    if type(old) is np.ndarray and type(new) is np.ndarray:
        if old.shape == new.shape and old.dtype == new.dtype and old.flags.writeable:
            old[...] = new
            return old
        return new
    if type(old) is dict and type(new) is dict:
        for key in [k for k in old if k not in new]:
            del old[key]
        for key, value in new.items():
            old[key] = assign(old[key], value, seen) if key in old else value
        return old
    if type(old) is list and type(new) is list:
        old[:] = [assign(o, n, seen) for o, n in zip(old, new)] + new[len(old):]
        return old
    if type(old) is tuple and type(new) is tuple and len(old) == len(new):
        return old if all(assign(o, n, seen) is o for o, n in zip(old, new)) else new
    return new


def _pattern(regex):
    """The text of a warning filter's message or module pattern (compiled, text, or None)."""
    return str(getattr(regex, "pattern", regex) or "")


def _warning_class(name):
    module, _, qualname = str(name).rpartition(".")
    cls = getattr(builtins, qualname, None) if not module else getattr(sys.modules.get(module), qualname, None)
    return cls if isinstance(cls, type) and issubclass(cls, Warning) else UserWarning


def _exception(info, decode):
    """The student's exception, rebuilt here as a builtin type (or a subclass named like theirs)."""
    name = info.get("type") if type(info.get("type")) is str and info["type"].isidentifier() else "Exception"
    module = info.get("module") if type(info.get("module")) is str else ""
    message = info.get("message") if type(info.get("message")) is str else ""
    base = StudentError
    for candidate in info.get("bases") or []:
        cls = getattr(builtins, candidate, None) if type(candidate) is str else None
        if isinstance(cls, type) and issubclass(cls, Exception):
            base = cls
            break
    cls = base if (module == "builtins" and name == base.__name__) else None
    if cls is None:
        try:
            cls = type(name, (base,), {"__module__": module or "student"})
        except TypeError:
            cls = base
    try:
        args = decode(info["args"]) if info.get("args") is not None else (message,)
        err = cls(*args) if type(args) is tuple else cls(message)
    except Exception:  # noqa: BLE001 - a builtin exception that wants other arguments
        err = StudentError(f"{name}: {message}")
    err.student_frames = info.get("frames") if type(info.get("frames")) is str else ""
    return err


class _Shell:
    """get_ipython() in the evaluator: trusted cells may say %matplotlib, which means nothing here."""

    def run_line_magic(self, name, line):
        if name != "matplotlib":
            raise RuntimeError(f"%{name} is not available in the evaluator")

    def run_cell_magic(self, name, line, cell):
        raise RuntimeError(f"%%{name} is not available in the evaluator")


class _Output:
    """sys.stdout and sys.stderr of the evaluator: text for the test cell's output."""

    def __init__(self, evaluator):
        self.evaluator, self.chunks = evaluator, []

    def write(self, text):
        self.chunks.append(str(text))
        return len(text)

    def flush(self):
        if self.chunks:
            text, self.chunks = "".join(self.chunks), []
            self.evaluator.send({"op": "output", "text": text})

    def isatty(self):
        return False


class Evaluator:
    def __init__(self, inbox, outbox):
        self.inbox, self.outbox = inbox, outbox
        shell = _Shell()
        self.ns = {"__name__": "__main__", "__builtins__": builtins, "get_ipython": lambda: shell}
        self.own = set(self.ns)        # names defined here (trusted cells, tests); never fetched
        self.fetched = set()           # names bound to values from the kernel
        self.mirrors, self.ids, self.synced, self.specs = {}, {}, {}, {}
        self.events, self.in_test = [], False
        self.output = _Output(self)

    # -- the pipe

    def send(self, message):
        self.outbox.write(json.dumps(message, ensure_ascii=False).encode() + b"\n")
        self.outbox.flush()

    def receive(self):
        line = self.inbox.readline()
        if not line:
            raise GraderGone()
        return json.loads(line)

    def kernel(self, kind, payload=None):
        """Ask the student's kernel through the grader; the reply decoded from JSON, checked for size."""
        self.output.flush()
        ok, data, problem, message = self.ask(kind, wire.dumps(payload or {}))
        if not ok:
            if problem == "refused":
                raise self.refuse(message)
            if problem == "timeout":
                raise TestTimeout(message or "the test ran out of time")
            raise KernelUnavailable(message or "the kernel cannot serve this test")
        try:
            data = wire.loads(data)
        except wire.WireError as err:
            raise self.refuse(f"the answer of your kernel could not be read: {err}") from None
        if type(data) is dict and data.get("interrupted"):
            raise TestTimeout("the test ran out of time")
        if type(data) is dict and "agent_error" in data:
            raise self.refuse(f"the grader's helper in your kernel failed ({str(data['agent_error'])[:300]}); "
                              "did your code change it?")
        return data

    def ask(self, kind, payload):
        """(ok, reply text, problem, message): one request relayed by the grader to the kernel."""
        self.send({"op": "kernel", "kind": kind, "payload": payload})
        reply = self.receive()
        if reply.get("op") != "reply":
            raise RuntimeError(f"the grader sent {reply.get('op')!r} where a reply was due")
        return bool(reply.get("ok")), reply.get("data"), reply.get("problem"), reply.get("message")

    def refuse(self, message):
        """A GraderRefused, recorded as an integrity event of this test."""
        self.events.append(message)
        return GraderRefused(message)

    # -- mirrors of the kernel's objects

    def handle_of(self, obj):
        handle = self.ids.get(id(obj))
        return handle if handle is not None and self.mirrors.get(handle) is obj else None

    def adopt(self, handle, obj):
        """The mirror of the kernel's object `handle`, brought up to date with obj."""
        old = self.mirrors.get(handle)
        if old is not None and old is not obj:
            obj = assign(old, obj)
        self.mirrors[handle], self.ids[id(obj)] = obj, handle
        return obj

    def model_mirror(self, handle, description):
        old = self.mirrors.get(handle)
        if models.is_model(old):
            model, spec = mirrors.update(old, self.specs[handle], description)
        else:
            model, spec = mirrors.build(description)
        self.specs[handle] = spec
        return model

    def _resync(self, decoder):
        for handle in decoder.adopted:
            try:
                self.synced[handle] = fingerprint(self.mirrors[handle])
            except wire.WireError:
                self.synced.pop(handle, None)

    # -- calls into the kernel

    def call(self, fn, args, kwargs):
        try:
            encoder = _ToKernel(self)
            payload = {"fn": fn._handle, "args": [encoder.encode(a) for a in args],
                       "kwargs": [[k, encoder.encode(v)] for k, v in kwargs.items()],
                       "errstate": np.geterr(),
                       "warnings": [[f[0], _pattern(f[1]), wire.class_name(f[2]), _pattern(f[3]), f[4]]
                                    for f in warnings.filters]}
        except wire.WireError as err:
            raise RuntimeError(f"the test cannot pass {err} to {fn.__name__} (a test-authoring error)") from None
        reply = self.kernel("call", payload)
        if type(reply) is not dict:
            raise self.refuse(f"the answer of your kernel to a call of {fn.__name__} could not be read")
        try:
            for path, value in reply.get("changed", []):
                decoder = _FromKernel(self, args, kwargs)
                new = decoder.decode(value)
                target = args[path[1]] if path[0] == "a" else kwargs[path[1]]
                assign(target, new)
                self._resync(decoder)
        except (wire.WireError, IndexError, KeyError, TypeError, ValueError) as err:
            raise self.refuse(f"{fn.__name__} changed its arguments into something the grader does not take "
                              f"({err})") from None
        for category, message in reply.get("warnings", [])[:50]:
            warnings.warn_explicit(str(message), _warning_class(category), "your code", 0)
        if "exception" in reply:
            raise _exception(reply["exception"], wire.Decoder().decode)
        decoder = _FromKernel(self, args, kwargs)
        try:
            result = decoder.decode(reply.get("result"))
        except wire.WireError as err:
            raise self.refuse(f"{fn.__name__} returned something the grader does not take ({err}): return plain "
                              "numbers, strings, NumPy arrays, or lists, tuples and dicts of them") from None
        self._resync(decoder)
        return result

    def fetch(self, wanted):
        """Bind the names of the student's notebook that a test reads, fresh from the kernel."""
        if not wanted:
            return
        defined = self.kernel("names")
        present = sorted(n for n in wanted if type(defined) is list and n in defined)
        values = self.kernel("fetch", {"names": present}).get("values", {}) if present else {}
        for name in wanted:
            if name in values:
                decoder = _FromKernel(self)
                try:
                    self.ns[name] = decoder.decode(values[name])
                    self._resync(decoder)
                except wire.WireError as err:
                    self.ns[name] = Unavailable(self, name, f"{err}, which the grader does not take")
                self.fetched.add(name)
            elif name in self.fetched:
                del self.ns[name]
                self.fetched.discard(name)

    def _forward_seeds(self):
        """Once Keras is loaded here, a test's tf.keras.utils.set_random_seed(n) seeds the
        student's kernel too (the state a test sets for the student's code)."""
        rng = sys.modules.get("keras.src.utils.rng_utils")
        original = getattr(rng, "set_random_seed", None)
        if original is None or getattr(original, "forwarded", False):
            return

        def set_random_seed(seed):
            original(seed)
            if self.in_test:
                self.kernel("state", {"call": "set_random_seed", "seed": int(seed)})
        set_random_seed.forwarded = True
        for module in list(sys.modules.values()):
            if getattr(module, "set_random_seed", None) is original:
                module.set_random_seed = set_random_seed

    # -- cells

    def run(self, message):
        tree = names.parse(message["source"])
        self.events, ok, error = [], True, None
        kind = message["op"]
        if tree is None:
            ok, error = False, _error_output(SyntaxError("the cell is not valid Python"), None, "")
        else:
            self.in_test = kind == "test"
            try:
                if self.in_test:
                    self.fetch(sorted(n for n in names.needed(tree) if n not in self.own))
                exec(compile(tree, f"<{kind} {message.get('cell', '')}>", "exec"), self.ns)
            except GraderGone:
                raise
            except BaseException as err:  # noqa: BLE001 - the verdict: this cell failed
                ok, error = False, _error_output(err, err.__traceback__, message["source"])
            finally:
                self.in_test = False
                self.output.flush()
            bound = names.bound(tree)
            self.own |= bound
            self.fetched -= bound
            self._forward_seeds()
        self.send({"op": "done", "id": message.get("id"), "ok": ok, "error": error, "events": self.events})

    def preload(self, modules):
        """Import what the course's cells will import, while the grader prepares the notebook.
        Nothing is bound: the cells themselves still run their imports here."""
        import importlib
        for module in modules:
            try:
                importlib.import_module(str(module))
            except Exception:  # noqa: BLE001 - the cell's own import will report it
                pass
        self.output.chunks.clear()

    def serve(self):
        try:
            while True:
                try:
                    message = self.receive()
                except KeyboardInterrupt:   # an interrupt meant for a test that had just ended
                    continue
                if message.get("op") in ("trusted", "test"):
                    self.run(message)
                elif message.get("op") == "preload":
                    self.preload(message.get("modules") or [])
        except GraderGone:
            return


def _error_output(err, tb, source):
    """ename, evalue and traceback lines for the cell's error output: the diagnosis first."""
    ename = "CellTimeoutError" if isinstance(err, (TestTimeout, KeyboardInterrupt)) else type(err).__name__
    evalue = str(err) if not isinstance(err, KeyboardInterrupt) else "the test ran out of time"
    if type(err).__module__ == "utils.checks":   # a course check: its message is the diagnosis, as in JupyterLab
        first, *rest = evalue.splitlines() or [""]
        lines = [f"\x1b[0;31m\u2718 {first}\x1b[0m", *rest]
    else:
        lines = [f"\x1b[0;31m{ename}\x1b[0m: {evalue}"]
    frames = getattr(err, "student_frames", "") or getattr(err.__cause__, "student_frames", "")
    if frames:
        lines += ["", "Raised in your code:", frames]
    where = [f for f in traceback.extract_tb(tb) if f.filename.startswith("<test")] if tb is not None else []
    if where:
        line = source.splitlines()[where[-1].lineno - 1].strip() if 0 < where[-1].lineno <= len(
            source.splitlines()) else ""
        lines += ["", f"(in the test, line {where[-1].lineno}: {line})"]
    return {"ename": ename, "evalue": evalue, "traceback": lines}


def main():
    """Run as the evaluator process: protocol on the original stdin/stdout, prints captured."""
    inbox = os.fdopen(os.dup(0), "rb")
    outbox = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)   # what C libraries print goes to the evaluator's log, never into the protocol
    signal.signal(signal.SIGINT, signal.default_int_handler)   # the grader interrupts a test that runs too long
    evaluator = Evaluator(inbox, outbox)
    sys.stdout = sys.stderr = evaluator.output
    names.parse("pass")   # pay for IPython's input transformer while the kernel starts
    evaluator.serve()


if __name__ == "__main__":
    main()
