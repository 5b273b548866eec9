# Everything runs in a virtual environment built from requirements.txt on first use.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
SAMPLES ?= autograder/samples
OUT    ?= build/grading

.PHONY: grade test lab release check bench clean

$(STAMP): requirements.txt utils/pyproject.toml $(wildcard utils/*.py)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --force-reinstall ./utils
	touch $(STAMP)

## release: regenerate the student notebooks in notebooks/ from solutions/
release: $(STAMP)
	$(PY) -m autograder release

## grade: release, then grade the sample submissions and print the grade table
grade: release
	$(PY) -m autograder grade $(SAMPLES) --out $(OUT)

## check: every solution notebook must earn full marks through nbgrader
check: $(STAMP)
	$(PY) -m autograder check

## test: the whole test suite, in parallel
test: $(STAMP)
	$(PY) -m pytest -n auto tests

## lab: JupyterLab on the student notebooks, with nbgrader's extensions configured
lab: $(STAMP)
	JUPYTER_CONFIG_PATH=$(CURDIR)/autograder $(VENV)/bin/jupyter lab --notebook-dir=notebooks

## bench: measure notebook run times and grading time per submission
bench: $(STAMP)
	$(PY) -m autograder.bench

clean:
	rm -rf build $(VENV)
