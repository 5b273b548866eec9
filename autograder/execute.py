"""nbgrader's Execute for untrusted notebooks: bounded (autograder.bounded), with the tests
judged outside the kernel.

- The notebook's ordinary cells (answers, the course's locked cells, the student's own)
  run in the student's kernel, within autograder.bounded's time and output limits.
- Test cells never run in the kernel. A Judge (autograder.judge) runs each in the
  submission's evaluator process, which reaches the student's work only as plain data;
  the cell's outputs and verdict are the evaluator's. The course's locked cells that need
  nothing from the student (imports, data, helpers) also run there, so the tests have
  them.
- What the evaluator refused, and any kernel or evaluator trouble, is written to
  `report_file` for the grading report.
"""
import json

from nbgrader import utils
from traitlets import Integer, Unicode

from autograder import kernel_ahead
from autograder.bounded import BoundedExecute
from autograder.judge import Judge, KernelLink, evaluator_sandboxed, take_evaluator
from autograder.judging import names
from autograder.outputs import error_output


class GradingExecute(BoundedExecute):
    """BoundedExecute with an evaluator for the test cells (see the module)."""

    flood_chars = Integer(20_000_000, help="Characters the student's code may print while one test calls it "
                          "before the kernel is given up.").tag(config=True)
    report_file = Unicode("", help="A file to append the judge's events to, one JSON object per line.").tag(
        config=True)

    def preprocess(self, nb, resources=None, km=None):
        if km is None:   # a kernel started ahead for this notebook (autograder.kernel_ahead), if one waits
            name = self.kernel_name or nb.metadata.get("kernelspec", {}).get("name")
            km = kernel_ahead.take(self, name, (resources or {}).get("metadata", {}).get("path"))
        self._ahead = km
        try:
            return super().preprocess(nb, resources, km)
        finally:   # nbclient shuts down only the kernels it started
            if self._ahead is not None and self.km is self._ahead:
                self._cleanup_kernel()   # with the client nbclient made for it
            elif self._ahead is not None:
                kernel_ahead.shut_down(self._ahead)   # stopped before nbclient took it

    def before_cells(self, resources):
        self._defined = set(names.BUILTINS)   # what the evaluator defines itself
        self._notebook = (resources or {}).get("nbgrader", {}).get("notebook", "")
        self._evaluator = take_evaluator(self, evaluator_sandboxed(self.config))
        self._judge, self._link = Judge(self._evaluator, None, self.max_output_chars), None

    def after_cells(self):
        self._evaluator.close()
        self._write_report()

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or not cell.source.strip() or self.out_of_time(cell):
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
        return self.run_in_kernel(cell, resources, index)

    def _connect(self):
        """The line to the kernel, with the grader's agent installed before any student code runs."""
        def death():
            why = self.km.exit_description() if hasattr(self.km, "exit_description") else ""
            return f" ({why})" if why else ""
        self._link = self._judge.link = KernelLink(self.kc, self.km, self.flood_chars, death)
        first = self.km.take_staged_code() if self._ahead is not None else ""
        problem = self._link.install(timeout=max(self.startup_timeout, 60), first=first)
        if problem:
            self._judge.events.append(("", f"the grader's helper could not be installed in the kernel: {problem}"))

    def _write_report(self):
        events = list(self._judge.events)
        if self._link is not None and self._link.problem:
            events.append(("", self._link.problem))
        if self.report_file and events:
            with open(self.report_file, "a") as f:
                for cell, what in events:
                    f.write(json.dumps({"notebook": self._notebook, "cell": cell, "event": what}) + "\n")
