"""Backups taken before destructive steps (spec guarantee 4, "Nothing lost"; applying, step 2).

Everything is dumped with ``pg_dump`` in plain SQL and restored with the ``psql`` of the same bin dir. Every table
dump is verified before the caller may destroy anything: its COPY rows are counted and compared with the table.

Secrets (spec guarantee 7): the password reaches the client programs only through their environment
(``PGPASSWORD``), never through argv (visible to every user in ``ps``) nor a file name; file names are derived
from schema and table names only, and the manifest holds no connection details at all.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from ..db.connection import connect, scrub
from ..db.patience import DEFAULT_LOCK_TIMEOUT, DEFAULT_RETRIES, with_retries
from ..errors import PgstateError
from ..model.names import QualifiedName
from .files import TableDump, check_dump_complete, write_private
from .tools import DumpTool, _run_client, connection_environment

# --- where the files go ---


def backup_directory(base: Path, run_id: int) -> Path:
    """A new directory ``base/run-<id>-<UTC time>``, mode 0700: it will hold table data."""
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for attempt in range(1, 100):
        suffix = "" if attempt == 1 else f"-{attempt}"
        directory = base / f"run-{run_id}-{stamp}{suffix}"
        try:
            directory.mkdir(mode=0o700)
        except FileExistsError:
            continue  # the same run backed up twice within a second: never mix two backups' files
        directory.chmod(0o700)  # mkdir's mode is filtered by the umask
        return directory
    raise PgstateError(f"could not create a new backup directory under {base}")


def _file_stem(kind: str, name: QualifiedName) -> str:
    """A name safe on any file system (no slashes, quotes or case clashes) that still says what it holds."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "_", f"{name.schema}.{name.name}").strip("_")[:60] or "unnamed"
    digest = hashlib.sha256(f"{name.schema}\0{name.name}".encode()).hexdigest()[:10]
    return f"{kind}-{slug}-{digest}"


def table_pattern(name: QualifiedName) -> str:
    """A pg_dump ``--table`` pattern matching exactly this table.

    pg_dump reads psql patterns: unquoted, ``*``/``?`` are wildcards, ``.`` separates schema from name, regex
    characters are live and letters are folded to lower case. Inside double quotes every character is literal
    and ``""`` stands for one ``"``, so quoting each part matches the name exactly.
    """
    return f"{_quote_pattern_part(name.schema)}.{_quote_pattern_part(name.name)}"


def _quote_pattern_part(part: str) -> str:
    return '"' + part.replace('"', '""') + '"'


# --- table dumps ---


def _dump_argv(
    tool: DumpTool, file: Path, lock_timeout: str, *selection: str, snapshot: str | None = None
) -> list[str]:
    # No connection argument at all: the server, database and password come from the environment.
    return [
        str(tool.path),
        # In the caller's exported snapshot: the dump holds what the caller's own reads in it see.
        *([f"--snapshot={snapshot}"] if snapshot else []),
        "--format=plain",  # readable, greppable, restorable with psql alone, and its COPY rows countable
        # Owners are kept: a table restored under another owner would lock its owner out (and put it under its
        # own row-level security). Restoring needs a role allowed to give objects to that owner.
        # Privileges are kept: GRANTs decide who may read the restored rows, and with RLS they are half the
        # security of the table; restoring it without them would silently change who sees what.
        "--encoding=UTF8",  # so the COPY header's names can be read back whatever the database encoding
        "--strict-names",  # a table that vanished is an error, never an empty "backup"
        "--no-password",  # never prompt on a terminal: the password comes from the environment or nowhere
        f"--lock-wait-timeout={lock_timeout}",
        f"--file={file}",
        *selection,
    ]


# How pg_dump (15 and 18 alike) says that --lock-wait-timeout ran out: its LOCK TABLE was cancelled.
_LOCK_WAIT_RAN_OUT = "Query was: LOCK TABLE"


def _run_dump(argv: list[str], url: str, what: str, retries: int) -> None:
    """pg_dump, tried again with backoff while a table it must lock is held exclusively: its ACCESS SHARE wait
    stalls no application query, and a short lock timeout must not fail a backup on a brief migration."""
    with_retries(
        lambda: _run_client(argv, url, what),
        retries,
        lambda error: isinstance(error, PgstateError) and _LOCK_WAIT_RAN_OUT in error.message,
    )


