# Everything runs in a virtual environment built from requirements.txt on first use.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
SAMPLES ?= autograder/samples
OUT    ?= build/grading
# SANDBOX=off: grade and check without the bubblewrap sandbox (student code runs with your rights)
SANDBOX ?= on
GRADE_FLAGS := $(if $(filter off,$(SANDBOX)),--no-sandbox)

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
	$(PY) -m autograder grade $(SAMPLES) --out $(OUT) $(GRADE_FLAGS)

## check: every solution notebook must earn full marks through nbgrader
check: $(STAMP)
	$(PY) -m autograder check $(GRADE_FLAGS)

## test: the whole test suite, in parallel
test: $(STAMP)
	$(PY) -m pytest -n auto --dist loadfile tests

## lab: JupyterLab on the student notebooks, with nbgrader's extensions configured
lab: $(STAMP)
	JUPYTER_CONFIG_PATH=$(CURDIR)/autograder $(VENV)/bin/jupyter lab --notebook-dir=$(LAB_DIR) $(LAB_ARGS)

## bench: measure notebook run times and grading time per submission
bench: $(STAMP)
	$(PY) -m autograder.bench

clean:
	rm -rf build $(VENV)

## formgrader: JupyterLab for instructors, nbgrader's formgrader on the grading folder $(OUT) of
## `make grade` (graded first if it has no gradebook) and on solutions/; open Nbgrader > Formgrader
formgrader: $(STAMP)
	test -f $(OUT)/gradebook.db || $(MAKE) grade
	mkdir -p $(OUT)/.formgrader
	printf '%s\n' '# Written by `make formgrader`: the formgrader works on the grading folder.' \
	  'c = get_config()' \
	  'c.CourseDirectory.root = "$(abspath $(OUT))"' \
	  'c.CourseDirectory.source_directory = "$(CURDIR)/solutions"' > $(OUT)/.formgrader/nbgrader_config.py
	cd $(OUT)/.formgrader && JUPYTER_CONFIG_PATH=$(CURDIR)/autograder $(abspath $(VENV))/bin/jupyter lab \
	  --notebook-dir=$(FORMGRADER_DIR) $(LAB_ARGS)

## bundle: what students receive, as build/students.zip (or BUNDLE=path, a folder unless it ends in .zip)
bundle: $(STAMP)
	$(PY) -m autograder release --bundle $(BUNDLE)

.PHONY: formgrader bundle
# `make lab` and `make formgrader` options: the folder JupyterLab opens for students (LAB_DIR) and for
# instructors (FORMGRADER_DIR, which must contain OUT), and extra jupyter lab options, e.g.
# LAB_ARGS="--port=8899 --no-browser".
LAB_DIR ?= notebooks
FORMGRADER_DIR ?= $(CURDIR)
LAB_ARGS ?=
BUNDLE ?= build/students.zip
