"""The run record says what happened: statuses from the outcome, a step committed only with its transaction, and
a record that is finished even when pgstate's own connection dies under it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pgharness import TestDatabase, run_pgstate_inprocess
from test_apply_failures import catalog_state, invalid_indexes, write_desired

TABLE = (
    "CREATE TABLE t (id int PRIMARY KEY, a text, b text, n text); INSERT INTO t SELECT g, g, g, g FROM"
    " generate_series(1, 50) g; CREATE TABLE u (id int PRIMARY KEY, a text);"
)
# A build outside the transaction, two steps in it, the second of which fails (the cast cannot convert 'x').
FAILING = """
table: u
indexes:
  - {name: u_a_idx, columns: [a]}
---
table: t
columns:
  b: {type: integer}
  n: {type: integer, using: "n::integer + (CASE WHEN id = 7 THEN 'x' ELSE '0' END)::integer"}
"""
GOOD = """
table: t
indexes:
  - {name: t_a_idx, columns: [a]}
columns:
  b: {type: integer}
"""


def apply(db: TestDatabase, desired: Path, *extra: str) -> tuple[int, str, str]:
    run = run_pgstate_inprocess(
        [
            *("apply", "--yes", "--allow-destructive", "--backup-dir", str(desired.parent / "backups")),
            *("--desired", str(desired), "--database-url", db.url, *extra),
        ]
    )
    return run.exit_code, run.stdout, run.stderr


def steps(db: TestDatabase, run_id: int) -> list[tuple[str, str, str]]:
    return db.query(
        "SELECT action, target, status FROM pgstate.run_steps WHERE run_id = %s ORDER BY position", [run_id]
    )


def run_row(db: TestDatabase, run_id: int) -> tuple[Any, ...]:
    return db.query("SELECT status, committed_at IS NOT NULL, error FROM pgstate.runs WHERE id = %s", [run_id])[0]


def test_steps_are_committed_only_with_their_transaction(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(TABLE)
    code, _, err = apply(database, write_desired(tmp_path / "d", GOOD))
    assert code == 0, err
    assert run_row(database, 1)[:2] == ("applied", True)
    assert {status for _, _, status in steps(database, 1)} == {"committed"}


def test_a_failed_transaction_records_each_step_as_it_ended(database: TestDatabase, tmp_path: Path) -> None:
    """The build ran and was undone, the step before the failure rolled back with the transaction, the failing
    step failed; nothing committed, and the record says so."""
    database.execute(TABLE)
    before = catalog_state(database)
    code, _, err = apply(database, write_desired(tmp_path / "d", FAILING))
    assert code == 1 and "run 1 rolled back" in err, err
    assert catalog_state(database) == before and invalid_indexes(database) == 0
    status, committed, error = run_row(database, 1)
    assert (status, committed) == ("rolled back", False) and "invalid input syntax" in error
    assert steps(database, 1) == [
        ("build-index", "public.u_a_idx", "rolled back"),
        ("alter-column-type", "public.t.b", "rolled back"),
        ("alter-column-type", "public.t.n", "failed"),
    ]


def test_the_record_is_finished_when_its_own_connection_dies(database: TestDatabase, tmp_path: Path) -> None:
    """An event trigger ends pgstate's recording session in the middle of the transaction: the changes commit,
    the record reconnects and says applied."""
    database.execute(TABLE)
    database.execute(
        # Only for the real table: planning changes copies of it elsewhere (from the recording session).
        "CREATE FUNCTION end_recorder() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN"
        " IF EXISTS (SELECT FROM pg_event_trigger_ddl_commands() WHERE object_identity LIKE 'public.t%') THEN"
        " PERFORM pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgstate'"
        " AND pid <> pg_backend_pid() AND datname = current_database(); END IF; END $$;"
        " CREATE EVENT TRIGGER end_recorder ON ddl_command_end WHEN TAG IN ('ALTER TABLE')"
        " EXECUTE FUNCTION end_recorder();"
    )
    code, _, err = apply(database, write_desired(tmp_path / "d", GOOD))
    assert code == 0, err
    assert run_row(database, 1)[:2] == ("applied", True)
    assert {status for _, _, status in steps(database, 1)} == {"committed"}
    type_of_b = (
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attname = 'b' AND attrelid = 't'::regclass"
    )
    assert database.query(type_of_b) == [("integer",)]


def test_a_dead_working_session_rolls_back_and_says_why(database: TestDatabase, tmp_path: Path) -> None:
    """pgstate's working session is terminated in its transaction: nothing commits, the build is undone from a
    new session, and the record says the connection was lost."""
    database.execute(TABLE)
    before = catalog_state(database)
    database.execute(
        "CREATE FUNCTION end_self() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN"
        " IF EXISTS (SELECT FROM pg_event_trigger_ddl_commands() WHERE object_identity LIKE 'public.t%') THEN"
        " PERFORM pg_terminate_backend(pg_backend_pid()); END IF; END $$;"
        " CREATE EVENT TRIGGER end_self ON ddl_command_end WHEN TAG IN ('ALTER TABLE') EXECUTE FUNCTION end_self();"
    )
    code, _, err = apply(database, write_desired(tmp_path / "d", GOOD))
    assert code == 1, err
    database.execute("DROP EVENT TRIGGER end_self")
    assert catalog_state(database) == before and invalid_indexes(database) == 0
    status, committed, error = run_row(database, 1)
    assert (status, committed) == ("rolled back", False) and "connection" in error, error


def test_a_killed_run_is_reported_by_the_next_apply(database: TestDatabase, tmp_path: Path) -> None:
    """kill -9 while the transaction waits for a lock: the run stays 'running'; the next apply finishes it as
    interrupted, says so before anything else, and converges."""
    database.execute(TABLE)
    desired = write_desired(tmp_path / "d", GOOD)
    holder = database.connect(autocommit=False)
    holder.execute("LOCK TABLE t IN ACCESS SHARE MODE")
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "pgstate", "apply", "--yes", "--allow-destructive", "--desired", str(desired)),
            *("--database-url", database.url, "--lock-timeout", "30s", "--backup-dir", str(tmp_path / "b")),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        waiting = database.query(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgstate' AND wait_event_type = 'Lock'"
        )[0][0]
        if waiting:
            break
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.communicate()
    holder.close()
    code, _, err = apply(database, desired)
    assert code == 0, err
    assert "run 1 did not finish" in err and "did not commit" in err, (
        err,
        database.query("SELECT id, status, error FROM pgstate.runs"),
    )
    status, committed, error = run_row(database, 1)
    assert (status, committed) == ("interrupted", False) and "did not commit" in error
    # Its transaction's steps took no effect: rolled back.
    assert {status for _, _, status in steps(database, 1)} == {"rolled back"}
    assert run_row(database, 2)[0] == "applied" and invalid_indexes(database) == 0
