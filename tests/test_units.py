"""Pure logic that the slow tests reach only through a whole grading run, tested on its own: the
hidden-test stripping of feedback, why an nbgrader call failed, why a submission cannot be graded,
and the sandbox's bubblewrap command line. No kernel, no grading, no process started; each
expected value is written out by hand."""
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from autograder import sandbox, worker
from autograder.markers import strip_hidden
from autograder.nbgrader_setup import error_summary
from autograder.preprocessors import HideHiddenTests
from autograder.worker import Job, submission_problem
from cases import HIDDEN_REGION

# ------------------------------------------------------------------ hidden tests in feedback

HIDDEN, END = HIDDEN_REGION


def test_strip_hidden_removes_the_region_and_its_markers():
    """The lines from BEGIN to END, both markers included, go; the lines around them stay."""
    source = f"assert f(1) == 1\n{HIDDEN}\nassert f(2) == 4\n{END}\nprint('done')"
    assert strip_hidden(source) == "assert f(1) == 1\nprint('done')"


def test_strip_hidden_removes_every_region_indented_markers_too():
    """Two regions, one inside a function (markers indented): only the visible lines are kept."""
    source = (f"a = 1\n{HIDDEN}\nb = 2\n{END}\ndef t():\n    c = 3\n    {HIDDEN}\n    d = 4\n    {END}\n"
              "    return c")
    assert strip_hidden(source) == "a = 1\ndef t():\n    c = 3\n    return c"


def test_strip_hidden_without_a_region_or_without_its_end():
    """No region: the same lines (a trailing newline is not kept). An unclosed region hides the rest."""
    assert strip_hidden("x = 1\ny = 2\n") == "x = 1\ny = 2"
    assert strip_hidden(f"x = 1\n{HIDDEN}\nsecret = 2\nmore = 3") == "x = 1"


def _test_cell(source, outputs=()):
    return new_code_cell(source, outputs=list(outputs))


def test_feedback_shows_the_visible_tests_and_a_failed_verdict_only():
    """A test cell whose hidden test failed: its visible part, a note instead of the hidden code,
    and one line of output instead of the traceback."""
    cell = _test_cell(f"assert f(1) == 1\n{HIDDEN}\nassert f(2) == 4, 'expected 4'\n{END}\n",
                      [new_output("error", ename="AssertionError", evalue="expected 4", traceback=["expected 4"])])
    cell, _ = HideHiddenTests().preprocess_cell(cell, {}, 0)
    assert cell.source == "assert f(1) == 1\n# Hidden tests: their code is not shown."
    assert cell.outputs == [{"output_type": "stream", "name": "stdout", "text": "A hidden test failed.\n"}]


def test_feedback_of_a_passed_hidden_only_cell_is_the_note_and_the_verdict():
    """A cell that is all hidden test and passed: the note alone, and 'passed'; a cell without a
    hidden test is left as it is."""
    cell, _ = HideHiddenTests().preprocess_cell(_test_cell(f"{HIDDEN}\nassert g() == 0\n{END}"), {}, 0)
    assert cell.source == "# Hidden tests: their code is not shown."
    assert cell.outputs == [{"output_type": "stream", "name": "stdout", "text": "The hidden tests passed.\n"}]
    plain = _test_cell("assert f(1) == 1", [new_output("stream", name="stdout", text="ok\n")])
    kept, _ = HideHiddenTests().preprocess_cell(plain, {}, 0)
    assert kept.source == "assert f(1) == 1" and kept.outputs[0]["text"] == "ok\n"


# ------------------------------------------------------------------ why an nbgrader API call failed


def test_error_summary_prefers_our_submission_failed_message():
    """SubmissionFailed's message wins over a later exception line, its module prefix dropped."""
    result = {"success": False, "error": "Traceback (most recent call last):\n  File \"x.py\", line 1\n"
              "autograder.bounded.SubmissionFailed: the kernel died (signal SIGSEGV)\n",
              "log": "RuntimeError: cleanup after the failure\n"}
    assert error_summary(result) == "the kernel died (signal SIGSEGV)"


