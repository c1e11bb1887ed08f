"""Real PostgreSQL servers for the tests: PostgreSQL 18 (embedded wheel) and 15 (Debian packages).

Each pytest-xdist worker starts its own servers under its own tmp dir (fast mode: no fsync), builds one
template database per server with the Supabase emulation, and gives every test a fresh copy of it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import pytest

from pgharness import PG15_MISSING, SUPABASE_EMULATION, TEMPLATE_DB, TestDatabase, fresh_database, server_bin_dir
from pgstate.servers.local import LocalServer, ensure_server, stop_server


def _create_template(server: LocalServer) -> None:
    with psycopg.connect(server.url(), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [TEMPLATE_DB]).fetchone()
        if exists is None:
            conn.execute(f"CREATE DATABASE {TEMPLATE_DB}")
    with psycopg.connect(server.url(TEMPLATE_DB), autocommit=True) as conn:
        conn.execute(SUPABASE_EMULATION.encode())
    # No connection may remain on a template while CREATE DATABASE copies it; the blocks above closed theirs.


@pytest.fixture(scope="session", autouse=True)
def private_state_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """pgstate's default backup directory is under $XDG_STATE_HOME and its cache of parsed desired files under
    $XDG_CACHE_HOME: each worker gets its own, in its tmp dir, so no test writes into the home directory of whoever
    runs them (subprocesses inherit them)."""
    names = ("XDG_STATE_HOME", "XDG_CACHE_HOME")
    before = {name: os.environ.get(name) for name in names}
    for name in names:
        os.environ[name] = str(tmp_path_factory.mktemp(name.lower().replace("_", "-")))
    yield
    for name, value in before.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session", params=["pg18", "pg15"])
def pg_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """A running server with the template database ready; stopped when the session ends."""
    server_id: str = request.param
    bin_dir = server_bin_dir(server_id)
    if bin_dir is None:
        pytest.skip(PG15_MISSING)
    # tmp_path_factory is per xdist worker (…/popen-gw0/), so workers never share a server.
    server = ensure_server(bin_dir, tmp_path_factory.mktemp(f"server-{server_id}") / "data", fast=True)
    try:
        _create_template(server)
        yield server
    finally:
        stop_server(server)


@pytest.fixture
def database(pg_server: LocalServer, request: pytest.FixtureRequest) -> Iterator[TestDatabase]:
    """A fresh database for one test."""
    with fresh_database(pg_server, request.node.name) as db:
        yield db


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The figures tests/test_fuzz_input.py records (inputs per target, failures, bombs' time and memory); the
    reports carry them from pytest-xdist's workers."""
    lines = [
        str(value)
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "when", None) == "call"
        for name, value in getattr(report, "user_properties", ())
        if name == "fuzz"
    ]
    if lines:
        terminalreporter.write_sep("-", "fuzz figures")
        for line in sorted(lines):
            terminalreporter.write_line(line)
