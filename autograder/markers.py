"""nbgrader's region markers, in one place, and how the course reads them.

A solution region (BEGIN_SOLUTION ... END_SOLUTION) holds an answer: the release replaces it by
`# YOUR CODE HERE`. A hidden-test region holds test code the release removes and the feedback hides.
These are nbgrader's default delimiters (ClearSolutions, ClearHiddenTests; nbgrader_config.py keeps
them); the feedback, the bundle's last check and the synthetic submissions read them from here.
"""
BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"
ALL = (BEGIN_SOLUTION, END_SOLUTION, BEGIN_HIDDEN, END_HIDDEN)


def strip_hidden(source):
    """The source with every hidden-test region removed."""
    kept, hidden = [], False
    for line in source.splitlines():
        if BEGIN_HIDDEN in line:
            hidden = True
        elif END_HIDDEN in line:
            hidden = False
        elif not hidden:
            kept.append(line)
    return "\n".join(kept)


def answer(source):
    """A solution cell's answer as a student would write it: the source without its marker lines."""
    return "\n".join(line for line in source.splitlines() if line.strip() not in (BEGIN_SOLUTION, END_SOLUTION))
