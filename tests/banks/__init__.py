"""Mistake and alternative banks, one module per assignment.

Each module defines ASSIGNMENT, MISTAKES and ALTERNATIVES, {name: cases.Case}: a mistake
names the test cells it loses (loses=...) and the text its visible test prints about it
(says=...); an alternative, a correct answer written differently, loses nothing.
SAMPLE_MISTAKES names the mistakes the "typical mistakes" sample submission makes.
"""
