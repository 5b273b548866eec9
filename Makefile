# Everything runs in a virtual environment built from requirements.txt on first use.
#   make grade        build the environment, check the release, grade the sample class, print the grades
#   make test         the whole test suite, in parallel (make test-fast: the unit tests, under a minute)
#   make release      regenerate notebooks/ from solutions/ (then commit notebooks/)
#   make check        every solution notebook must earn full marks
#   make lab          JupyterLab on the student notebooks; make formgrader: nbgrader's formgrader on OUT
#   make bundle       what students receive, as BUNDLE (build/students.zip)
#   make bench        notebook run times, then a 6-student class graded four ways (see README "Figures")
#   make clean        remove build/ and the environment
PYTHON  ?= python3
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
SAMPLES ?= autograder/samples
OUT     ?= build/grading
BUNDLE  ?= build/students.zip
# SANDBOX=off: grade and check without the bubblewrap sandbox (student code runs with your rights)
SANDBOX ?= on
GRADE_FLAGS := $(if $(filter off,$(SANDBOX)),--no-sandbox)
# `make lab` and `make formgrader`: the folder JupyterLab opens for students (LAB_DIR) and for
# instructors (FORMGRADER_DIR, which must contain OUT), and extra jupyter lab options, e.g.
# LAB_ARGS="--port=8899 --no-browser".
LAB_DIR        ?= notebooks
FORMGRADER_DIR ?= $(CURDIR)
LAB_ARGS       ?=

.PHONY: grade test test-fast release check lab formgrader bundle bench clean

$(STAMP): requirements.txt utils/requirements.txt autograder/requirements.txt tests/requirements.txt \
          utils/pyproject.toml $(wildcard utils/*.py)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --force-reinstall ./utils
	touch $(STAMP)

# grade releases into build/release and fails loudly unless the committed notebooks/ is that release:
# it never rewrites the tracked tree.
grade: $(STAMP)
	$(PY) -m autograder release --check
	$(PY) -m autograder grade $(SAMPLES) --out $(OUT) $(GRADE_FLAGS)

test: $(STAMP)
	$(PY) -m pytest -n auto --dist loadfile tests

test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow" tests

release: $(STAMP)
	$(PY) -m autograder release

check: $(STAMP)
	$(PY) -m autograder check $(GRADE_FLAGS)

lab: $(STAMP)
	JUPYTER_CONFIG_PATH=$(CURDIR)/autograder $(VENV)/bin/jupyter lab --notebook-dir=$(LAB_DIR) $(LAB_ARGS)

# The formgrader works on the grading folder OUT of `make grade` (graded first if it has no gradebook)
# and on solutions/; open Nbgrader > Formgrader.
formgrader: $(STAMP)
	test -f $(OUT)/gradebook.db || $(MAKE) grade
	mkdir -p $(OUT)/.formgrader
	printf '%s\n' '# Written by `make formgrader`: the formgrader works on the grading folder.' \
	  'c = get_config()' \
	  'c.CourseDirectory.root = "$(abspath $(OUT))"' \
	  'c.CourseDirectory.source_directory = "$(CURDIR)/solutions"' > $(OUT)/.formgrader/nbgrader_config.py
	cd $(OUT)/.formgrader && JUPYTER_CONFIG_PATH=$(CURDIR)/autograder $(abspath $(VENV))/bin/jupyter lab \
	  --notebook-dir=$(FORMGRADER_DIR) $(LAB_ARGS)

bundle: $(STAMP)
	$(PY) -m autograder release --bundle $(BUNDLE)

bench: $(STAMP)
	$(PY) -m autograder.bench

clean:
	rm -rf build $(VENV)
