"""Restoring what a backup holds: a table's dump (rows verified again), a dependent's definition."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from ..catalog import query
from ..db.connection import connect
from ..errors import PgstateError
from ..model.names import QualifiedName
from .content import table_content
from .files import TableDump, hash_file
from .tools import _run_client

# --- restoring ---


@dataclass(frozen=True)
class _Server:
    settings: frozenset[str]  # the names of the settings it has
    lock_timeout_statement: bytes  # the SET that bounds the restore's lock waits


def _server_settings(url: str, lock_timeout: str) -> _Server:
    """What the dumps' preambles are fitted to: read once per restore, however many dumps it replays."""
    with connect(url) as conn:
        names = frozenset(str(row[0]) for row in conn.execute("SELECT name FROM pg_catalog.pg_settings"))
        statement = sql.SQL("SET lock_timeout = {};\n").format(sql.Literal(lock_timeout)).as_string(conn)
    return _Server(names, statement.encode())


def restore_table(url: str, dump: TableDump, tool_dir: Path, lock_timeout: str) -> None:
    """Replay a table dump with the psql next to the pg_dump that wrote it, all or nothing, and check its rows."""
    _restore_table(url, dump, tool_dir, _server_settings(url, lock_timeout))


def _restore_table(url: str, dump: TableDump, tool_dir: Path, server: _Server) -> None:
    _replay(url, dump.file, dump.sha256, tool_dir, server, f"{dump.file} of {dump.table}", f"{dump.table} from")
    _check_restored_rows(url, dump)


def _replay(url: str, file: Path, sha256: str, tool_dir: Path, server: _Server, backup: str, restoring: str) -> None:
    """Replay a dump (a table's, or a view's definition) with psql, all or nothing (one transaction, which a cut
    stream rolls back), once its sha256 is checked.

    The dump is streamed to psql's stdin rather than named with -f so that the preamble can be fitted to the
    server: pg_dump 17+ always writes ``SET transaction_timeout = 0;``, which a PostgreSQL 14-16 server rejects,
    and ON_ERROR_STOP would end the restore right there. Only such preamble SETs are dropped; nothing else, but
    the dump's ``SET lock_timeout = 0``, which becomes pgstate's lock_timeout: a foreign key of the restored
    table locks the table it references, and another session holding that one must not make the restore wait
    forever.
    """
    digest, _size = hash_file(file)
    if digest != sha256:
        raise PgstateError(f"the backup {backup} has changed since it was written; not restoring it")
    argv = [
        str(tool_dir / "psql"),
        "--no-psqlrc",  # a user's ~/.psqlrc must not change what the restore does
        "--no-password",
        "--quiet",
        "--set=ON_ERROR_STOP=1",
        "--file=-",
    ]
    feed = _in_one_transaction(_fitted_to_server(file, server))
    _run_client(argv, url, f"restoring {restoring} {file.name} with psql", feed=feed)


def _in_one_transaction(lines: Iterator[bytes]) -> Iterator[bytes]:
    """The dump between BEGIN and COMMIT of its own, not psql's --single-transaction: psql sends that COMMIT at
    the end of its input whatever ended it, so a pgstate killed mid-stream (its end of the pipe closed) would
    commit half a table. Here a stream cut short ends psql with the transaction open, and the server rolls it
    back. BEGIN shares the first line, so that psql's line numbers are the dump's."""
    first = True
    last = b"\n"
    for line in lines:
        yield (b"BEGIN; " + line) if first else line
        first, last = False, line
    if first:
        yield b"BEGIN;\n"
    yield (b"" if last.endswith(b"\n") else b"\n") + b"COMMIT;\n"


def _check_restored_rows(url: str, dump: TableDump) -> None:
    """psql succeeding proves the SQL ran, not that every row came back: the restored rows must be the dump's in
    number and, when the backup recorded it, in content (the server's digest of them when they were dumped)."""
    with connect(url) as conn, conn.cursor() as cur:
        try:
            restored = table_content(cur, dump.table)
        except psycopg.errors.UndefinedTable:
            raise PgstateError(
                f"restoring {dump.table} from {dump.file.name} did not bring the table back: psql ended before the"
                " end of the dump, and its transaction was rolled back"
            ) from None
    if restored.rows != dump.rows:
        raise PgstateError(
            f"restored {dump.table} has {restored.rows} rows, but its backup {dump.file.name} has {dump.rows}"
        )
    if dump.content is not None and restored.digest != dump.content:
        raise PgstateError(
            f"restored {dump.table} does not hold the rows its backup {dump.file.name} was verified with (digest"
            f" {restored.digest}, the backup's {dump.content})"
        )


_PREAMBLE_SET = re.compile(rb"SET ([a-z_][a-z0-9_]*) = .*;\r?\n?")
_PREAMBLE_STARTS = (b"--", b"SET ", b"SELECT pg_catalog.set_config(", b"\\restrict ")


def _fitted_to_server(file: Path, server: _Server) -> Iterator[bytes]:
    """The dump's lines, minus preamble SETs of settings the server lacks (kept as comments: same line numbers),
    with pgstate's lock_timeout in place of the dump's none."""
    with file.open("rb") as handle:
        in_preamble = True
        for line in handle:
            if in_preamble:
                in_preamble = not line.strip() or line.startswith(_PREAMBLE_STARTS)
                match = _PREAMBLE_SET.fullmatch(line) if in_preamble else None
                if match and match.group(1).decode() not in server.settings:
                    yield b"-- pgstate: skipped (this server has no such setting): " + line
                    continue
                if match and match.group(1) == b"lock_timeout":
                    yield server.lock_timeout_statement
                    continue
            yield line


@dataclass(frozen=True)
class TableRestore:
    """The payload of a rollback's ``restore-table`` step: a retired table and the views dropped with it."""

    dump: TableDump
    tool_dir: Path
    views: tuple[tuple[Path, str], ...]  # definition dumps (file, sha256) of views to create again

    def run(self, url: str, cur: psycopg.Cursor[Any] | None, lock_timeout: str) -> None:
        server = _server_settings(url, lock_timeout)
        _restore_table(url, self.dump, self.tool_dir, server)
        for file, sha256 in self.views:
            _replay(url, file, sha256, self.tool_dir, server, str(file), "the definitions in")


def primary_keys(conn: psycopg.Connection[Any], tables: list[QualifiedName]) -> dict[QualifiedName, tuple[str, ...]]:
    """Each table's primary key columns (a table without one is missing), in one query."""
    if not tables:
        return {}
    names = [table.identifier().as_string(conn) for table in tables]
    rows = conn.execute(query("primary_keys"), {"tables": names}).fetchall()
    return {QualifiedName(schema, name): tuple(columns) for schema, name, columns in rows}
