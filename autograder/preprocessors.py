"""nbgrader preprocessors that fix two grading pitfalls of plain nbgrader."""
from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor

HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"
HIDDEN_END = "### END HIDDEN TESTS"


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
    not the test, its data or the values it expected.
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
