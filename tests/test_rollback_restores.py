"""Rollback gives back what only the backup holds, as steps of its own plan: nothing changes before it is
confirmed, retired tables come back, and the values a lossy type change converted come back byte for byte."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from catalog import differences, snapshot
from pgharness import TestDatabase, pgstate_json, run_pgstate_inprocess, write_desired
from pgstate.backup import restore
from pgstate.errors import ApplyFailed, PgstateError, Refused
from pgstate.execution.options import ApplyOptions
from pgstate.history.rollback import RollbackOptions, rollback
from pgstate.planning.plan import Plan

# Text that jsonb cannot keep: key order, a duplicate key, white space, a number's spelling.
ORIGINAL = ['{"b": 1, "a": 2}', '{"k": 1, "k": 2}', '{ "spaced" :  [1,2 ,3] }', '{"n": 1.50}', "null"]
TABLE = "CREATE TABLE t (id int PRIMARY KEY, doc json, note text);" + "".join(
    f"INSERT INTO t VALUES ({n}, '{text}', 'row {n}');" for n, text in enumerate(ORIGINAL, 1)
)
TO_JSONB = "table: t\ncolumns:\n  doc: {type: jsonb}\n"


def cli(db: TestDatabase, tmp_path: Path, *args: str) -> tuple[int, str, str]:
    run = run_pgstate_inprocess(
        [*args, "--desired", str(tmp_path / "desired"), "--database-url", db.url, "--backup-dir", str(tmp_path / "b")]
    )
    return run.exit_code, run.stdout, run.stderr


def values(db: TestDatabase) -> list[tuple[Any, ...]]:
    return db.query("SELECT id, doc::text, note FROM t ORDER BY id")


def test_rollback_gives_the_original_json_text_back(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(TABLE)
    before, rows = snapshot(database), values(database)
    write_desired(tmp_path, TO_JSONB)
    code, _, err = cli(database, tmp_path, "apply", "--yes", "--allow-destructive")
    assert code == 0, err
    assert values(database) != rows  # jsonb rewrote them
    code, plan, err = pgstate_json(
        database, tmp_path / "desired", "rollback", "1", "--yes", "--backup-dir", str(tmp_path / "b")
    )
    assert code == 0, err
    actions = [step["action"] for step in plan["plan"]["steps"]]
    assert actions == ["alter-column-type", "restore-values"], actions
    assert values(database) == rows
    assert differences(before, snapshot(database)) == []
    assert database.query("SELECT action, status FROM pgstate.run_steps WHERE run_id = 2 ORDER BY position") == [
        ("alter-column-type", "committed"),
        ("restore-values", "committed"),
    ]


def test_rollback_refuses_to_restore_values_of_rows_changed_since(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(TABLE)
    write_desired(tmp_path, TO_JSONB)
    assert cli(database, tmp_path, "apply", "--yes", "--allow-destructive")[0] == 0
    database.execute("UPDATE t SET note = 'changed by the application' WHERE id = 2")
    after = snapshot(database)
    for force in ((), ("--force",)):
        code, _, err = cli(database, tmp_path, "rollback", "1", "--yes", *force)
        assert code == 3, err
        assert "public.t changed since run 1 converted it" in err, err
    assert differences(after, snapshot(database)) == []
    assert database.query("SELECT count(*) FROM pgstate.runs") == [(1,)]


def test_rollback_refuses_to_restore_values_without_a_primary_key(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(TABLE.replace("id int PRIMARY KEY", "id int"))
    write_desired(tmp_path, TO_JSONB)
    assert cli(database, tmp_path, "apply", "--yes", "--allow-destructive")[0] == 0
    code, _, err = cli(database, tmp_path, "rollback", "1", "--yes")
    assert code == 3 and "public.t has no primary key" in err, err
    type_of_doc = (
        "SELECT format_type(atttypid, NULL) FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'doc'"
    )
    assert database.query(type_of_doc) == [("jsonb",)]


def test_rollback_changes_nothing_before_it_is_confirmed(database: TestDatabase, tmp_path: Path) -> None:
    """A retired table comes back only after the confirmation; its restore is a step of the plan that is shown."""
    database.execute(
        "CREATE TABLE legacy (id int PRIMARY KEY, v text); INSERT INTO legacy SELECT g, g FROM generate_series(1, 9) g;"
        "CREATE INDEX legacy_v ON legacy (v); CREATE VIEW legacy_view AS SELECT v FROM legacy;"
    )
    before = snapshot(database)
    write_desired(tmp_path, "table: legacy\npresent: false\nretire: {quiet_days: 0, cascade: true}\n")
    code, _, err = cli(database, tmp_path, "apply", "--yes", "--allow-destructive")
    assert code == 0, err
    gone = snapshot(database)
    shown: list[Plan] = []

    def refuse(plan: Plan, conn: Any) -> bool:
        shown.append(plan)
        return False

    options = RollbackOptions(ApplyOptions(backup_dir=tmp_path / "b"))
    try:
        rollback(database.url, 1, options, say=lambda _: None, confirm=refuse)
    except Refused as refused:
        assert "not confirmed" in refused.message
    else:
        raise AssertionError("an unconfirmed rollback must be refused")
    assert [str(step.action) for step in shown[0].steps][:1] == ["restore-table"]
    assert differences(gone, snapshot(database)) == []  # nothing came back
    outcome = rollback(database.url, 1, options, say=lambda _: None, confirm=lambda plan, conn: True)
    assert outcome.run_id == 2
    assert differences(before, snapshot(database)) == []
    assert database.query("SELECT count(*) FROM legacy") == [(9,)]
    assert database.query("SELECT action, status FROM pgstate.run_steps WHERE run_id = 2 ORDER BY position")[0] == (
        "restore-table",
        "committed",
    )


def test_a_row_changed_after_the_confirmation_stops_the_rollback(database: TestDatabase, tmp_path: Path) -> None:
    """The check before the confirmation is repeated under the transaction's lock: a write in between makes the
    rollback roll back, and the application's new value stays."""
    database.execute(TABLE)
    write_desired(tmp_path, TO_JSONB)
    assert cli(database, tmp_path, "apply", "--yes", "--allow-destructive")[0] == 0
    converted = snapshot(database)

    def write_then_confirm(plan: Plan, conn: Any) -> bool:
        database.execute("UPDATE t SET note = 'written while the plan was read' WHERE id = 3")
        return True

    options = RollbackOptions(ApplyOptions(backup_dir=tmp_path / "b"))
    try:
        rollback(database.url, 1, options, say=lambda _: None, confirm=write_then_confirm)
    except ApplyFailed as failed:
        assert "changed since run 1" in failed.message, failed.message
    else:
        raise AssertionError("the rollback must stop")
    assert differences(converted, snapshot(database)) == []
    assert database.query("SELECT note FROM t WHERE id = 3") == [("written while the plan was read",)]
    assert database.query("SELECT status FROM pgstate.runs WHERE id = 2") == [("rolled back",)]


