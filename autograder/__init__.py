"""The course's grading tool: nbgrader's apps arranged for this repository.

Run it as `python -m autograder {release,grade,check}`.
"""
import os
import sys
import warnings

# nbgrader's own SQLAlchemy usage warns on every autograde ("... not in session");
# it is nbgrader's internal matter, not the user's.
warnings.filterwarnings("ignore", message=".*not in session.*")

# nbgrader runs the `alembic` command when it creates a gradebook; it lives next
# to this Python, which is not on PATH when the tool is started as .venv/bin/python.
_bin = os.path.dirname(sys.executable)
if _bin not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _bin + os.pathsep + os.environ.get("PATH", "")

# jsonschema (imported by nbformat) loads rfc3987_syntax when it is installed, and that builds
# some 35 Earley parsers at import: 1.6 s of every grading process's start here (jsonschema
# issue #1428), for the "iri" string format, which no notebook or gradebook schema uses.
# A None entry makes its import fail, and jsonschema then leaves that one format unchecked.
# (Where it is already imported, as in a Jupyter server, nothing changes.)
sys.modules.setdefault("rfc3987_syntax", None)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG_FILE = os.path.join(REPO, "autograder", "nbgrader_config.py")
SOLUTIONS = os.path.join(REPO, "solutions")
NOTEBOOKS = os.path.join(REPO, "notebooks")


def assignments():
    """The assignment folders under solutions/, in teaching order."""
    return sorted(d for d in os.listdir(SOLUTIONS)
                  if os.path.isdir(os.path.join(SOLUTIONS, d)) and not d.startswith("."))
