"""Nothing lost: retiring a legacy table with guards, verified backups, run history, and rollback."""

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

import pytest

from pgharness import TestDatabase, run_pgstate, run_pgstate_inprocess
from test_apply_failures import _wait_for

LEGACY = """
CREATE TABLE interviews (id serial PRIMARY KEY, user_id uuid, notes text, created_at timestamptz NOT NULL);
INSERT INTO interviews (user_id, notes, created_at)
SELECT md5(g::text)::uuid, E'line ' || g || E'\\twith a tab, a \\\\ backslash, ''quotes'' and\\na newline',
       now() - interval '40 days' - g * interval '1 minute'
FROM generate_series(1, 500) g;
CREATE INDEX interviews_user_id_idx ON interviews (user_id);
CREATE TABLE users (id serial PRIMARY KEY, bio varchar(200));
INSERT INTO users (bio) SELECT 'bio ' || g FROM generate_series(1, 50) g;
"""

RETIRE = """
table: interviews
present: false
retire:
  activity_column: created_at
  quiet_days: 7
---
table: users
columns:
  bio: {type: text}
"""


def quiet(db: TestDatabase, script: str, *tables: str) -> list[tuple[Any, ...]]:
    """Run the fixture and return the checksum, then make its tables look unread.

    PostgreSQL 16+ refuses to retire a table scanned within quiet_days, and creating and checking the fixture
    scans it. Its counters are reset, as for a table nobody read since the statistics were reset. Everything
    runs on one session whose statistics are flushed first: another session's, flushed late when it ends,
    would bring the scan back, and so would a parallel worker's (hence none).
    """
    with db.connect() as conn:
        conn.execute("SET max_parallel_workers_per_gather = 0")
        conn.execute(script.encode())
        checksum = conn.execute(CHECKSUM.encode()).fetchall() if "interviews" in tables else []
        conn.execute("SELECT pg_stat_force_next_flush()")
        conn.execute("SELECT 1")  # goes idle in between: the flush happens
        for table in tables:  # last_idx_scan comes from the indexes' own counters
            conn.execute(
                "SELECT pg_stat_reset_single_table_counters(oid) FROM pg_class WHERE oid = %s::regclass"
                " OR oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = %s::regclass)",
                [table, table],
            )
    return checksum


CHECKSUM = "SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) FROM interviews t"


def write(tmp_path: Path, text: str) -> Path:
    directory = tmp_path / "desired"
    directory.mkdir(exist_ok=True)
    (directory / "d.yaml").write_text(text)
    return directory


def pgstate(db: TestDatabase, tmp_path: Path, *args: str) -> tuple[int, str, str]:
    run = run_pgstate_inprocess(
        [*args, "--database-url", db.url, "--backup-dir", str(tmp_path / "backups")]
        if args[0] in ("apply", "rollback")
        else [*args, "--database-url", db.url]
    )
    return run.exit_code, run.stdout, run.stderr


def apply(db: TestDatabase, tmp_path: Path, desired: Path, *extra: str) -> tuple[int, str, str]:
    return pgstate(db, tmp_path, "apply", "--yes", "--allow-destructive", "--desired", str(desired), *extra)


def exists(db: TestDatabase, name: str) -> bool:
    return bool(db.query("SELECT to_regclass(%s) IS NOT NULL", [name])[0][0])


