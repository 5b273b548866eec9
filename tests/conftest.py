import os
import sys

import matplotlib
import pytest

matplotlib.use("Agg")
TESTS = os.path.dirname(os.path.abspath(__file__))
for path in (TESTS, os.path.dirname(TESTS)):
    if path not in sys.path:
        sys.path.insert(0, path)


# The markers, all here. Browser tests (tests/test_browser.py): select them with `-m browser`, skip
# them with `-m "not browser"`. Tests marked `sandbox` grade or start sandboxed processes: where no
# bubblewrap sandbox can start, they skip with the reason (the grader itself refuses to run there).
# Tests marked `slow` grade notebooks, start kernels, a browser or a venv, or take seconds each:
# `-m "not slow"` runs the unit tests alone, in under a minute; `make test` runs everything.
def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives JupyterLab in Debian's chromium (Playwright)")
    config.addinivalue_line("markers", "sandbox: needs a working bubblewrap sandbox; skipped with the reason "
                            "where none can start")
    config.addinivalue_line("markers", "slow: grades whole notebooks, starts kernels, a browser or a venv: "
                            "left out of `make test-fast`")
    # nbgrader's own SQLAlchemy use warns on every autograde; autograder/__init__.py silences it
    # for users, and pytest, which resets warning filters per test, needs telling too.
    config.addinivalue_line("filterwarnings", "ignore:.*not in session.*")


def pytest_runtest_makereport(item, call):
    """Keep whether a test's call failed on the item, for fixtures that report more on failure
    (test_browser.py's lab_kernels prints the JupyterLab server's log)."""
    if call.when == "call":
        item.call_failed = call.excinfo is not None


def pytest_collection_modifyitems(config, items):
    marked = [item for item in items if item.get_closest_marker("sandbox")]
    if not marked:
        return
    from autograder.sandbox import probe
    works, why = probe()
    if not works:
        skip = pytest.mark.skip(reason=f"no bubblewrap sandbox here: {why}")
        for item in marked:
            item.add_marker(skip)
