# The README's commands. Everything installs into .venv from pyproject.toml, pinned by constraints.txt.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test dev lint audit bench clean system-packages

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $@

demo: setup  ## materialise 2024-07..2024-09 from the simulated source and print the top ten
	$(BIN)/cityindex demo

test: setup  ## the whole test suite, on two workers (a test file stays on one worker; see tests/conftest.py)
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder

dev: setup  ## the Dagster UI and daemon on http://127.0.0.1:3000
	$(BIN)/cityindex dev

# Debian packages the report needs (root, or run with sudo): Chinese glyphs in chart images, headless Chromium.
SYSTEM_PACKAGES := fonts-noto-cjk chromium
system-packages:
	@if dpkg-query -W -f='$${Status}\n' $(SYSTEM_PACKAGES) 2>/dev/null | grep -vq "install ok installed" \
	   || [ "$$(dpkg-query -W -f='$${Status}\n' $(SYSTEM_PACKAGES) 2>/dev/null | wc -l)" -lt 2 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(SYSTEM_PACKAGES); \
	else echo "system packages present: $(SYSTEM_PACKAGES)"; fi

lint: setup  ## ruff, the import layers of pyproject.toml ([tool.importlinter]), and the code location loads (dg)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	VIRTUAL_ENV=$(abspath $(VENV)) $(BIN)/dg check defs

audit: setup  ## known vulnerabilities in the pinned dependencies (needs the advisory service online)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[audit]"
	$(BIN)/python .ci/audit.py

bench: setup  ## timings and peak memory at scales 1, 10 and 100 against a pandas peer (see docs/performance.md)
	$(BIN)/cityindex bench

clean:
	rm -rf $(VENV) .cityindex