def test_error_summary_takes_the_last_exception_line_of_the_log():
    """No SubmissionFailed: the last 'Name(Error|Exception|Failed|Exceeded): message' line, the
    exception's name without its module."""
    log = ("[AutogradeApp | INFO] Autograding student\n"
           "ValueError: an earlier one\n"
           "Traceback (most recent call last):\n"
           "  File \"nbclient/client.py\", line 9, in run\n"
           "nbclient.exceptions.CellTimeoutError: A cell timed out while it was being executed\n"
           "[AutogradeApp | ERROR] There was an error processing assignment\n")
    assert error_summary({"error": None, "log": log}) == (
        "CellTimeoutError: A cell timed out while it was being executed")


def test_error_summary_falls_back_to_the_last_line_then_to_unknown():
    """Nothing that looks like an exception ('Note:' is not one): the last non-blank line,
    stripped; nothing at all: 'unknown error'; a long line is cut at 300 characters."""
    assert error_summary({"error": "", "log": "first line\nNote: nothing converted  \n\n"}) == "Note: nothing converted"
    assert error_summary({}) == "unknown error"
    assert error_summary({"error": None, "log": None}) == "unknown error"
    assert error_summary({"log": "OSError: " + "x" * 400}) == "OSError: " + "x" * 291


# ------------------------------------------------------------------ why a submission cannot be graded

NOTEBOOK = nbformat.writes(new_notebook()).encode()
SOURCE = {"logistic_regression.ipynb": NOTEBOOK, "data/extra.ipynb": NOTEBOOK, "data/points.csv": b"1,2\n"}


def job(submission, left_out=()):
    return Job("alice", "01-logistic-regression", SOURCE, submission, list(left_out), b"")


def test_a_complete_submission_has_no_problem():
    """The expected notebook, valid, with other files beside it: ''. Only top-level notebooks of
    the source are expected (data/extra.ipynb is not)."""
    assert submission_problem(job({"logistic_regression.ipynb": NOTEBOOK, "notes.txt": b"hi"})) == ""


def test_an_empty_or_notebookless_submission_says_what_it_has():
    assert submission_problem(job({})) == ("the 01-logistic-regression folder is empty: "
                                           "expected logistic_regression.ipynb")
    assert submission_problem(job({"notes.txt": b"", "a.py": b""})) == (
        "no logistic_regression.ipynb in the submission; it has a.py, notes.txt")
    assert submission_problem(job({}, [("big.bin", "over the size limit"), ("link", "a symbolic link")])) == (
        "no logistic_regression.ipynb in the submission; left out: big.bin (over the size limit); "
        "link (a symbolic link)")


def test_a_notebook_under_another_name_gets_the_rename_hint_and_checkpoints_do_not_count():
    assert submission_problem(job({"Logistic Regression (1).ipynb": NOTEBOOK})) == (
        "no logistic_regression.ipynb in the submission; it has Logistic Regression (1).ipynb: notebooks are "
        "graded by file name, rename it to logistic_regression.ipynb")
    checkpoint = ".ipynb_checkpoints/logistic_regression-checkpoint.ipynb"
    assert submission_problem(job({checkpoint: NOTEBOOK})) == (
        f"no logistic_regression.ipynb in the submission; it has {checkpoint}")


def test_a_notebook_that_is_too_big_not_utf8_or_not_json_is_named_with_why(monkeypatch):
    name = "logistic_regression.ipynb"
    assert submission_problem(job({name: b"\xff\xfe{}"})) == f"{name} is not a notebook: it is not UTF-8 text"
    assert submission_problem(job({name: b"{not json"})) == (
        f"{name} is not a valid notebook (NotJSONError): Notebook does not appear to be JSON: '{{not json'")
    monkeypatch.setattr(worker, "MAX_NOTEBOOK_BYTES", 2 * 1024 ** 2)
    assert submission_problem(job({name: b" " * (5 * 1024 ** 2)})) == f"{name} is 5 MB, over the 2 MB limit"


# ------------------------------------------------------------------ the bubblewrap command line

BWRAP = "/opt/test/bwrap"   # never run: the tests below forbid starting any process