def test_a_restore_cut_short_leaves_nothing_half_restored(
    database: TestDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """psql's --single-transaction commits at the end of its input, whatever ended it: a pgstate killed while it
    streams a dump (its end of the pipe closed) would leave half a table. The dump's own BEGIN ... COMMIT makes
    a stream cut short roll back. Here the stream stops after the table and part of its rows."""
    database.execute(
        "CREATE TABLE legacy (id int PRIMARY KEY, v text); INSERT INTO legacy SELECT g, g FROM generate_series(1, 9) g"
    )
    write_desired(tmp_path, "table: legacy\npresent: false\nretire: {quiet_days: 0, cascade: true}\n")
    code, _, err = cli(database, tmp_path, "apply", "--yes", "--allow-destructive")
    assert code == 0, err
    gone = snapshot(database)
    whole = restore._in_one_transaction

    def cut_after_some_rows(lines: Any) -> Any:
        for line in whole(lines):
            yield line
            if line.startswith(b"3\t"):  # COPY's third row: the table exists and holds rows, uncommitted
                return

    shown: list[Plan] = []

    def refuse(plan: Plan, conn: Any) -> bool:
        shown.append(plan)
        return False

    options = RollbackOptions(ApplyOptions(backup_dir=tmp_path / "b"))
    with pytest.raises(Refused):
        rollback(database.url, 1, options, say=lambda _: None, confirm=refuse)
    restore_step = shown[0].steps[0]
    assert str(restore_step.action) == "restore-table" and restore_step.payload is not None
    monkeypatch.setattr(restore, "_in_one_transaction", cut_after_some_rows)
    # The step alone, as a killed pgstate leaves it: no undo comes after it.
    with pytest.raises(PgstateError):
        restore_step.payload.run(database.url, None, "2s")
    assert differences(gone, snapshot(database)) == []  # no table, not half of one
    monkeypatch.undo()
    rollback(database.url, 1, options, say=lambda _: None, confirm=lambda plan, conn: True)
    assert database.query("SELECT count(*) FROM legacy") == [(9,)]
