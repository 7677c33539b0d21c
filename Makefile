# Two set-up commands: `make run` and `make test`. Both build .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test live lint bench clean

# setup.py and the native core's sources too: the editable install compiles the core in place.
$(STAMP): pyproject.toml setup.py collector/native/_core.pyx collector/native/core.h
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/collector run --config config/default.toml

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest -n 2 -q -m "not live"

# The contract check against the real exchanges (needs network; see docs/contracts.md).
live: $(STAMP)
	$(BIN)/pytest -q -m live

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python benchmarks/replay_throughput.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info collector/native/_core.c collector/native/*.so

DEMO_SECONDS ?= 60

.PHONY: demo
demo: $(STAMP)
	$(BIN)/collector demo --seconds $(DEMO_SECONDS)  # a fresh data/demo/<UTC time>/ each run
