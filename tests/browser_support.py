"""JupyterLab in a real browser: start `make lab`/`make formgrader` on a loopback port, drive chromium.

Playwright for Python drives Debian's chromium (/usr/bin/chromium, or $COURSE_CHROMIUM) through
executable_path; nothing is downloaded. Every server binds 127.0.0.1 and needs a random token.
"""
import ast
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

from nbgrader import utils as nbgrader_utils

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
except ImportError:  # browser tests skip then (missing_browser)
    PlaywrightTimeout = TimeoutError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHROMIUM = os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
STAMP = os.path.join(".venv", ".installed")  # `make -o` it: a test never reinstalls the environment

# JupyterLab user settings for the tests: every cell stays in the DOM (no virtual scrolling), no news.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                        "checkForUpdates": False},
}

PROMPTS_JS = "() => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell')]" \
             ".map(c => c.classList.contains('jp-CodeCell') ? c.querySelector('.jp-InputPrompt').textContent.trim() : null)"
STATUS_JS = "() => document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator')" \
            "?.getAttribute('data-status')"


def missing_browser():
    """Why browser tests cannot run here, or None when they can."""
    if not os.path.exists(CHROMIUM):
        return f"no chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    if shutil.which("make") is None:
        return "make is not installed"
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """A JupyterLab started by a Makefile target (`lab` or `formgrader`) with a private config."""

    def __init__(self, target, workdir, **make_vars):
        self.token = secrets.token_hex(16)
        self.port = free_port()
        self.workdir = str(workdir)
        self.log_path = os.path.join(self.workdir, f"{target}-server.log")
        settings = os.path.join(self.workdir, "lab-settings")
        for name, value in LAB_SETTINGS.items():
            os.makedirs(os.path.dirname(os.path.join(settings, name)), exist_ok=True)
            with open(os.path.join(settings, name), "w") as f:
                json.dump(value, f)
        env = dict(os.environ,
                   JUPYTER_CONFIG_DIR=os.path.join(self.workdir, "jupyter-config"),
                   JUPYTER_DATA_DIR=os.path.join(self.workdir, "jupyter-data"),
                   JUPYTER_RUNTIME_DIR=os.path.join(self.workdir, "jupyter-runtime"),
                   JUPYTERLAB_SETTINGS_DIR=settings,
                   JUPYTERLAB_WORKSPACES_DIR=os.path.join(self.workdir, "lab-workspaces"))
        env.pop("MAKEFLAGS", None)
        args = ["--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}",
                "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}"]
        if os.geteuid() == 0:
            args.append("--allow-root")
        command = ["make", "--no-print-directory", "-o", STAMP, target, "LAB_ARGS=" + " ".join(args)]
        command += [f"{k}={v}" for k, v in make_vars.items()]
        self.log = open(self.log_path, "w")
        # Its own process group, so that stop() ends make and the server it started, and nothing else.
        self.process = subprocess.Popen(command, cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        self._wait_ready()

    def _wait_ready(self, timeout=120):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self.process.returncode}:\n{self.server_log()}")
            try:
                with urllib.request.urlopen(self.url("/api/status"), timeout=5) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"JupyterLab did not answer within {timeout}s:\n{self.server_log()}")

    def url(self, path):
        sep = "&" if "?" in path else "?"
        return f"http://127.0.0.1:{self.port}{path}{sep}token={self.token}"

    def api(self, path):
        with urllib.request.urlopen(self.url(path), timeout=30) as r:
            return json.loads(r.read())

    def delete(self, path):
        request = urllib.request.Request(self.url(path), method="DELETE")
        with urllib.request.urlopen(request, timeout=30):
            pass

    def server_log(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()[-6000:]

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # the group of the make started above
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self.log.close()


def launch_chromium(playwright, user_data_dir):
    """A persistent context in a fresh profile folder: Debian's chromium, headless."""
    return playwright.chromium.launch_persistent_context(
        str(user_data_dir), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
        viewport={"width": 1280, "height": 900})


class Shots:
    """Numbered screenshots of one test into a folder."""

    def __init__(self, folder):
        self.folder = folder
        self.n = 0
        os.makedirs(folder, exist_ok=True)

    def __call__(self, page, name, **kwargs):
        self.n += 1
        path = os.path.join(self.folder, f"{self.n:02d}-{name}.png")
        page.screenshot(path=path, **kwargs)
        return path


# --- JupyterLab notebook actions ---------------------------------------------------------------

def menu(page, menu_label, command, attempts=3):
    """Click a main-menu item by its JupyterLab command id, e.g. menu(page, 'Run', 'runmenu:run-all').

    A notebook command is disabled while the notebook is not the shell's current widget (focus can
    still be elsewhere just after a page loads); a click on it then does nothing, silently. So a
    disabled item is not clicked: the notebook is focused and the menu opened again."""
    label = page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{re.escape(menu_label)}$"))
    for _ in range(attempts):
        label.click()
        item = page.locator(f'.lm-Menu li[data-command="{command}"]').first
        item.wait_for()
        if "lm-mod-disabled" not in (item.get_attribute("class") or ""):
            item.click()
            return
        page.keyboard.press("Escape")
        focus_notebook(page)
        time.sleep(0.5)
    raise AssertionError(f"menu {menu_label} > {command} stays disabled; {describe(page)}")


def focus_notebook(page):
    """Make the open notebook the current widget, by a click on its first cell's prompt."""
    first = cells(page).first
    if first.count():
        first.locator(".jp-InputPrompt").click()
        page.keyboard.press("Escape")  # command mode


def describe(page):
    """The state of the open notebook, for a failure message: kernel status, prompts, any dialog."""
    prompts_shown = [p for p in prompts(page) if p is not None]
    dialog = page.locator(".jp-Dialog")
    return (f"kernel status {page.evaluate(STATUS_JS)!r}, code cell prompts {prompts_shown}"
            + (f", dialog: {dialog.first.inner_text()[:500]!r}" if dialog.count() else ""))


def wait_kernel_idle(page, timeout=120):
    page.wait_for_function(f"() => ({STATUS_JS})() === 'idle'", timeout=timeout * 1000)


def open_notebook(page, lab, path, timeout=120):
    """Open path (relative to the server root) in JupyterLab and wait for its kernel to be idle."""
    n_cells = len(lab.api("/api/contents/" + path)["content"]["cells"])
    page.goto(lab.url("/lab/tree/" + path + "?reset"))  # reset: no tab of an earlier test comes back
    page.wait_for_function(
        "() => !document.querySelector('.jp-NotebookPanel .jp-Spinner') && document.querySelectorAll("
        f"'.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell').length === {n_cells}",
        timeout=timeout * 1000)
    wait_kernel_idle(page, timeout)
    page.wait_for_selector(".jp-NotebookPanel:not(.lm-mod-hidden) .validate-button", timeout=timeout * 1000)


def cells(page):
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell")


def prompts(page):
    """Each cell's input prompt ('[3]:', '[*]:', '[ ]:'), None for a markdown cell."""
    return page.evaluate(PROMPTS_JS)


def _wait_run_finished(page, index, timeout):
    """Wait until cell index has been executed and nothing is running or queued."""
    page.wait_for_function(
        f"""() => {{
            const p = ({PROMPTS_JS})();
            return ({STATUS_JS})() === 'idle' && /^\\[\\d+\\]:$/.test(p[{index}] || '')
                && !p.some(x => x === '[*]:');
        }}""", timeout=max(1.0, timeout) * 1000, polling=100)


def _code_cells_to_run(page):
    """Indices of code cells with source, in order (an empty code cell is never executed)."""
    return page.evaluate(
        "() => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell')]"
        ".map((c, i) => c.classList.contains('jp-CodeCell') && c.querySelector('.cm-content').innerText.trim()"
        " ? i : -1).filter(i => i >= 0)")


def _is_active(page, index):
    return page.evaluate(
        "i => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell')][i]"
        ".classList.contains('jp-mod-active')", index)


def select_cell(page, index, attempts=5):
    """Make cell index the active cell, in command mode; check that it is, since a click can land
    on another cell while outputs above are still being laid out."""
    for _ in range(attempts):
        cell = cells(page).nth(index)
        cell.scroll_into_view_if_needed()
        cell.locator(".jp-InputPrompt").click()
        page.keyboard.press("Escape")  # command mode
        if _is_active(page, index):
            return
        time.sleep(0.3)
    raise AssertionError(f"could not select cell {index}")


ERROR_SHOWN_JS = "() => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) " \
                 ".jp-OutputArea-output[data-mime-type=\"application/vnd.jupyter.stderr\"]')]" \
                 ".some(o => /Traceback|Error/.test(o.innerText))"


def run_all(page, timeout=600):
    """Run > Run All Cells, as a student does; wait until the last cell has run or the run stopped
    at an error (JupyterLab stops there). Returns the seconds."""
    start = time.time()
    to_run = _code_cells_to_run(page)
    if not to_run:
        return 0.0
    started = f"() => ({PROMPTS_JS})().some(x => x !== null && x !== '[ ]:')"  # queued, running or run
    for attempt in range(3):
        menu(page, "Run", "runmenu:run-all")
        try:
            page.wait_for_function(started, timeout=30_000, polling=100)
            break
        except PlaywrightTimeout:
            if attempt == 2:
                raise AssertionError(f"Run All did not start any cell; {describe(page)}") from None
            focus_notebook(page)
    done = f"""() => {{
        const p = ({PROMPTS_JS})();
        return ({STATUS_JS})() === 'idle' && !p.some(x => x === '[*]:')
            && (/^\\[\\d+\\]:$/.test(p[{to_run[-1]}] || '') || ({ERROR_SHOWN_JS})());
    }}"""
    while True:  # done, and still done a second later: not a pause between two cells
        try:
            page.wait_for_function(done, timeout=max(1.0, timeout - (time.time() - start)) * 1000, polling=250)
        except PlaywrightTimeout:
            raise AssertionError(f"Run All not finished after {timeout}s; {describe(page)}") from None
        time.sleep(1.0)
        if page.evaluate(done):
            return time.time() - start


def run_cells_up_to(page, last=None, timeout=600):
    """Run each code cell from the top (through cell index last), one at a time with Ctrl+Enter,
    as a student checking answers does: an error does not stop it. Returns the seconds."""
    start = time.time()
    for i in _code_cells_to_run(page):
        if last is not None and i > last:
            break
        for attempt in range(3):
            select_cell(page, i)
            page.keyboard.press("Control+Enter")
            try:  # the cell is queued or done: its prompt is no longer [ ]:
                page.wait_for_function(f"() => ({PROMPTS_JS})()[{i}] !== '[ ]:'", timeout=15_000, polling=100)
                break
            except Exception:
                if attempt == 2:
                    raise
        _wait_run_finished(page, i, timeout - (time.time() - start))
    return time.time() - start


def save(page, timeout=60):
    """File > Save Notebook; wait until the tab is no longer dirty."""
    menu(page, "File", "docmanager:save")
    page.wait_for_function(
        "() => !document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)').classList.contains('jp-mod-dirty')"
        " && !document.querySelector('.lm-TabBar-tab.jp-mod-current.jp-mod-dirty')",
        timeout=timeout * 1000)


def set_cell_source(page, index, source):
    """Replace a cell's source by typing-like input into its editor (no auto-closing brackets)."""
    cell = cells(page).nth(index)
    cell.scroll_into_view_if_needed()
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(source)
    page.keyboard.press("Escape")


def cell_texts(page):
    """[(source text, output text)] of each cell, from the DOM."""
    return page.evaluate(
        "() => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell')]"
        ".map(c => [c.querySelector('.cm-content') ? c.querySelector('.cm-content').innerText : '',"
        "           c.querySelector('.jp-OutputArea') ? c.querySelector('.jp-OutputArea').innerText : ''])")


def rendered_images(page):
    """Per cell, how many output images are loaded and drawn (naturalWidth > 0)."""
    return page.evaluate(
        "() => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell')]"
        ".map(c => [...c.querySelectorAll('.jp-OutputArea-output img')]"
        ".filter(i => i.complete && i.naturalWidth > 0 && i.naturalHeight > 0).length)")


def validate(page, timeout=420):
    """Click the notebook's Validate button (nbgrader's labextension); return the result dialog's text
    and its class: validation-success, validation-failed, ..."""
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .validate-button").first.click()
    body = page.locator(".jp-Dialog #validation-message")
    body.first.wait_for(timeout=timeout * 1000)
    classes = body.first.get_attribute("class")
    kind = next((c for c in classes.split() if c.startswith("validation-")), classes)
    return kind, page.locator(".jp-Dialog").first.inner_text()


def close_dialog(page):
    page.locator(".jp-Dialog .jp-Dialog-button").last.click()
    page.locator(".jp-Dialog").first.wait_for(state="detached")


# --- reading notebooks -------------------------------------------------------------------------

def nbgrader_meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def is_exercise(cell):
    return cell.cell_type == "code" and nbgrader_utils.is_solution(cell)


def is_test(cell):
    return cell.cell_type == "code" and nbgrader_utils.is_grade(cell) and not nbgrader_utils.is_solution(cell)


def has_statements(source):
    """True unless source is empty, comments or a lone docstring (a student's hidden-test cell)."""
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return True
    return any(not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)) for s in body)


