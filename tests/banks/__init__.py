"""Mistake and alternative banks, one module per assignment.

Each module defines ASSIGNMENT, MISTAKES and ALTERNATIVES: {name: {grade_id: source}}.
Every mistake must lose points and every alternative must earn full marks.
MESSAGES (optional) maps a mistake to a phrase its visible test must print, so
that the student is told what is wrong. SAMPLE_MISTAKES names the mistakes the "typical mistakes" sample submission makes.
"""
