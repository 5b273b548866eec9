"""Broken and hostile submissions (tests/faults.py) graded in one run, each outcome asserted exactly.

One grading run (workers=2, short timeouts) grades every fault beside two honest
students; a second run grades the honest students alone, and their grades must
be byte-identical in both. The outcome of each fault is asserted from the
gradebook, the way nbgrader's own tests do.
"""
import csv
import hashlib
import html
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

import nbformat
import pytest
from nbgrader.api import Gradebook, MissingEntry

import faults as F
from autograder import REPO, course
from autograder.sandbox import probe
from cases import cell_by_id, gradebook_cells, stock_autograde

GiB = 1024 ** 3
SETTINGS = {"Execute.timeout": 10, "GradingExecute.deadline": 65, "SandboxedKernelManager.memory_limit": 3 * GiB,
            "GradingExecute.flood_chars": 1_000_000}
SANDBOXED = probe()[0]
# One grading run serves the whole module: under `pytest -n --dist loadgroup` it stays on one worker.
pytestmark = [pytest.mark.xdist_group("faults"), pytest.mark.sandbox]


class Listener:
    """A TCP listener on 127.0.0.1 that records every connection and byte it receives."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.received, self._stop = [], threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, addr = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    self.received.append((addr, conn.recv(65536)))
                except OSError:
                    self.received.append((addr, b""))

    def close(self):
        self._stop.set()
        self.thread.join(timeout=5)
        self.sock.close()


def tree_digest(folder):
    """A digest of the files under folder; a link counts as its target's name, never followed."""
    digest = hashlib.sha256()
    for dirpath, dirnames, names in sorted(os.walk(folder)):
        dirnames.sort()
        for name in sorted(names + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]):
            path = os.path.join(dirpath, name)
            digest.update(os.path.relpath(path, folder).encode())
            if os.path.islink(path):
                digest.update(b"-> " + os.readlink(path).encode())
            else:
                with open(path, "rb") as f:
                    digest.update(f.read())
    return digest.hexdigest()


def grades_of(out, student):
    return {cell: score for (s, _, cell), (score, _) in gradebook_cells(out, F.ASSIGNMENT, {student}).items()}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("faults")
    listener = Listener()
    out, clean_out = str(tmp / "course"), str(tmp / "clean")
    targets = F.Targets(repo=REPO, course=out, port=listener.port)
    cases = F.faults(targets)
    submissions, clean = str(tmp / "submissions"), str(tmp / "clean-submissions")
    for name, fault in cases.items():
        F.write_fault(submissions, name, fault)
    for name, case in F.HONEST.items():
        F.write_fault(submissions, name, case)
        F.write_fault(clean, name, case)
    inputs = {name: tree_digest(os.path.join(submissions, name)) for name in os.listdir(submissions)}
    repo_before = tree_digest(os.path.join(REPO, "solutions"))
    started = time.perf_counter()
    report = course.grade(submissions, out, workers=2, settings=SETTINGS)
    seconds = time.perf_counter() - started
    clean_report = course.grade(clean, clean_out, workers=2, settings=SETTINGS)
    listener.close()
    return {"report": report, "out": out, "clean_out": clean_out, "clean_report": clean_report,
            "faults": cases, "listener": listener, "inputs": inputs, "repo_before": repo_before,
            "seconds": seconds, "by_student": {o.student: o for o in report.outcomes}}


def autograded(run, student):
    path = os.path.join(run["out"], "autograded", student, F.ASSIGNMENT, F.NOTEBOOK)
    return nbformat.read(path, as_version=4)


def cell_outputs_of(cell):
    return [(o.get("output_type"), o.get("ename", ""), o.get("text", "") + str(o.get("evalue", "")))
            for o in cell.outputs]


def cell_outputs(nb, grade_id):
    return cell_outputs_of(cell_by_id(nb, grade_id))


def feedback_html(run, student):
    with open(os.path.join(run["out"], "feedback", student, F.ASSIGNMENT, "logistic_regression.html")) as f:
        return f.read()


GRADED = [n for n, f in F.faults().items() if not f.failed]
FAILED = [n for n, f in F.faults().items() if f.failed]


@pytest.mark.slow
def test_every_student_has_exactly_one_recorded_outcome(run):
    students = sorted(run["faults"]) + sorted(F.HONEST)
    assert sorted(o.student for o in run["report"].outcomes) == sorted(students)
    summary = json.load(open(os.path.join(run["out"], "summary.json")))
    assert summary["submissions"] == len(students)
    assert summary["failed"] == len(FAILED)


