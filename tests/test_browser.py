"""Students' and instructors' JupyterLab in a real browser (Debian's chromium, driven by Playwright).

Every server is started through the Makefile (`make lab`, `make formgrader`) on a loopback port with
a token, on copies of the notebooks, so nothing in the work tree is written. Screenshots go to each
test's tmp_path/screenshots. Select these tests with `-m browser`, leave them out with `-m "not browser"`.

What an untouched student notebook may show is fixed precisely by browser_support.untouched_problems.
"""
import glob
import os
import re
import shutil
import sys
import time

import nbformat
import pytest

import browser_support as bs
from autograder import NOTEBOOKS, SOLUTIONS, assignments

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(bs.missing_browser() is not None, reason=f"browser tests: {bs.missing_browser()}")]

SOLUTION_NBS = sorted(os.path.relpath(p, SOLUTIONS) for p in glob.glob(os.path.join(SOLUTIONS, "*", "*.ipynb")))
STUDENT_NBS = sorted(os.path.relpath(p, NOTEBOOKS) for p in glob.glob(os.path.join(NOTEBOOKS, "*", "*.ipynb")))
PLOT_CALL = re.compile(r"^[^#\n]*\b(plot_\w+|plt\.\w+|\w+\.plot|imshow)\s*\(", re.MULTILINE)


def _banks():
    from cases import banks
    return banks()


def _bank_assignments():
    return [a for a, bank in _banks().items()
            if any(bank.MISTAKES[m].says for m in getattr(bank, "SAMPLE_MISTAKES", []))]


# --- fixtures ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def lab_root(tmp_path_factory):
    """Copies the server works on: solutions/, notebooks/ (the release) and solved/ (the release with
    the solutions' answers filled in, as a student who solved everything hands it in)."""
    from cases import filled_notebooks, solution_answers
    root = tmp_path_factory.mktemp("lab-root")
    shutil.copytree(SOLUTIONS, root / "solutions")
    shutil.copytree(NOTEBOOKS, root / "notebooks")
    for assignment in assignments():
        if os.path.isdir(os.path.join(NOTEBOOKS, assignment)):
            for name, nb in filled_notebooks(assignment, solution_answers(assignment)).items():
                (root / "solved" / assignment).mkdir(parents=True, exist_ok=True)
                nbformat.write(nb, str(root / "solved" / assignment / name))
    return root


@pytest.fixture(scope="module")
def lab(lab_root, tmp_path_factory):
    server = bs.Lab("lab", tmp_path_factory.mktemp("lab-server"), LAB_DIR=str(lab_root))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        context = bs.launch_chromium(playwright, tmp_path_factory.mktemp("chromium-profile"))
        context.set_default_timeout(60_000)
        yield context
        context.close()


@pytest.fixture
def page(browser):
    page = browser.new_page()
    yield page
    page.close()


@pytest.fixture
def shots(tmp_path):
    return bs.Shots(str(tmp_path / "screenshots"))


@pytest.fixture
def lab_kernels(lab, request):
    """Shut down the kernels a test started, so that the next test has the CPU and memory; after a
    failure, print the server's log (a dead kernel or a lost websocket shows there)."""
    yield lab
    if getattr(request.node, "call_failed", False):
        print("JupyterLab server log, last lines:\n" + lab.server_log()[-3000:])
    for kernel in lab.api("/api/kernels"):
        lab.delete("/api/kernels/" + kernel["id"])


def _read(lab_root, rel):
    """The notebook as the server saved it; a save may still be writing the file, so a few tries."""
    for _ in range(50):
        try:
            return nbformat.read(str(lab_root / rel), as_version=4)
        except nbformat.reader.NotJSONError:
            time.sleep(0.2)
    return nbformat.read(str(lab_root / rel), as_version=4)


def _error_summary(nb):
    return "; ".join(f"cell {i}: {e['ename']}: {e['evalue'][:200]}"
                     for i, c in enumerate(nb.cells) if c.cell_type == "code" for e in bs.errors(c))


