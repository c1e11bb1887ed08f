"""Acceptance cases as data: tests/cases/<case>/ holds before.sql, desired/*.yaml and expected.yaml.

For each case, on each server: load before.sql, plan (steps and hazards as expected), apply, check the catalog,
then plan again expecting no steps and drift expecting nothing but the unmanaged indexes the case leaves alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from pgharness import TestDatabase, run_pgstate_inprocess

CASES = Path(__file__).parent / "cases"
CASE_NAMES = sorted(p.name for p in CASES.iterdir() if (p / "expected.yaml").exists())


def pgstate(db: TestDatabase, case: Path, *args: str) -> tuple[int, str, str]:
    run = run_pgstate_inprocess([*args, "--desired", str(case / "desired"), "--database-url", db.url])
    return run.exit_code, run.stdout, run.stderr


def index_definitions(db: TestDatabase, names: list[str]) -> dict[str, str | None]:
    found = {}
    for name in names:
        rows = db.query("SELECT pg_get_indexdef(to_regclass(%s))", [name])
        found[name] = rows[0][0] if rows else None
    return found


@pytest.mark.parametrize("case_name", CASE_NAMES)
def test_case(database: TestDatabase, case_name: str, tmp_path: Path) -> None:
    case = CASES / case_name
    expected: dict[str, Any] = yaml.safe_load((case / "expected.yaml").read_text())
    database.execute((case / "before.sql").read_text())

    code, out, err = pgstate(database, case, "plan", "--format", "json")
    assert code == (2 if expected["steps"] else 0), err
    plan = json.loads(out)
    assert [f"{s['action']} {s['target']}" for s in plan["steps"]] == expected["steps"]
    assert sorted({h for s in plan["steps"] for h in s["hazards"]}) == sorted(expected["hazards"])

    destructive = (
        ["--allow-destructive", "--backup-dir", str(tmp_path / "backups")] if "data-loss" in expected["hazards"] else []
    )
    code, out, err = pgstate(database, case, "apply", "--yes", *destructive)
    assert code == 0, err

    catalog = expected.get("catalog") or {}
    wanted_indexes: dict[str, str] = catalog.get("indexes") or {}
    assert index_definitions(database, list(wanted_indexes)) == wanted_indexes
    for absent in catalog.get("absent") or []:
        assert database.query("SELECT to_regclass(%s)", [absent]) == [(None,)], f"{absent} still exists"
    for target, type_name in (catalog.get("columns") or {}).items():
        rows = database.query(
            "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a"
            " WHERE a.attrelid = to_regclass(%s) AND a.attname = %s",
            [target.rsplit(".", 1)[0], _unquote(target.rsplit(".", 1)[1])],
        )
        assert rows == [(type_name,)], target
    assert database.query("SELECT count(*) FROM pg_index WHERE NOT indisvalid") == [(0,)]

    code, out, err = pgstate(database, case, "plan", "--format", "json")
    assert (code, json.loads(out)["steps"]) == (0, []), err
    code, out, err = pgstate(database, case, "drift", "--format", "json")
    findings = json.loads(out)["findings"]
    assert [f for f in findings if f["finding"] != "unmanaged-index"] == []


def _unquote(identifier: str) -> str:
    if identifier.startswith('"'):
        return identifier[1:-1].replace('""', '"')
    return identifier
