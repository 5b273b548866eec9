"""nbgrader's Execute for untrusted notebooks: bounded, with the tests judged outside the kernel.

- The notebook's ordinary cells (answers, the course's locked cells, the student's own)
  run in the student's kernel, each within a time limit and all within a deadline for
  the notebook, their output capped while it arrives. A kernel that dies while running
  them fails the submission, with the reason.
- Test cells never run in the kernel. A Judge (autograder.judge) runs each in the
  submission's evaluator process, which reaches the student's work only as plain data;
  the cell's outputs and verdict are the evaluator's. The course's locked cells that need
  nothing from the student (imports, data, helpers) also run there, so the tests have
  them.
- What the evaluator refused, and any kernel or evaluator trouble, is written to
  `report_file` for the grading report.
"""
import json
from time import monotonic

from nbclient.exceptions import DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import Execute
from traitlets import Integer, Unicode

from autograder.judge import Judge, KernelLink, error_output, evaluator_sandboxed, take_evaluator
from autograder.judging import names


# The kernel messages that add to or change a notebook's outputs (or its widget state).
GROWING_MESSAGES = {"stream", "display_data", "execute_result", "update_display_data", "error", "comm_open",
                    "comm_msg"}


def _size(content):
    """Characters a message's content adds to the notebook, whatever it holds."""
    return len(json.dumps(content, default=str))


class SubmissionFailed(RuntimeError):
    """This submission cannot be graded; the message says why, in words for the report."""


class GradingExecute(Execute):
    """nbgrader's Execute, bounded and with an evaluator for the test cells (see the module)."""

    deadline = Integer(900, help="Seconds for all cells of one notebook (0: no limit).").tag(config=True)
    max_output_chars = Integer(100_000, help="Characters of text output kept per cell.").tag(config=True)
    max_outputs = Integer(50, help="Outputs kept per cell.").tag(config=True)
    max_notebook_output_chars = Integer(2_000_000, help="Characters of output (text, images as base64, "
                                        "metadata) kept for the whole notebook.").tag(config=True)
    flood_chars = Integer(20_000_000, help="Characters the student's code may print while one test calls it "
                          "before the kernel is given up.").tag(config=True)
    report_file = Unicode("", help="A file to append the judge's events to, one JSON object per line.").tag(
        config=True)

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
        self._output_chars, self._dropped, self._notebook_chars = {}, set(), 0
        self._defined = set(names.BUILTINS)   # what the evaluator defines itself
        self._notebook = (resources or {}).get("nbgrader", {}).get("notebook", "")
        self._evaluator = take_evaluator(self, evaluator_sandboxed(self.config))
        self._judge, self._link = Judge(self._evaluator, None, self.max_output_chars), None
        try:
            return super().preprocess(nb, resources, km)
        except DeadKernelError as err:
            raise SubmissionFailed(self._death_message(err)) from None
        finally:
            self._evaluator.close()
            self._write_report()

    # -- time

    def _time_left(self):
        if not self.deadline:
            return None
        return self.deadline - (monotonic() - self._started)

    def _get_timeout(self, cell):
        timeout = super()._get_timeout(cell)
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
            cell.outputs = [error_output("DeadlineExceeded",
                                         f"not run: the notebook used up its {self.deadline} s time limit")]
            cell.execution_count = None
            return cell, resources
        if self._link is None:
            self._connect()
        tree = names.parse(cell.source)
        if utils.is_grade(cell) and not utils.is_solution(cell):
            cell.outputs = self._judge.test(cell.metadata.nbgrader["grade_id"], cell.source, self._get_timeout(cell))
            cell.execution_count = None
            self._defined |= names.bound(tree) if tree is not None else set()
            return cell, resources
        if self._link.problem:
            cell.outputs = [error_output("KernelUnavailable", f"not run: {self._link.problem}")]
            cell.execution_count = None
            return cell, resources
        if utils.is_locked(cell) and tree is not None and names.needed(tree) <= self._defined:
            self._judge.trust(cell.source, cell.metadata.nbgrader["grade_id"])
            self._defined |= names.bound(tree)
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except DeadKernelError as err:
            raise SubmissionFailed(self._death_message(err, index)) from None
        self._cap_outputs(cell, index)
        return cell, resources

    def _connect(self):
        """The line to the kernel, with the grader's agent installed before any student code runs."""
        def death():
            why = self.km.exit_description() if hasattr(self.km, "exit_description") else ""
            return f" ({why})" if why else ""
        self._link = self._judge.link = KernelLink(self.kc, self.km, self.flood_chars, death)
        problem = self._link.install(timeout=max(self.startup_timeout, 60))
        if problem:
            self._judge.events.append(("", f"the grader's helper could not be installed in the kernel: {problem}"))

    def _death_message(self, err, index=None):
        why = ""
        km = getattr(self, "km", None)
        if km is not None and hasattr(km, "exit_description"):
            why = km.exit_description()
        where = f" while running cell {index}" if index is not None else ""
        return (f"the grading kernel died{where}" + (f" ({why})" if why else "")
                + ": the submission crashed Python (os._exit, a segfault, or running out of memory)")

    def _write_report(self):
        events = list(self._judge.events)
        if self._link is not None and self._link.problem:
            events.append(("", self._link.problem))
        if self.report_file and events:
            with open(self.report_file, "a") as f:
                for cell, what in events:
                    f.write(json.dumps({"notebook": self._notebook, "cell": cell, "event": what}) + "\n")

    # -- output

    def process_message(self, msg, cell, cell_index):
        """Every message that adds to the notebook counts against the caps: its whole content
        (text, data of every MIME type, metadata), display updates and widget messages
        included. Past a cap it is dropped; a stream keeps the part that still fits."""
        kind = msg.get("msg_type") or msg["header"]["msg_type"]
        if kind not in GROWING_MESSAGES:
            return super().process_message(msg, cell, cell_index)
        size = _size(msg.get("content", {}))
        used = self._output_chars.get(cell_index, 0)
        self._output_chars[cell_index] = used + size
        self._notebook_chars += size
        room = min(self.max_output_chars - used, self.max_notebook_output_chars - self._notebook_chars + size)
        if size <= room and len(cell.outputs) < self.max_outputs:
            return super().process_message(msg, cell, cell_index)
        self._dropped.add(cell_index)
        if kind == "error":   # one error is kept, cut down: it says why the cell failed
            return super().process_message(msg, cell, cell_index)
        if kind == "stream" and room > 0 and len(cell.outputs) < self.max_outputs:
            content = dict(msg["content"], text=msg["content"].get("text", "")[:room])
            return super().process_message(dict(msg, content=content), cell, cell_index)
        return None

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
                text=f"\n... output truncated by the grader (over {limit} characters or {self.max_outputs} "
                     f"outputs in this cell, or {self.max_notebook_output_chars} in the notebook) ...\n"))