def test_busy_legacy_table_is_refused(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(LEGACY + "INSERT INTO interviews (created_at) VALUES (now() - interval '2 days');")
    desired = write(tmp_path, RETIRE)
    # plan shows the refused retirement beside the steps that would run (exit 2: the database differs)
    code, out, err = pgstate(database, tmp_path, "plan", "--desired", str(desired))
    assert code == 2, err
    assert "refused: public.interviews is still in use: created_at has a row from" in out
    assert "1. alter-column-type public.users.bio" in out
    code, _, err = apply(database, tmp_path, desired)
    assert code == 3
    assert "d.yaml:2:1: public.interviews is still in use: created_at has a row from" in err
    assert exists(database, "interviews")
    assert database.query(
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'users'::regclass"
        " AND attname = 'bio'"
    ) == [("character varying(200)",)]


def test_retire_backup_history_and_rollback(database: TestDatabase, tmp_path: Path) -> None:
    before = quiet(database, LEGACY, "interviews")
    desired = write(tmp_path, RETIRE)
    code, plan, err = pgstate(database, tmp_path, "plan", "--desired", str(desired), "--format", "json")
    assert code == 2, err
    retire = json.loads(plan)["steps"][-1]
    assert (retire["action"], retire["target"]) == ("retire-table", "public.interviews")
    assert retire["hazards"] == ["access-exclusive-lock", "data-loss"]
    # Without --allow-destructive nothing happens.
    code, _, err = pgstate(database, tmp_path, "apply", "--yes", "--desired", str(desired))
    assert code == 3 and "the plan destroys data: retire-table public.interviews" in err
    assert exists(database, "interviews")

    code, _, err = apply(database, tmp_path, desired)
    assert code == 0, err
    assert not exists(database, "interviews")
    run = database.query("SELECT id, status, backup FROM pgstate.runs ORDER BY id DESC LIMIT 1")[0]
    assert run[1] == "applied"
    manifest = json.loads((Path(run[2]) / "manifest.json").read_text())
    assert [(t["table"], t["rows"]) for t in manifest["tables"]] == [("interviews", 500)]
    assert manifest["pg_dump"]["version"].startswith("pg_dump (PostgreSQL) ")
    # Retired and already gone: no change.
    assert pgstate(database, tmp_path, "plan", "--desired", str(desired))[0] == 0

    code, out, _ = pgstate(database, tmp_path, "history")
    assert code == 0 and f"{run[0]:>5}" in out and "applied" in out
    code, out, _ = pgstate(database, tmp_path, "history", str(run[0]), "--format", "json")
    shown = json.loads(out)
    assert [(s["action"], s["status"]) for s in shown["steps"]] == [
        ("alter-column-type", "committed"),
        ("retire-table", "committed"),
    ]

    code, _, err = pgstate(database, tmp_path, "rollback", str(run[0]), "--yes")
    assert code == 0, err
    assert database.query(CHECKSUM) == before  # identical rows: count and checksum
    assert exists(database, "interviews_user_id_idx")
    assert database.query(
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'users'::regclass"
        " AND attname = 'bio'"
    ) == [("character varying(200)",)]
    assert database.query("SELECT rollback_of, status FROM pgstate.runs ORDER BY id DESC LIMIT 1") == [
        (run[0], "applied")
    ]
    # A second rollback of the same run changes nothing.
    code, out, err = pgstate(database, tmp_path, "rollback", str(run[0]), "--yes")
    assert code == 0, err
    assert "No changes" in out
    assert database.query(CHECKSUM) == before


def test_rollback_refused_when_a_later_run_changed_the_same_objects(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(LEGACY)
    first = write(tmp_path, "table: users\ncolumns:\n  bio: {type: varchar(300)}\n")
    assert apply(database, tmp_path, first)[0] == 0
    second = write(tmp_path, "table: users\ncolumns:\n  bio: {type: text}\n")
    assert apply(database, tmp_path, second)[0] == 0
    runs = [row[0] for row in database.query("SELECT id FROM pgstate.runs ORDER BY id")]
    code, _, err = pgstate(database, tmp_path, "rollback", str(runs[0]), "--yes")
    assert code == 3
    assert f"run {runs[1]} changed the same objects after run {runs[0]}" in err
    code, _, err = pgstate(database, tmp_path, "rollback", str(runs[0]), "--yes", "--force")
    assert code == 0, err
    assert database.query(
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'users'::regclass"
        " AND attname = 'bio'"
    ) == [("character varying(200)",)]


def test_dependents_refuse_unless_cascade(database: TestDatabase, tmp_path: Path) -> None:
    quiet(
        database,
        LEGACY + "CREATE VIEW recent_interviews AS SELECT id, user_id FROM interviews;"
        "CREATE TABLE reviews (id int, interview_id int REFERENCES interviews (id));",
        "interviews",
    )
    desired = write(tmp_path, RETIRE)
    code, _, err = apply(database, tmp_path, desired)
    assert code == 3
    assert "view public.recent_interviews" in err and "foreign key reviews_interview_id_fkey on public.reviews" in err
    assert exists(database, "interviews") and exists(database, "recent_interviews")

    cascade = RETIRE.replace("  quiet_days: 7\n", "  quiet_days: 7\n  cascade: true\n")
    code, plan, err = pgstate(
        database, tmp_path, "plan", "--desired", str(write(tmp_path, cascade)), "--format", "json"
    )
    assert "and with it: foreign key reviews_interview_id_fkey on public.reviews, view public.recent_interviews" in plan
    code, _, err = apply(database, tmp_path, write(tmp_path, cascade))
    assert code == 0, err
    assert not exists(database, "interviews") and not exists(database, "recent_interviews")
    backup_dir = Path(database.query("SELECT backup FROM pgstate.runs ORDER BY id DESC LIMIT 1")[0][0])
    manifest = json.loads((backup_dir / "manifest.json").read_text())
    definitions = "".join((backup_dir / d["file"]).read_text() for d in manifest["definitions"])
    assert "CREATE VIEW public.recent_interviews" in definitions
    assert "reviews_interview_id_fkey" in definitions
    run_id = database.query("SELECT id FROM pgstate.runs ORDER BY id DESC LIMIT 1")[0][0]
    code, _, err = pgstate(database, tmp_path, "rollback", str(run_id), "--yes")
    assert code == 0, err
    assert exists(database, "interviews") and exists(database, "recent_interviews")


def test_rows_changing_after_the_dump_stop_the_run_before_the_drop(database: TestDatabase, tmp_path: Path) -> None:
    """A table written to while it is backed up is not quiet: its dump no longer holds its rows, and nothing is
    destroyed (the count after the dump, or the one under the lock right before the drop, differs)."""
    quiet(database, LEGACY, "interviews")
    stop = threading.Event()

    def insert_rows() -> None:
        with database.connect() as conn:
            while not stop.is_set():
                conn.execute("INSERT INTO interviews (created_at) VALUES (now() - interval '90 days')")
                time.sleep(0.002)

    desired = write(tmp_path, RETIRE.split("---")[0])
    writer = threading.Thread(target=insert_rows, daemon=True)
    writer.start()
    try:
        code, _, err = apply(database, tmp_path, desired)
    finally:
        stop.set()
        writer.join(timeout=10)
    assert code == 1
    assert "could not be verified" in err or "rows changed since the backup" in err, err
    assert exists(database, "interviews")
    assert database.query("SELECT status FROM pgstate.runs ORDER BY id DESC LIMIT 1") == [("rolled back",)]


@pytest.mark.parametrize(
    "change", ["UPDATE interviews SET notes = 'changed' WHERE id = 7", "DELETE FROM interviews WHERE id = 7"]
)
def test_values_changing_after_the_dump_stop_the_run_before_the_drop(
    database: TestDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    """A backup is verified by content: an UPDATE after the dump keeps the row count, and the digest checked
    under the lock right before the drop still tells; nothing is destroyed, the changed value is kept."""
    import pgstate.execution.backups as applying  # where the run takes its dumps

    quiet(database, LEGACY, "interviews")
    real_dump_tables = applying.dump_tables

    def dump_then_write(*args: Any, **kwargs: Any) -> Any:
        dumps = real_dump_tables(*args, **kwargs)
        with database.connect() as conn:  # another session, after the dump and before the transaction
            conn.execute(change)
        return dumps

    monkeypatch.setattr(applying, "dump_tables", dump_then_write)
    desired = write(tmp_path, RETIRE.split("---")[0])
    code, _, err = apply(database, tmp_path, desired)
    assert code == 1
    what = "values" if change.startswith("UPDATE") else "rows"
    assert f"{what} changed since the backup, nothing destroyed" in err, err
    assert exists(database, "interviews")
    expected = [("changed",)] if change.startswith("UPDATE") else []
    assert database.query("SELECT notes FROM interviews WHERE id = 7") == expected
    assert database.query("SELECT status FROM pgstate.runs ORDER BY id DESC LIMIT 1") == [("rolled back",)]


def test_an_inheriting_table_is_dumped_with_its_parent(database: TestDatabase, tmp_path: Path) -> None:
    """A child table's rows are counted with its parent's, and dumped with it: retired together (cascade), they
    come back together."""
    checksum = quiet(
        database,
        LEGACY + "CREATE TABLE interviews_archive () INHERITS (interviews);"
        "INSERT INTO interviews_archive (created_at) VALUES (now() - interval '90 days');",
        "interviews",
        "interviews_archive",
    )
    cascade = RETIRE.replace("  quiet_days: 7\n", "  quiet_days: 7\n  cascade: true\n")
    code, _, err = apply(database, tmp_path, write(tmp_path, cascade))
    assert code == 0, err
    assert not exists(database, "interviews") and not exists(database, "interviews_archive")
    code, _, err = pgstate(database, tmp_path, "rollback", "1", "--yes", "--force", "--desired", str(tmp_path))
    assert code == 0, err
    assert database.query("SELECT count(*) FROM interviews") == [(501,)]
    assert database.query("SELECT count(*) FROM ONLY interviews") == [(500,)]
    assert database.query(CHECKSUM) == checksum


def test_killed_during_the_dump_leaves_the_table(database: TestDatabase, tmp_path: Path) -> None:
    quiet(
        database,
        LEGACY + "INSERT INTO interviews (created_at) SELECT now() - interval '60 days'"
        " FROM generate_series(1, 1000000);",
        "interviews",
    )
    desired = write(tmp_path, RETIRE.split("---")[0])
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pgstate",
            "apply",
            "--yes",
            "--allow-destructive",
            "--desired",
            str(desired),
            "--database-url",
            database.url,
            "--backup-dir",
            str(tmp_path / "backups"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(
            lambda: (
                process.poll() is not None
                or database.query("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgstate-backup'")[0][
                    0
                ]
                > 0
            )
        )
        assert process.poll() is None, process.communicate()
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    assert exists(database, "interviews")
    assert database.query("SELECT count(*) FROM interviews") == [(1000500,)]
    assert database.query("SELECT status FROM pgstate.runs") == [("running",)]  # the next apply marks it


def test_a_million_rows_are_backed_up_and_verified(database: TestDatabase, tmp_path: Path) -> None:
    quiet(
        database,
        "CREATE TABLE big (id bigint, created_at timestamptz);"
        "INSERT INTO big SELECT g, now() - interval '30 days' FROM generate_series(1, 1000000) g;",
        "big",
    )
    desired = write(tmp_path, "table: big\npresent: false\nretire: {activity_column: created_at, quiet_days: 7}\n")
    code, _, err = apply(database, tmp_path, desired)
    assert code == 0, err
    backup_dir = Path(database.query("SELECT backup FROM pgstate.runs ORDER BY id DESC LIMIT 1")[0][0])
    manifest = json.loads((backup_dir / "manifest.json").read_text())
    assert manifest["tables"][0]["rows"] == 1_000_000


def test_full_backup_first(database: TestDatabase, tmp_path: Path) -> None:
    quiet(database, LEGACY, "interviews")
    code, _, err = apply(database, tmp_path, write(tmp_path, RETIRE), "--backup", "full")
    assert code == 0, err
    backup_dir = Path(database.query("SELECT backup FROM pgstate.runs ORDER BY id DESC LIMIT 1")[0][0])
    manifest = json.loads((backup_dir / "manifest.json").read_text())
    assert manifest["full"] is not None
    assert "CREATE TABLE public.interviews" in (backup_dir / manifest["full"]["file"]).read_text()


def test_no_password_in_any_output_record_or_file_name(database: TestDatabase, tmp_path: Path) -> None:
    secret = "Sup3r-s3cret"
    quiet(database, LEGACY, "interviews")
    url = database.url.replace("postgresql://postgres@", f"postgresql://postgres:{secret}@")
    desired = write(tmp_path, RETIRE)
    texts: list[str] = []
    for args in (
        ["plan"],
        ["apply", "--yes", "--allow-destructive", "--backup-dir", str(tmp_path / "b")],
        ["history"],
        ["drift"],
    ):
        run = run_pgstate([*args, "--desired", str(desired)], env={"PGSTATE_DATABASE_URL": url})
        texts.append(run.stdout + run.stderr)
    run_id = database.query("SELECT max(id) FROM pgstate.runs")[0][0]
    run = run_pgstate(
        ["rollback", str(run_id), "--yes", "--backup-dir", str(tmp_path / "b")], env={"PGSTATE_DATABASE_URL": url}
    )
    assert run.exit_code == 0, run.stderr
    texts.append(run.stdout + run.stderr)
    texts += [row[0] for row in database.query("SELECT row_to_json(r)::text FROM pgstate.runs r")]
    texts += [row[0] for row in database.query("SELECT row_to_json(s)::text FROM pgstate.run_steps s")]
    for path in (tmp_path / "b").rglob("*"):
        texts.append(str(path))
        if path.is_file():
            texts.append(path.read_text(errors="replace"))
    assert all(secret not in text for text in texts)


@pytest.mark.parametrize("verb", ["history", "rollback"])
def test_unknown_run(database: TestDatabase, tmp_path: Path, verb: str) -> None:
    args: list[Any] = [verb, "42"] + (["--yes"] if verb == "rollback" else [])
    code, _, err = pgstate(database, tmp_path, *args)
    assert code == 1
    assert "there is no run 42" in err


def test_rollback_gives_converted_values_back(database: TestDatabase, tmp_path: Path) -> None:
    """A lossy conversion ('007' -> 7) is rolled back with the values the backup holds, no --force needed."""
    database.execute("CREATE TABLE codes (id int PRIMARY KEY, code text); INSERT INTO codes VALUES (1, '007');")
    desired = write(tmp_path, "table: codes\ncolumns:\n  code: {type: integer, using: 'code::integer'}\n")
    assert apply(database, tmp_path, desired)[0] == 0
    assert database.query("SELECT code::text FROM codes") == [("7",)]
    run_id = database.query("SELECT max(id) FROM pgstate.runs")[0][0]
    code, _, err = pgstate(database, tmp_path, "rollback", str(run_id), "--yes")
    assert code == 0, err
    assert database.query("SELECT code FROM codes") == [("007",)]


def test_rollback_drops_only_what_the_run_created(database: TestDatabase, tmp_path: Path) -> None:
    database.execute("CREATE TABLE docs (id int, team int, owner int);")
    desired = write(tmp_path, "table: docs\nindexes:\n  - {name: docs_team_idx, columns: [team]}\n")
    assert apply(database, tmp_path, desired)[0] == 0
    run_id = database.query("SELECT max(id) FROM pgstate.runs")[0][0]
    database.execute("CREATE INDEX app_added_idx ON docs (owner);")  # the application's own, since
    code, _, err = pgstate(database, tmp_path, "rollback", str(run_id), "--yes")
    assert code == 0, err
    assert not exists(database, "docs_team_idx")
    assert exists(database, "app_added_idx")


def test_retired_table_comes_back_with_its_owner(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'app_owner') THEN"
        " CREATE ROLE app_owner; END IF; END $$;"
    )
    quiet(database, LEGACY + "ALTER TABLE interviews OWNER TO app_owner;", "interviews")
    desired = write(tmp_path, RETIRE.split("---")[0])
    assert apply(database, tmp_path, desired)[0] == 0
    run_id = database.query("SELECT max(id) FROM pgstate.runs")[0][0]
    code, _, err = pgstate(database, tmp_path, "rollback", str(run_id), "--yes")
    assert code == 0, err
    assert database.query("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'interviews'") == [
        ("app_owner",)
    ]
