"""The student release: in sync with solutions/, and free of solutions and hidden tests."""
import filecmp
import os

import nbformat
import pytest

from autograder import NOTEBOOKS, SOLUTIONS, assignments, course
from cases import region_lines


@pytest.fixture(scope="module")
def fresh_release(tmp_path_factory):
    return course.release(tmp_path_factory.mktemp("release"))


def _files(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


def test_release_is_in_sync_with_the_solutions(fresh_release):
    assert _files(fresh_release) == _files(NOTEBOOKS), "run `make release` and commit notebooks/"
    for rel in _files(NOTEBOOKS):
        assert filecmp.cmp(os.path.join(fresh_release, rel), os.path.join(NOTEBOOKS, rel), shallow=False), \
            f"{rel} differs from a fresh release: run `make release` and commit notebooks/"


def solution_region_lines(assignment):
    """Every line inside a ### BEGIN SOLUTION / ### END SOLUTION region of the assignment's solutions."""
    lines = []
    for name in os.listdir(os.path.join(SOLUTIONS, assignment)):
        if name.endswith(".ipynb"):
            for cell in nbformat.read(os.path.join(SOLUTIONS, assignment, name), as_version=4).cells:
                lines += region_lines(cell.source).values()
    return lines


@pytest.mark.parametrize("assignment", assignments())
def test_release_has_no_solution_and_no_hidden_test(assignment):
    secret = [ln for ln in solution_region_lines(assignment)
              if ln.strip() and not ln.strip().startswith(("#", '"""', "return "))]
    assert secret, "no solution region found"
    for name in os.listdir(os.path.join(NOTEBOOKS, assignment)):
        text = open(os.path.join(NOTEBOOKS, assignment, name)).read()
        assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
        nb = nbformat.read(os.path.join(NOTEBOOKS, assignment, name), as_version=4)
        released = {ln for c in nb.cells for ln in c.source.splitlines()}
        leaked = [ln for ln in secret if ln in released]
        assert not leaked, f"solution lines in the release: {leaked}"


@pytest.mark.parametrize("assignment", assignments())
def test_solutions_are_stored_without_outputs(assignment):
    for name in os.listdir(os.path.join(SOLUTIONS, assignment)):
        if name.endswith(".ipynb"):
            nb = nbformat.read(os.path.join(SOLUTIONS, assignment, name), as_version=4)
            assert all(not c.get("outputs") and not c.get("execution_count") for c in nb.cells if c.cell_type == "code")


def test_samples_are_in_sync(tmp_path):
    import build_samples
    build_samples.build(tmp_path)
    samples = os.path.join(os.path.dirname(NOTEBOOKS), "autograder", "samples")
    assert _files(tmp_path) == _files(samples)
    for rel in _files(samples):
        assert filecmp.cmp(os.path.join(tmp_path, rel), os.path.join(samples, rel), shallow=False), \
            f"{rel} is stale: run `python tests/build_samples.py`"


def test_stale_release_files_names_every_missing_extra_and_changed_file(tmp_path):
    """course.stale_release_files (what `release --check` and `make grade` report): a committed release
    that lacks a file, has one too many or holds other bytes is named file by file; a copy is in sync."""
    fresh, committed = tmp_path / "fresh", tmp_path / "committed"
    for root in (fresh, committed):
        (root / "01").mkdir(parents=True)
        (root / "01" / "same.ipynb").write_text("{}")
    assert course.stale_release_files(str(fresh), str(committed)) == []
    (fresh / "01" / "new.ipynb").write_text("{}")
    (committed / "01" / "old.ipynb").write_text("{}")
    (fresh / "01" / "edited.ipynb").write_text('{"a": 1}')
    (committed / "01" / "edited.ipynb").write_text('{"a": 2}')
    assert course.stale_release_files(str(fresh), str(committed)) == [
        os.path.join("01", name) for name in ("edited.ipynb", "new.ipynb", "old.ipynb")]
