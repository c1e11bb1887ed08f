"""Restoring what a backup holds: a table's dump (rows verified again), a dependent's definition."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from psycopg import sql

from ..db.connection import connect
from ..errors import PgstateError
from .files import TableDump, hash_file
from .tools import _run_client

# --- restoring ---


def restore_table(url: str, dump: TableDump, tool_dir: Path) -> None:
    """Replay a table dump with the psql next to the pg_dump that wrote it, all or nothing.

    The dump is streamed to psql's stdin rather than named with -f so that the preamble can be fitted to the
    server: pg_dump 17+ always writes ``SET transaction_timeout = 0;``, which a PostgreSQL 14-16 server rejects,
    and ON_ERROR_STOP would end the restore right there. Only such preamble SETs are dropped; nothing else.
    """
    digest, _size = hash_file(dump.file)
    if digest != dump.sha256:
        raise PgstateError(f"the backup {dump.file} of {dump.table} has changed since it was written; not restoring it")
    argv = [
        str(tool_dir / "psql"),
        "--no-psqlrc",  # a user's ~/.psqlrc must not change what the restore does
        "--no-password",
        "--quiet",
        "--set=ON_ERROR_STOP=1",
        "--single-transaction",
        "--file=-",
    ]
    feed = _fitted_to_server(dump.file, _server_settings(url))
    _run_client(argv, url, f"restoring {dump.table} from {dump.file.name} with psql", feed=feed)
    _check_restored_rows(url, dump)


def restore_definition(url: str, file: Path, sha256: str, tool_dir: Path) -> None:
    """Replay a schema-only dump (a view dropped with a retired table), like restore_table, without rows."""
    digest, _size = hash_file(file)
    if digest != sha256:
        raise PgstateError(f"the backup {file} has changed since it was written; not restoring it")
    argv = [
        str(tool_dir / "psql"),
        "--no-psqlrc",
        "--no-password",
        "--quiet",
        "--set=ON_ERROR_STOP=1",
        "--single-transaction",
        "--file=-",
    ]
    feed = _fitted_to_server(file, _server_settings(url))
    _run_client(argv, url, f"restoring the definitions in {file.name} with psql", feed=feed)


def _check_restored_rows(url: str, dump: TableDump) -> None:
    # psql succeeding proves the SQL ran, not that every row came back: count them as the dump was counted.
    with connect(url) as conn:
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(dump.table.identifier())).fetchone()
    restored = int(row[0]) if row else 0
    if restored != dump.rows:
        raise PgstateError(
            f"restored {dump.table} has {restored} rows, but its backup {dump.file.name} has {dump.rows}"
        )


def _server_settings(url: str) -> frozenset[str]:
    with connect(url) as conn:
        return frozenset(str(row[0]) for row in conn.execute("SELECT name FROM pg_catalog.pg_settings"))


_PREAMBLE_SET = re.compile(rb"SET ([a-z_][a-z0-9_]*) = .*;\r?\n?")
_PREAMBLE_STARTS = (b"--", b"SET ", b"SELECT pg_catalog.set_config(", b"\\restrict ")


def _fitted_to_server(file: Path, settings: frozenset[str]) -> Iterator[bytes]:
    """The dump's lines, minus preamble SETs of settings the server lacks (kept as comments: same line numbers)."""
    with file.open("rb") as handle:
        in_preamble = True
        for line in handle:
            if in_preamble:
                in_preamble = not line.strip() or line.startswith(_PREAMBLE_STARTS)
                match = _PREAMBLE_SET.fullmatch(line) if in_preamble else None
                if match and match.group(1).decode() not in settings:
                    yield b"-- pgstate: skipped (this server has no such setting): " + line
                    continue
            yield line
