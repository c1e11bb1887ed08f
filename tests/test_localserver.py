"""The local servers the embedded default and the tests rely on."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import psycopg

from pgharness import TestDatabase
from pgstate.servers.local import LocalServer, ensure_server


def test_server_answers(pg_server: LocalServer) -> None:
    with psycopg.connect(pg_server.url()) as conn:
        row = conn.execute("SELECT version(), current_setting('server_version_num')::int").fetchone()
    assert row is not None
    assert row[0].startswith("PostgreSQL ")
    assert row[1] // 10000 == pg_server.major


def test_listens_on_private_unix_socket_only(pg_server: LocalServer) -> None:
    with psycopg.connect(pg_server.url()) as conn:
        listen = conn.execute("SHOW listen_addresses").fetchone()
    assert listen == ("",)
    assert len(str(pg_server.socket_dir / f".s.PGSQL.{pg_server.port}")) < 100
    mode = pg_server.socket_dir.stat().st_mode
    assert stat.S_IMODE(mode) == 0o700  # trust auth: only the server's user (and root) may reach it


def test_reuses_running_server(pg_server: LocalServer) -> None:
    again = ensure_server(pg_server.bin_dir, pg_server.data_dir, fast=True)
    assert again == pg_server
    pid = int((pg_server.data_dir / "postmaster.pid").read_text().splitlines()[0])
    os.kill(pid, 0)  # still the same live postmaster


def test_template_has_supabase_emulation(database: TestDatabase) -> None:
    roles = {
        name
        for (name,) in database.query(
            "SELECT rolname FROM pg_roles WHERE rolname IN ('anon', 'authenticated', 'service_role')"
        )
    }
    assert roles == {"anon", "authenticated", "service_role"}
    with database.connect() as conn:
        conn.execute("SELECT set_config('request.jwt.claim.sub', '6f1c1e0a-4a4c-4a8e-9c1e-7d7b1c1e0a4a', false)")
        conn.execute("SELECT set_config('request.jwt.claim.role', 'authenticated', false)")
        row = conn.execute("SELECT auth.uid()::text, auth.role()").fetchone()
    assert row == ("6f1c1e0a-4a4c-4a8e-9c1e-7d7b1c1e0a4a", "authenticated")
    assert database.query("SELECT auth.uid(), auth.role()") == [(None, None)]


def test_databases_are_independent(pg_server: LocalServer, database: TestDatabase) -> None:
    database.execute("CREATE TABLE only_here (id int PRIMARY KEY); INSERT INTO only_here VALUES (1), (2);")
    assert database.query("SELECT count(*) FROM only_here") == [(2,)]
    with psycopg.connect(pg_server.url("pgstate_template")) as conn:
        assert conn.execute("SELECT to_regclass('only_here')").fetchone() == (None,)
    assert database.name != "pgstate_template"
    assert database.major == pg_server.major


def test_database_is_fresh_each_time(database: TestDatabase) -> None:
    # Runs after test_databases_are_independent on the same server: its table must not be here.
    assert database.query("SELECT to_regclass('only_here')") == [(None,)]
    assert database.query("SELECT current_database()") == [(database.name,)]


def test_embedded_url_reuses_server(tmp_path: Path) -> None:
    from pgstate.servers.embedded import embedded_url
    from pgstate.servers.local import embedded_bin_dir, stop_server

    url = embedded_url(tmp_path)
    try:
        assert embedded_url(tmp_path) == url
        with psycopg.connect(url) as conn:
            assert conn.execute("SHOW fsync").fetchone() == ("on",)  # the embedded default keeps data safe
        assert (tmp_path / ".pgstate" / "embedded" / ".gitignore").read_text() == "*\n"
    finally:
        stop_server(ensure_server(embedded_bin_dir(), tmp_path / ".pgstate" / "embedded" / "data"))