def bound_names(source):
    """Names a cell binds in its own scope: assignments, defs, classes and imports, also inside
    with/for/if/try blocks, but not inside functions, classes or comprehensions."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names = set()

    def visit(node):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            return
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.NamedExpr):
            names.add(node.target.id)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return names


def errors(cell):
    return [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]


def image_outputs(cell):
    return [o for o in cell.get("outputs", []) if o.get("output_type") in ("display_data", "execute_result")
            and any(k.startswith("image/") for k in o.get("data", {}))]


def untouched_problems(nb):
    """What is wrong with an executed, untouched student notebook; returns (problems, n_visible_tests).

    Precisely what may happen when every cell of the release runs with no answer filled in:
    - every code cell runs (has an execution count);
    - cells before the first exercise cell run without error;
    - an exercise cell either runs (it only defines functions) or fails with NotImplementedError
      (its own placeholder, when the cell computes values);
    - every visible test cell (a graded cell with code) fails, with NotImplementedError, a failed check,
      or a cascade NameError;
    - any other code cell (data, training, plots that use the exercises) runs or fails with
      NotImplementedError or a cascade NameError;
    - a format check of a concept answer (a locked, ungraded cell that calls expect) fails with a
      failed check or a cascade NameError;
    - a cascade NameError names a variable that an earlier cell which failed would have bound, or that
      no released cell binds after an unfinished exercise (a concept answer the student assigns);
    - nothing prints a line with "✔" (no visible test passes).
    """
    exercises = [i for i, c in enumerate(nb.cells) if is_exercise(c)]
    if not exercises:
        return ["no exercise cell"], 0
    released_binds = set().union(*(bound_names(c.source) for c in nb.cells if c.cell_type == "code"))
    problems, failed_binds, visible_tests, unfinished = [], set(), 0, False
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        if not cell.get("execution_count"):
            problems.append(f"cell {i} did not run")
        errs = errors(cell)
        printed = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
        if "✔" in printed:
            problems.append(f"cell {i} prints a pass (✔) in an untouched notebook: {printed.strip()[:200]}")
        if is_test(cell) and has_statements(cell.source):
            visible_tests += 1
            allowed = {"NotImplementedError", "AssertionError", "CheckFailed", "NameError"}
            if not errs:
                problems.append(f"visible test cell {i} passes in an untouched notebook")
        elif is_exercise(cell):
            allowed = {"NotImplementedError"}
        elif i < exercises[0]:
            allowed = set()
        elif nbgrader_meta(cell).get("locked") and "expect(" in cell.source:
            allowed = {"CheckFailed", "NameError"}
        else:
            allowed = {"NotImplementedError", "NameError"}
        for e in errs:
            missing = re.search(r"name '(\w+)' is not defined", e.get("evalue", ""))
            cascade = bool(missing) and (missing.group(1) in failed_binds
                                         or (unfinished and missing.group(1) not in released_binds))
            if e["ename"] not in allowed or (e["ename"] == "NameError" and not cascade):
                problems.append(f"cell {i}: unexpected {e['ename']}: {e.get('evalue', '')[:200]}")
        if errs:
            failed_binds |= bound_names(cell.source)
            unfinished = unfinished or is_exercise(cell)
    if not visible_tests:
        problems.append("no visible test cell")
    return problems, visible_tests


# What a passing concept check prints instead of a ✔: its form is checked, its value only when graded.
CHECKED_WHEN_GRADED = "whether it is right is"


def shown_error(error):
    """The text a page shows for an error output: a course check's message (rendered "✘ message",
    without its class name), otherwise the exception's class name."""
    if error["ename"] != "CheckFailed":
        return error["ename"]
    lines = (error.get("evalue") or "").splitlines()
    return lines[0][:60] if lines else "✘"
