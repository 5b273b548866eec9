"""Judging test cells outside the student's kernel.

When a notebook is graded, its test cells run in an evaluator process that never
executes student code. What the tests need from the student's work crosses from the
kernel to the evaluator as plain data only:

- `wire`: the plain-data encoding both sides speak (no pickle, exact types, caps);
- `agent`: the grader's helper inside the student's kernel (untrusted ground: whatever
  it sends is checked again by the evaluator);
- `evaluator`: the evaluator process, which runs the trusted cells and the tests;
- `mirrors`: the evaluator's own Keras models and histories, built from descriptions;
- `names`: which names a cell reads and binds, to decide what comes from the kernel.

The grader side that connects the two (autograder.judge) lives outside this package:
the package itself is what the sandboxed evaluator and the kernel get to see.
"""
