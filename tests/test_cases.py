"""Acceptance cases as data: tests/cases/<kind>/<case>/ holds before.sql, desired/*.yaml, expected.yaml and an
expected.sql golden (the plan as SQL).

For each case, on each server, the laws every kind must keep:
- export: the live state before the change, exported (the objects the desired files name), plans nothing;
- plan: the steps and hazards expected, and the plan's SQL as the golden (``PGSTATE_GOLDEN=write`` rewrites them);
- apply: the catalog as expected, then a second plan has no steps and drift finds nothing a plan would change;
- rollback: returns the catalog, object by object, to what it was before (and the rows, unless values were
  converted).
A case may instead expect the plan to fail (`error:` with the exit code and message), a step to be refused
(`refused:`: plan shows it beside the other steps and exits 2, apply refuses with the exit code and message), or
the rollback (`rollback:`), when what the run did cannot be undone (an extension is never downgraded).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from laws import AUTHZ_HAZARDS, Before, apply_converges, export_plans_nothing, pgstate, rollback_restores
from pgharness import TestDatabase

CASES = Path(__file__).parent / "cases"
CASE_NAMES = sorted(str(p.parent.relative_to(CASES)) for p in CASES.rglob("expected.yaml"))
WRITE_GOLDEN = os.environ.get("PGSTATE_GOLDEN") == "write"


def index_definitions(db: TestDatabase, names: list[str]) -> dict[str, str | None]:
    found = {}
    for name in names:
        rows_ = db.query("SELECT pg_get_indexdef(to_regclass(%s))", [name])
        found[name] = rows_[0][0] if rows_ else None
    return found


def golden_sql(db: TestDatabase, text: str) -> str:
    """The plan's SQL without what changes from run to run: the fingerprint, the test database's name."""
    lines = [line for line in text.splitlines() if not line.startswith("-- fingerprint ")]
    return "\n".join(lines).replace(db.name, "{database}") + "\n"


@pytest.mark.parametrize("case_name", CASE_NAMES)
def test_case(database: TestDatabase, case_name: str, tmp_path: Path) -> None:
    case = CASES / case_name
    desired = case / "desired"
    expected: dict[str, Any] = yaml.safe_load((case / "expected.yaml").read_text())
    database.execute((case / "before.sql").read_text())
    for statement in expected.get("setup") or []:  # what a case needs after loading (statistics, ...)
        database.execute(statement)

    export_plans_nothing(database, desired, tmp_path / "exported")
    before = Before.of(database)

    refused = expected.get("refused") or expected.get("error")
    code, out, err = pgstate(database, desired, "plan", "--format", "json")
    if expected.get("refused"):  # plan shows the refused step beside the others (exit 2); apply refuses
        assert code == 2, (code, out, err)
        assert [r for r in json.loads(out)["refusals"] if re.search(refused["message"], r["message"])], out
        args = ["apply", "--yes", "--allow-destructive", "--backup-dir", str(tmp_path / "backups")]
        code, out, err = pgstate(database, desired, *args)
    if refused:
        assert code == refused["exit"], (code, out, err)
        assert re.search(refused["message"], err), err
        return
    assert code == (2 if expected["steps"] else 0), err
    plan = json.loads(out)
    assert [f"{s['action']} {s['target']}" for s in plan["steps"]] == expected["steps"]
    assert sorted({h for s in plan["steps"] for h in s["hazards"]}) == sorted(expected["hazards"])
    code, sql_text, err = pgstate(database, desired, "plan", "--format", "sql")
    _check_golden(case, database, golden_sql(database, sql_text))

    lossy = "data-loss" in expected["hazards"]
    backups = tmp_path / "backups"
    apply_converges(database, desired, backups, destructive=lossy, authz=bool(AUTHZ_HAZARDS & set(expected["hazards"])))
    _check_catalog(database, expected.get("catalog") or {})
    if not plan["steps"]:
        return
    cannot = expected.get("rollback")  # what a rollback must refuse, saying why, before changing anything
    if cannot:
        code, out, err = pgstate(database, desired, "rollback", "1", "--yes", "--force", "--backup-dir", str(backups))
        assert code == cannot["exit"] and re.search(cannot["message"], err), (code, err)
        return
    rollback_restores(database, desired, backups, before)


def _check_golden(case: Path, db: TestDatabase, text: str) -> None:
    """The plan's SQL as expected.sql says, or as expected.pg<major>.sql does where that server prints an
    expression otherwise (PostgreSQL 16+ leaves a view's column names unqualified). Writing goldens: the
    newest server writes expected.sql, an older one its own file only where it differs."""
    default, own = case / "expected.sql", case / f"expected.pg{db.major}.sql"
    if WRITE_GOLDEN:
        if db.major >= 18:
            default.write_text(text)
        elif default.exists() and default.read_text() != text:
            own.write_text(text)
        elif own.exists():
            own.unlink()
    golden = own if own.exists() else default
    assert text == golden.read_text(), f"{golden} differs: PGSTATE_GOLDEN=write rewrites it"


def _check_catalog(db: TestDatabase, catalog: dict[str, Any]) -> None:
    wanted_indexes: dict[str, str] = catalog.get("indexes") or {}
    assert index_definitions(db, list(wanted_indexes)) == wanted_indexes
    for absent in catalog.get("absent") or []:
        assert db.query("SELECT to_regclass(%s)", [absent]) == [(None,)], f"{absent} still exists"
    for target, type_name in (catalog.get("columns") or {}).items():
        found = db.query(
            "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a"
            " WHERE a.attrelid = to_regclass(%s) AND a.attname = %s",
            [target.rsplit(".", 1)[0], _unquote(target.rsplit(".", 1)[1])],
        )
        assert found == [(type_name,)], target
    for check in catalog.get("queries") or []:
        found = [list(row) for row in db.query(check["sql"])]
        assert found == check["rows"], (check["sql"], found)


def _unquote(identifier: str) -> str:
    if identifier.startswith('"'):
        return identifier[1:-1].replace('""', '"')
    return identifier