# --- tests -------------------------------------------------------------------------------------

def test_make_lab_opens_the_student_notebooks(browser, tmp_path, shots):
    """Plain `make lab`: JupyterLab on notebooks/, the course's kernel, nbgrader's menu and extensions."""
    server = bs.Lab("lab", tmp_path / "server")
    page = browser.new_page()
    try:
        page.goto(server.url("/lab"))
        listing = page.locator(".jp-DirListing-content")
        for assignment in sorted(os.listdir(NOTEBOOKS)):
            if os.path.isdir(os.path.join(NOTEBOOKS, assignment)):
                listing.get_by_text(assignment, exact=True).wait_for()
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile("^Nbgrader$")).wait_for()
        shots(page, "make-lab")
        # the server runs from the course's environment, and so does its default kernel ("python"
        # in a kernelspec is the server's own interpreter)
        log = server.server_log()
        assert f"JupyterLab extension loaded from {sys.prefix}{os.sep}" in log, log
        spec = server.api("/api/kernelspecs")
        assert spec["default"] == "python3" and spec["kernelspecs"]["python3"]["spec"]["argv"][0] == "python"
        # nbgrader's server extensions are loaded: Validate's handler and the assignment list
        for extension in ("validate_assignment", "assignment_list"):
            assert f"nbgrader.server_extensions.{extension} | extension was successfully loaded" in log, log
        assert page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").count() == 1
    finally:
        page.close()
        server.stop()


@pytest.mark.parametrize("notebook", SOLUTION_NBS)
def test_solution_notebook_runs_clean(page, lab_kernels, lab_root, shots, notebook):
    """A solution notebook, Run All in the browser: no error, every plot drawn as an image."""
    rel = "solutions/" + notebook
    bs.open_notebook(page, lab_kernels, rel)
    seconds = bs.run_all(page, timeout=420)
    bs.save(page)
    shots(page, "solution-after-run-all")
    print(f"{notebook}: run all in {seconds:.0f}s")
    nb = _read(lab_root, rel)
    assert not _error_summary(nb), _error_summary(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code if c.source.strip()), "some code cell did not run"
    for i, (cell, drawn) in enumerate(zip(nb.cells, bs.rendered_images(page))):
        if cell.cell_type != "code":
            continue
        images = bs.image_outputs(cell)
        assert drawn == len(images), f"cell {i}: {len(images)} image outputs but {drawn} drawn in the page"
        if PLOT_CALL.search(cell.source):
            assert images, f"cell {i} plots but shows no image:\n{cell.source}"
        for output in cell.outputs:
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                assert "Traceback" not in output.get("text", ""), f"cell {i}: {output['text'][:500]}"
    assert any(bs.image_outputs(c) for c in code), "the notebook shows no plot at all"
    first_plot = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and bs.image_outputs(c))
    bs.cells(page).nth(first_plot).scroll_into_view_if_needed()
    shots(page, "solution-plot")


@pytest.mark.parametrize("notebook", STUDENT_NBS)
def test_student_notebook_untouched(page, lab_kernels, lab_root, shots, notebook):
    """A student notebook as handed out: placeholders shown, every visible test fails, nothing else
    errors but what the unfinished exercises cause (bs.untouched_problems); Validate lists the
    failing tests."""
    rel = "notebooks/" + notebook
    original = _read(lab_root, rel)
    bs.open_notebook(page, lab_kernels, rel)
    shown = bs.cell_texts(page)
    assert len(shown) == len(original.cells)
    exercises = [i for i, c in enumerate(original.cells) if bs.is_exercise(c)]
    assert exercises, "no exercise cell"
    for i in exercises:
        assert "# YOUR CODE HERE" in shown[i][0] and "raise NotImplementedError()" in shown[i][0], \
            f"exercise cell {i} does not show the placeholder:\n{shown[i][0]}"
    shots(page, "student-opened")

    bs.run_cells_up_to(page, timeout=420)
    bs.save(page)
    nb = _read(lab_root, rel)
    shown = bs.cell_texts(page)
    problems, visible_tests = bs.untouched_problems(nb)
    for i, cell in enumerate(nb.cells):  # the page shows each error the saved notebook records
        for e in bs.errors(cell):
            if bs.shown_error(e) not in shown[i][1]:
                problems.append(f"cell {i}: {e['ename']} is not shown in the page")
    assert visible_tests, "no visible test cell"
    assert not problems, "\n".join(problems)
    shots(page, "student-after-run-all")

    kind, dialog = bs.validate(page)
    shots(page, "student-validate-untouched")
    bs.close_dialog(page)
    assert kind == "validation-failed", dialog
    assert dialog.count("The following cell failed:") >= 1, dialog
    assert "NotImplementedError" in dialog, dialog