def dump_tables(
    url: str,
    tables: list[QualifiedName],
    directory: Path,
    tool: DumpTool,
    *,
    expected_rows: Callable[[QualifiedName], int] | None = None,
    lock_timeout: str = DEFAULT_LOCK_TIMEOUT,
    snapshot: str | None = None,
    retries: int = DEFAULT_RETRIES,
) -> list[TableDump]:
    """One verified plain dump (definition, data, grants) per table.

    ``expected_rows`` is asked after the dump (the caller counts in ``snapshot``, the exported snapshot the dumps
    are taken in, when it gives one); a mismatch raises, and the caller must then not destroy anything.
    """
    return [
        _dump_table(url, table, directory, tool, expected_rows, lock_timeout, snapshot, retries) for table in tables
    ]


def _dump_table(
    url: str,
    table: QualifiedName,
    directory: Path,
    tool: DumpTool,
    expected_rows: Callable[[QualifiedName], int] | None,
    lock_timeout: str,
    snapshot: str | None,
    retries: int,
) -> TableDump:
    file = directory / f"{_file_stem('table', table)}.sql"
    # With its children: a partitioned table keeps its rows in its partitions (and count(*) counts them too).
    selection = "--table-and-children" if tool.dumps_children else "--table"
    argv = _dump_argv(tool, file, lock_timeout, f"{selection}={table_pattern(table)}", snapshot=snapshot)
    _run_dump(argv, url, f"pg_dump of {table}", retries)
    file.chmod(0o600)
    rows, digest, size = _count_and_hash(file, None if tool.dumps_children else table)
    if rows is None:
        raise PgstateError(f"backup of {table} could not be verified: the dump holds no data section for it")
    if expected_rows is not None:
        expected = expected_rows(table)
        if rows != expected:
            raise PgstateError(
                f"backup of {table} could not be verified: dump has {rows} rows, table has {expected}",
                hint="nothing was dropped; rows may have changed during the dump: retry when the table is quiet",
            )
    return TableDump(table, file, rows, digest, size)


def _count_and_hash(file: Path, table: QualifiedName | None) -> tuple[int | None, str, int]:
    """Rows in the table's COPY block(s) (None when there is none; ``table`` None: every table's, the dump of a
    table and its children), sha256 and size, in one pass."""
    digest = hashlib.sha256()
    size = 0
    rows: int | None = None
    header: bytes | None = None  # a COPY header still being read (a quoted name may hold a newline)
    in_block = counting = False
    with file.open("rb") as handle:
        for line in handle:
            digest.update(line)
            size += len(line)
            if in_block:
                # COPY text format escapes newlines in values, so every line up to "\." is one row.
                if line.rstrip(b"\r\n") == b"\\.":
                    in_block = False
                elif counting:
                    rows = (rows or 0) + 1
                continue
            if header is None and not line.startswith(b"COPY "):
                continue
            header = line if header is None else header + line
            if header.count(b'"') % 2:
                continue  # inside a quoted identifier: the header goes on
            text, header = header.decode("utf-8", errors="surrogateescape").rstrip("\r\n"), None
            if text.endswith(" FROM stdin;"):
                in_block = True
                counting = table is None or copy_target(text) == table
                if counting and rows is None:
                    rows = 0
    return rows, digest.hexdigest(), size


def copy_target(header: str) -> QualifiedName | None:
    """The table of ``COPY schema.table (...) FROM stdin;`` as pg_dump quotes it."""
    schema, rest = _read_identifier(header, len("COPY "))
    if schema is None or not rest.startswith("."):
        return None
    name, rest = _read_identifier(rest, 1)
    return QualifiedName(schema, name) if name is not None else None


def copy_columns(header: str) -> list[str] | None:
    """The column list of ``COPY schema.table (a, "B c") FROM stdin;``; None when it cannot be read."""
    _schema, rest = _read_identifier(header, len("COPY "))
    _name, rest = _read_identifier(rest, 1)
    if not rest.startswith(" ("):
        return None
    columns, rest = [], rest[2:]
    while True:
        column, rest = _read_identifier(rest, 0)
        if column is None:
            return None
        columns.append(column)
        if rest.startswith(", "):
            rest = rest[2:]
            continue
        return columns if rest == ") FROM stdin;" else None


_BARE_IDENTIFIER = re.compile(r'[^\s."(),]+')