@pytest.fixture
def no_processes(monkeypatch):
    """bwrap_command with a fixed Python root and a bwrap whose --help (cached) is given, and any
    attempt to start a process fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"a process was started: {args}")
    monkeypatch.setattr(sandbox.subprocess, "run", refuse)
    monkeypatch.setattr(sandbox.subprocess, "Popen", refuse)
    monkeypatch.setattr(sandbox, "python_roots", lambda: [("/opt/test/python", "/opt/test/python")])

    def bwrap_help(text):
        monkeypatch.setitem(sandbox._probe_cache, ("help", BWRAP), text)
    return bwrap_help


def at(args, *part):
    """Where the consecutive items part start in args (an AssertionError if they do not occur)."""
    for i in range(len(args) - len(part) + 1):
        if tuple(args[i:i + len(part)]) == part:
            return i
    raise AssertionError(f"{part} not in {args}")


def test_bwrap_command_isolates_and_binds_in_order(no_processes):
    """Namespaces and capabilities first; the sized private /tmp before the binds (so a venv under
    /tmp stays visible); the working folder a sized tmpfs; the staged files copied in by /bin/sh."""
    no_processes("usage: bwrap [OPTIONS...]\n    --size BYTES   Set size of next tmpfs\n")
    args = sandbox.bwrap_command("/work/k", rw=["/run/conn"], ro=[("/nonexistent/ro-src", "/ro-dest")],
                                 memory_tmp=2 * 1024 ** 2, shm_size=1024 ** 2, work_size=3 * 1024 ** 2,
                                 stage="/host/stage", bwrap=BWRAP)
    assert args[:12] == [BWRAP, "--die-with-parent", "--unshare-all", "--cap-drop", "ALL", "--unsetenv",
                         "JPY_PARENT_PID", "--hostname", "grading-sandbox", "--ro-bind", "/usr", "/usr"]
    assert at(args, "--size", "1048576", "--tmpfs", "/dev/shm") < at(args, "--size", "2097152", "--tmpfs", "/tmp")
    tmp = at(args, "--tmpfs", "/tmp", "--dir", "/tmp/home")
    assert tmp < at(args, "--ro-bind", "/opt/test/python", "/opt/test/python") \
        < at(args, "--ro-bind", "/nonexistent/ro-src", "/ro-dest") < at(args, "--bind", "/run/conn", "/run/conn")
    assert args[-16:] == ["--size", "3145728", "--tmpfs", "/work/k", "--chdir", "/work/k",
                          "--ro-bind", "/host/stage", "/run/stage", "--remount-ro", "/", "--",
                          "/bin/sh", "-c", '/bin/cp -a /run/stage/. . && exec "$@"', "sh"]
    etc = {args[i + 1] for i, a in enumerate(args) if a == "--ro-bind-try"}
    assert etc == {"/etc/" + name for name in sandbox.ETC_FILES} and "/etc/shadow" not in args


def test_bwrap_command_without_size_support_or_stage(no_processes):
    """A bwrap older than 0.8 (no --size in its help): unsized tmpfs; no stage: the command to run
    follows '--' directly; rw and ro empty: no further binds."""
    no_processes("usage: bwrap [OPTIONS...]\n")
    args = sandbox.bwrap_command("/work/k", bwrap=BWRAP)
    assert "--size" not in args and "--bind" not in args and "/bin/sh" not in args
    assert args[-7:] == ["--tmpfs", "/work/k", "--chdir", "/work/k", "--remount-ro", "/", "--"]
    at(args, "--tmpfs", "/dev/shm", "--tmpfs", "/tmp", "--dir", "/tmp/home")


def test_bwrap_command_size_zero_means_an_unsized_tmpfs(no_processes):
    """shm_size=0 (no size): /dev/shm is a tmpfs without --size while /tmp keeps its size."""
    no_processes("--size BYTES")
    args = sandbox.bwrap_command("/work/k", memory_tmp=4096, shm_size=0, work_size=8192, bwrap=BWRAP)
    at(args, "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/dev/shm", "--size", "4096", "--tmpfs", "/tmp")
    at(args, "--size", "8192", "--tmpfs", "/work/k")
