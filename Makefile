# The two commands a new user needs: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# Python with its bytecode cache on, whatever the environment says: with PYTHONDONTWRITEBYTECODE set
# (some machines set it) every test worker, server subprocess and consumer session compiled the package,
# and pytest rewrote every test module, again: about a third of make test's CPU.
PYC    := env -u PYTHONDONTWRITEBYTECODE $(PY)
# Two stamps: the server alone (`make run`), then the test tools on top (`make test`, `make install`).
RUN_STAMP := $(VENV)/.runtime-stamp
STAMP  := $(VENV)/.installed-stamp
ARGS   ?=
# The OpenAPI linter of `make lint`: Redocly CLI at the version (and lock) of tools/openapi-lint/.
LINT_DIR := $(VENV)/openapi-lint
REDOCLY  := $(LINT_DIR)/node_modules/.bin/redocly

.PHONY: install lint run test conformance conformance-deep bench screenshots clean

$(RUN_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $(RUN_STAMP)

$(STAMP): $(RUN_STAMP)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# npm is required, not optional: without it `make lint` (hence `make test`, hence CI) fails here.
$(REDOCLY): tools/openapi-lint/package.json tools/openapi-lint/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "make lint: npm not found; the OpenAPI linter needs Node.js 18.17+ and npm (Debian: apt-get install -y nodejs npm)" >&2; exit 1; }
	mkdir -p $(LINT_DIR)
	cp tools/openapi-lint/package.json tools/openapi-lint/package-lock.json $(LINT_DIR)/
	cd $(LINT_DIR) && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $(REDOCLY)

install: $(STAMP)  ## create .venv and install the package with its test dependencies

run: $(RUN_STAMP)  ## serve the mock on http://127.0.0.1:4010, installing the server only (extra flags: make run ARGS="--seed 1")
	$(PYC) -m mock_server $(ARGS)

lint: $(STAMP) $(REDOCLY)  ## ruff, mypy --strict, import-linter (layers, no cycles) and Redocly's OpenAPI rules, zero findings
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(VENV)/bin/lint-imports
	$(PY) tools/openapi_lint.py $(REDOCLY)

test: $(STAMP) lint  ## the linters, then the derandomized test suite but the long property-based runs
	$(PYC) -m pytest -q -n 2 -m "not conformance" --ignore=tests/test_conformance.py $(ARGS)

conformance: $(STAMP)  ## the long runs (CI runs them after make test): Schemathesis over every operation and both contracts, the state machines at full length, whole consumer pytest sessions, kill -9 rounds
	$(PYC) -m pytest -q -n 2 -m conformance $(ARGS)
	MOCK_TEST_PROFILE=ci $(PYC) -m pytest -q -n 2 tests/test_state_machine.py tests/test_billing_machine.py $(ARGS)

conformance-deep: $(STAMP)  ## the deeper property-based profile of every property-based test, for local use
	MOCK_TEST_PROFILE=deep $(PYC) -m pytest -q -n 2 tests/test_conformance.py tests/test_state_machine.py tests/test_billing_machine.py tests/test_bad_input.py $(ARGS)

bench: $(STAMP)  ## throughput, latency, start-up, memory and reset figures
	$(PYC) -m benchmarks $(ARGS)

screenshots: $(STAMP)  ## remake docs/dashboard.png from the running mock in headless Chromium
	$(PY) tools/dashboard_screenshot.py

clean:
	rm -rf $(VENV) build dist .hypothesis bench-results
