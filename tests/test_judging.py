"""The evaluator and the kernel's agent, connected here without a kernel or a grader.

A Loop is an evaluator whose requests for the kernel go straight to an agent holding a
plain namespace, as JSON text both ways: what crosses is exactly what crosses in
grading, so these tests pin the call semantics (values, identity, mutation, errors,
warnings) and the refusals, in milliseconds.
"""
import linecache
import textwrap

import numpy as np

from autograder.judging import agent, evaluator, names, wire


class Loop(evaluator.Evaluator):
    """An evaluator wired to an in-process agent; `student` is the kernel's namespace."""

    def __init__(self, student_code=""):
        super().__init__(inbox=None, outbox=None)
        self.student = {"np": np}
        exec(textwrap.dedent(student_code), self.student)
        self.agent = agent.Agent(self.student)
        self.printed = []
        self.output.flush = lambda: None
        self.trusted("import numpy as np")

    def ask(self, kind, payload):
        return True, agent.serve(kind, payload, self.agent), "", ""

    def send(self, message):
        self.printed.append(message)

    def trusted(self, source):
        exec(textwrap.dedent(source), self.ns)
        self.own |= set(self.ns)

    def test(self, source):
        """Run a test cell; return its result message (ok, error, events)."""
        self.run({"op": "test", "id": 1, "source": textwrap.dedent(source), "cell": "t"})
        return self.printed[-1]


def test_names_read_before_they_are_bound():
    tree = names.parse(textwrap.dedent("""
        from scipy.special import expit
        _z = rng.normal(size=3)
        check(sigmoid(_z), expit(_z))
        f = lambda a: a + offset
        def g(x, *args, k=default, **kw):
            local = x + other
            return [local * i for i in range(n) if i > cut]
        %matplotlib inline
        """))
    assert names.needed(tree) == {"rng", "check", "sigmoid", "offset", "default", "other", "n", "cut"}
    assert names.bound(tree) >= {"expit", "_z", "f", "g"} and "local" not in names.bound(tree)
    assert names.parse("def broken(:") is None


def test_a_student_function_is_called_in_the_kernel_with_plain_data():
    loop = Loop("def double(x):\n    return x * 2\n")
    result = loop.test("""
        y = double(np.arange(3.0))
        assert type(y) is np.ndarray and y.dtype == np.float64 and list(y) == [0, 2, 4]
        assert double(2) == 4 and type(double(2)) is int
        assert double.__name__ == "double" and str(inspect.signature(double)) == "(x)"
    """.replace("inspect", "__import__('inspect')"))
    assert result["ok"], result


def test_identity_new_objects_and_returned_arguments_keep_their_meaning():
    loop = Loop("""
        CACHE = {}
        def same(d):
            return d
        def fresh(d):
            return dict(d)
        def build(n):
            return {"n": n}
        def cached(n):
            return CACHE.setdefault("m", {"n": n})
        def read(m):
            return m["n"]
    """)
    result = loop.test("""
        p = {"a": np.ones(2)}
        f = fresh(p)
        assert same(p) is p and f is not p and np.array_equal(f["a"], p["a"])
        assert build(5) is not build(5) and cached(5) is cached(5)
        m = build(7)
        assert read(m) == 7
        m["n"] = 8
        assert read(m) == 8, "a result the test changed goes back by value"
    """)
    assert result["ok"], result


def test_an_argument_the_function_changes_is_changed_here_too():
    loop = Loop("""
        def in_place(params, alpha):
            for k in params:
                params[k] -= alpha
            return params
        def careful(params, alpha):
            return {k: v - alpha for k, v in params.items()}
    """)
    result = loop.test("""
        params = {"W": np.array([1.0, 2.0]), "b": np.array([0.5])}
        W = params["W"]
        careful(params, 0.5)
        assert list(params["W"]) == [1.0, 2.0]
        out = in_place(params, 0.5)
        assert out is params and params["W"] is W and list(W) == [0.5, 1.5], "changed in place, here too"
    """)
    assert result["ok"], result


def test_the_callers_warning_filters_and_floating_point_state_apply_in_the_kernel():
    loop = Loop("""
        import warnings
        def overflow(z):
            return 1 / (1 + np.exp(-z))
        def warns():
            warnings.warn("careful", UserWarning)
            return 1
    """)
    result = loop.test("""
        import warnings
        with warnings.catch_warnings(), np.errstate(over="raise"):
            warnings.simplefilter("error")
            try:
                overflow(np.array([-1000.0]))
                raise AssertionError("no FloatingPointError")
            except FloatingPointError:
                pass
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            assert warns() == 1
        assert [str(w.message) for w in seen] == ["careful"] and seen[0].category is UserWarning
    """)
    assert result["ok"], result