@pytest.mark.parametrize("student", GRADED)
@pytest.mark.slow
def test_graded_fault_gets_exactly_the_expected_cell_grades(run, student):
    fault = run["faults"][student]
    outcome = run["by_student"][student]
    assert outcome.ok, f"{fault.what}: {outcome.error}"
    assert grades_of(run["out"], student) == F.expected_grades(fault), fault.what
    assert (outcome.score, outcome.max_score) == (F.MAX_SCORE - sum(F.POINTS[c] for c in fault.loses), F.MAX_SCORE)
    assert not any(manual for _, manual in gradebook_cells(run["out"], F.ASSIGNMENT, {student}).values())


@pytest.mark.parametrize("student", FAILED)
@pytest.mark.slow
def test_failed_fault_is_recorded_with_its_reason_and_no_partial_rows(run, student):
    outcome = run["by_student"][student]
    assert not outcome.ok and run["faults"][student].failed in outcome.error, outcome.error
    with Gradebook(f"sqlite:///{os.path.join(run['out'], 'gradebook.db')}") as gb:
        if "formgrader would show as HTML" in outcome.error:   # such an id never reaches the formgrader
            with pytest.raises(MissingEntry):
                gb.find_student(student)
        else:
            gb.find_student(student)  # the student is known, with no submission rows
            with pytest.raises(MissingEntry):
                gb.find_submission(F.ASSIGNMENT, student)
    assert f"! {student}/" in run["report"].table()


@pytest.mark.slow
def test_honest_students_are_graded_as_in_a_run_without_the_faulty_ones(run):
    honest = set(F.HONEST)
    assert gradebook_cells(run["out"], F.ASSIGNMENT, honest) == gradebook_cells(run["clean_out"], F.ASSIGNMENT, honest)
    rows = {}
    for folder in (run["out"], run["clean_out"]):
        with open(os.path.join(folder, "grades.csv")) as f:
            rows[folder] = sorted(tuple(r.items()) for r in csv.DictReader(f) if r["student_id"] in honest)
    assert rows[run["out"]] == rows[run["clean_out"]]
    assert run["by_student"]["honest-solution"].score == F.MAX_SCORE


# 1. time


@pytest.mark.slow
def test_infinite_loop_cell_times_out_and_later_cells_are_graded(run):
    outputs = cell_outputs(autograded(run, "fault-infinite-loop"), "compute_cost")
    assert any(ename == "CellTimeoutError" for _, ename, _ in outputs)
    assert run["by_student"]["fault-infinite-loop"].score == F.MAX_SCORE


@pytest.mark.slow
def test_a_notebook_that_never_finishes_is_stopped_at_its_deadline(run):
    outcome = run["by_student"]["fault-deadline"]
    assert outcome.seconds < SETTINGS["GradingExecute.deadline"] + 45, outcome.seconds
    nb = autograded(run, "fault-deadline")
    skipped = [e for c in nb.cells if c.cell_type == "code" for e in c.get("outputs", [])
               if e.get("ename") == "DeadlineExceeded"]
    assert skipped, "no cell was stopped by the deadline"


# 2. a dying kernel


@pytest.mark.slow
def test_a_dead_kernel_fails_its_submission_with_a_clear_reason(run):
    assert "(exit code 1)" in run["by_student"]["fault-os-exit"].error
    assert "(signal SIGSEGV)" in run["by_student"]["fault-segfault"].error
    for student in ("fault-os-exit", "fault-segfault"):
        assert not os.path.exists(os.path.join(run["out"], "autograded", student))


# 3. memory


@pytest.mark.slow
def test_a_memory_bomb_becomes_a_failed_cell(run):
    outputs = cell_outputs(autograded(run, "fault-memory-bomb"), "compute_gradient")
    assert any(ename == "MemoryError" for _, ename, _ in outputs), outputs
    # Stopped by the kernel's limit, not by the machine running out of mappings or RAM.
    # A stream may arrive in pieces: read the number from the cell's printed text as a whole.
    reserved = [int(n) for n in re.findall(r"reserved MiB: (\d+)", "".join(text for kind, _, text in outputs
                                                                        if kind == "stream"))]
    assert reserved and 0 < reserved[0] * 2 ** 20 < SETTINGS["SandboxedKernelManager.memory_limit"], outputs
    assert run["by_student"]["fault-memory-bomb"].score == F.MAX_SCORE


# 4. output


