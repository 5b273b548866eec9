import os
import sys

import matplotlib

matplotlib.use("Agg")
TESTS = os.path.dirname(os.path.abspath(__file__))
for path in (TESTS, os.path.dirname(TESTS)):
    if path not in sys.path:
        sys.path.insert(0, path)
