# The two commands a new user needs: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
ARGS   ?=

.PHONY: install lint run test conformance conformance-deep bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install the package with its test dependencies

run: $(STAMP)  ## serve the mock on http://127.0.0.1:4010 (extra flags: make run ARGS="--seed 1")
	$(PY) -m mock_server $(ARGS)

lint: $(STAMP)  ## ruff, mypy --strict and import-linter (layers, no cycles), zero findings
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(VENV)/bin/lint-imports

test: $(STAMP) lint  ## the linters, then the derandomized test suite but the long Schemathesis runs
	$(PY) -m pytest -q -n 2 -m "not conformance" $(ARGS)

conformance: $(STAMP)  ## the long Schemathesis runs over HTTP, both contracts, every phase (CI runs it after make test)
	$(PY) -m pytest -q -n 2 -m conformance $(ARGS)

conformance-deep: $(STAMP)  ## the deeper property-based profile of every property-based test, for local use
	MOCK_TEST_PROFILE=deep $(PY) -m pytest -q -n 2 tests/test_conformance.py tests/test_state_machine.py tests/test_bad_input.py $(ARGS)

bench: $(STAMP)  ## throughput, latency, start-up, memory and reset figures
	$(PY) -m benchmarks $(ARGS)

clean:
	rm -rf $(VENV) build dist .hypothesis bench-results
