# Two commands set everything up on a fresh machine with Python 3.11+ and make:
#   make run   - serve the hooks against an embedded AWS and replay examples/ through them
#   make test  - install, check formatting and lint, and run the tests
#   make bench - measure the hooks under gunicorn against bare boto3 (results in .bench/)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m sandbox

test: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m sandbox.bench

clean:
	rm -rf $(VENV) .pytest_cache
