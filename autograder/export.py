"""grades.csv as nbgrader's CsvExportPlugin writes it, with every field quoted as CSV needs.

nbgrader joins the fields with commas as they are, so a student id holding a comma,
a quote or a newline (any name a file system allows) breaks the rows. Same columns,
same values, written by the csv module; text a spreadsheet would run as a formula is
marked as text (see _cell).
"""
import csv

from nbgrader.api import MissingEntry
from nbgrader.plugins.export import CsvExportPlugin

COLUMNS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
           "raw_score", "late_submission_penalty", "score", "max_score"]


class QuotedCsvExport(CsvExportPlugin):
    """nbgrader's CSV export (same filters, same columns), quoted by the csv module."""

    def export(self, gradebook):
        assignments = set(self.assignment or [])
        students = set(self.student or [])
        with open(self.to or "grades.csv", "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(COLUMNS)
            for assignment in gradebook.assignments:
                if assignments and assignment.name not in assignments:
                    continue
                for student in gradebook.students:
                    if students and student.id not in students:
                        continue
                    writer.writerow([_cell(v) for v in _row(gradebook, assignment, student)])


def _cell(value):
    """A value as a CSV field. Text that a spreadsheet would run as a formula (starting with =, +,
    -, @, a tab or a carriage return: a student id is any folder name) gets a leading apostrophe,
    OWASP's advice, which spreadsheets show as text."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return str(value)


def _row(gradebook, assignment, student):
    try:
        submission = gradebook.find_submission(assignment.name, student.id)
    except MissingEntry:   # not submitted: zero, as nbgrader counts it
        timestamp, raw, penalty, score = "", 0.0, 0.0, 0.0
    else:
        timestamp, raw = submission.timestamp, submission.score
        penalty = submission.late_submission_penalty
        score = max(0.0, raw - penalty)
    return [assignment.name, assignment.duedate, timestamp, student.id, student.last_name, student.first_name,
            student.email, raw, penalty, score, assignment.max_score]
