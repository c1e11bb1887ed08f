"""The round-trip laws every kind keeps, shared by the case folders and the generated examples:
- export: the live state, exported (the objects the desired files name), plans nothing;
- convergence: after apply, a second plan has no steps and drift finds nothing a plan would change;
- rollback: returns the catalog, object by object, to what it was before (and the rows, unless values were
  converted)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from catalog import differences, rows, snapshot
from pgharness import TestDatabase, run_pgstate_inprocess


def pgstate(db: TestDatabase, desired: Path, *args: str) -> tuple[int, str, str]:
    run = run_pgstate_inprocess([*args, "--desired", str(desired), "--database-url", db.url])
    return run.exit_code, run.stdout, run.stderr


def export_arguments(desired: Path) -> list[str]:
    """`pgstate export` arguments naming every object the desired files declare present."""
    args: list[str] = []
    for path in sorted(desired.rglob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if not document:
                continue
            kind = next(iter(document))
            schema = document.get("schema", "public")
            name = f'"{schema}"."{str(document[kind]).replace(chr(34), chr(34) * 2)}"' if kind != "database" else ""
            if kind == "table" and document.get("present", True) is not False:
                args.append(name)
            elif kind in ("function", "view") and document.get("present", True) is not False:
                args += [f"--{kind}", name]
            elif kind == "database":
                args.append("--database")
            elif kind == "role":
                args += ["--role", str(document["role"])]
    return args


def export_plans_nothing(db: TestDatabase, desired: Path, out: Path) -> None:
    """Export what the desired files name, as it is now; planning the export right away gives no steps."""
    args = export_arguments(desired)
    if not args:
        return
    run = run_pgstate_inprocess(["export", "--out", str(out), "--database-url", db.url, *args])
    if run.exit_code != 0:  # a declared table or function may not exist yet: there is nothing to export then
        assert "not found" in run.stderr, run.stderr
        return
    code, plan_out, err = pgstate(db, out, "plan")
    assert code == 0, plan_out + err


@dataclass(frozen=True)
class Before:
    """The catalog and the rows before a run, to compare a rollback with."""

    catalog: dict[str, dict[str, Any]]
    rows: dict[str, Any]

    @classmethod
    def of(cls, db: TestDatabase) -> Before:
        return cls(snapshot(db), rows(db))


def plan_json(db: TestDatabase, desired: Path) -> tuple[int, dict[str, Any], str]:
    code, out, err = pgstate(db, desired, "plan", "--format", "json")
    return code, (json.loads(out) if out.strip() else {}), err


AUTHZ_HAZARDS = frozenset({"authz-widening", "authz-changed"})


def apply_converges(db: TestDatabase, desired: Path, backups: Path, destructive: bool, *, authz: bool = False) -> None:
    """Apply; then the same desired state plans nothing and drift finds nothing. ``authz``: the plan is meant to
    widen or change who can see rows (the authz hazards)."""
    extra = ["--allow-destructive", "--backup-dir", str(backups)] if destructive else []
    extra += ["--allow-authz-widening"] if authz else []
    code, out, err = pgstate(db, desired, "apply", "--yes", *extra)
    assert code == 0, out + err
    assert db.query("SELECT count(*) FROM pg_index WHERE NOT indisvalid") == [(0,)]
    code, plan, err = plan_json(db, desired)
    assert (code, plan.get("steps")) == (0, []), err or plan
    code, out, err = pgstate(db, desired, "drift", "--format", "json")
    assert json.loads(out)["findings"] == [], out
    assert code == 0, err


def rollback_restores(db: TestDatabase, desired: Path, backups: Path, before: Before) -> None:
    """Roll the last run back: the catalog is the one before, object by object, and so are the rows (the values
    a lossy type change converted come back from the backup, byte for byte), without --force."""
    code, out, err = pgstate(db, desired, "rollback", "1", "--yes", "--backup-dir", str(backups))
    assert code == 0, out + err
    assert differences(before.catalog, snapshot(db)) == []
    assert rows(db) == before.rows
