"""SQL fragments from YAML are parsed by the server, never run: anything but one expression is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from pgharness import TestDatabase, run_pgstate_inprocess
from test_apply_failures import catalog_state

BEFORE = "CREATE TABLE t (a int, b text, c text); INSERT INTO t VALUES (1, 'x', '1');"

SMUGGLED = {
    "where-second-statement": "indexes:\n  - name: t_a_idx\n    columns: [a]\n    where: 'a = 1); DROP TABLE t; --'\n",
    "where-comment": "indexes:\n  - name: t_a_idx\n    columns: [a]\n    where: 'a = 1 -- '\n",
    "expression-second-statement":
        "indexes:\n  - name: t_b_idx\n    columns: [{expression: 'lower(b)); DROP TABLE t; --'}]\n",
    "expression-extra-key": "indexes:\n  - name: t_b_idx\n    columns: [{expression: 'lower(b)), (a'}]\n",
    "expression-smuggled-predicate":
        "indexes:\n  - name: t_b_idx\n    columns: [{expression: 'lower(b))) WHERE ((true'}]\n",
    "using-second-statement": "columns:\n  c: {type: integer, using: 'c::integer); DROP TABLE t; --'}\n",
    "using-smuggled-subcommand":
        "columns:\n  c: {type: integer, using: 'c::integer), DROP COLUMN b, ALTER COLUMN a TYPE bigint USING (a'}\n",
    "type-smuggled-column": "columns:\n  c: {type: 'integer, x text'}\n",
    "unknown-type": "columns:\n  c: {type: integr}\n",
    "unknown-function": "indexes:\n  - name: t_b_idx\n    columns: [{expression: 'no_such_function(b)'}]\n",
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
    text = "table: nope\ncolumns:\n  a: {type: text}\n" if problem == "missing-table" else (
        "table: t\ncolumns:\n  zzz: {type: text}\n")
    (desired / "t.yaml").write_text(text)
    run = run_pgstate_inprocess(["plan", "--desired", str(desired), "--database-url", database.url])
    assert run.exit_code == 1
    assert "t.yaml:" in run.stderr and "does not exist" in run.stderr and "never creates" in run.stderr
    drift = run_pgstate_inprocess(["drift", "--desired", str(desired), "--database-url", database.url])
    assert drift.exit_code == 2
    assert "does not exist" in drift.stdout
