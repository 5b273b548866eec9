"""nbgrader preprocessors that make grading robust against broken and hostile submissions.

- StderrIsNotFailure: a warning on stderr does not zero a passing test cell.
- HideHiddenTests: feedback says a hidden test failed, never shows its code or output.
- NormaliseGradeMetadata, RestoreMissingCells: whatever a student did to the test
  cells and their nbgrader metadata (edited, emptied, deleted, retyped, points
  raised, ids duplicated or renamed), the gradebook's cells and points are what run.
- GradingExecute: nbgrader's Execute with a time limit for the whole notebook,
  a cap on the output kept while executing, a clear failure when the kernel
  dies, and the checker guard (see CHECKER_GUARD below).
"""
import ast
import hashlib
import hmac
import secrets
from time import monotonic

from nbclient.exceptions import DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.api import Gradebook
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Bool, Integer, List, Unicode

HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"
HIDDEN_END = "### END HIDDEN TESTS"


class SubmissionFailed(RuntimeError):
    """This submission cannot be graded; the message says why, in words for the report."""


class StderrIsNotFailure(NbGraderPreprocessor):
    """Relabel stderr output of test cells as stdout before grades are saved.

    nbgrader gives a test cell zero for any stderr output, so a correct answer
    that triggers a library warning would lose its points. A failing test raises,
    and the raised error still gives zero; the warning text stays visible.
    """

    def preprocess_cell(self, cell, resources, index):
        if utils.is_grade(cell) and cell.cell_type == "code":
            for output in cell.outputs:
                if output.output_type == "stream" and output.name == "stderr":
                    output.name = "stdout"
        return cell, resources


def strip_hidden(source):
    """The source with every hidden-test region removed."""
    kept, hidden = [], False
    for line in source.splitlines():
        if HIDDEN_BEGIN in line:
            hidden = True
        elif HIDDEN_END in line:
            hidden = False
        elif not hidden:
            kept.append(line)
    return "\n".join(kept)


class HideHiddenTests(NbGraderPreprocessor):
    """In feedback, replace hidden tests' code and output by a one-line verdict.

    The student learns that a hidden test passed or failed and its points, but
    not the test, its data, the values it expected, or its traceback.
    """

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or HIDDEN_BEGIN not in cell.source:
            return cell, resources
        failed = utils.has_failed(cell)
        visible = strip_hidden(cell.source).rstrip()
        note = "# Hidden tests: their code is not shown."
        cell.source = f"{visible}\n{note}" if visible else note
        verdict = "A hidden test failed." if failed else "The hidden tests passed."
        cell.outputs = [{"output_type": "stream", "name": "stdout", "text": verdict + "\n"}]
        return cell, resources


# ---------------------------------------------------------------- test cells and their metadata


def _gradebook_cells(resources):
    """{grade_id: (source cell, kind dict)} and the names in notebook order, from the gradebook."""
    nb_id = resources["nbgrader"]["notebook"]
    assignment = resources["nbgrader"]["assignment"]
    with Gradebook(resources["nbgrader"]["db_url"]) as gb:
        notebook = gb.find_notebook(nb_id, assignment)
        grades = {c.name: float(c.max_score) for c in notebook.grade_cells}
        solutions = {c.name for c in notebook.solution_cells}
        tasks = {c.name: float(c.max_score) for c in notebook.task_cells}
        cells, order = {}, []
        for c in notebook.source_cells:
            cells[c.name] = {"cell_type": c.cell_type, "locked": bool(c.locked), "source": c.source,
                             "checksum": c.checksum, "grade": c.name in grades, "points": grades.get(c.name),
                             "solution": c.name in solutions, "task": c.name in tasks,
                             "task_points": tasks.get(c.name)}
            order.append(c.name)
    return cells, order


def _canonical_metadata(name, info):
    meta = {"grade": info["grade"], "grade_id": name, "locked": info["locked"], "schema_version": 3,
            "solution": info["solution"], "task": info["task"], "checksum": info["checksum"]}
    if info["grade"]:
        meta["points"] = info["points"]
    elif info["task"]:
        meta["points"] = info["task_points"]
    return meta


