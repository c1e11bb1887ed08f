"""SQL fragments from YAML are parsed by the server, never run: anything but one expression is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from pgharness import TestDatabase, run_pgstate_inprocess
from test_apply_failures import catalog_state

BEFORE = "CREATE TABLE t (a int, b text, c text); INSERT INTO t VALUES (1, 'x', '1');"

EXPRESSION_INDEX = "indexes:\n  - name: t_b_idx\n    columns: [{expression: '%s'}]\n"
PARTIAL_INDEX = "indexes:\n  - name: t_a_idx\n    columns: [a]\n    where: '%s'\n"
TYPE_CHANGE = "columns:\n  c: {type: %s, using: '%s'}\n"

SMUGGLED = {
    "where-second-statement": PARTIAL_INDEX % "a = 1); DROP TABLE t; --",
    "where-comment": PARTIAL_INDEX % "a = 1 -- ",
    "expression-second-statement": EXPRESSION_INDEX % "lower(b)); DROP TABLE t; --",
    "expression-extra-key": EXPRESSION_INDEX % "lower(b)), (a",
    "expression-smuggled-predicate": EXPRESSION_INDEX % "lower(b))) WHERE ((true",
    "using-second-statement": TYPE_CHANGE % ("integer", "c::integer); DROP TABLE t; --"),
    "using-smuggled-subcommand": TYPE_CHANGE
    % ("integer", "c::integer), DROP COLUMN b, ALTER COLUMN a TYPE bigint USING (a"),
    "using-smuggled-table-subcommands": TYPE_CHANGE
    % ("integer", "c::integer), DISABLE ROW LEVEL SECURITY, ALTER COLUMN a SET DEFAULT (42"),
    "type-smuggled-column": "columns:\n  c: {type: 'integer, x text'}\n",
    "type-with-collation": "columns:\n  c: {type: 'text COLLATE \"C\"'}\n",
    "type-with-not-null": "columns:\n  c: {type: 'integer NOT NULL'}\n",
    "unknown-type": "columns:\n  c: {type: integr}\n",
    "unknown-function": EXPRESSION_INDEX % "no_such_function(b)",
}


@pytest.mark.parametrize("case", sorted(SMUGGLED))
@pytest.mark.parametrize("verb", ["plan", "apply"])
def test_fragment_refused_before_any_change(database: TestDatabase, tmp_path: Path, case: str, verb: str) -> None:
    database.execute(BEFORE)
    desired = tmp_path / "desired"
    desired.mkdir()
    (desired / "t.yaml").write_text("table: t\n" + SMUGGLED[case])
    before = catalog_state(database)
    args = [verb, "--desired", str(desired), "--database-url", database.url] + (["--yes"] if verb == "apply" else [])
    run = run_pgstate_inprocess(args)
    assert run.exit_code == 1, run.stdout + run.stderr
    assert "t.yaml:" in run.stderr
    assert "Traceback" not in run.stderr
    assert catalog_state(database) == before
    assert database.query("SELECT count(*) FROM t") == [(1,)]
    assert database.query("SELECT to_regnamespace('pgstate')") == [(None,)]  # no run was even recorded


@pytest.mark.parametrize("problem", ["missing-table", "missing-column"])
def test_declared_objects_must_exist(database: TestDatabase, tmp_path: Path, problem: str) -> None:
    database.execute(BEFORE)
    desired = tmp_path / "desired"
    desired.mkdir()
    text = (
        "table: nope\ncolumns:\n  a: {type: text}\n"
        if problem == "missing-table"
        else ("table: t\ncolumns:\n  zzz: {type: text}\n")
    )
    (desired / "t.yaml").write_text(text)
    run = run_pgstate_inprocess(["plan", "--desired", str(desired), "--database-url", database.url])
    assert run.exit_code == 1
    assert "t.yaml:" in run.stderr and "does not exist" in run.stderr and "never creates" in run.stderr
    drift = run_pgstate_inprocess(["drift", "--desired", str(desired), "--database-url", database.url])
    assert drift.exit_code == 2
    assert "does not exist" in drift.stdout


def test_a_lost_connection_is_no_refused_fragment(database: TestDatabase) -> None:
    """A connection that dies while fragments are checked goes on as the connection error it is: not a problem
    reported against the desired file, and not an internal error (a savepoint that could not be opened left
    the check with nothing to run)."""
    import psycopg

    from pgstate.catalog.snapshot import read_live
    from pgstate.errors import SourceLocation
    from pgstate.sandbox.session import Sandbox
    from pgstate.source.documents import read_specs

    conn = psycopg.connect(database.url)
    try:
        sandbox = Sandbox(conn, read_live(conn, read_specs([], None)), "1s")
        sandbox.execute(psycopg.sql.SQL("SELECT 1"))  # the rolled-back transaction is open
        database.execute(f"SELECT pg_terminate_backend({conn.info.backend_pid})")
        with pytest.raises(psycopg.OperationalError), sandbox.collect(SourceLocation("t.yaml", 1, 1)):
            sandbox.execute(psycopg.sql.SQL("SELECT 1"))
        assert not sandbox.problems.sorted()
    finally:
        conn.close()


def test_one_refusal_is_one_problem(database: TestDatabase, tmp_path: Path) -> None:
    """A refusal rolls back the savepoint the table's copy was made in: a later kind of the same table (storage
    here) makes the copy again, rather than report ``schema "pg_temp" does not exist`` at its own line."""
    database.execute("CREATE TABLE st (a int)")
    desired = tmp_path / "desired"
    desired.mkdir()
    (desired / "t.yaml").write_text(
        "table: st\nrls: {enabled: true}\npolicies:\n  - {name: bad, command: select, using: 'nosuch = 1'}\n"
        "storage:\n  fillfactor: 80\n"
    )
    run = run_pgstate_inprocess(["plan", "--desired", str(desired), "--database-url", database.url])
    assert run.exit_code == 1, run.stdout + run.stderr
    assert 'column "nosuch" does not exist' in run.stderr, run.stderr
    assert "pg_temp" not in run.stderr, run.stderr
    assert run.stderr.count("t.yaml:") == 1, run.stderr