@pytest.mark.parametrize("assignment", _bank_assignments())
def test_student_gets_instant_feedback(page, lab_kernels, lab_root, shots, assignment):
    """A student types answers in the browser (the bank's sample mistakes, the solution elsewhere)
    and runs the cells down to the visible test of the last mistake: each mistake's visible test
    shows the bank's message as its first line (a course check's failure, no frame of utils), and the
    other visible tests print a ✔ line."""
    from cases import notebook_names, solution_answers
    bank = _banks()[assignment]
    mistakes = [m for m in bank.SAMPLE_MISTAKES if bank.MISTAKES[m].says]
    answers = solution_answers(assignment)
    for m in mistakes:
        answers.update(bank.MISTAKES[m].answers)
    mistaken_ids = {grade_id for m in mistakes for grade_id in bank.MISTAKES[m].answers}
    (lab_root / "typed" / assignment).mkdir(parents=True, exist_ok=True)
    found = set()
    for name in notebook_names(assignment):
        rel = f"typed/{assignment}/{name}"
        shutil.copy(os.path.join(NOTEBOOKS, assignment, name), lab_root / rel)
        original = _read(lab_root, rel)
        tests = [i for i, c in enumerate(original.cells) if bs.is_test(c) and bs.has_statements(c.source)]
        exercises = [i for i, c in enumerate(original.cells) if bs.is_exercise(c)]

        def last_test_of(i):
            """The exercise's last visible test before the next exercise (an answer may have two test
            cells, e.g. gradient_descent's update and bookkeeping), else the first test after it."""
            following = next((e for e in exercises if e > i), len(original.cells))
            return max([t for t in tests if i < t < following] or [next(t for t in tests if t > i)])

        targets = [last_test_of(i) for i in exercises
                   if bs.nbgrader_meta(original.cells[i]).get("grade_id") in mistaken_ids]
        if not targets:
            continue
        bs.open_notebook(page, lab_kernels, rel)
        for i, cell in enumerate(original.cells):
            grade_id = bs.nbgrader_meta(cell).get("grade_id")
            if bs.is_exercise(cell) and grade_id in answers:
                bs.set_cell_source(page, i, answers[grade_id])
        seconds = bs.run_cells_up_to(page, max(targets), timeout=420)
        print(f"{rel}: ran the cells through the last mistake's test in {seconds:.0f}s")
        bs.save(page)
        nb = _read(lab_root, rel)
        shown = bs.cell_texts(page)
        for m in mistakes:
            message = bank.MISTAKES[m].says
            hits = [i for i in tests if message in shown[i][1]]
            if not hits:
                continue
            found.add(m)
            failure = [e for e in bs.errors(nb.cells[hits[0]]) if e["ename"] == "CheckFailed"]
            assert failure, f"mistake {m}: the message is not a course check's failure"
            assert failure[0]["traceback"][0].startswith("\x1b[0;31m\u2718 "), failure[0]["traceback"]
            assert not any("site-packages" in line or "/utils/" in line for line in failure[0]["traceback"])
            bs.cells(page).nth(hits[0]).scroll_into_view_if_needed()
            shots(page, f"feedback-{m}")
        ran = [i for i in tests if i <= max(targets)]
        for i in ran:
            errs = bs.errors(nb.cells[i])
            assert all(e["ename"] == "CheckFailed" for e in errs), f"visible test {i}: {errs}"
            if not errs:
                assert "✔" in shown[i][1] or bs.CHECKED_WHEN_GRADED in shown[i][1], \
                    f"visible test {i} passes but prints no ✔ line (nor, for a concept check, when it is graded)"
        others = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and i not in tests and bs.errors(c)]
        assert not others, f"cells other than visible tests failed: {[(i, bs.errors(nb.cells[i])) for i in others]}"
    assert found == set(mistakes), f"no visible test showed the message of {sorted(set(mistakes) - found)}"


