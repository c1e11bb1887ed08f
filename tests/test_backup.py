"""Backups before destructive steps (spec guarantee 4) and their secrecy (guarantee 7), on real servers."""

from __future__ import annotations

import hashlib
import json
import stat
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from pgharness import TestDatabase
from pgstate.backup.dump import FunctionRef, backup_directory, dump_definitions, dump_full, dump_tables, table_pattern
from pgstate.backup.files import TableDump, check_dump_complete
from pgstate.backup.manifest import Backup, write_manifest
from pgstate.backup.restore import restore_table
from pgstate.backup.tools import DumpTool, choose_pg_dump, connection_environment
from pgstate.errors import PgstateError
from pgstate.model.names import QualifiedName

PASSWORD = "s3cr3t-Pa55w0rd-7f1e"
WEIRD = QualifiedName("Backup Sch", 'Weird "name". x')
# Rows no naive dump reader survives: NULLs, tabs, newlines, CR, backslashes, COPY's end marker, unicode.
AWKWARD_ROWS = """
    (1, NULL, NULL),
    (2, E'tab\\there', 'plain'),
    (3, E'new\\nline\\r\\nand crlf', E'back\\\\slash'),
    (4, E'\\\\.', E'\\\\N'),
    (5, '', 'ünïcödé ✓ 日本語 🐘'),
    (6, E'\\\\', E'"quoted" and ''single''')
"""


@pytest.fixture
def tool(database: TestDatabase) -> DumpTool:
    return choose_pg_dump(_version_num(database))


def _version_num(database: TestDatabase) -> int:
    return int(database.query("SHOW server_version_num")[0][0])


def _table_sql(name: QualifiedName) -> str:
    return sql.Identifier(name.schema, name.name).as_string(None)


def _count(url: str, name: QualifiedName) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(name.identifier())).fetchone()
    assert row is not None
    return int(row[0])


def _checksum(url: str, name: QualifiedName) -> tuple[int, str | None]:
    query = sql.SQL("SELECT count(*), md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {} t")
    with psycopg.connect(url) as conn:
        row = conn.execute(query.format(name.identifier())).fetchone()
    assert row is not None
    return int(row[0]), row[1]


def _counter(url: str) -> Callable[[QualifiedName], int]:
    return lambda name: _count(url, name)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextmanager
