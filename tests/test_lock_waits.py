"""A waiting step names who it waits for; a concurrent build has its own budget for older transactions."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from pgharness import TestDatabase, run_pgstate_inprocess, write_desired
from pgstate import pipeline
from pgstate.catalog.snapshot import read_live


def apply(db: TestDatabase, desired: Path, *extra: str) -> tuple[int, str, str]:
    run = run_pgstate_inprocess(["apply", "--yes", "--desired", str(desired), "--database-url", db.url, *extra])
    return run.exit_code, run.stdout, run.stderr


def holder(db: TestDatabase, application: str, statement: str):  # type: ignore[no-untyped-def]
    conn = db.connect(autocommit=True)
    conn.execute("SELECT set_config('application_name', %s, false)", [application])
    conn.autocommit = False
    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    conn.execute(statement.encode())
    return conn


def test_a_lock_failure_names_the_session_that_held_the_lock(database: TestDatabase, tmp_path: Path) -> None:
    database.execute("CREATE TABLE t (id int PRIMARY KEY, a varchar(10))")
    desired = write_desired(tmp_path, "table: t\ncolumns:\n  a: {type: text}\n")
    blocker = holder(database, "the-report-job", "SELECT count(*) FROM t  -- the report\n-- second line")
    try:
        pid = blocker.info.backend_pid
        code, _, err = apply(database, desired, "--lock-timeout", "300ms", "--retries", "1")
    finally:
        blocker.close()
    assert code == 1, err
    assert f"pid {pid} (the-report-job, idle in transaction" in err, err
    assert "SELECT count(*) FROM t  -- the report" in err and "second line" not in err
    assert database.query(
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'a'"
    ) == [("character varying(10)",)]


def test_a_build_waits_for_older_transactions_within_its_own_budget(database: TestDatabase, tmp_path: Path) -> None:
    """A short lock_timeout does not cancel a concurrent build that waits out an old transaction on another
    table: --build-wait bounds that wait, and the apply names the oldest transaction it waited for."""
    database.execute("CREATE TABLE t (id int PRIMARY KEY, a int); CREATE TABLE other (id int)")
    desired = write_desired(tmp_path, "table: t\nindexes:\n  - {name: t_a_idx, columns: [a]}\n")
    blocker = holder(database, "long-reader", "SELECT count(*) FROM other")
    pid = blocker.info.backend_pid
    threading.Timer(1.5, blocker.close).start()
    started = time.monotonic()
    code, _, err = apply(database, desired, "--lock-timeout", "200ms", "--build-wait", "30s")
    assert code == 0, err
    assert time.monotonic() - started >= 1.0  # it did wait for the reader, longer than lock_timeout
    assert f"waited for older transactions; the oldest: pid {pid} (long-reader" in err, err


def test_a_build_gives_up_after_its_budget_and_says_for_whom(database: TestDatabase, tmp_path: Path) -> None:
    database.execute("CREATE TABLE t (id int PRIMARY KEY, a int); CREATE TABLE other (id int)")
    desired = write_desired(tmp_path, "table: t\nindexes:\n  - {name: t_a_idx, columns: [a]}\n")
    blocker = holder(database, "long-reader", "SELECT count(*) FROM other")
    try:
        pid = blocker.info.backend_pid
        code, _, err = apply(database, desired, "--build-wait", "300ms", "--retries", "0")
    finally:
        blocker.close()
    assert code == 1, err
    assert "within --build-wait 300ms" in err and f"pid {pid} (long-reader" in err, err
    assert database.query("SELECT count(*) FROM pg_class WHERE relname = 't_a_idx'") == [(0,)]


def test_reading_the_catalog_waits_at_most_lock_timeout_and_names_the_holder(
    database: TestDatabase, tmp_path: Path
) -> None:
    """Deparsing an index takes ACCESS SHARE on its table: a session holding the table exclusively must not make
    a plan (or a failed apply's check of the pre-run state) wait as long as it likes."""
    database.execute("CREATE TABLE t (id int PRIMARY KEY, a int); CREATE INDEX t_a_idx ON t (a) WHERE a > 0")
    desired = write_desired(tmp_path, "table: t\nindexes:\n  - {name: t_a_idx, columns: [a], where: 'a > 0'}\n")
    blocker = holder(database, "the-migration", "LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
    # Without the bound the plan would wait until the holder lets go (after a minute, to end the test), and then
    # succeed: the exit code and the message below tell the two apart.
    release = threading.Timer(60, blocker.close)
    release.start()
    try:
        pid = blocker.info.backend_pid
        argv = ["plan", "--desired", str(desired), "--database-url", database.url, "--lock-timeout", "300ms"]
        run = run_pgstate_inprocess([*argv, "--retries", "1"])
    finally:
        release.cancel()
        blocker.close()
    assert run.exit_code == 1, run.stderr
    assert "reading the catalog waited longer than lock_timeout 300ms in each of 2 attempts" in run.stderr, run.stderr
    assert f"pid {pid} (the-migration, idle in transaction" in run.stderr, run.stderr


def test_a_plan_outlasts_a_brief_exclusive_hold_in_short_attempts(database: TestDatabase, tmp_path: Path) -> None:
    """The default lock attempt is short (100ms, what a query may queue behind pgstate), so patience comes from
    retries: a plan that meets a migration holding the table for a second waits it out and plans as usual."""
    database.execute("CREATE TABLE t (id int PRIMARY KEY, a int); CREATE INDEX t_a_idx ON t (a) WHERE a > 0")
    desired = write_desired(
        tmp_path,
        "table: t\nindexes:\n  - {name: t_a_idx, columns: [a], where: 'a > 0'}\n"
        "  - {name: t_id_a_idx, columns: [id, a]}\n",
    )
    blocker = holder(database, "the-migration", "LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
    release = threading.Timer(1.0, blocker.close)
    release.start()
    try:
        started = time.monotonic()
        run = run_pgstate_inprocess(["plan", "--desired", str(desired), "--database-url", database.url])
        waited = time.monotonic() - started
    finally:
        release.cancel()
        blocker.close()
    assert run.exit_code == 2, run.stderr
    assert "t_id_a_idx" in run.stdout
    assert waited >= 0.9  # it met the hold: the plan came after the migration let go, not before


def test_a_lock_that_stops_the_sandbox_is_no_fault_of_the_desired_state(
    database: TestDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fragment is parsed on a temporary copy of its table (CREATE TEMP TABLE ... LIKE takes ACCESS SHARE on
    it): a session that takes the table exclusively between the catalog read and the sandbox is named, as for
    the catalog read, and no fragment is said to be refused where it was written."""
    database.execute(
        "CREATE TABLE t (owner int); ALTER TABLE t ENABLE ROW LEVEL SECURITY;"
        " CREATE POLICY own ON t FOR SELECT USING (owner = 1)"
    )
    # Written as people write it, not as the server prints it ("(owner = 1)"): only the server can tell.
    desired = write_desired(
        tmp_path, "table: t\nrls: {enabled: true}\npolicies:\n  - {name: own, command: select, using: 'owner=1'}\n"
    )
    blockers = []

    def read_then_lock(*args: Any, **kwargs: Any) -> Any:
        live = read_live(*args, **kwargs)
        blocker = holder(database, "the-migration", "LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
        blockers.append((blocker, blocker.info.backend_pid))
        return live

    monkeypatch.setattr(pipeline, "read_live", read_then_lock)
    try:
        # One attempt: a second would find the table still held by the first attempt's blocker.
        argv = ["plan", "--desired", str(desired), "--database-url", database.url, "--lock-timeout", "300ms"]
        run = run_pgstate_inprocess([*argv, "--retries", "0"])
    finally:
        for blocker, _pid in blockers:
            blocker.close()
    assert blockers, "the plan read the catalog"
    assert run.exit_code == 1, run.stderr
    assert "refused" not in run.stderr, run.stderr
    assert "copying the managed tables to parse the desired state waited longer than lock_timeout 300ms" in (
        run.stderr
    ), run.stderr
    assert f"pid {blockers[0][1]} (the-migration, idle in transaction" in run.stderr, run.stderr
