"""Nothing a student receives contains a graded answer, of its own notebook or another's.

Every statement inside a solution region (two syntax-tree nodes or more, compared as
normalised trees: names, values and structure, not layout or comments) must appear in no
released cell of any notebook (code cells and fenced code in markdown) and nowhere in
`utils/`. Hint texts are read by hand for the same; this test reads the code.
"""
import ast
import os
import re

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

from autograder import NOTEBOOKS, REPO, SOLUTIONS, assignments
from cases import SOLUTION_REGION, region_lines

BEGIN = SOLUTION_REGION[0]
FENCED = re.compile(r"```(?:python|py)?\n(.*?)```", re.S)
_to_python = TransformerManager().transform_cell   # %magics and !commands become plain calls


def _key(node):
    """A statement as a normalised tree: no line numbers, no comments, no layout."""
    return ast.dump(node, annotate_fields=False, include_attributes=False)


def _size(node):
    return sum(1 for n in ast.walk(node) if not isinstance(n, ast.expr_context))


def _statements(tree):
    return [n for n in ast.walk(tree) if isinstance(n, ast.stmt)]


def _notebooks(root):
    for assignment in assignments():
        folder = os.path.join(root, assignment)
        for name in sorted(os.listdir(folder)):
            if name.endswith(".ipynb"):
                yield f"{assignment}/{name}", nbformat.read(os.path.join(folder, name), as_version=4)


def solution_statements():
    """{normalised statement: (where, source line)} for every statement inside a solution region."""
    found = {}
    for where, nb in _notebooks(SOLUTIONS):
        for cell in nb.cells:
            if cell.cell_type != "code" or BEGIN not in cell.source:
                continue
            lines = cell.source.splitlines()
            region = set(region_lines(cell.source))
            tree = ast.parse(_to_python(cell.source))
            for node in _statements(tree):
                if node.lineno in region and node.end_lineno in region and _size(node) >= 2:
                    found.setdefault(_key(node), (f"{where} cell {cell.metadata.nbgrader['grade_id']}",
                                                  lines[node.lineno - 1].strip()))
    return found


def released_sources():
    """(where, source) of everything a student receives that holds code: released cells and utils/."""
    for where, nb in _notebooks(NOTEBOOKS):
        for index, cell in enumerate(nb.cells):
            label = f"{where} cell {cell.metadata.get('nbgrader', {}).get('grade_id', index)}"
            if cell.cell_type == "code":
                yield label, _to_python(cell.source)
            elif cell.cell_type == "markdown":
                for block in FENCED.findall(cell.source):
                    yield label + " (markdown)", block
    utils = os.path.join(REPO, "utils")
    for name in sorted(os.listdir(utils)):
        if name.endswith(".py"):
            with open(os.path.join(utils, name), encoding="utf-8") as f:
                yield f"utils/{name}", f.read()


def leaks(answers, sources):
    """[(where the answer is, its line, where it was found)] for every answer statement in sources."""
    found = []
    for where, source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue   # prose in a fenced block, or a release stub
        for node in _statements(tree):
            if _key(node) in answers:
                found.append((*answers[_key(node)], where))
    return found


def test_no_released_cell_or_helper_holds_a_statement_of_a_solution():
    found = leaks(solution_statements(), released_sources())
    assert not found, "answers handed out:\n" + "\n".join(
        f"  {line!r} ({answer}) is in {where}" for answer, line, where in found)


@pytest.mark.parametrize("copy", [
    "z = np.asarray(z, dtype=np.float64)",                  # a statement of a solution, reformatted below
    "z = np.asarray(z,\n               dtype=np.float64)  # same tree, other layout",
])
def test_the_search_finds_a_solution_statement_however_it_is_laid_out(copy):
    answers = {_key(ast.parse("z = np.asarray(z, dtype=np.float64)").body[0]): ("nb", "z = ...")}
    assert leaks(answers, [("released", f"def f(z):\n    {copy}\n    return z")])


def test_the_search_ignores_other_names_and_single_nodes():
    answers = {_key(ast.parse("z = np.asarray(z, dtype=np.float64)").body[0]): ("nb", "z = ...")}
    assert not leaks(answers, [("released", "x = np.asarray(x, dtype=np.float64)\npass")])


def test_every_solution_region_yields_statements():
    """The search reads something: every answer cell of every solution contributes statements."""
    answers = solution_statements()
    cells = {where for where, _ in answers.values()}
    for where, nb in _notebooks(SOLUTIONS):
        for cell in nb.cells:
            if cell.cell_type == "code" and BEGIN in cell.source:
                assert f"{where} cell {cell.metadata.nbgrader['grade_id']}" in cells