@pytest.mark.parametrize("notebook", STUDENT_NBS)
def test_validate_solved_notebook(page, lab_kernels, lab_root, shots, notebook):
    """Validate on the release with every answer filled in: nbgrader reports success."""
    bs.open_notebook(page, lab_kernels, "solved/" + notebook)
    kind, dialog = bs.validate(page)
    shots(page, "validate-solved")
    bs.close_dialog(page)
    assert kind == "validation-success", dialog
    assert "Success! Your notebook passes all the tests." in dialog


# --- the instructor's formgrader ---------------------------------------------------------------

@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The sample submissions of `make grade` (built fresh from solutions/ and the banks), graded by
    the course's tool into a temporary course folder. To keep the test short only the first
    assignment's submissions are graded: the formgrader lists the others with no submission."""
    import build_samples
    from autograder import course
    root = tmp_path_factory.mktemp("formgrader")
    samples = build_samples.build(str(root / "samples"))
    first = assignments()[0]
    for student in os.listdir(samples):
        for assignment in os.listdir(os.path.join(samples, student)):
            if assignment != first:
                shutil.rmtree(os.path.join(samples, student, assignment))
    report = course.grade(samples, str(root / "grading"))
    assert report.outcomes and all(o.ok for o in report.outcomes), report.table()
    return root, report


@pytest.mark.sandbox
def test_formgrader_lists_assignments_and_students(browser, graded, shots):
    """`make formgrader` on the graded folder: Nbgrader > Formgrader lists every assignment with its
    submissions, and every sample student with the score the autograder gave."""
    root, report = graded
    server = bs.Lab("formgrader", root / "server", OUT=str(root / "grading"), FORMGRADER_DIR=str(root))
    page = browser.new_page()
    try:
        page.goto(server.url("/lab"))
        bs.menu(page, "Nbgrader", "nbgrader:open-formgrader")
        frame = page.frame_locator("iframe").first
        students = sorted({o.student for o in report.outcomes})
        rows = frame.locator("#main-table tr")
        for assignment in assignments():
            row = rows.filter(has=frame.locator("td.name", has_text=re.compile(f"^\\s*{re.escape(assignment)}\\s*$")))
            row.first.wait_for()
            submitted = row.first.locator("td.num-submissions").inner_text().strip()
            expected = sum(o.assignment == assignment for o in report.outcomes)
            assert submitted == str(expected), f"{assignment}: {submitted} submissions shown, {expected} graded"
        shots(page, "formgrader-assignments")

        frame.get_by_role("link", name="Manage Students").click()
        for student in students:
            mine = [o for o in report.outcomes if o.student == student]
            score = f"{round(sum(o.score for o in mine), 2):g} / {round(sum(o.max_score for o in mine), 2):g}"
            row = rows.filter(has=frame.locator("td.id", has_text=re.compile(f"^\\s*{re.escape(student)}\\s*$")))
            row.first.wait_for()
            shown = row.first.locator("td.score").inner_text().strip()
            assert shown == score, f"{student}: formgrader shows {shown}, the autograder gave {score}"
        shots(page, "formgrader-students")
        scores = {s: sum(o.score for o in report.outcomes if o.student == s) for s in students}
        assert scores["sample-complete"] > scores["sample-mistakes"] > scores["sample-untouched"] == 0, scores
    finally:
        page.close()
        server.stop()
