"""nbgrader's Execute, bounded for untrusted notebooks: time, output and a kernel that dies.

- Each cell runs within its time limit, and all cells within a deadline for the notebook;
  once it is used up, the remaining cells fail unrun, each saying why.
- Output is capped while it arrives (per cell and per notebook, text, images and widget
  messages alike), so a flood never reaches the notebook, the gradebook or a browser.
- A kernel that dies fails the submission with the reason (SubmissionFailed).

autograder.execute builds on it: there, test cells are judged outside the kernel.
"""
import json
from time import monotonic

from nbclient.exceptions import DeadKernelError
from nbgrader.preprocessors import Execute
from traitlets import Integer

from autograder.outputs import error_output, stream

# The kernel messages that add to or change a notebook's outputs (or its widget state).
GROWING_MESSAGES = {"stream", "display_data", "execute_result", "update_display_data", "error", "comm_open",
                    "comm_msg"}


def _size(content):
    """Characters a message's content adds to the notebook, whatever it holds."""
    return len(json.dumps(content, default=str))


class SubmissionFailed(RuntimeError):
    """This submission cannot be graded; the message says why, in words for the report."""


class BoundedExecute(Execute):
    """nbgrader's Execute within a deadline, with capped output and a clear death (see the module)."""

    deadline = Integer(900, help="Seconds for all cells of one notebook (0: no limit).").tag(config=True)
    max_output_chars = Integer(100_000, help="Characters of text output kept per cell.").tag(config=True)
    max_outputs = Integer(50, help="Outputs kept per cell.").tag(config=True)
    max_notebook_output_chars = Integer(2_000_000, help="Characters of output (text, images as base64, "
                                        "metadata) kept for the whole notebook.").tag(config=True)

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
        self.before_cells(resources)
        try:
            return super().preprocess(nb, resources, km)
        except DeadKernelError as err:
            raise SubmissionFailed(self._death_message(err)) from None
        finally:
            self.after_cells()

    def before_cells(self, resources):
        """Called once the notebook's clock has started, before its first cell (for subclasses)."""

    def after_cells(self):
        """Called after the last cell, or when the notebook stopped (for subclasses)."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or not cell.source.strip() or self.out_of_time(cell):
            return cell, resources
        return self.run_in_kernel(cell, resources, index)

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

    def out_of_time(self, cell):
        """True, with the cell marked as not run, once the notebook's deadline is used up."""
        left = self._time_left()
        if left is None or left > 0:
            return False
        cell.outputs = [error_output("DeadlineExceeded",
                                     f"not run: the notebook used up its {self.deadline} s time limit")]
        cell.execution_count = None
        return True

    # -- the kernel

    def run_in_kernel(self, cell, resources, index):
        """Run one cell in the kernel, its outputs capped; a dead kernel fails the submission."""
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
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
            cell.outputs.append(stream(
                f"\n... output truncated by the grader (over {limit} characters or {self.max_outputs} "
                f"outputs in this cell, or {self.max_notebook_output_chars} in the notebook) ...\n"))