def test_the_students_exception_arrives_as_a_builtin_type_with_their_lines():
    loop = Loop("""
        def shapes(A, W):
            return A @ W
        def lookup(d):
            return d["missing"]
        class Mine(ValueError):
            pass
        def custom():
            raise Mine("mine")
        def leave():
            raise SystemExit("bye")
    """)
    result = loop.test("""
        try:
            shapes(np.ones((2, 3)), np.ones((2, 3)))
        except ValueError as err:
            assert "mismatch" in str(err)
        try:
            lookup({})
        except KeyError as err:
            assert err.args == ("missing",)
        try:
            custom()
        except ValueError as err:
            assert type(err).__name__ == "Mine" and str(err) == "mine"
        try:
            leave()
        except Exception as err:
            assert "bye" in str(err), err
    """)
    assert result["ok"], result


def test_a_value_that_lies_about_its_type_is_refused_and_reported():
    loop = Loop("""
        class Liar(float):
            def __eq__(self, other):
                return True
        def cost(X):
            return Liar(0.0)
    """)
    result = loop.test("assert cost(1) == 3.0")
    assert not result["ok"] and result["error"]["ename"] == "GraderRefused"
    assert "Liar" in result["error"]["evalue"] and result["events"]


def test_a_name_whose_value_cannot_cross_fails_only_when_a_test_uses_it():
    loop = Loop("import os\nmodule_value = os\nplain = 3\n")
    assert loop.test("assert plain == 3")["ok"]
    result = loop.test("module_value.path")
    assert not result["ok"] and "module" in result["error"]["evalue"]


def test_trusted_names_are_never_taken_from_the_kernel():
    loop = Loop("def check(*a):\n    pass\nX_small = 'forged'\n")
    loop.trusted("""
        X_small = np.array([1.0])
        def check(got, expected):
            assert got == expected, f"{got} != {expected}"
    """)
    result = loop.test("check(X_small[0], 2.0)")
    assert not result["ok"] and "1.0 != 2.0" in result["error"]["evalue"]


def test_a_kernel_that_cannot_serve_fails_the_test_and_no_except_can_swallow_it():
    loop = Loop("def f():\n    return 1\n")
    loop.ask = lambda kind, payload: (False, None, "kernel", "the kernel died while running your code")
    result = loop.test("""
        try:
            f()
        except Exception:
            pass
    """)
    assert not result["ok"] and "died" in result["error"]["evalue"]


def test_a_function_signature_and_defaults_cross_as_plain_data():
    loop = Loop("def fit(model, X, y, epochs=100, *, verbose=False):\n    pass\n")
    result = loop.test("""
        import inspect
        sig = inspect.signature(fit)
        assert sig.parameters["epochs"].default == 100 and sig.parameters["verbose"].default is False
        assert str(sig) == "(model, X, y, epochs=100, *, verbose=False)"
    """)
    assert result["ok"], result


def test_the_agent_answers_even_when_its_request_is_broken():
    text = agent.serve("call", "{not json", agent.Agent({}))
    assert "agent_error" in wire.loads(text)
    assert "agent_error" in wire.loads(agent.serve("explode", "{}", agent.Agent({})))


def test_no_test_code_reaches_the_kernel():
    """What the kernel receives while a test runs: names it defines, and call arguments."""
    seen = []
    loop = Loop("def f(x):\n    return x\n")
    real = loop.ask

    def spy(kind, payload):
        seen.append(payload)
        return real(kind, payload)
    loop.ask = spy
    assert loop.test("_secret_name = 'HIDDEN'\nassert f(1) == 1\nassert _other == 2 if False else True")["ok"]
    text = " ".join(seen)
    assert "HIDDEN" not in text and "_secret_name" not in text and "_other" not in text


def test_a_failed_check_shows_its_diagnosis_first_and_the_students_lines():
    loop = Loop()
    cell = "def forward(X):\n    return X @ np.ones((4, 1))\n"
    linecache.cache["/tmp/ipykernel_1/2.py"] = (len(cell), None, cell.splitlines(True), "/tmp/ipykernel_1/2.py")
    exec(compile(cell, "/tmp/ipykernel_1/2.py", "exec"), loop.student)   # defined in a notebook cell, as IPython does
    loop.trusted("from utils.checks import check_call, check_close")
    result = loop.test("""
        check_close("the cost", 0.25, 0.75)
    """)
    assert not result["ok"] and result["error"]["traceback"][0] == "\x1b[0;31m\u2718 the cost is wrong (max difference 0.5).\x1b[0m"
    result = loop.test("""
        check_call("forward", forward, np.ones((2, 3)))
    """)
    shown = "\n".join(result["error"]["traceback"])
    assert shown.startswith("\x1b[0;31m\u2718 forward crashed because shapes do not fit"), shown
    assert "Raised in your code:" in shown and "return X @ np.ones((4, 1))" in shown, shown
