"""nbgrader preprocessors that make grading robust against broken and hostile submissions.

- HideHiddenTests: feedback says a hidden test failed, never shows its code or output.
- NoteLeftOutFiles: feedback opens by naming the files of the submission not taken.
- NormaliseGradeMetadata, RestoreMissingCells: whatever a student did to the test
  cells and their nbgrader metadata (edited, emptied, deleted, retyped, points
  raised, ids duplicated or renamed), the gradebook's cells and points are what run.

Executing the notebook, with the tests judged outside the kernel, is autograder.execute.
"""
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.api import Gradebook
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import List, Unicode

from autograder.markers import BEGIN_HIDDEN, strip_hidden

class HideHiddenTests(NbGraderPreprocessor):
    """In feedback, replace hidden tests' code and output by a one-line verdict.

    The student learns that a hidden test passed or failed and its points, but
    not the test, its data, the values it expected, or its traceback.
    """

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or BEGIN_HIDDEN not in cell.source:
            return cell, resources
        failed = utils.has_failed(cell)
        visible = strip_hidden(cell.source).rstrip()
        note = "# Hidden tests: their code is not shown."
        cell.source = f"{visible}\n{note}" if visible else note
        verdict = "A hidden test failed." if failed else "The hidden tests passed."
        cell.outputs = [{"output_type": "stream", "name": "stdout", "text": verdict + "\n"}]
        return cell, resources


class NoteLeftOutFiles(NbGraderPreprocessor):
    """In feedback, a first cell naming the files of the submission that were not taken
    (links, files over the size limit; see autograder.intake), so the student knows."""

    left_out = List(Unicode(), help="'path (why)' for each file left out; set per job by the grader.").tag(
        config=True)

    def preprocess(self, nb, resources):
        if self.left_out:
            items = "\n".join(f"- {_literal(entry)}" for entry in self.left_out)
            nb.cells.insert(0, NotebookNode(cell_type="markdown", metadata={}, source=(
                "**Not graded: these files of your submission were left out.**\n\n" + items)))
        return nb, resources


def _literal(text):
    """text shown as itself in markdown: every character but letters, digits and spaces as an
    HTML character reference, so a file name can be neither markup nor markdown."""
    return "".join(ch if ch.isalnum() and ch.isascii() or ch == " " else f"&#{ord(ch)};" for ch in text)


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
