"""Managed scope: pgstate never touches what is not declared, even when names collide or a run is interrupted."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from pgharness import TestDatabase, run_pgstate_inprocess
from test_apply_failures import apply_waiting_in_a_build, catalog_state, invalid_indexes, last_run_status


def desired_dir(tmp_path: Path, text: str) -> Path:
    directory = tmp_path / "desired"
    directory.mkdir(exist_ok=True)
    (directory / "t.yaml").write_text(text)
    return directory


def pgstate(db: TestDatabase, desired: Path, *args: str) -> tuple[int, str, str]:
    run = run_pgstate_inprocess([*args, "--desired", str(desired), "--database-url", db.url])
    return run.exit_code, run.stdout, run.stderr


def test_index_name_of_another_table_is_refused(database: TestDatabase, tmp_path: Path) -> None:
    database.execute("CREATE TABLE a (x int); CREATE TABLE b (y int); CREATE UNIQUE INDEX shared_idx ON b (y);")
    desired = desired_dir(tmp_path, "table: a\nindexes:\n  - {name: shared_idx, columns: [x]}\n")
    before = catalog_state(database)
    code, _, err = pgstate(database, desired, "apply", "--yes")
    assert code == 1
    assert "t.yaml:3:5: the index name public.shared_idx is taken (by the index on public.b)" in err
    assert catalog_state(database) == before


def test_unnamed_expression_index_cannot_take_a_declared_name(database: TestDatabase, tmp_path: Path) -> None:
    database.execute("CREATE TABLE t (a int, b text);")
    desired = desired_dir(
        tmp_path,
        "table: t\nindexes:\n  - {name: t_lower_idx, columns: [a]}\n  - columns: [{expression: lower(b)}]\n",
    )
    code, _, err = pgstate(database, desired, "plan")
    assert code == 2, err
    code, _, err = pgstate(database, desired, "apply", "--yes")
    assert code == 0, err
    names = {
        row[0]
        for row in database.query("SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = 't'::regclass")
    }
    assert names == {"t_lower_idx", "t_lower_idx1"}  # as PostgreSQL itself would have named the second


def test_same_name_twice_is_refused(database: TestDatabase, tmp_path: Path) -> None:
    database.execute("CREATE TABLE t (a int, b text); CREATE TABLE u (c int);")
    desired = desired_dir(
        tmp_path,
        "table: t\nindexes:\n  - {name: same_idx, columns: [a]}\n---\ntable: u\nindexes:\n"
        "  - {name: same_idx, columns: [c]}\n",
    )
    code, _, err = pgstate(database, desired, "plan")
    assert code == 1
    assert "same_idx" in err


def test_constraint_index_name_with_another_definition_is_refused(database: TestDatabase, tmp_path: Path) -> None:
    database.execute("CREATE TABLE t (id int PRIMARY KEY, email text);")
    desired = desired_dir(tmp_path, "table: t\nindexes:\n  - {name: t_pkey, columns: [email]}\n")
    code, _, err = pgstate(database, desired, "plan")
    assert code == 1
    assert "backs the constraint 't_pkey'" in err


def test_a_foreign_index_under_the_replacement_name_is_not_dropped(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(
        "CREATE TABLE t (a int, b int); CREATE INDEX t_a_idx ON t (a);CREATE INDEX t_a_idx_pgstate ON t (b);"
    )
    desired = desired_dir(tmp_path, "table: t\nindexes:\n  - {name: t_a_idx, columns: [a, b]}\n")
    before = catalog_state(database)
    code, _, err = pgstate(database, desired, "apply", "--yes")
    assert code == 1
    assert "t_a_idx_pgstate is in the way" in err
    assert catalog_state(database) == before


def test_indexes_dropped_before_a_type_change_that_would_break_them(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(
        "CREATE TABLE t (a text); INSERT INTO t VALUES ('1'), ('2');CREATE INDEX t_lower_idx ON t (lower(a));"
    )
    desired = desired_dir(tmp_path, "table: t\ncolumns:\n  a: {type: integer}\nindexes: []\nprune_indexes: true\n")
    code, out, err = pgstate(database, desired, "plan", "--format", "json")
    assert code == 2, err
    steps = [f"{s['action']} {s['target']}" for s in json.loads(out)["steps"]]
    assert steps == ["drop-index public.t_lower_idx", "alter-column-type public.t.a"]
    code, _, err = pgstate(
        database, desired, "apply", "--yes", "--allow-destructive", "--backup-dir", str(tmp_path / "backups")
    )
    assert code == 0, err
    assert database.query("SELECT to_regclass('t_lower_idx')") == [(None,)]


def test_out_of_range_lock_timeout_changes_nothing(database: TestDatabase, tmp_path: Path) -> None:
    database.execute("CREATE TABLE t (a int);")
    desired = desired_dir(tmp_path, "table: t\nindexes:\n  - {name: t_a_idx, columns: [a]}\n")
    for value in ("30d", "0ms", "0s"):
        code, _, err = pgstate(database, desired, "apply", "--yes", "--lock-timeout", value)
        assert code == 1, value
        assert "out of range" in err
    for value in ("0", "2"):  # a number without a unit would be milliseconds to the server: refused
        code, _, err = pgstate(database, desired, "apply", "--yes", "--lock-timeout", value)
        assert code == 1, value
        assert "is not a duration" in err
    assert database.query("SELECT to_regnamespace('pgstate')") == [(None,)]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_build_leaves_no_invalid_index(
    database: TestDatabase, tmp_path: Path, signum: signal.Signals
) -> None:
    """Ctrl-C (SIGINT) or SIGTERM (a CI job cancelled) mid-build: what was being built is dropped, the run says
    so, the catalog is as before."""
    database.execute("CREATE TABLE t (a int, b int); INSERT INTO t SELECT g, g FROM generate_series(1, 1000) g;")
    desired = desired_dir(tmp_path, "table: t\nindexes:\n  - {name: t_a_idx, columns: [a]}\n")
    before = catalog_state(database)
    process, holder = apply_waiting_in_a_build(database, desired)
    try:
        process.send_signal(signum)
        time.sleep(0.5)
    finally:
        holder.rollback()
        holder.close()
    _, err = process.communicate(timeout=60)
    assert process.returncode == 1, err
    assert "interrupted" in err
    assert catalog_state(database) == before, err
    assert invalid_indexes(database) == 0, err
    assert last_run_status(database) == "rolled back", err
    name = "Ctrl-C" if signum == signal.SIGINT else "SIGTERM"
    assert database.query("SELECT error FROM pgstate.runs")[0][0] == f"interrupted ({name})"


@pytest.mark.parametrize("delay", [0.0, 0.003, 0.006, 0.01, 0.02])
def test_ctrl_c_as_the_build_ends_leaves_the_run_whole(database: TestDatabase, tmp_path: Path, delay: float) -> None:
    """Ctrl-C just as the build returns (between its end and the line that notes it, while the record is written,
    ...): the run is rolled back and the catalog as before, or, when the signal came after the run ended, applied
    in full, or, after the commit, incomplete with the change whole; never an index left behind by an undone run,
    an invalid one, or a run left 'running'. Found by a failing CI run."""
    database.execute("CREATE TABLE t (a int, b int); INSERT INTO t SELECT g, g FROM generate_series(1, 1000) g;")
    desired = desired_dir(tmp_path, "table: t\nindexes:\n  - {name: t_a_idx, columns: [a]}\n")
    before = catalog_state(database)
    process, holder = apply_waiting_in_a_build(database, desired)
    holder.rollback()  # the build goes on and ends within milliseconds
    holder.close()
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    status = last_run_status(database)
    assert invalid_indexes(database) == 0, err
    if status == "applied":
        assert [row[1] for row in catalog_state(database) if row[0] == "index"] == ["t_a_idx"], err
    elif status == "incomplete":
        # The signal came after the commit (nothing to undo by then) and before the upkeep and the check: the
        # change is whole and in place, and the run says it was not checked, with the way back.
        assert process.returncode == 1, err
        assert [row[1] for row in catalog_state(database) if row[0] == "index"] == ["t_a_idx"], err
        assert "committed its changes, then was interrupted" in err and "pgstate rollback" in err, err
    else:
        assert (status, process.returncode) == ("rolled back", 1), err
        assert catalog_state(database) == before, err