@pytest.mark.slow
def test_an_output_flood_is_capped(run):
    def sizes(student):
        folder = os.path.join(run["out"], "{}", student, F.ASSIGNMENT)
        return (os.path.getsize(os.path.join(folder.format("autograded"), F.NOTEBOOK)),
                os.path.getsize(os.path.join(folder.format("feedback"), "logistic_regression.html")))
    flood, honest = sizes("fault-output-flood"), sizes("honest-solution")
    assert flood[0] < honest[0] + 30_000 and flood[1] < honest[1] + 30_000, (flood, honest)
    text = "".join(t for kind, _, t in cell_outputs(autograded(run, "fault-output-flood"), "sigmoid")
                   if kind == "stream")
    assert text.count("\n") <= 201


# 5. test cells


@pytest.mark.slow
def test_deleted_test_and_locked_cells_come_back_with_their_source(run):
    nb = autograded(run, "fault-tests-deleted")
    solution = nbformat.read(os.path.join(REPO, "solutions", F.ASSIGNMENT, F.NOTEBOOK), as_version=4)
    original = {c.metadata["nbgrader"]["grade_id"]: c.source for c in solution.cells
                if c.metadata.get("nbgrader", {}).get("locked")}
    restored = {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells if "nbgrader" in c.metadata}
    for grade_id in ("test_predict", "test_predict_hidden", "test_accuracy", "test_compute_cost", "imports"):
        assert restored[grade_id].endswith(original[grade_id])


@pytest.mark.slow
def test_tampered_metadata_cannot_change_points_or_add_cells(run):
    with Gradebook(f"sqlite:///{os.path.join(run['out'], 'gradebook.db')}") as gb:
        for student in ("fault-metadata", "fault-ids", "fault-tests-edited"):
            submission = gb.find_submission(F.ASSIGNMENT, student)
            assert submission.max_score == F.MAX_SCORE
            assert {g.name for nb in submission.notebooks for g in nb.grades} == set(F.POINTS)


# 6. monkeypatched checkers


@pytest.mark.slow
def test_checkers_patched_while_a_test_runs_change_nothing_the_evaluator_uses(run):
    outputs = cell_outputs(autograded(run, "fault-patch-at-call-time"), "test_predict")
    assert any(kind == "error" and "should hold only 0 and 1" in text for kind, _, text in outputs), outputs


ATTACKS = ("fault-patch-modules", "fault-displayhook", "fault-transform-cell", "fault-lying-values")


@pytest.mark.slow
def test_judged_in_the_kernel_these_attacks_earn_marks(tmp_path):
    """The attacks are real: stock nbgrader, which runs the tests in the student's kernel, gives
    each of them points it does not deserve (the evaluator gives exactly the expected grades)."""
    submissions = str(tmp_path / "submitted")
    cases = F.faults()
    for name in ATTACKS:
        F.write_fault(submissions, name, cases[name])
    grades = stock_autograde(submissions, F.ASSIGNMENT, str(tmp_path))
    for name in ATTACKS:
        deserved = sum(F.expected_grades(cases[name]).values())
        assert sum(score or 0 for score in grades[name].values()) > deserved, (name, grades[name])


# 7-9. the world outside the kernel


@pytest.mark.sandbox
@pytest.mark.slow
def test_the_kernel_cannot_read_solutions_gradebooks_or_other_students(run):
    student = "fault-read-secrets"
    printed = " ".join(t for _, _, t in cell_outputs(autograded(run, student), "predict"))
    assert "leak attempt found 0 files" in printed and "LEAKED" not in printed
    html = feedback_html(run, student)
    for secret in F.HIDDEN_SECRETS + F.SOLUTION_SECRETS:
        assert secret not in html and secret not in printed


@pytest.mark.sandbox
@pytest.mark.slow
def test_the_kernel_cannot_write_the_gradebook_other_students_or_the_repository(run):
    printed = " ".join(t for _, _, t in cell_outputs(autograded(run, "fault-write-outside"), "predict"))
    assert "write attempt reached" in printed
    # Judge on the host: a checkout under /tmp shows the kernel its own private /tmp, where a
    # write "succeeds" without reaching anything real; what counts is that nothing here changed.
    cases = {**run["faults"], **F.HONEST}
    for name, digest in run["inputs"].items():
        taken = "symbolic link" not in cases[name].failed and "would show as HTML" not in cases[name].failed
        if taken and not cases[name].left_out:  # the others: see section 14
            assert tree_digest(os.path.join(run["out"], "submitted", name)) == digest, name
    assert tree_digest(os.path.join(REPO, "solutions")) == run["repo_before"]
    assert not os.path.exists(os.path.join(REPO, "PWNED")) and not os.path.exists(os.path.join(run["out"], "PWNED"))


