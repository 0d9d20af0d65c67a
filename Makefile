# Two commands do all set-up on a fresh machine with Python 3.11+:
#   make run   — the dashboard on the embedded SQLite store, sample year loaded
#   make test  — installs what the tests need (packages, PostgreSQL, Chromium) and runs them
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501

.PHONY: run test lint format bench loadtest clean-db

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

run: $(VENV)/.runtime
	$(BIN)/python -m kpi demo --first-run
	$(BIN)/streamlit run dashboard.py --server.port $(PORT)

test: $(VENV)/.dev
	bash scripts/test-setup.sh
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n 2 --dist loadfile -q

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The benchmark (bench/README.md), not part of `make test`: builds its data sets on first use
# (several minutes), then measures; BENCH_ARGS=--quick for a short smoke run.
bench: $(VENV)/.dev
	bash scripts/test-setup.sh
	$(BIN)/python -m bench $(BENCH_ARGS)

# A bounded load test (bench/load.py): 30 browser sessions cycling through the pages for two
# minutes against one server on the 1M-row store; not part of `make test`.
loadtest: $(VENV)/.dev
	bash scripts/test-setup.sh
	$(BIN)/python -m bench.load $(LOAD_ARGS)

clean-db:
	rm -f data/kpi.sqlite3 data/kpi.sqlite3-wal data/kpi.sqlite3-shm
