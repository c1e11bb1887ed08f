"""Failure cases: each asserts the catalog is exactly as before the run, and that no INVALID index remains."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from pgharness import TestDatabase, run_pgstate, run_pgstate_inprocess
from pgstate.execution.apply import ADVISORY_LOCK_KEY

CATALOG_STATE = """
SELECT 'index', c.relname, pg_get_indexdef(i.indexrelid), i.indisvalid::text
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'pgstate')
UNION ALL
SELECT 'column', t.relname || '.' || a.attname, format_type(a.atttypid, a.atttypmod), ''
FROM pg_attribute a JOIN pg_class t ON t.oid = a.attrelid JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = 'public' AND t.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY 1, 2
"""


def catalog_state(db: TestDatabase) -> list[tuple[Any, ...]]:
    return db.query(CATALOG_STATE)


def write_desired(directory: Path, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "tables.yaml").write_text(text)
    return directory


def apply(db: TestDatabase, desired: Path, *extra: str) -> tuple[int, str, str]:
    run = run_pgstate_inprocess(
        [
            "apply",
            "--yes",
            "--allow-destructive",
            "--backup-dir",
            str(desired.parent / "backups"),
            "--desired",
            str(desired),
            "--database-url",
            db.url,
            *extra,
        ]
    )
    return run.exit_code, run.stdout, run.stderr


def last_run_status(db: TestDatabase) -> str:
    return db.query("SELECT status FROM pgstate.runs ORDER BY id DESC LIMIT 1")[0][0]


def invalid_indexes(db: TestDatabase) -> int:
    return db.query("SELECT count(*) FROM pg_index WHERE NOT indisvalid")[0][0]


def test_unique_index_over_duplicates_rolls_back(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(
        "CREATE TABLE users (id int PRIMARY KEY, email text, name text);"
        "INSERT INTO users VALUES (1, 'a@x', 'A'), (2, 'a@x', 'B');"
    )
    desired = write_desired(
        tmp_path / "d",
        """
table: users
indexes:
  - {name: users_name_idx, columns: [name]}
  - {name: users_email_key2, columns: [email], unique: true}
""",
    )
    before = catalog_state(database)
    code, _, err = apply(database, desired)
    assert code == 1
    assert "users_email_key2" in err and "rolled back" in err
    assert catalog_state(database) == before
    assert invalid_indexes(database) == 0
    assert last_run_status(database) == "rolled back"


def test_failing_using_cast_undoes_concurrent_builds(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(
        "CREATE TABLE events (id int PRIMARY KEY, code text, kind text);"
        "INSERT INTO events SELECT g, g::text, 'k' || g % 3 FROM generate_series(1, 1000) g;"
        "UPDATE events SET code = 'not-a-number' WHERE id = 500;"
    )
    desired = write_desired(
        tmp_path / "d",
        """
table: events
columns:
  code: {type: integer}
  kind: {type: text}
indexes:
  - {name: events_kind_idx, columns: [kind]}
---
table: other
indexes:
  - {name: other_x_idx, columns: [x]}