@pytest.mark.sandbox
@pytest.mark.slow
def test_os_system_and_network_calls_have_no_effect_outside(run):
    printed = " ".join(t for _, _, t in cell_outputs(autograded(run, "fault-network"), "predict"))
    assert "network reached []" in printed
    assert run["listener"].received == []
    for folder in (REPO, run["out"]):
        assert not os.path.exists(os.path.join(folder, "PWNED-by-os-system"))


# 10-12.


@pytest.mark.slow
def test_warnings_on_stderr_cost_nothing(run):
    outputs = cell_outputs(autograded(run, "fault-stderr-warnings"), "test_compute_cost")
    assert any("just a warning" in text for _, _, text in outputs)
    assert run["by_student"]["fault-stderr-warnings"].score == F.MAX_SCORE


@pytest.mark.slow
def test_broken_or_missing_notebooks_are_reported_clearly(run):
    table = run["report"].table()
    assert "not a valid notebook (NotJSONError)" in table
    assert "rename it to logistic_regression.ipynb" in table
    assert "fault-empty-student-folder/-: no assignment folder in the submission (it is empty)" in table


@pytest.mark.slow
def test_feedback_never_shows_hidden_tests(run):
    html = feedback_html(run, "fault-hidden-failures")
    assert "A hidden test failed" in html and "Score: 0.0 / 2.0" in html   # the verdict and its points
    for secret in F.HIDDEN_SECRETS:
        assert secret not in html, secret
    for student in GRADED + list(F.HONEST):
        page = feedback_html(run, student)
        assert not any(secret in page for secret in F.HIDDEN_SECRETS), student


@pytest.mark.slow
def test_the_summary_says_whether_kernels_were_sandboxed(run):
    summary = json.load(open(os.path.join(run["out"], "summary.json")))
    assert summary["sandbox"]["sandboxed"] is SANDBOXED
    assert summary["sandbox"]["isolation"] == (["bubblewrap"] if SANDBOXED else summary["sandbox"]["isolation"])


# 13. judged outside the kernel


@pytest.mark.parametrize("student, refused", [("fault-lying-values", "Liar"), ("fault-too-big", "size limit")])
@pytest.mark.slow
def test_what_the_evaluator_refuses_is_reported_for_that_student(run, student, refused):
    summary = json.load(open(os.path.join(run["out"], "summary.json")))
    events = [e["event"] for o in summary["outcomes"] if o["student"] == student for e in o["events"]]
    assert events and any(refused in e for e in events), events
    assert f"~ {student}/{F.ASSIGNMENT}/" in run["report"].table()


@pytest.mark.parametrize("student, why", [("fault-dies-in-call", "the kernel died while running your code"),
                                          ("fault-hangs-in-call", "did not answer an interrupt"),
                                          ("fault-floods-in-call", "printed more than")])
@pytest.mark.slow
def test_a_kernel_lost_while_a_test_calls_it_fails_the_tests_after_with_the_reason(run, student, why):
    nb = autograded(run, student)
    for grade_id in ("test_predict_hidden", "test_accuracy"):
        assert any(why in text for _, _, text in cell_outputs(nb, grade_id)), cell_outputs(nb, grade_id)
    assert run["by_student"][student].ok and any(why in e["event"] for e in run["by_student"][student].events)


@pytest.mark.slow
def test_no_hidden_test_code_reaches_the_kernel(run):
    """The student's last cell searches its kernel (history, objects, all readable memory) for the
    hidden tests and finds none of them."""
    nb = autograded(run, "fault-read-hidden-code")
    printed = [f"{kind} {ename} {text}" for c in nb.cells if c.cell_type == "code" and "nbgrader" not in c.metadata
               for kind, ename, text in cell_outputs_of(c)]
    assert any("hidden test code found in the kernel: none" in p for p in printed), printed


def test_the_search_for_hidden_code_finds_it_where_it_is():
    """Control for the test above: the same search, in a Python process holding the hidden tests'
    strings (made at run time, not in its source), finds every one."""
    held = "\n".join(F.HIDDEN_SECRETS).encode().hex()
    code = f"In, Out = [], {{}}\nheld = bytearray.fromhex({held!r})\n" + F.READ_HIDDEN
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    found = done.stdout.rsplit("hidden test code found in the kernel:", 1)[-1]
    assert done.returncode == 0 and all(h[:8] in found for _, _, h in F._fingerprints(F.HIDDEN_SECRETS)), (
        done.stdout, done.stderr)


