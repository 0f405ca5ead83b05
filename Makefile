# Two commands do everything:  make course   and   make test
# Options: PROFILE=smoke|cpu|gpu|auto (course), MIRROR=/path/to/mirror (offline data and weights).
PY      ?= python3
VENV    ?= .venv
PYTHON  := $(VENV)/bin/python
PROFILE ?= auto
# torch is pinned here (not in pyproject) so a machine with these wheels cached installs quickly;
# override with e.g. TORCH_SPEC="torch torchvision" to take the newest.
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
# A mirror folder beside the checkout is used when present (classroom/CI); else none.
MIRROR  ?= $(firstword $(wildcard $(abspath ../shared/data)))
ifneq ($(strip $(MIRROR)),)
export TRANSFER_LESSONS_DATA ?= $(abspath $(MIRROR))
endif
export PYTHONUNBUFFERED := 1
# PyTorch's CPU allocator backs large tensors with transparent huge pages when this is set, which
# saves page faults on every training step (measured here: a 2-epoch partial fine-tune of lesson 02,
# 30.5 s -> 23.1 s on 2 cores). Linux only; elsewhere it is ignored.
export THP_MEM_ALLOC_ENABLE := 1

# The base install is the library (fine_tune, load_model, predict); the course and its tests need these extras.
EXTRAS  := course,classroom,detection,deploy,dev
STAMP := $(VENV)/.installed

.PHONY: setup course test test-fast test-classroom lint clean help student instructor nbgrader mirror
help:
	@echo "make course [PROFILE=smoke|cpu|gpu]  set up, run every lesson, write reports/"
	@echo "make test                            set up, lint (ruff, import-linter), run the whole test suite"
	@echo "make test-fast                       the same without the lesson runs and real-data trainings (minutes)"
	@echo "make test-classroom                  nbgrader autogrades, and JupyterLab runs, every lesson (make test: 00)"
	@echo "make student | make instructor       write build/student/ (no solutions) or build/instructor/"
	@echo "make nbgrader                        write build/nbgrader/, an nbgrader course folder (source/)"
	@echo "make mirror [MIRROR_DIR=DIR]         fetch every dataset and weight file into DIR (default build/mirror)"

# Re-runs only when the dependency list changes: setup is quick when nothing changed.
$(STAMP): pyproject.toml Makefile
	test -x $(PYTHON) || $(PY) -m venv $(VENV)
	$(PYTHON) -m pip install -q --upgrade pip
	$(PYTHON) -m pip install -q $(TORCH_SPEC)
	$(PYTHON) -m pip install -q -e ".[$(EXTRAS)]"
	$(PYTHON) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (transfer-lessons)" >/dev/null
	touch $(STAMP)

setup: $(STAMP)

course: setup
	$(PYTHON) -m transfer_lessons run --profile $(PROFILE)

# ruff (pyflakes, pycodestyle, import order) and the layers contract (import-linter), both in pyproject.toml
lint: setup
	$(VENV)/bin/ruff check transfer_lessons tests scripts
	$(VENV)/bin/lint-imports

test: lint
	$(PYTHON) -m pytest

# Everything but the lesson runs and the minutes-long trainings on the real datasets (marked slow), two tests at
# a time (pytest-xdist, one intra-op thread per worker: see tests/conftest.py); the tests that assert a speed run
# afterwards, alone. The whole target: 2 min 54 s and 3 min 1 s on 2 cores on a slow day (was 3:42 to 4:28).
test-fast: lint
	$(PYTHON) -m pytest -n 2 -m "not notebook and not slow and not timing"
	$(PYTHON) -m pytest -m "timing and not slow" tests/test_speed.py tests/test_synthetic.py

# What make test does for lesson 00 only, for the others: nbgrader's autograde (two smoke runs of each lesson) and
# lessons 01-03 in JupyterLab in headless Chromium (one smoke run each).
test-classroom: setup
	TRANSFER_LESSONS_CLASSROOM=1 $(PYTHON) -m pytest tests/test_nbgrader.py tests/test_browser.py -k "not 00_tour"

# Classroom editions: the lessons with outputs cleared; the instructor's adds notebooks/solutions/;
# nbgrader's is a course folder whose source/ holds each lesson with graded answer and test cells.
student instructor nbgrader: setup
	$(PYTHON) -m transfer_lessons edition $@ --out build/$@

# A classroom mirror (datasets and weights, checksummed); run again to resume or repair it.
MIRROR_DIR ?= build/mirror
mirror: setup
	$(PYTHON) -m transfer_lessons mirror $(abspath $(MIRROR_DIR))

clean:
	rm -rf reports build .pytest_cache
