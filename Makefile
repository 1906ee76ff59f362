# The two commands a newcomer needs: `make demo` and `make test`.
# Both create .venv on first use and install the project into it.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck bench clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit("Python 3.11 or newer is needed, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall when the project's metadata changes.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# What the browser tests inject into pages (axe-core), from the npm registry,
# pinned by tests/web/package-lock.json. Without npm the accessibility
# tests skip locally (and fail in CI).
AXE := tests/web/node_modules/axe-core/axe.min.js

$(AXE): tests/web/package.json tests/web/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix tests/web --no-audit --no-fund --silent && touch $(AXE); \
	else \
		echo "npm not found: the accessibility tests will skip (install the npm package)"; \
	fi

demo: $(STAMP)
	$(BIN)/alumni-community demo --port $${PORT:-8000}

test: $(STAMP) $(AXE)
	$(BIN)/ruff check alumni_community tests examples
	$(BIN)/mypy
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check alumni_community tests examples bench
	$(BIN)/ruff format --check alumni_community tests examples bench

typecheck: $(STAMP)
	$(BIN)/mypy

# The benchmarks' own tools (bleach, matplotlib, tqdm, profilers), on top of dev.
BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	touch $(BENCH_STAMP)

# Every benchmark at its default size, one after the other; each waits for a
# quiet machine first. Results go to bench/results/, charts to docs/images/.
bench: $(BENCH_STAMP)
	$(BIN)/python bench/write_path.py
	$(BIN)/python bench/read_paths.py
	$(BIN)/python bench/chat_fanout.py --sweep
	$(BIN)/python bench/login_storm.py
	$(BIN)/python bench/cross_process.py
	$(BIN)/python bench/ws_memory.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info tests/web/node_modules