@pytest.mark.slow
def test_a_call_that_prints_too_much_is_kept_short(run):
    text = " ".join(t for _, _, t in cell_outputs(autograded(run, "fault-prints-in-call"), "test_predict"))
    assert "output truncated by the grader" in text and len(text) < 200_000


@pytest.mark.slow
def test_no_student_output_counts_as_a_grade(run):
    nb = autograded(run, "fault-displayhook")
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            assert all(o.output_type in ("stream", "error") for o in cell.outputs)
            assert all(o.name == "stdout" for o in cell.outputs if o.output_type == "stream")


# 14. the pipeline around the kernel: links, sizes, output caps, student ids (issue 12)


LEFT_OUT = [n for n, f in F.faults().items() if f.left_out]


@pytest.mark.parametrize("student", LEFT_OUT)
@pytest.mark.slow
def test_links_and_files_over_the_limit_are_left_out_and_named(run, student):
    """Named in the summary, the grade table and (when graded) at the top of the feedback page."""
    expected = sorted(run["faults"][student].left_out)
    outcome = run["by_student"][student]
    assert sorted(path for path, _ in outcome.left_out) == expected
    summary = json.load(open(os.path.join(run["out"], "summary.json")))
    entry = next(o for o in summary["outcomes"] if o["student"] == student)
    assert sorted(item["path"] for item in entry["left_out"]) == expected
    assert f"- {student}/{F.ASSIGNMENT}: left out: " in run["report"].table()
    if outcome.ok:
        page = html.unescape(feedback_html(run, student))
        top = page.index("Not graded: these files of your submission were left out")
        assert all(path in page[top:top + 2000] for path in expected), page[top:top + 2000]


@pytest.mark.slow
def test_nothing_under_out_comes_through_a_link(run):
    """No link is copied or followed: no solution, no other student's notebook, no big file in OUT."""
    total = 0
    for dirpath, dirnames, names in os.walk(run["out"]):
        for name in names + dirnames:
            assert not os.path.islink(os.path.join(dirpath, name)), os.path.join(dirpath, name)
        for name in names:
            path = os.path.join(dirpath, name)
            total += os.path.getsize(path)
            if name.endswith((".ipynb", ".html", ".txt")):   # nothing of the solution notebook itself
                text = open(path, errors="replace").read()
                assert "BEGIN SOLUTION" not in text, path
                assert "submitted" not in os.path.relpath(path, run["out"]) or "BEGIN HIDDEN TESTS" not in text, path
    student_files = lambda s: sorted(os.listdir(os.path.join(run["out"], "submitted", s, F.ASSIGNMENT)))
    assert student_files("fault-link-to-friend") == [F.NOTEBOOK]
    assert student_files("fault-big-file") == [F.NOTEBOOK]
    assert not os.path.exists(os.path.join(run["out"], "submitted", "fault-link-to-solution", F.ASSIGNMENT,
                                           F.NOTEBOOK))
    for step, kept in (("autograded", F.NOTEBOOK), ("feedback", "logistic_regression.html")):
        found = os.listdir(os.path.join(run["out"], step, "fault-big-file", F.ASSIGNMENT))
        assert found == [kept], found
    assert total < 100 * 1024 ** 2, f"{total / 1024 ** 2:.0f} MB under OUT"


@pytest.mark.slow
def test_display_updates_and_output_metadata_count_against_the_caps(run):
    """40 MB of display updates and 20 MB of metadata: the notebook and its feedback stay small."""
    path = os.path.join(run["out"], "autograded", "fault-update-flood", F.ASSIGNMENT, F.NOTEBOOK)
    assert os.path.getsize(path) < 1024 ** 2
    assert len(feedback_html(run, "fault-update-flood")) < 2 * 1024 ** 2
    nb = autograded(run, "fault-update-flood")
    assert "output truncated by the grader" in json.dumps(cell_by_id(nb, "sigmoid").outputs)


@pytest.mark.parametrize("student", ["fault-glob-[x]*?", "fault-csv-a,b c"])
@pytest.mark.slow
def test_a_student_id_is_graded_as_itself_and_quoted_in_the_csv(run, student):
    with open(os.path.join(run["out"], "grades.csv"), newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["student_id"] == student]
    assert len(rows) == 1 and float(rows[0]["raw_score"]) == run["by_student"][student].score
    assert os.path.isfile(os.path.join(run["out"], "feedback", student, F.ASSIGNMENT, "logistic_regression.html"))