def _set_cell_type(cell, cell_type):
    if cell.cell_type == cell_type:
        return
    cell.cell_type = cell_type
    if cell_type == "code":
        cell.outputs, cell.execution_count = [], None
    else:
        cell.pop("outputs", None)
        cell.pop("execution_count", None)


class NormaliseGradeMetadata(NbGraderPreprocessor):
    """Reset every nbgrader cell's metadata (and a locked cell's source) from the gradebook.

    Runs first among the sanitizing preprocessors, so that nbgrader's own ones
    never see malformed metadata (which makes them crash and fail the whole
    submission). A cell whose grade_id the gradebook does not know, or whose
    nbgrader metadata is not a dict, becomes an ordinary cell: it still runs,
    it is never graded. Known cells get their type, flags, points and (when
    locked) source back, whatever the submission says.
    """

    def preprocess(self, nb, resources):
        cells, _ = _gradebook_cells(resources)
        # Duplicated ids: the last cell keeps its id, as with nbgrader's DeduplicateIds, but the
        # others become ordinary cells (DeduplicateIds leaves them an empty, invalid nbgrader dict).
        seen = set()
        for cell in reversed(nb.cells):
            meta = cell.get("metadata", {}).get("nbgrader")
            name = meta.get("grade_id") if isinstance(meta, dict) else None
            if isinstance(name, str) and name in seen:
                self.log.warning("Cell id %s appears more than once: the earlier copy is not graded", name)
                del cell.metadata["nbgrader"]
            elif isinstance(name, str):
                seen.add(name)
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("nbgrader")
            if meta is None:
                continue
            name = meta.get("grade_id") if isinstance(meta, dict) else None
            if not isinstance(name, str) or name not in cells:
                if isinstance(meta, dict) and (meta.get("grade") or meta.get("solution") or meta.get("locked")):
                    self.log.warning("Dropping nbgrader metadata of a cell with unknown id %r", name)
                del cell.metadata["nbgrader"]
                continue
            info = cells[name]
            _set_cell_type(cell, info["cell_type"])
            cell.metadata["nbgrader"] = _canonical_metadata(name, info)
            if info["locked"] and cell.source != info["source"]:
                self.log.warning("Restoring the source of locked cell %s", name)
                cell.source = info["source"]
        return nb, resources


class RestoreMissingCells(NbGraderPreprocessor):
    """Put back every gradebook cell (test, answer or locked) missing from the submission.

    nbgrader's OverwriteCells.add_missing_cells crashes when the cell before a
    deleted test cell is a locked non-graded one, and never restores deleted
    locked cells (such as the imports). Here each missing cell goes right after
    the nearest earlier gradebook cell present, as nbgrader would place it.
    """

    notification = Unicode("This cell (id:{cell_id}) was missing from the submission. "
                           "The grader added it back.").tag(config=True)

    def preprocess(self, nb, resources):
        cells, order = _gradebook_cells(resources)
        present = {}
        for i, cell in enumerate(nb.cells):
            name = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if name is not None:
                present[name] = i
        for pos, name in enumerate(order):
            if name in present:
                continue
            info = cells[name]
            self.log.warning("Missing cell %s: adding it back", name)
            note = self.notification.format(cell_id=name)
            cell = NotebookNode({"cell_type": info["cell_type"], "metadata": NotebookNode({
                "deletable": False, "editable": False,
                "nbgrader": NotebookNode(_canonical_metadata(name, info))}),
                "source": (f"# {note}\n" if info["cell_type"] == "code" else f"*{note}*\n\n") + info["source"]})
            if info["cell_type"] == "code":
                cell.outputs, cell.execution_count = [], None
            earlier = [present[n] for n in order[:pos] if n in present]
            index = max(earlier) + 1 if earlier else 0
            nb.cells.insert(index, cell)
            present = {n: (i + 1 if i >= index else i) for n, i in present.items()}
            present[name] = index
        return nb, resources