""",
    )
    database.execute("CREATE TABLE other (x int); INSERT INTO other SELECT generate_series(1, 100);")
    before = catalog_state(database)
    code, out, err = apply(database, desired)
    assert code == 1, out + err
    assert "invalid input syntax for type integer" in err
    # other_x_idx was built concurrently before the transaction failed (events is rewritten, so its index is
    # created inside the transaction); the catalog shows it was dropped again.
    recorded = database.query("SELECT plan FROM pgstate.runs ORDER BY id DESC LIMIT 1")[0][0]
    steps = [(s["action"], s["target"]) for s in recorded["steps"]]
    assert steps[0] == ("build-index", "public.other_x_idx")
    assert ("create-index", "public.events_kind_idx") in steps
    assert catalog_state(database) == before
    assert invalid_indexes(database) == 0
    assert last_run_status(database) == "rolled back"


def test_lock_timeout_with_competing_session(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(
        "CREATE TABLE busy (id int PRIMARY KEY, payload json);"
        "INSERT INTO busy SELECT g, '{}' FROM generate_series(1, 100) g;"
    )
    desired = write_desired(tmp_path / "d", "table: busy\ncolumns:\n  payload: {type: jsonb}\n")
    before = catalog_state(database)
    lock_timeout_s = 0.4
    holder = database.connect(autocommit=False)
    holder.execute("SELECT count(*) FROM busy")  # an open transaction holding ACCESS SHARE on the table
    waits: list[float] = []
    stop = threading.Event()

    def reader() -> None:
        with database.connect() as conn:
            while not stop.is_set():
                started = time.monotonic()
                conn.execute("SELECT count(*) FROM busy").fetchone()
                waits.append(time.monotonic() - started)
                time.sleep(0.02)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        started = time.monotonic()
        code, _, err = apply(database, desired, "--lock-timeout", "400ms", "--retries", "2")
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        thread.join()
        holder.rollback()
        holder.close()
    assert code == 1
    assert "could not get a lock within lock_timeout 400ms after 3 attempts" in err
    assert catalog_state(database) == before
    assert last_run_status(database) == "rolled back"
    # Three attempts each waited the lock timeout; the reader was held up at most about one lock timeout,
    # never for the whole run (generous margin: this is a bound on behaviour, not a benchmark).
    assert elapsed > 3 * lock_timeout_s
    assert len(waits) > 5
    assert max(waits) < lock_timeout_s + 0.6


def test_second_apply_is_refused_or_waits(database: TestDatabase, tmp_path: Path) -> None:
    database.execute("CREATE TABLE t (a int, b int);")
    desired = write_desired(tmp_path / "d", "table: t\nindexes:\n  - {name: t_a_idx, columns: [a]}\n")
    before = catalog_state(database)
    with database.connect() as other:  # another apply holds pgstate's advisory lock
        other.execute("SELECT pg_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
        code, _, err = apply(database, desired)
        assert code == 3
        assert "another pgstate apply is running" in err
        assert catalog_state(database) == before
        timer = threading.Timer(1.0, lambda: other.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY]))
        timer.start()
        code, _, err = apply(database, desired, "--wait")
        timer.join()
    assert code == 0, err
    assert database.query("SELECT to_regclass('public.t_a_idx') IS NOT NULL") == [(True,)]


def test_wait_with_a_duration_gives_up_after_it(database: TestDatabase, tmp_path: Path) -> None:
    database.execute("CREATE TABLE t (a int, b int);")
    desired = write_desired(tmp_path / "d", "table: t\nindexes:\n  - {name: t_a_idx, columns: [a]}\n")
    before = catalog_state(database)
    with database.connect() as other:  # another apply holds pgstate's advisory lock throughout
        other.execute("SELECT pg_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
        started = time.monotonic()
        code, _, err = apply(database, desired, "--wait", "700ms")
        waited = time.monotonic() - started
        assert code == 3, err
        assert "another pgstate apply is still running on this database after waiting 700ms" in err
        assert waited >= 0.7
        code, _, err = apply(database, desired, "--wait", "5")
        assert code == 1 and "--wait" in err  # a duration needs its unit
    assert catalog_state(database) == before


def test_two_real_applies_never_interleave(database: TestDatabase, tmp_path: Path) -> None:
    """A first apply stuck retrying a lock; a second one, started meanwhile, is refused."""
    database.execute("CREATE TABLE t (a int, doc json); INSERT INTO t VALUES (1, '{}');")
    desired = write_desired(tmp_path / "d", "table: t\ncolumns:\n  doc: {type: jsonb}\n")
    holder = database.connect(autocommit=False)
    holder.execute("SELECT * FROM t")
    first = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pgstate",
            "apply",
            "--yes",
            "--allow-destructive",
            "--backup-dir",
            str(tmp_path / "backups"),
            "--desired",
            str(desired),
            "--database-url",
            database.url,
            "--lock-timeout",
            "300ms",
            "--retries",
            "20",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(
            lambda: database.query("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")[0][0] == 1
        )
        second = run_pgstate(
            ["apply", "--yes", "--allow-destructive", "--desired", str(desired), "--database-url", database.url]
        )
        assert second.exit_code == 3
        assert "another pgstate apply is running" in second.stderr
    finally:
        holder.rollback()
        holder.close()
        _out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert database.query(
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'doc'"
    ) == [("jsonb",)]


def test_stale_saved_plan_is_refused(database: TestDatabase, tmp_path: Path) -> None:
    database.execute("CREATE TABLE t (a int, b int);")
    desired = write_desired(tmp_path / "d", "table: t\nindexes:\n  - {name: t_a_idx, columns: [a]}\n")
    plan_file = tmp_path / "plan.json"
    run = run_pgstate_inprocess(
        ["plan", "--desired", str(desired), "--database-url", database.url, "--out", str(plan_file)]
    )
    assert run.exit_code == 2
    assert json.loads(plan_file.read_text())["fingerprint"]

    database.execute("CREATE INDEX t_b_idx ON t (b);")  # the live state changes after the plan was made
    before = catalog_state(database)
    code, _, err = apply(database, desired, "--plan", str(plan_file))
    assert code == 3
    assert "stale" in err
    assert catalog_state(database) == before

    run = run_pgstate_inprocess(
        ["plan", "--desired", str(desired), "--database-url", database.url, "--out", str(plan_file)]
    )
    write_desired(desired, "table: t\nindexes:\n  - {name: t_a_idx, columns: [a, b]}\n")  # desired changes
    code, _, err = apply(database, desired, "--plan", str(plan_file))
    assert code == 3
    assert "no longer matches the desired files" in err
    assert catalog_state(database) == before

    write_desired(desired, "table: t\nindexes:\n  - {name: t_a_idx, columns: [a]}\n")
    code, _, err = apply(database, desired, "--plan", str(plan_file))
    assert code == 0, err


# A managed object of each kind, and a change someone makes to it after the plan was saved.
MANAGED = (
    "CREATE TABLE t (a int, b int, owner uuid);\n"
    "CREATE POLICY own ON t TO authenticated USING (owner = (select auth.uid()));\n"
    "CREATE FUNCTION f(n int) RETURNS int LANGUAGE sql AS 'SELECT n';\n"
    "CREATE VIEW v AS SELECT a FROM t;\n"
)
DESIRED_OF_EVERY_KIND = (
    "table: t\nindexes:\n  - {name: t_a_idx, columns: [a]}\nrls: {enabled: false, forced: false}\n"
    "policies:\n  - {name: own, roles: [authenticated], using: owner = (select auth.uid())}\n"
    "storage: {fillfactor: 100}\ncolumns:\n  b: {type: integer}\n---\n"
    "function: f\narguments: n int\nreturns: integer\nlanguage: sql\nbody: SELECT n\n---\n"
    "view: v\nquery: SELECT a FROM t\n---\n"
    "database:\n  settings: {work_mem: 4MB}\n---\n"
    "role: authenticated\nsettings: {statement_timeout: 8s}\n"
)
IN_THIS_DATABASE = "DO $$ BEGIN EXECUTE format('ALTER {} IN DATABASE %I SET {}', current_database()); END $$"
LATER_CHANGES = {
    "policy": "ALTER POLICY own ON t TO anon",
    "function": "CREATE OR REPLACE FUNCTION f(n int) RETURNS int LANGUAGE sql AS 'SELECT n + 1'",
    "view": "CREATE OR REPLACE VIEW v AS SELECT a, b FROM t",
    "storage": "ALTER TABLE t SET (fillfactor = 70)",
    "column": "ALTER TABLE t ALTER COLUMN b TYPE bigint",
    "rls": "ALTER TABLE t ENABLE ROW LEVEL SECURITY",
    "setting": "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET work_mem = 8192', current_database()); END $$",
    "role-setting": IN_THIS_DATABASE.format("ROLE authenticated", "statement_timeout = 9000"),
}


@pytest.mark.parametrize("kind", sorted(LATER_CHANGES))
def test_saved_plan_is_stale_after_a_change_of_any_kind(database: TestDatabase, tmp_path: Path, kind: str) -> None:
    """The fingerprint covers every managed object of every kind, not only the ones the plan changes."""
    database.execute(MANAGED)
    desired = write_desired(tmp_path / "d", DESIRED_OF_EVERY_KIND)
    plan_file = tmp_path / "plan.json"
    run = run_pgstate_inprocess(
        ["plan", "--desired", str(desired), "--database-url", database.url, "--out", str(plan_file)]
    )
    assert run.exit_code == 2, run.stderr
    database.execute(LATER_CHANGES[kind] + ";")
    before = catalog_state(database)
    code, _, err = apply(database, desired, "--plan", str(plan_file))
    assert (code, "stale" in err) == (3, True), err
    assert catalog_state(database) == before


def test_killed_apply_leaves_pre_run_state_and_next_apply_completes(database: TestDatabase, tmp_path: Path) -> None:
    database.execute("CREATE TABLE t (a int, b int); INSERT INTO t SELECT g, g FROM generate_series(1, 1000) g;")
    desired = write_desired(tmp_path / "d", "table: t\nindexes:\n  - {name: t_a_idx, columns: [a]}\n")
    before = catalog_state(database)
    process, holder = apply_waiting_in_a_build(database, desired)
    try:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        # The server notices the dead client (client_connection_check_interval) and ends the build.
        _wait_for(lambda: builds_running(database, active=True) == 0)
    finally:
        holder.rollback()
        holder.close()
    after_kill = [row for row in catalog_state(database) if row[1] != "t_a_idx"]
    assert after_kill == before  # the pre-run state, plus at most the planned index (here left INVALID)
    assert last_run_status(database) == "running"

    code, _, err = apply(database, desired)
    assert code == 0, err
    assert invalid_indexes(database) == 0
    assert database.query("SELECT status FROM pgstate.runs ORDER BY id") == [("interrupted",), ("applied",)]
    run = run_pgstate_inprocess(["plan", "--desired", str(desired), "--database-url", database.url])
    assert run.exit_code == 0


def builds_running(database: TestDatabase, *, active: bool = False) -> int:
    """Sessions running CREATE INDEX CONCURRENTLY (``active``: still executing it)."""
    state = " AND state = 'active'" if active else ""
    query = f"SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'CREATE INDEX CONCURRENTLY%%'{state}"
    return int(database.query(query)[0][0])


def apply_waiting_in_a_build(
    database: TestDatabase, desired: Path
) -> tuple[subprocess.Popen[str], psycopg.Connection[Any]]:
    """An apply (a subprocess) stuck in CREATE INDEX CONCURRENTLY, and the session that holds it there: an old
    REPEATABLE READ snapshot, which the build waits for. The caller ends the holder's transaction."""
    holder = database.connect(autocommit=False)
    holder.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    holder.execute("SELECT count(*) FROM t")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pgstate",
            "apply",
            "--yes",
            "--desired",
            str(desired),
            "--database-url",
            database.url,
            "--lock-timeout",
            "60s",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for(lambda: process.poll() is not None or builds_running(database) == 1)
    assert process.poll() is None, process.communicate()
    return process, holder


def _wait_for(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def test_secrets_never_printed_or_recorded(database: TestDatabase, tmp_path: Path) -> None:
    secret = "s3cr3t-Pa55word"
    database.execute("CREATE TABLE t (a int);")
    desired = write_desired(tmp_path / "d", "table: t\nindexes:\n  - {name: t_a_idx, columns: [a]}\n")
    url = database.url.replace("postgresql://postgres@", f"postgresql://postgres:{secret}@")
    outputs = []
    for args in (["plan"], ["apply", "--yes"], ["drift", "--format", "json"], ["plan", "--format", "markdown"]):
        run = run_pgstate([*args, "--desired", str(desired)], env={"PGSTATE_DATABASE_URL": url})
        outputs.append(run.stdout + run.stderr)
    broken = url.replace(database.name, "no_such_database")
    run = run_pgstate(["plan", "--desired", str(desired), "--database-url", broken])
    assert run.exit_code == 1
    outputs.append(run.stdout + run.stderr)
    assert all(secret not in text for text in outputs)
    assert "***" in run.stderr or "no_such_database" in run.stderr
    recorded = database.query("SELECT row_to_json(r)::text FROM pgstate.runs r")
    assert recorded and all(secret not in row[0] for row in recorded)
