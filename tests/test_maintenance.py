"""Maintenance as desired state: database settings, extensions, storage parameters and declared upkeep."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import psycopg

from pgharness import TestDatabase
from pgharness import pgstate_json as pgstate
from pgharness import plan_steps as steps
from pgharness import write_desired as write


def database_settings(db: TestDatabase) -> list[str]:
    rows = db.query(
        "SELECT coalesce(setconfig, '{}') FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase"
        " WHERE d.datname = current_database() AND s.setrole = 0"
    )
    return sorted(rows[0][0]) if rows else []


def apply(db: TestDatabase, directory: Path) -> tuple[int, Any, str]:
    return pgstate(db, directory, "apply", "--yes")


def test_settings_set_changed_reset_and_equivalent_spellings(database: TestDatabase, tmp_path: Path) -> None:
    # Someone else's setting: pgstate never resets it.
    database.execute(f"ALTER DATABASE \"{database.name}\" SET statement_timeout = '30s'")
    first = write(tmp_path, "database:\n  settings:\n    log_min_duration_statement: 1000\n    jit: false\n")
    code, plan, err = pgstate(database, first, "plan")
    assert code == 2, err
    assert steps(plan) == ["set-setting jit", "set-setting log_min_duration_statement"]
    assert apply(database, first)[0] == 0
    assert database_settings(database) == ["jit=off", "log_min_duration_statement=1000", "statement_timeout=30s"]
    # Equivalent spellings plan nothing: 1s = 1000 (milliseconds), off = false.
    same = write(tmp_path, "database:\n  settings:\n    log_min_duration_statement: 1s\n    jit: 'off'\n")
    code, plan, err = pgstate(database, same, "plan")
    assert (code, plan["steps"]) == (0, []), err
    # Changed, then removed from the YAML: reset, but only what pgstate set.
    changed = write(tmp_path, "database:\n  settings:\n    log_min_duration_statement: 2s\n")
    code, plan, err = pgstate(database, changed, "plan")
    assert steps(plan) == ["set-setting log_min_duration_statement", "reset-setting jit"], err
    assert apply(database, changed)[0] == 0
    assert database_settings(database) == ["log_min_duration_statement=2s", "statement_timeout=30s"]
    assert pgstate(database, changed, "plan")[0] == 0
    assert pgstate(database, changed, "drift")[0] == 0


def test_unknown_setting_is_refused(database: TestDatabase, tmp_path: Path) -> None:
    directory = write(tmp_path, "database:\n  settings:\n    log_min_duration_statment: 1000\n")
    code, _, err = pgstate(database, directory, "plan")
    assert code == 1
    assert "d0.yaml:3:5: unknown setting 'log_min_duration_statment'" in err
    assert database_settings(database) == []


def test_restart_only_setting_is_reported_not_applied(database: TestDatabase, tmp_path: Path) -> None:
    directory = write(tmp_path, "database:\n  settings:\n    shared_buffers: 256MB\n    max_connections: 100\n")
    code, plan, err = pgstate(database, directory, "plan")
    assert code == 0, err  # no step pgstate could take
    assert plan["steps"] == []
    assert any("shared_buffers = '256MB'" in n and "restart" in n for n in plan["notices"])
    assert not any("max_connections" in n for n in plan["notices"])  # already what the server runs with
    assert apply(database, directory)[0] == 0
    assert database_settings(database) == []
    code, drift, _ = pgstate(database, directory, "drift")
    assert code == 2 and [f["target"] for f in drift["findings"]] == ["shared_buffers"]


def test_extension_needing_preload_is_created_and_reported(database: TestDatabase, tmp_path: Path) -> None:
    directory = write(tmp_path, "database:\n  extensions: [pg_stat_statements]\n")
    code, plan, err = pgstate(database, directory, "plan")
    assert code == 2, err
    assert steps(plan) == ["create-extension pg_stat_statements"]
    assert any("shared_preload_libraries = 'pg_stat_statements'" in n and "restart" in n for n in plan["notices"])
    assert apply(database, directory)[0] == 0
    assert database.query("SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'") == [(1,)]
    # Installed but not preloaded: drift shows it until the server runs with it.
    code, drift, _ = pgstate(database, directory, "drift")
    assert code == 2
    assert "shared_preload_libraries" in drift["findings"][0]["message"]
    assert pgstate(database, directory, "plan")[1]["steps"] == []


def test_storage_parameters_set_and_reset(database: TestDatabase, tmp_path: Path) -> None:
    database.execute("CREATE TABLE events (id int, body text); ALTER TABLE events SET (autovacuum_enabled = true);")
    table = "table: events\nstorage:\n  autovacuum_vacuum_scale_factor: 0.05\n  fillfactor: 90\n"
    code, plan, err = pgstate(database, write(tmp_path, table), "plan")
    assert code == 2, err
    assert [(s["action"], s["target"], s["lock"]) for s in plan["steps"]] == [
        ("set-storage", "public.events.autovacuum_vacuum_scale_factor", "SHARE UPDATE EXCLUSIVE"),
        ("set-storage", "public.events.fillfactor", "SHARE UPDATE EXCLUSIVE"),
    ]
    assert apply(database, write(tmp_path, table))[0] == 0
    options = database.query("SELECT reloptions FROM pg_class WHERE relname = 'events'")[0][0]
    assert sorted(options) == ["autovacuum_enabled=true", "autovacuum_vacuum_scale_factor=0.05", "fillfactor=90"]
    same = table.replace("0.05", "0.050")
    assert pgstate(database, write(tmp_path, same), "plan")[0] == 0
    # A parameter taking ACCESS EXCLUSIVE says so; one no longer listed is reset, someone else's stays.
    other = "table: events\nstorage:\n  fillfactor: 90\n  toast.autovacuum_enabled: false\n"
    code, plan, err = pgstate(database, write(tmp_path, other), "plan")
    assert [(s["action"], s["target"]) for s in plan["steps"]] == [
        ("set-storage", "public.events.toast.autovacuum_enabled"),
        ("reset-storage", "public.events.autovacuum_vacuum_scale_factor"),
    ], err
    assert apply(database, write(tmp_path, other))[0] == 0
    options = database.query("SELECT reloptions FROM pg_class WHERE relname = 'events'")[0][0]
    assert sorted(options) == ["autovacuum_enabled=true", "fillfactor=90"]
    assert pgstate(database, write(tmp_path, other), "plan")[0] == 0
    bad = write(tmp_path, "table: events\nstorage:\n  fillfactr: 90\n")
    code, _, err = pgstate(database, bad, "plan")
    assert code == 1 and "d0.yaml:3:3" in err and "fillfactr" in err


def test_upkeep_analyze_vacuum_reindex(database: TestDatabase, tmp_path: Path) -> None:
    with database.connect() as conn:
        conn.execute(
            b"CREATE TABLE never_analyzed (id int) WITH (autovacuum_enabled = false);"
            b"INSERT INTO never_analyzed SELECT generate_series(1, 1000);"
            b"CREATE TABLE churn (id int PRIMARY KEY, v text) WITH (autovacuum_enabled = false);"
            b"INSERT INTO churn SELECT g, 'x' FROM generate_series(1, 2000) g;"
            b"ANALYZE churn;"
            b"DELETE FROM churn WHERE id <= 1500;"
            b"CREATE TABLE dup (v int) WITH (autovacuum_enabled = false); INSERT INTO dup VALUES (1), (1);"
            b"ANALYZE dup;"
        )
        # An INVALID index made by a failed concurrent build (duplicates), as it happens in real life.
        with contextlib.suppress(psycopg.errors.UniqueViolation):  # the failure leaves the index INVALID
            conn.execute("CREATE UNIQUE INDEX CONCURRENTLY dup_v_idx ON dup (v)")
        conn.execute("DELETE FROM dup WHERE ctid = (SELECT max(ctid) FROM dup)")
        conn.execute("ANALYZE dup")
        conn.execute("SELECT pg_stat_force_next_flush()")  # the deletes must be in the statistics now
        conn.execute("SELECT 1")
    directory = write(
        tmp_path,
        "database:\n  maintenance:\n    analyze_max_age: 1d\n    vacuum_dead_ratio: 0.2\n    reindex_invalid: true\n",
        "table: never_analyzed\n---\ntable: churn\n---\ntable: dup\n",
    )
    code, plan, err = pgstate(database, directory, "plan")
    assert code == 2, err
    assert steps(plan) == [
        "reindex-index public.dup_v_idx",
        "vacuum-table public.churn",  # 1,500 dead of 2,000
        "vacuum-table public.dup",  # 1 dead of 2
        "analyze-table public.never_analyzed",
    ]
    assert all(s["phase"] == "maintenance" and not s["transactional"] for s in plan["steps"])
    code, drift, _ = pgstate(database, directory, "drift")
    # One finding per step: the INVALID index is upkeep's to rebuild, not also an index kind's note.
    assert code == 2 and {f["finding"] for f in drift["findings"]} == {"upkeep"}
    assert len(drift["findings"]) == len(plan["steps"])
    assert [f for f in drift["findings"] if "dup_v_idx" in f["target"] and "INVALID" in json.dumps(f)]
    code, _, err = apply(database, directory)
    assert code == 0, err
    assert database.query("SELECT indisvalid FROM pg_index WHERE indexrelid = 'dup_v_idx'::regclass") == [(True,)]
    assert database.query(
        "SELECT count(*) FROM pg_stat_user_tables WHERE relname = 'never_analyzed' AND last_analyze IS NOT NULL"
    ) == [(1,)]
    assert database.query("SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'churn'") == [(0,)]
    # A second apply does nothing.
    code, result, err = apply(database, directory)
    assert (code, result["status"]) == (0, "no changes"), err


def test_failed_upkeep_keeps_the_committed_schema_steps(database: TestDatabase, tmp_path: Path) -> None:
    """An index built in the run stays when upkeep fails afterwards: only the upkeep's own leftovers go."""
    with database.connect() as conn:
        conn.execute(
            b"CREATE TABLE t (v int, w int) WITH (autovacuum_enabled = false); INSERT INTO t VALUES (1, 1), (1, 2);"
        )
        with contextlib.suppress(psycopg.errors.UniqueViolation):  # leaves t_v_idx INVALID, duplicates remain
            conn.execute("CREATE UNIQUE INDEX CONCURRENTLY t_v_idx ON t (v)")
    directory = write(
        tmp_path,
        "database:\n  maintenance:\n    reindex_invalid: true\n",
        "table: t\nindexes:\n  - {name: t_w_idx, columns: [w]}\n",
    )
    code, _, err = apply(database, directory)
    assert code == 1
    assert "run 1 committed its changes, then upkeep failed" in err and "pgstate rollback 1" in err
    status, error = database.query("SELECT status, error FROM pgstate.runs")[0]
    assert status == "incomplete" and "committed: build-index public.t_w_idx" in error, error
    assert database.query("SELECT indisvalid FROM pg_index WHERE indexrelid = 't_w_idx'::regclass") == [(True,)]
    # The record says what happened: the committed build stays committed (a rollback's overlap check sees it).
    steps = database.query("SELECT action, target, status FROM pgstate.run_steps ORDER BY position")
    assert steps == [("build-index", "public.t_w_idx", "committed"), ("reindex-index", "public.t_v_idx", "failed")]
    assert database.query("SELECT count(*) FROM pg_class WHERE relname = 't_v_idx_ccnew'") == [(0,)]