# ---------------------------------------------------------------- execution

# Installed in the kernel before the first cell runs, with no student code run yet.
# It imports the modules the locked cells use (with the working folder off sys.path,
# so a submitted numpy.py or utils/ cannot shadow them) and snapshots them: the
# module namespaces, the code and defaults of their Python functions, their Python
# classes' attributes, the names the locked cells import, and IPython's input and
# AST transformers, exception handlers and event callbacks. The checker it leaves in
# builtins, under a random name, restores all of that and answers a challenge with
# an HMAC of a per-run secret. The grader calls it through `user_expressions` (which
# IPython evaluates without input transformers) before every graded cell; a
# missing or wrong answer means the kernel was tampered with and the cell fails.
CHECKER_GUARD = r'''
def _grader_install_guard(name, secret, modules, bindings, skip):
    import builtins, hashlib, hmac, importlib, os, sys, types
    shell = get_ipython()
    cwd = os.getcwd()
    saved_path = list(sys.path)
    sys.path[:] = [p for p in sys.path if p not in ("", ".", cwd)]
    bound = {}
    try:
        for module in modules:
            try:
                importlib.import_module(module)
            except BaseException:
                pass
        for statement in bindings:
            try:
                exec(statement, bound)
            except BaseException:
                pass
    finally:
        sys.path[:] = saved_path
    bound.pop("__builtins__", None)
    prefixes = {m.split(".")[0] for m in modules} - set(skip)

    def protected(modname):
        return isinstance(modname, str) and modname.split(".")[0] in prefixes

    mods, funcs, classes, seen = [], [], [], set()
    for modname, module in list(sys.modules.items()):
        if not protected(modname) or not isinstance(module, types.ModuleType):
            continue
        namespace = module.__dict__
        mods.append((modname, module, dict(namespace)))
        for value in list(namespace.values()):
            if id(value) in seen:
                continue
            if isinstance(value, types.FunctionType) and protected(getattr(value, "__module__", None)):
                seen.add(id(value))
                funcs.append((value, value.__code__, value.__defaults__, value.__kwdefaults__))
            elif isinstance(value, type) and protected(getattr(value, "__module__", None)):
                seen.add(id(value))
                classes.append((value, dict(value.__dict__)))
    builtin_names = set(builtins.__dict__)
    lazy = {"__annotations__", "__abstractmethods__"}  # Python creates these on a class on first access
    hooks = {attr: list(getattr(shell, attr, [])) for attr in
             ("input_transformers_cleanup", "input_transformers_post", "ast_transformers")}
    custom = (shell.custom_exceptions, shell.CustomTB)
    events = {k: list(v) for k, v in shell.events.callbacks.items()}
    shell_attrs = set(vars(shell))
    kernel = getattr(shell, "kernel", None)
    kernel_attrs = set(vars(kernel)) if kernel is not None else set()
    missing = object()

    def restore():
        changed = []
        if sys.gettrace() is not None or sys.getprofile() is not None:
            changed.append("sys.settrace/setprofile")
        sys.settrace(None)
        sys.setprofile(None)
        for modname, module, snapshot in mods:
            if sys.modules.get(modname) is not module:
                sys.modules[modname] = module
                changed.append(f"sys.modules[{modname!r}]")
            namespace = module.__dict__
            for k, v in snapshot.items():
                if namespace.get(k, missing) is not v:
                    namespace[k] = v
                    changed.append(f"{modname}.{k}")
            for k in [k for k in namespace if k not in snapshot and k in builtin_names]:
                del namespace[k]
                changed.append(f"{modname}.{k}")
        for f, code, defaults, kwdefaults in funcs:
            if f.__code__ is not code or f.__defaults__ is not defaults or f.__kwdefaults__ is not kwdefaults:
                f.__code__, f.__defaults__, f.__kwdefaults__ = code, defaults, kwdefaults
                changed.append(f"{f.__module__}.{f.__qualname__}.__code__")
        for cls, snapshot in classes:
            current = cls.__dict__
            for k, v in snapshot.items():
                if current.get(k, missing) is not v:
                    try:
                        setattr(cls, k, v)
                        changed.append(f"{cls.__module__}.{cls.__qualname__}.{k}")
                    except Exception:
                        pass
            for k in [k for k in current if k not in snapshot and k not in lazy]:
                try:
                    delattr(cls, k)
                    changed.append(f"{cls.__module__}.{cls.__qualname__}.{k}")
                except Exception:
                    pass
        user_ns = shell.user_ns
        for k, v in bound.items():
            if user_ns.get(k, missing) is not v:
                user_ns[k] = v
                changed.append(k)
        for attr, items in hooks.items():
            current = getattr(shell, attr)
            if current != items:
                current[:] = items
                changed.append(f"IPython {attr}")
        if (shell.custom_exceptions, shell.CustomTB) != custom:
            shell.custom_exceptions, shell.CustomTB = custom
            changed.append("IPython custom exceptions")
        for k, v in events.items():
            if shell.events.callbacks[k] != v:
                shell.events.callbacks[k][:] = v
                changed.append(f"IPython {k} callbacks")
        for obj, attrs in ((shell, shell_attrs), (kernel, kernel_attrs)):
            if obj is not None:
                for attr in [a for a in vars(obj) if a not in attrs]:
                    if callable(getattr(type(obj), attr, None)):  # an instance override of a method
                        delattr(obj, attr)
                        changed.append(f"{type(obj).__name__}.{attr}")
        return changed

    def check(nonce):
        changed = restore()
        return hmac.new(secret, nonce.encode(), hashlib.sha256).hexdigest() + " " + ", ".join(changed[:8])

    setattr(builtins, name, check)

_grader_install_guard({name!r}, {secret!r}, {modules!r}, {bindings!r}, {skip!r})
del _grader_install_guard
'''