def _second_database(database: TestDatabase) -> Iterator[str]:
    """A fresh, empty database on the same server (the restore target); dropped afterwards."""
    name = f"{database.name[:40]}_r{uuid.uuid4().hex[:6]}"
    with psycopg.connect(database.server.url(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield database.server.url(name)
    finally:
        with psycopg.connect(database.server.url(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _with_password(url: str) -> str:
    # Trust auth never asks for it, so the server accepts the URL and the password is only a secret to guard.
    assert url.startswith("postgresql://postgres@")
    return url.replace("postgres@", f"postgres:{PASSWORD}@", 1)


def _make_weird_table(database: TestDatabase) -> None:
    table = _table_sql(WEIRD)
    database.execute(
        f"""
        CREATE SCHEMA "Backup Sch";
        CREATE TABLE {table} (id int PRIMARY KEY, a text, b text);
        INSERT INTO {table} VALUES {AWKWARD_ROWS};
        GRANT SELECT ON {table} TO authenticated;
        -- Decoys a loosely quoted --table pattern would also match.
        CREATE TABLE "Backup Sch"."Weird ""name""x x" (id int);
        INSERT INTO "Backup Sch"."Weird ""name""x x" VALUES (1);
        CREATE TABLE "Backup Sch"."weird ""name"". x" (id int);
        """
    )


# --- choosing pg_dump ---


def test_chosen_pg_dump_is_at_least_the_server_major(database: TestDatabase, tool: DumpTool) -> None:
    major = int(tool.version.split("(PostgreSQL)")[1].split(".")[0])
    assert major >= database.major
    assert tool.version.startswith("pg_dump (PostgreSQL) ")
    assert (tool.bin_dir / "psql").is_file()


def test_no_pg_dump_new_enough_is_an_error() -> None:
    with pytest.raises(PgstateError, match=r"no pg_dump of PostgreSQL 99 or newer"):
        choose_pg_dump(990001)


# --- table dumps ---


def test_awkward_table_round_trips_through_dump_and_restore(
    database: TestDatabase, tool: DumpTool, tmp_path: Path
) -> None:
    _make_weird_table(database)
    before = _checksum(database.url, WEIRD)

    [dump] = dump_tables(database.url, [WEIRD], tmp_path, tool, expected_rows=_counter(database.url))

    assert dump.table == WEIRD
    assert dump.rows == 6
    assert dump.sha256 == _sha256(dump.file)
    assert dump.bytes == dump.file.stat().st_size
    assert not set(dump.file.name) & set("\"'/\\ ")
    with _second_database(database) as target:
        with psycopg.connect(target, autocommit=True) as conn:
            conn.execute('CREATE SCHEMA "Backup Sch"')
        restore_table(target, dump, tool.bin_dir, "2s")
        assert _checksum(target, WEIRD) == before
        with psycopg.connect(target) as conn:
            # Privileges travel with the dump: who may read the rows is part of what was backed up.
            granted = conn.execute(
                "SELECT has_table_privilege('authenticated', %s::regclass, 'SELECT')", [_table_sql(WEIRD)]
            ).fetchone()
        assert granted == (True,)


# Each name is a trap for one rule of pg_dump's patterns: wildcards, the dot, regex characters, case folding,
# keywords, quotes, and a newline (which splits the COPY header over two lines).
TRAP_NAMES = ["a.b", "a*", "a?", "x+y", "(p)|q", "[c]", "back\\slash", "dollar$", "^caret", "UPPER", "select", "new\nl"]
DECOYS = ["aXb", "a", "ab", "xy", "xxy", "p", "q", "c", "upper", "dollar", "caret", "new"]


def test_table_pattern_matches_exactly_one_table(database: TestDatabase, tool: DumpTool, tmp_path: Path) -> None:
    database.execute('CREATE SCHEMA "Trap.Sch"; CREATE SCHEMA "trapXsch";')
    for schema in ("Trap.Sch", "trapXsch"):
        for rows, name in enumerate(TRAP_NAMES + DECOYS, start=1):
            table = _table_sql(QualifiedName(schema, name))
            database.execute(f"CREATE TABLE {table} (i int); INSERT INTO {table} SELECT generate_series(1, {rows})")
    wanted = [QualifiedName("Trap.Sch", name) for name in TRAP_NAMES]

    dumps = dump_tables(database.url, wanted, tmp_path, tool, expected_rows=_counter(database.url))

    assert [dump.rows for dump in dumps] == list(range(1, len(TRAP_NAMES) + 1))
    for dump in dumps:
        assert dump.file.read_bytes().count(b"\nCOPY ") == 1, dump.table
    assert len({dump.file.name for dump in dumps}) == len(dumps)
    assert table_pattern(QualifiedName("S", 'a"b')) == '"S"."a""b"'


def test_dump_that_cannot_be_verified_raises_naming_the_table(
    database: TestDatabase, tool: DumpTool, tmp_path: Path
) -> None:
    _make_weird_table(database)

    with pytest.raises(PgstateError) as caught:
        dump_tables(database.url, [WEIRD], tmp_path, tool, expected_rows=lambda _name: 7)

    assert caught.value.message == (f"backup of {WEIRD} could not be verified: dump has 6 rows, table has 7")


def test_a_dump_outlasts_a_brief_exclusive_hold_in_short_attempts(
    database: TestDatabase, tool: DumpTool, tmp_path: Path
) -> None:
    """pg_dump's lock wait is one short attempt (the 100ms default): a backup that meets a table held exclusively
    for a moment tries again with backoff, as every read does, and its dump is whole; without retries it gives up
    with pg_dump's own message."""
    database.execute("CREATE TABLE held (id int PRIMARY KEY); INSERT INTO held SELECT generate_series(1, 5)")
    table = QualifiedName("public", "held")

    def hold(seconds: float) -> tuple[psycopg.Connection[Any], threading.Timer]:
        holder = database.connect(autocommit=False)
        holder.execute("LOCK TABLE held IN ACCESS EXCLUSIVE MODE")
        release = threading.Timer(seconds, holder.rollback)
        release.start()
        return holder, release

    holder, release = hold(30.0)
    try:
        with pytest.raises(PgstateError) as caught:
            dump_tables(database.url, [table], tmp_path, tool, lock_timeout="100ms", retries=0)
        assert "LOCK TABLE" in caught.value.message
    finally:
        release.cancel()
        holder.close()

    holder, release = hold(1.0)
    try:
        started = time.monotonic()
        [dump] = dump_tables(database.url, [table], tmp_path, tool, expected_rows=lambda _n: 5, lock_timeout="100ms")
        assert time.monotonic() - started >= 0.9  # it met the hold and waited it out
    finally:
        release.join()
        holder.close()
    assert dump.rows == 5


def test_partitioned_table_is_dumped_with_its_partitions(
    database: TestDatabase, tool: DumpTool, tmp_path: Path
) -> None:
    # A partitioned table keeps its rows in its partitions: the dump holds them, and counts them.
    database.execute(
        "CREATE TABLE parted (i int) PARTITION BY RANGE (i);"
        "CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (100);"
        "CREATE TABLE parted_2 PARTITION OF parted FOR VALUES FROM (100) TO (200);"
        "INSERT INTO parted VALUES (1), (2), (150);"
    )
    [dump] = dump_tables(database.url, [QualifiedName("public", "parted")], tmp_path, tool, expected_rows=lambda _n: 3)
    assert dump.rows == 3
    (tmp_path / "b").mkdir()
    with pytest.raises(PgstateError, match="could not be verified: dump has 3 rows, table has 4"):
        dump_tables(database.url, [QualifiedName("public", "parted")], tmp_path / "b", tool, expected_rows=lambda _n: 4)


def test_missing_table_is_an_error(database: TestDatabase, tool: DumpTool, tmp_path: Path) -> None:
    with pytest.raises(PgstateError, match=r"pg_dump of public\.nope failed"):
        dump_tables(database.url, [QualifiedName("public", "nope")], tmp_path, tool)


def test_a_million_rows_are_dumped_and_verified(database: TestDatabase, tool: DumpTool, tmp_path: Path) -> None:
    database.execute("CREATE TABLE big AS SELECT g AS id, g % 97 AS k FROM generate_series(1, 1000000) g")
    big = QualifiedName("public", "big")

    [dump] = dump_tables(database.url, [big], tmp_path, tool, expected_rows=_counter(database.url))

    assert dump.rows == 1_000_000
    assert dump.sha256 == _sha256(dump.file)


def test_restore_refuses_a_changed_file(database: TestDatabase, tool: DumpTool, tmp_path: Path) -> None:
    _make_weird_table(database)
    [dump] = dump_tables(database.url, [WEIRD], tmp_path, tool)
    with dump.file.open("a") as handle:
        handle.write("-- tampered\n")
    with pytest.raises(PgstateError, match="has changed since it was written"):
        restore_table(database.url, dump, tool.bin_dir, "2s")


def test_failed_restore_reports_psql_error(database: TestDatabase, tool: DumpTool, tmp_path: Path) -> None:
    _make_weird_table(database)
    [dump] = dump_tables(database.url, [WEIRD], tmp_path, tool)
    # The table still exists: CREATE TABLE fails, ON_ERROR_STOP stops, the single transaction rolls back.
    with pytest.raises(PgstateError, match="already exists"):
        restore_table(database.url, dump, tool.bin_dir, "2s")
    assert _count(database.url, WEIRD) == 6


# --- definitions and the whole database ---


def test_dump_definitions_of_dependents_and_functions(database: TestDatabase, tool: DumpTool, tmp_path: Path) -> None:
    database.execute(
        """
        CREATE TABLE legacy (id int PRIMARY KEY, note text);
        CREATE VIEW legacy_notes AS SELECT note FROM legacy;
        CREATE TABLE "Child" (id int, legacy_id int REFERENCES legacy);
        CREATE FUNCTION legacy_count(min_id integer) RETURNS bigint LANGUAGE sql STABLE
            AS $$ SELECT count(*) FROM legacy WHERE id >= min_id $$;
        CREATE FUNCTION legacy_note(i integer, t text) RETURNS text LANGUAGE sql AS $$ SELECT t $$;
        """
    )
    oid = int(database.query("SELECT 'legacy_count(integer)'::regprocedure::oid")[0][0])
    objects: list[QualifiedName | FunctionRef] = [
        QualifiedName("public", "legacy_notes"),
        QualifiedName("public", "Child"),
        FunctionRef(oid),
        FunctionRef("public.legacy_note(integer, text)"),
    ]

    view, child, functions = dump_definitions(database.url, objects, tmp_path, tool)

    assert "CREATE VIEW public.legacy_notes AS" in view.read_text()
    child_text = child.read_text()
    assert 'CREATE TABLE public."Child"' in child_text
    assert "FOREIGN KEY (legacy_id) REFERENCES public.legacy(id)" in child_text
    assert "COPY " not in child_text  # definitions only
    function_text = functions.read_text()
    assert "CREATE OR REPLACE FUNCTION public.legacy_count(min_id integer)" in function_text
    assert "CREATE OR REPLACE FUNCTION public.legacy_note(i integer, t text)" in function_text


def test_unknown_function_is_an_error(database: TestDatabase, tool: DumpTool, tmp_path: Path) -> None:
    with pytest.raises(PgstateError, match=r"cannot read the definition of function public\.nope"):
        dump_definitions(database.url, [FunctionRef("public.nope(integer)")], tmp_path, tool)


def test_dump_full_writes_a_complete_dump(database: TestDatabase, tool: DumpTool, tmp_path: Path) -> None:
    _make_weird_table(database)

    file = dump_full(database.url, tmp_path, tool)

    text = file.read_bytes()
    assert b"-- PostgreSQL database dump complete" in text[-300:]
    assert b'COPY "Backup Sch"."Weird ""name"". x"' in text
    check_dump_complete(file)
    truncated = tmp_path / "truncated.sql"
    truncated.write_bytes(text[: len(text) // 2])
    with pytest.raises(PgstateError, match="incomplete"):
        check_dump_complete(truncated)
    (tmp_path / "empty.sql").write_bytes(b"")
    with pytest.raises(PgstateError, match="empty"):
        check_dump_complete(tmp_path / "empty.sql")


# --- the manifest and the directory ---


def test_manifest_lists_every_file_with_checksum_and_rows(
    database: TestDatabase, tool: DumpTool, tmp_path: Path
) -> None:
    _make_weird_table(database)
    database.execute("CREATE TABLE other AS SELECT generate_series(1, 42) AS i; CREATE VIEW v AS SELECT i FROM other")
    directory = backup_directory(tmp_path / "backups", 17)
    other = QualifiedName("public", "other")
    tables = dump_tables(database.url, [WEIRD, other], directory, tool, expected_rows=_counter(database.url))
    definitions = dump_definitions(database.url, [QualifiedName("public", "v")], directory, tool)
    full = dump_full(database.url, directory, tool)
    result = Backup(directory, tool, tuple(tables), tuple(definitions), full)

    path = write_manifest(
        result,
        directory,
        run_id=17,
        desired_commit="0123abcd",
        desired_files={"desired/users.yaml": "ab" * 32},
        server_version="15.0",
    )

    manifest = json.loads(path.read_text())
    assert manifest["run_id"] == 17
    assert manifest["desired_commit"] == "0123abcd"
    assert manifest["desired_files"] == [{"path": "desired/users.yaml", "sha256": "ab" * 32}]
    assert manifest["server_version"] == "15.0"
    assert manifest["pg_dump"] == {"path": str(tool.path), "version": tool.version}
    assert [(t["schema"], t["table"], t["rows"]) for t in manifest["tables"]] == [
        ("Backup Sch", 'Weird "name". x', 6),
        ("public", "other", 42),
    ]
    entries = [*manifest["tables"], *manifest["definitions"], manifest["full"]]
    assert len(entries) == 4
    for entry in entries:
        file = directory / entry["file"]
        assert entry["sha256"] == _sha256(file)
        assert entry["bytes"] == file.stat().st_size


def test_backup_directory_is_private_and_new(tmp_path: Path) -> None:
    first = backup_directory(tmp_path / "b", 3)
    second = backup_directory(tmp_path / "b", 3)
    assert first != second
    for directory in (first, second):
        assert directory.name.startswith("run-3-")
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700


# --- secrets ---


def test_connection_environment_maps_url_parameters() -> None:
    url = (
        f"postgresql://alice:{PASSWORD}@db.example:6432/app?sslmode=verify-full&sslrootcert=/ca.pem"
        "&application_name=ci&connect_timeout=5&options=-c%20statement_timeout%3D0"
    )
    assert connection_environment(url) == {
        "PGHOST": "db.example",
        "PGPORT": "6432",
        "PGDATABASE": "app",
        "PGUSER": "alice",
        "PGPASSWORD": PASSWORD,
        "PGSSLMODE": "verify-full",
        "PGSSLROOTCERT": "/ca.pem",
        "PGAPPNAME": "ci",
        "PGCONNECT_TIMEOUT": "5",
        "PGOPTIONS": "-c statement_timeout=0",
    }
    assert connection_environment(f"host=h dbname=d password={PASSWORD}")["PGPASSWORD"] == PASSWORD


@pytest.mark.parametrize("parameter", ["sslpassword", "keepalives", "service"])
def test_unsupported_url_parameter_is_refused(parameter: str) -> None:
    with pytest.raises(PgstateError, match=parameter) as caught:
        connection_environment(f"postgresql://u:{PASSWORD}@h/d?{parameter}=v{PASSWORD}")
    assert PASSWORD not in caught.value.render()


def test_unparseable_url_is_refused_without_echoing_it() -> None:
    with pytest.raises(PgstateError) as caught:
        connection_environment(f"postgresql://u:{PASSWORD}@h/d?nosuchparameter=1&&=")
    assert PASSWORD not in caught.value.render()


class _Recorder:
    """Wraps subprocess.Popen (which subprocess.run uses too) to see each client's argv and environment."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], dict[str, str]]] = []
        self._popen = subprocess.Popen

    def __call__(self, argv: list[str], **kwargs: Any) -> Any:
        self.calls.append((list(argv), dict(kwargs.get("env") or {})))
        return self._popen(argv, **kwargs)


def test_password_never_leaves_the_environment(
    database: TestDatabase, tool: DumpTool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _make_weird_table(database)
    url = _with_password(database.url)
    recorder = _Recorder()
    monkeypatch.setattr(subprocess, "Popen", recorder)
    directory = backup_directory(tmp_path, 1)
    errors: list[str] = []

    tables = dump_tables(url, [WEIRD], directory, tool, expected_rows=_counter(database.url))
    definitions = dump_definitions(url, [WEIRD, FunctionRef("auth.uid()")], directory, tool)
    full = dump_full(url, directory, tool)
    manifest = write_manifest(
        Backup(directory, tool, tuple(tables), tuple(definitions), full),
        directory,
        run_id=1,
        desired_commit=None,
        desired_files={},
        server_version=str(database.major),
    )
    for failing in (
        lambda: dump_tables(url, [QualifiedName("public", "nope")], directory, tool),
        lambda: restore_table(url, tables[0], tool.bin_dir, "2s"),  # the table exists: psql fails
        lambda: dump_definitions(url, [FunctionRef("nope()")], directory, tool),
    ):
        with pytest.raises(PgstateError) as caught:
            failing()
        errors.append(caught.value.render())

    assert len(recorder.calls) >= 5
    for argv, env in recorder.calls:
        assert not any(PASSWORD in arg for arg in argv), argv
        if "--version" not in argv:
            assert env["PGPASSWORD"] == PASSWORD  # the one channel it takes
    assert all(PASSWORD not in path.name for path in directory.rglob("*"))
    assert PASSWORD not in manifest.read_text()
    assert "nope" in errors[0] and "already exists" in errors[1]
    assert all(PASSWORD not in error and "postgresql://" not in error for error in errors)


def test_users_pg_variables_cannot_redirect_the_dump(
    database: TestDatabase, tool: DumpTool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database.execute("CREATE TABLE t AS SELECT 1 AS i")
    monkeypatch.setenv("PGSERVICE", "no-such-service")
    monkeypatch.setenv("PGDATABASE", "no_such_database")
    monkeypatch.setenv("PGOPTIONS", "-c no_such.setting_at_all=1 -c default_transaction_read_only=bogus")

    [dump] = dump_tables(database.url, [QualifiedName("public", "t")], tmp_path, tool, expected_rows=lambda _n: 1)

    assert dump.rows == 1


def test_table_dump_records_what_it_dumped(database: TestDatabase, tool: DumpTool, tmp_path: Path) -> None:
    database.execute("CREATE TABLE t AS SELECT 1 AS i")
    [dump] = dump_tables(database.url, [QualifiedName("public", "t")], tmp_path, tool)
    assert dump == TableDump(QualifiedName("public", "t"), dump.file, 1, _sha256(dump.file), dump.file.stat().st_size)
    assert stat.S_IMODE(dump.file.stat().st_mode) == 0o600
