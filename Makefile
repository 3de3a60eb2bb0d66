# The README's commands. Each creates .venv on first use and reuses it after:
# a stamp file records what was installed, and is redone only when the
# packaging files change.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PKG_FILES := pyproject.toml setup.py requirements.txt cs231n_lib/_im2col.pyx
# The autograder's jail reaches the kit's library through a bind mount of its package
# folder alone, so this checkout may stay private (chmod 700): nothing else of it is in reach.

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
	$(BIN)/python -m autograder.demo --dest demo-output/course --workers 2
	$(BIN)/python -m cs231n_lib.bench --quick --out demo-output/bench

# The full benchmark: every shape, a training step and one epoch's peak memory, side by
# side with PyTorch when it is installed (pip install torch). A few minutes.
bench: $(VENV)/.installed-kit
	$(BIN)/python -m cs231n_lib.bench --out bench-results

# The demo class graded by the autograder and by plain `nbgrader autograde` (~15 min).
bench-autograde: $(VENV)/.installed-test
	$(BIN)/python -m autograder.bench --out bench-results

# A short tour of the library: backend, naive-vs-fast timing, a short training run.
tour: $(VENV)/.installed-kit
	$(BIN)/python -m cs231n_lib.tour

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest

# Regenerate the student release from the source notebooks (nbgrader runs alembic by
# name, so the environment's bin/ goes on PATH).
release: $(VENV)/.installed-test
	cd assignments && PATH="$(abspath $(BIN)):$$PATH" ../$(BIN)/python -m nbgrader generate_assignment convnets --force

lint: $(VENV)/.installed-test
	$(BIN)/python -m ruff check cs231n_lib tests

clean:
	rm -rf $(VENV) build *.egg-info cs231n_lib/*.so cs231n_lib/_im2col.c

# The mutation corpus (tests/autograder/corpus): every wrong and every correct-but-different
# implementation handed in by 20 students and graded by the real CLI (~5 min on 2 cores).
# Prints mutants caught and correct variants at full marks; figures in sweep-results/.
.PHONY: sweep
sweep: $(VENV)/.installed-kit
	$(BIN)/python tests/autograder/corpus/sweep.py --ids 20 --json sweep-results/corpus_sweep.json