def _imports(source):
    """(modules, import statements) of a cell's source; nothing if it does not parse."""
    from IPython.core.inputtransformer2 import TransformerManager
    try:
        tree = ast.parse(TransformerManager().transform_cell(source))
    except (SyntaxError, ValueError):
        return [], []
    modules, statements = [], []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules += [a.name for a in node.names]
            statements.append(ast.unparse(node))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.append(node.module)
            statements.append(ast.unparse(node))
    return modules, statements


def _error_output(ename, evalue):
    return NotebookNode(output_type="error", ename=ename, evalue=evalue,
                        traceback=[f"\x1b[0;31m{ename}\x1b[0m: {evalue}"])


class GradingExecute(Execute):
    """nbgrader's Execute, hardened for grading untrusted notebooks.

    - `deadline`: seconds for all the cells of a notebook. Each cell gets
      min(Execute.timeout, time left); once time is up the remaining cells are
      not run and fail with DeadlineExceeded. A notebook's grading is bounded.
    - `max_output_chars`, `max_outputs`: output kept per cell while executing,
      so a flood never fills the grader's memory (LimitOutput then trims lines).
    - A kernel that dies fails the submission with a clear reason (SubmissionFailed).
    - `guard_checkers`: the checker guard (see CHECKER_GUARD): before each
      graded cell the checkers and the names the locked cells import are
      restored to pristine references. It stops a submission from disabling
      the checks by monkeypatching at top level or inside its functions before
      a test cell runs. It cannot stop code in the same process that searches
      memory for the guard, or patches C-level state; the sandbox, not the
      guard, is what protects other students and the hidden tests.
    """

    deadline = Integer(900, help="Seconds for all cells of one notebook (0: no limit).").tag(config=True)
    max_output_chars = Integer(100_000, help="Characters of text output kept per cell.").tag(config=True)
    max_outputs = Integer(50, help="Outputs kept per cell.").tag(config=True)
    guard_checkers = Bool(True, help="Restore pristine checkers before each graded cell.").tag(config=True)
    guard_modules = List(Unicode(), ["builtins", "math", "numpy", "numpy.testing", "utils", "utils.checks"],
                         help="Modules always protected by the checker guard, besides those the "
                              "locked cells import.").tag(config=True)
    guard_skip = List(Unicode(), ["IPython", "ipykernel", "matplotlib", "tqdm", "ipywidgets", "zmq",
                                  "tornado", "traitlets", "jupyter_client", "tensorflow", "keras", "tf_keras",
                                  "tensorboard", "absl", "h5py", "ml_dtypes", "optree", "google", "torch", "jax"],
                      help="Packages the guard never snapshots or restores: their module and class state "
                           "changes legitimately while they run (TensorFlow's eager context, flags, lazily "
                           "created attributes), so restoring it would break them.").tag(config=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # nbgrader's Execute passes kernel_manager_class=AsyncKernelManager to __init__, which beats
        # configuration; honour a configured class here, else run kernels in the sandbox.
        configured = None
        for klass in type(self).mro():
            section = self.config.get(klass.__name__, {}) if hasattr(klass, "__name__") else {}
            if "kernel_manager_class" in section:
                configured = section["kernel_manager_class"]
                break
        if isinstance(configured, str):
            from traitlets.utils.importstring import import_item
            configured = import_item(configured)
        if configured is None:
            from autograder.sandbox import SandboxedKernelManager as configured
        self.kernel_manager_class = configured

    def preprocess(self, nb, resources=None, km=None):
        self._started = monotonic()
        self._guard_name = "_grader_" + secrets.token_hex(8)
        self._guard_secret = secrets.token_bytes(32)
        self._guard_installed = False
        self._guard_plan = self._plan_guard(nb)
        self._output_chars = {}
        self._dropped = set()
        try:
            return super().preprocess(nb, resources, km)
        except DeadKernelError as err:
            raise SubmissionFailed(self._death_message(err)) from None

    # -- time

    def _time_left(self):
        if not self.deadline:
            return None
        return self.deadline - (monotonic() - self._started)

    def _get_timeout(self, cell):
        timeout = getattr(self, "_timeout_override", None) or super()._get_timeout(cell)
        left = self._time_left()
        if left is not None:
            left = max(1, int(left + 0.999))
            timeout = left if timeout is None else min(timeout, left)
        return timeout

    # -- cells

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or not cell.source.strip():
            return cell, resources
        left = self._time_left()
        if left is not None and left <= 0:
            cell.outputs = [_error_output(
                "DeadlineExceeded", f"not run: the notebook used up its {self.deadline} s time limit")]
            cell.execution_count = None
            return cell, resources
        self._index = index
        try:
            if self.guard_checkers and not self._guard_installed:
                self._install_guard(cell)
            guarded = self.guard_checkers and utils.is_grade(cell)
            if guarded:
                problem, _ = self._check_guard(cell)
                if problem:
                    cell.outputs = [_error_output("GraderIntegrityError", problem)]
                    cell.execution_count = None
                    return cell, resources
            cell, resources = super().preprocess_cell(cell, resources, index)
            if guarded and not utils.has_failed(cell):
                # A test that passed while the checkers were swapped out (by code the test itself
                # called) does not count: the guard finds and undoes the change afterwards.
                problem, changed = self._check_guard(cell)
                if problem or changed:
                    cell.outputs.append(_error_output("GraderIntegrityError", problem or (
                        "this test ran with checkers or grader state modified by the submission: " + changed)))
        except DeadKernelError as err:
            raise SubmissionFailed(self._death_message(err, index)) from None
        self._cap_outputs(cell, index)
        return cell, resources

    def _death_message(self, err, index=None):
        why = ""
        km = getattr(self, "km", None)
        if km is not None and hasattr(km, "exit_description"):
            why = km.exit_description()
        where = f" while running cell {index}" if index is not None else ""
        return (f"the grading kernel died{where}" + (f" ({why})" if why else "")
                + ": the submission crashed Python (os._exit, a segfault, or running out of memory)")

    # -- output

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        size = len(content.get("text", "")) if msg["msg_type"] == "stream" else sum(
            len(str(v)) for v in content.get("data", {}).values())
        used = self._output_chars.get(cell_index, 0)
        if (used + size > self.max_output_chars or len(outs) >= self.max_outputs) \
                and msg["msg_type"] in ("stream", "display_data", "execute_result"):
            if cell_index not in self._dropped:
                self._dropped.add(cell_index)
                keep = max(0, self.max_output_chars - used)
                if msg["msg_type"] == "stream" and keep:
                    content = dict(content, text=content["text"][:keep])
                    msg = dict(msg, content=content)
                    super().output(outs, msg, display_id, cell_index)
            self._output_chars[cell_index] = used + size
            return None
        self._output_chars[cell_index] = used + size
        return super().output(outs, msg, display_id, cell_index)

    def _cap_outputs(self, cell, index):
        limit = self.max_output_chars
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and len(out.get("text", "")) > limit:
                out["text"] = out["text"][:limit]
            if out.get("output_type") == "error":
                out["evalue"] = str(out.get("evalue", ""))[:limit]
                out["traceback"] = [str(line)[:limit] for line in out.get("traceback", [])][:200]
        if index in self._dropped:
            cell.outputs.append(NotebookNode(
                output_type="stream", name="stdout",
                text=f"\n... output truncated by the grader (over {limit} characters or "
                     f"{self.max_outputs} outputs) ...\n"))

    # -- checker guard

    def _plan_guard(self, nb):
        modules, bindings = list(self.guard_modules), []
        for cell in nb.cells:
            if cell.cell_type == "code" and (utils.is_locked(cell) or utils.is_grade(cell)) \
                    and not utils.is_solution(cell):
                found, statements = _imports(cell.source)
                modules += found
                bindings += statements
        dedup = lambda items: list(dict.fromkeys(items))  # noqa: E731
        return dedup(modules), dedup(bindings)

    def _request(self, code, cell, user_expressions=None):
        msg_id = self.kc.execute(code, silent=True, store_history=False, allow_stdin=False,
                                 user_expressions=user_expressions or {})
        return self.wait_for_reply(msg_id, cell)

    def _install_guard(self, cell):
        modules, bindings = self._guard_plan
        code = CHECKER_GUARD.replace("{name!r}", repr(self._guard_name)).replace(
            "{secret!r}", repr(self._guard_secret)).replace("{modules!r}", repr(modules)).replace(
            "{bindings!r}", repr(bindings)).replace("{skip!r}", repr(list(self.guard_skip)))
        self._timeout_override = max(self.timeout or 0, 120)  # imports can be slow (TensorFlow)
        try:
            reply = self._request(code, cell)
        finally:
            self._timeout_override = None
        self._guard_installed = True
        if not reply or reply["content"].get("status") != "ok":
            self.log.warning("The checker guard could not be installed: %s",
                             reply and reply["content"].get("evalue"))

    def _check_guard(self, cell):
        """(problem, changed): problem is '' when the guard answered and restored the checkers;
        changed lists what it had to restore."""
        nonce = secrets.token_hex(16)
        expected = hmac.new(self._guard_secret, nonce.encode(), hashlib.sha256).hexdigest()
        reply = self._request("pass", cell, {"guard": f"{self._guard_name}({nonce!r})"})
        if not reply:
            return "the kernel did not answer the grader's integrity check for this test cell", ""
        content = reply["content"]
        answer = content.get("user_expressions", {}).get("guard", {})
        text = answer.get("data", {}).get("text/plain", "")
        try:
            text = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            text = ""
        digest, _, changed = text.partition(" ")
        if content.get("status") == "ok" and answer.get("status") == "ok" and hmac.compare_digest(digest, expected):
            return "", changed
        return ("the grader's integrity check failed for this test cell: the submission tampered with "
                "the kernel (IPython hooks, builtins or the grader's checker)"), ""