def test_a_committed_run_whose_upkeep_failed_still_blocks_rolling_back_what_it_changed(
    database: TestDatabase, tmp_path: Path
) -> None:
    """Run 2 replaced an index and committed, then its upkeep failed: rolling back run 1 would undo run 2's
    committed change too, so it is refused as for any later run that changed the same objects."""
    database.execute("CREATE TABLE t (v int, w int) WITH (autovacuum_enabled = false); INSERT INTO t VALUES (1, 1);")
    for run in ("1", "2"):
        (tmp_path / run).mkdir()
    code, _, err = apply(database, write(tmp_path / "1", "table: t\nindexes:\n  - {name: t_w_idx, columns: [w]}\n"))
    assert code == 0, err
    with database.connect() as conn:
        conn.execute("INSERT INTO t VALUES (1, 2)")
        with contextlib.suppress(psycopg.errors.UniqueViolation):  # an INVALID index that upkeep cannot rebuild
            conn.execute("CREATE UNIQUE INDEX CONCURRENTLY t_v_idx ON t (v)")
    second = write(
        tmp_path / "2",
        "database:\n  maintenance:\n    reindex_invalid: true\n",
        "table: t\nindexes:\n  - {name: t_w_idx, columns: [w, v]}\n",
    )
    code, _, err = apply(database, second)
    assert code == 1 and "upkeep failed" in err, err
    code, _, err = pgstate(database, second, "rollback", "1", "--yes")
    assert code == 3, err
    assert "run 2 changed the same objects after run 1" in err, err
    assert database.query("SELECT pg_get_indexdef('t_w_idx'::regclass)")[0][0].endswith("(w, v)")