def _read_identifier(text: str, start: int) -> tuple[str | None, str]:
    """One identifier from ``text[start:]`` and what follows it: ``"quoted ""like"" this"`` or bare."""
    if text[start : start + 1] == '"':
        pieces, position = [], start + 1
        while True:
            end = text.find('"', position)
            if end < 0:
                return None, ""
            pieces.append(text[position:end])
            if text[end + 1 : end + 2] != '"':
                return "".join(pieces), text[end + 1 :]
            pieces.append('"')
            position = end + 2
    # pg_dump leaves a name bare only when it is already lower case and no keyword: read it as written.
    match = _BARE_IDENTIFIER.match(text, start)
    return (match.group(0), text[match.end() :]) if match else (None, "")


# --- definitions of what depends on a retired table ---


@dataclass(frozen=True)
class FunctionRef:
    """A function to record, by oid or by ``regprocedure`` text such as ``public.f(integer, text)``."""

    function: int | str


def dump_definitions(
    url: str,
    objects: Sequence[QualifiedName | FunctionRef],
    directory: Path,
    tool: DumpTool,
    *,
    lock_timeout: str = DEFAULT_LOCK_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
) -> list[Path]:
    """Schema-only dumps of relations (dependent views, tables whose foreign keys point into a retired table),
    one file each, and one ``functions-*.sql`` with the functions' ``pg_get_functiondef`` text."""
    files: list[Path] = []
    functions: list[FunctionRef] = []
    for item in objects:
        if isinstance(item, FunctionRef):
            functions.append(item)
            continue
        file = directory / f"{_file_stem('definition', item)}.sql"
        argv = _dump_argv(tool, file, lock_timeout, "--schema-only", f"--table={table_pattern(item)}")
        _run_dump(argv, url, f"pg_dump of the definition of {item}", retries)
        file.chmod(0o600)
        files.append(file)
    if functions:
        files.append(_write_function_definitions(url, functions, directory))
    return files


def _write_function_definitions(url: str, functions: list[FunctionRef], directory: Path) -> Path:
    definitions = _function_definitions(url, functions)
    texts = [f"-- {signature}\n{definition.rstrip()};\n" for signature, definition in definitions]
    body = "\n".join(texts).encode()
    file = directory / f"functions-{hashlib.sha256(body).hexdigest()[:10]}.sql"
    write_private(file, body)
    return file


_FUNCTION_DEF = "SELECT p.oid::regprocedure::text, pg_get_functiondef(p.oid) FROM pg_catalog.pg_proc p WHERE p.oid = "
_FUNCTION_BY_OID = _FUNCTION_DEF + "%s::oid"
# text -> regprocedure resolves the signature the way SQL does (search_path, type names); unknown is an error.
_FUNCTION_BY_SIGNATURE = _FUNCTION_DEF + "%s::text::regprocedure"


def _function_definitions(url: str, functions: Iterable[FunctionRef]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    with connect(url) as conn:
        for ref in functions:
            query = _FUNCTION_BY_OID if isinstance(ref.function, int) else _FUNCTION_BY_SIGNATURE
            try:
                row = conn.execute(query, [ref.function]).fetchone()
            except psycopg.Error as error:
                raise PgstateError(
                    f"cannot read the definition of function {ref.function}: {_first_line(error, url)}"
                ) from None
            if row is None:
                raise PgstateError(f"cannot read the definition of function {ref.function}: no such function")
            found.append((str(row[0]), str(row[1])))
    return found


def _first_line(error: psycopg.Error, url: str) -> str:
    text = str(error).strip()
    return scrub(text.splitlines()[0], url) if text else type(error).__name__


# --- the whole database ---


def dump_full(
    url: str,
    directory: Path,
    tool: DumpTool,
    *,
    lock_timeout: str = DEFAULT_LOCK_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
) -> Path:
    """``--backup full``: the whole database in one plain dump, checked to be complete.

    Plain rather than custom format: one restore tool (psql) for every backup pgstate writes, a trailer that
    proves completeness, and a file a person can read and grep before deciding to restore.
    """
    file = directory / _full_dump_name(url)
    _run_dump(_dump_argv(tool, file, lock_timeout), url, "pg_dump of the whole database", retries)
    file.chmod(0o600)
    check_dump_complete(file)
    return file


def _full_dump_name(url: str) -> str:
    """``database-<slug>-<hash>.sql`` from the database name alone: nothing else of the URL goes in it."""
    dbname = str(connection_environment(url).get("PGDATABASE", ""))
    return f"{_file_stem('database', QualifiedName('', dbname))}.sql"
