# The README's commands. Each creates .venv on first use and reuses it after:
# a stamp file records what was installed, and is redone only when the
# packaging files change.
# `make test PYTHON=python3.12` builds and uses .venv-3.12 instead, so that several
# interpreters can be proven side by side; the default interpreter keeps .venv.
PYTHON ?= python3
ifeq ($(origin PYTHON),command line)
PYVER  := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
ifeq ($(PYVER),)
$(error PYTHON=$(PYTHON) does not run; give the path of a Python 3.10+ interpreter)
endif
VENV   := .venv-$(PYVER)
else
VENV   := .venv
endif
BIN    := $(VENV)/bin
PKG_FILES := pyproject.toml setup.py requirements.txt cs231n_lib/_im2col.pyx
# The autograder's jail reaches the kit's library through a bind mount of its package
# folder alone, so this checkout may stay private (chmod 700): nothing else of it is in reach.

.PHONY: demo student grader tour test lint release bench bench-autograde clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# setuptools prints an information box on every editable install ("be careful with
# folders named like your package"); it says nothing about the kit, so it is filtered.
PIP_INSTALL := PYTHONWARNINGS="ignore:Editable installation" $(BIN)/python -m pip install --quiet -e

# The kit alone (what a student or instructor needs).
$(VENV)/.installed-kit: $(BIN)/python $(PKG_FILES)
	$(PIP_INSTALL) .
	@touch $@

# The kit with its test tools (pytest, nbgrader, ...).
$(VENV)/.installed-test: $(BIN)/python $(PKG_FILES)
	$(PIP_INSTALL) ".[test]"
	@touch $@ $(VENV)/.installed-kit

# The kit with nbgrader, JupyterLab and Dask: what an instructor grades with.
$(VENV)/.installed-grader: $(BIN)/python $(PKG_FILES)
	$(PIP_INSTALL) ".[grader]"
	@touch $@ $(VENV)/.installed-kit

grader: $(VENV)/.installed-grader
	@echo "grading tools in $(abspath $(BIN)): nbgrader, cs231n-autograde, jupyter"

# The kit with JupyterLab: what a student works in.
$(VENV)/.installed-student: $(BIN)/python $(PKG_FILES)
	$(PIP_INSTALL) ".[student]"
	@touch $@ $(VENV)/.installed-kit

# The instructor's main job on built-in data: a demo class graded by the autograder,
# then the naive-vs-fast timing table (the benchmark's short run, the notebooks' code).
demo: $(VENV)/.installed-kit
	$(BIN)/python -m autograder.demo --dest demo-output/course --workers 2
	$(BIN)/python -m autograder.timing --quick --out demo-output/bench

# A student's setup: the kit and JupyterLab, and a copy of one assignment's release
# (ASSIGNMENT=convnets, or dropout) in a working folder outside this checkout (WORK=... to
# choose it). An existing folder is never overwritten, so running it again loses no work.
# No grading happens.
ASSIGNMENT ?= convnets
WORK ?= $(HOME)/cs231n-$(ASSIGNMENT)
student: $(VENV)/.installed-student
	@work="$(abspath $(WORK))"; \
	if [ ! -d "assignments/release/$(ASSIGNMENT)" ] || [ -z "$(ASSIGNMENT)" ]; then \
	  echo "make student: no assignment named '$(ASSIGNMENT)' in assignments/release; there are: $$(ls assignments/release | tr '\n' ' ')" >&2; exit 2; \
	fi; \
	case "$$work/" in "$(CURDIR)/"*) \
	  echo "make student: WORK=$$work is inside this checkout, where make release would delete it; choose a folder outside $(CURDIR)" >&2; exit 2;; \
	esac; \
	if [ -e "$$work" ]; then \
	  echo "$$work exists already: left as it is, your work is kept"; \
	else \
	  mkdir -p "$$(dirname "$$work")" && cp -R "assignments/release/$(ASSIGNMENT)" "$$work" && \
	  echo "copied the assignment's notebooks to $$work"; \
	fi; \
	echo "open them with:"; \
	echo "  $(abspath $(BIN))/jupyter lab \"$$work\""

# The full benchmark: every shape, a training step and one epoch's peak memory, side by
# side with PyTorch when it is installed (pip install torch). A few minutes.
bench: $(VENV)/.installed-kit
	$(BIN)/python -m autograder.timing --out bench-results

# The demo class graded by the autograder and by plain `nbgrader autograde` (~15 min).
bench-autograde: $(VENV)/.installed-test
	$(BIN)/python -m autograder.bench --out bench-results

# A short tour of the library: backend, naive-vs-fast timing, a short training run.
tour: $(VENV)/.installed-kit
	$(BIN)/python -m autograder.timing --tour

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest

# Regenerate the student release from the source notebooks (nbgrader runs alembic by
# name, so the environment's bin/ goes on PATH).
release: $(VENV)/.installed-test
	cd assignments && for a in $(notdir $(wildcard assignments/source/*)); do \
	  PATH="$(abspath $(BIN)):$$PATH" ../$(BIN)/python -m nbgrader generate_assignment $$a --force || exit 1; done

lint: $(VENV)/.installed-test
	$(BIN)/python -m ruff check cs231n_lib autograder tests

clean:
	rm -rf $(VENV) build *.egg-info cs231n_lib/*.so cs231n_lib/_im2col.c

# The mutation corpus (tests/autograder/corpus): every wrong and every correct-but-different
# implementation handed in by 20 students and graded by the real CLI (~10 min on 2 cores).
# Prints mutants caught and correct variants at full marks; figures in sweep-results/.
.PHONY: sweep
sweep: $(VENV)/.installed-kit
	$(BIN)/python tests/autograder/corpus/sweep.py --ids 20 --json sweep-results/corpus_sweep.json
