"""Fixtures of the fault-injection harness: its own servers (PostgreSQL 18 and 15, pg_stat_statements preloaded,
durable commits; restarted by some injections, so shared with no other test), the seed templates and the
calibrated scenarios, made on first use and kept for the session (per pytest-xdist worker)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from faultkit import summary
from mechanisms import Campaign


@pytest.fixture(scope="session")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Campaign]:
    found = Campaign(tmp_path_factory.mktemp("faults"))
    try:
        yield found
    finally:
        found.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """With PGSTATE_FAULTS_RESULTS (make faults), the tally of every worker's injections."""
    configured = os.environ.get("PGSTATE_FAULTS_RESULTS")
    if configured and Path(configured).is_dir():
        terminalreporter.write_line(summary(Path(configured)))
