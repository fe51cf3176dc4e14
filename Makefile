# The README's commands. Everything installs into .venv from pyproject.toml, pinned by constraints.txt.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test dev lint audit bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $@

demo: setup  ## materialise 2024-07..2024-09 from the simulated source and print the top ten
	$(BIN)/cityindex demo

test: setup  ## the whole test suite
	$(BIN)/python -m pytest

dev: setup  ## the Dagster UI and daemon on http://127.0.0.1:3000
	$(BIN)/cityindex dev

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

audit: setup  ## known vulnerabilities in the pinned dependencies (needs the advisory service online)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[audit]"
	$(BIN)/python .ci/audit.py

bench: setup  ## timings and peak memory at scales 1, 10 and 100 against a pandas peer (see README, Performance)
	$(BIN)/cityindex bench

clean:
	rm -rf $(VENV) .cityindex
