"""The grading tool end to end, through nbgrader: the sample class, sequential, parallel, without
kernels started ahead and on Dask."""
import csv
import json
import os

import shutil

import pytest
from nbgrader.api import Gradebook

from autograder import REPO, course

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

SAMPLES = os.path.join(REPO, "autograder", "samples")
FIRST = "01-logistic-regression"


def cell_grades(out):
    """{(student, assignment, notebook, cell): auto_score} from a course folder's gradebook."""
    grades = {}
    with Gradebook(f"sqlite:///{os.path.join(out, 'gradebook.db')}") as gb:
        for assignment in gb.assignments:
            for submission in assignment.submissions:
                for nb in submission.notebooks:
                    for g in nb.grades:
                        grades[(submission.student.id, assignment.name, nb.name, g.name)] = g.auto_score
    return grades


def nb01_samples(root):
    """The sample class with notebook 01 only: quick to grade, for the tests that grade it repeatedly."""
    for student in os.listdir(SAMPLES):
        shutil.copytree(os.path.join(SAMPLES, student, FIRST), os.path.join(root, student, FIRST))
    return root


@pytest.fixture(scope="module")
def sequential(tmp_path_factory):
    out = tmp_path_factory.mktemp("sequential")
    return course.grade(SAMPLES, out, workers=1), out


def test_samples_grade_full_partial_and_zero(sequential):
    report, _ = sequential
    by_student = {}
    for o in report.outcomes:
        assert o.ok, o
        by_student.setdefault(o.student, []).append(o)
    assert all(o.score == o.max_score > 0 for o in by_student["sample-complete"])
    assert all(0 < o.score < o.max_score for o in by_student["sample-mistakes"])
    assert all(o.score == 0 for o in by_student["sample-untouched"])


def test_grades_csv_and_summary_agree_with_the_report(sequential):
    report, out = sequential
    with open(os.path.join(out, "grades.csv")) as f:
        rows = {(r["student_id"], r["assignment"]): float(r["raw_score"]) for r in csv.DictReader(f)}
    for o in report.outcomes:
        assert rows[(o.student, o.assignment)] == o.score
    summary = json.load(open(os.path.join(out, "summary.json")))
    assert summary["submissions"] == len(report.outcomes) and summary["failed"] == 0


def test_feedback_is_written_and_hides_hidden_tests(sequential):
    _, out = sequential
    folder = os.path.join(out, "feedback", "sample-mistakes", "01-logistic-regression")
    html = open(os.path.join(folder, "logistic_regression.html")).read()
    assert "A hidden test failed" in html
    for secret in ("BEGIN HIDDEN TESTS", "labels=[0, 1]", "LogisticRegression(C=", "default_rng(202)"):
        assert secret not in html, f"feedback shows hidden test code: {secret}"


def test_feedback_exporter_writes_what_nbconvert_writes(sequential):
    """FeedbackExporter keeps compiled templates for the next student: its page, from a fresh
    compile and from the cache, is byte for byte the one nbconvert's own HTMLExporter writes."""
    import nbformat
    from nbconvert.exporters import HTMLExporter
    from traitlets.config import Config

    from autograder.feedback import COMPILED, FeedbackExporter

    _, out = sequential
    nb = nbformat.read(os.path.join(out, "autograded", "sample-mistakes", FIRST, "logistic_regression.ipynb"),
                       as_version=4)
    config = Config()
    config.HTMLExporter.template_name = "lab"
    expected, _ = HTMLExporter(config=config).from_notebook_node(nb)
    COMPILED._code.clear()   # other tests in this process may have compiled it already
    first, _ = FeedbackExporter(config=config).from_notebook_node(nb)
    assert COMPILED._code, "the first page compiled no template into the cache"
    second, _ = FeedbackExporter(config=config).from_notebook_node(nb)
    assert first == expected and second == expected


def test_parallel_grades_equal_sequential_grades(sequential, tmp_path):
    _, seq_out = sequential
    course.grade(SAMPLES, tmp_path, workers=2)
    assert cell_grades(tmp_path) == cell_grades(seq_out)
    assert open(tmp_path / "grades.csv").read() == open(os.path.join(seq_out, "grades.csv")).read()


def test_kernels_started_ahead_change_no_grade(sequential, tmp_path):
    """The sequential run grades every notebook on a kernel started ahead (autograder.kernel_ahead);
    with that off, each notebook starts its own kernel, and the cell grades are the same."""
    report, seq_out = sequential
    assert report.kernels_ahead == len(report.outcomes) == 9
    off = course.grade(nb01_samples(tmp_path / "submitted-nb01"), tmp_path / "off", workers=1,
                       settings={"KernelAhead.enabled": False})
    assert off.kernels_ahead == 0 and len(off.outcomes) == 3
    expected = {k: v for k, v in cell_grades(seq_out).items() if k[1] == FIRST}
    assert cell_grades(tmp_path / "off") == expected


def test_grading_on_a_dask_cluster_equals_sequential(sequential, tmp_path):
    distributed = pytest.importorskip("distributed")
    _, seq_out = sequential
    class_ = nb01_samples(tmp_path / "submitted-nb01")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, host="127.0.0.1") as cluster:
        report = course.grade(class_, tmp_path / "dask", scheduler=cluster.scheduler_address)
    assert len(report.outcomes) == 3 and all(o.ok for o in report.outcomes)
    expected = {k: v for k, v in cell_grades(seq_out).items() if k[1] == FIRST}
    assert cell_grades(tmp_path / "dask") == expected


def test_regrading_keeps_one_row_per_grade_and_manual_grades(tmp_path):
    class_ = nb01_samples(tmp_path / "submitted-nb01")
    out = tmp_path / "course"
    course.grade(class_, out, workers=2)
    first = cell_grades(out)
    db_url = f"sqlite:///{out / 'gradebook.db'}"
    with Gradebook(db_url) as gb:  # an instructor overrides one grade by hand
        grade = gb.find_grade("test_predict", "logistic_regression", FIRST, "sample-mistakes")
        grade.manual_score = 0.5
        gb.db.commit()
    course.grade(class_, out, workers=2)
    assert cell_grades(out) == first
    with Gradebook(db_url) as gb:
        assert len(gb.students) == 3
        assert sum(len(a.submissions) for a in gb.assignments) == 3
        assert gb.find_grade("test_predict", "logistic_regression", FIRST, "sample-mistakes").manual_score == 0.5
