"""Notebook outputs the grader writes itself into a graded cell: an error saying why a cell failed
or was not run, and text it printed (used by autograder.bounded and autograder.judge)."""
from nbformat.notebooknode import NotebookNode


def error_output(ename, evalue, traceback=None):
    return NotebookNode(output_type="error", ename=ename, evalue=evalue,
                        traceback=traceback or [f"\x1b[0;31m{ename}\x1b[0m: {evalue}"])


def stream(text):
    return NotebookNode(output_type="stream", name="stdout", text=text)
