# The README's commands. Each creates .venv on first use and reuses it after:
# a stamp file records what was installed, and is redone only when the
# packaging files change.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PKG_FILES := pyproject.toml setup.py requirements.txt cs231n_lib/_im2col.pyx
# Run as root, the autograder's sandbox runs students' code as a uid of its own, which
# must be able to import the kit from this checkout (editable install). A checkout made
# in a private directory (mktemp -d gives 0700) would block it, so let others read it,
# as a normal clone already does. Course folders stay private: the demo's is 0700.
OPEN_CHECKOUT := chmod o+rx "$(CURDIR)" 2>/dev/null || true

.PHONY: demo tour test lint release bench bench-autograde clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The kit alone (what a student or instructor needs).
$(VENV)/.installed-kit: $(BIN)/python $(PKG_FILES)
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

# The kit with its test tools (pytest, nbgrader, ...).
$(VENV)/.installed-test: $(BIN)/python $(PKG_FILES)
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $@ $(VENV)/.installed-kit

# The instructor's main job on built-in data: a demo class graded by the autograder,
# then the naive-vs-fast timing table (the benchmark's short run, the notebooks' code).
demo: $(VENV)/.installed-kit
	@$(OPEN_CHECKOUT)
	$(BIN)/python -m autograder.demo --dest demo-output/course --workers 2
	$(BIN)/python -m cs231n_lib.bench --quick --out demo-output/bench

# The full benchmark: every shape, a training step and one epoch's peak memory, side by
# side with PyTorch when it is installed (pip install torch). A few minutes.
bench: $(VENV)/.installed-kit
	$(BIN)/python -m cs231n_lib.bench --out bench-results

# The demo class graded by the autograder and by plain `nbgrader autograde` (~15 min).
bench-autograde: $(VENV)/.installed-test
	@$(OPEN_CHECKOUT)
	$(BIN)/python -m autograder.bench --out bench-results

# A short tour of the library: backend, naive-vs-fast timing, a short training run.
tour: $(VENV)/.installed-kit
	$(BIN)/python -m cs231n_lib.tour

test: $(VENV)/.installed-test
	@$(OPEN_CHECKOUT)
	$(BIN)/python -m pytest

# Regenerate the student release from the source notebooks (nbgrader runs alembic by
# name, so the environment's bin/ goes on PATH).
release: $(VENV)/.installed-test
	cd assignments && PATH="$(abspath $(BIN)):$$PATH" ../$(BIN)/python -m nbgrader generate_assignment convnets --force

lint: $(VENV)/.installed-test
	$(BIN)/python -m ruff check cs231n_lib tests

clean:
	rm -rf $(VENV) build *.egg-info cs231n_lib/*.so cs231n_lib/_im2col.c
