"""Returning the managed objects to the state recorded before a run, with the same engine as apply.

Before each run, ``apply`` records the pre-run state of what the plan changes, written as desired YAML by the
kinds (``history.prestate``): each changed object as it was, each created one as absent. ``rollback RUN``
restores the tables the run retired from their verified dumps, then applies that YAML: planned, locked, atomic
and verified like any apply, and recorded as a run of its own. What the pre-run state could not record is named,
and the rollback ends with an error saying so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psycopg

from ..backup.files import MANIFEST_NAME, TableDump
from ..backup.restore import restore_definition, restore_table
from ..backup.tools import DumpTool
from ..db.connection import connect
from ..errors import PgstateError, Refused
from ..execution.apply import ApplyOutcome, Confirm, Say, apply
from ..execution.options import ApplyOptions
from ..model.names import QualifiedName
from ..source.compose import dump_yaml
from ..source.documents import SpecSet, read_specs
from ..source.loader import load_text
from . import runs
from .prestate import STATE_FORMAT, recorded_access

LEGACY_FORMAT = "pgstate-state/1"


@dataclass(frozen=True)
class RollbackOptions:
    apply: ApplyOptions
    force: bool = False


def rollback(url: str, run_id: int, options: RollbackOptions, *, say: Say, confirm: Confirm) -> ApplyOutcome:
    with connect(url) as conn:
        found = runs.read_runs(conn, run_id)
        if not found:
            raise PgstateError(f"there is no run {run_id} in pgstate.runs", hint="list them with `pgstate history`")
        run = found[0]
        if not options.force:
            _refuse_if_changed_later(conn, run)
            _refuse_if_values_were_converted(run)
        specs = pre_run_specs(run, conn)
    retired = _retired_tables(run)

    def restore(conn: psycopg.Connection[Any]) -> None:
        _restore_retired(conn, url, run, retired, say)

    apply_options = replace(options.apply, allow_destructive=True, rollback_of=run_id, prelude=restore)
    outcome = apply(url, specs, apply_options, say=say, confirm=confirm)
    unrestorable = run.pre_state.get("unrestorable") or []
    if unrestorable:
        names = "; ".join(f"{item['object']} ({item['reason']})" for item in unrestorable)
        raise PgstateError(
            f"run {run_id} was rolled back except for what its pre-run state could not record: {names}",
            hint="restore those by hand; the run's backup, if any, holds their data",
        )
    return outcome


def pre_run_specs(run: runs.Run, conn: psycopg.Connection[Any]) -> SpecSet:
    """The recorded pre-run state as specs, read and validated like any desired files."""
    state = run.pre_state
    display = f"pre-run state of run {run.id}"
    if state.get("format") == STATE_FORMAT:
        text = state.get("yaml") or ""
    elif state.get("format") == LEGACY_FORMAT:
        text = _legacy_yaml(state, conn)
    else:
        raise PgstateError(f"run {run.id} was recorded without a restorable pre-run state")
    specs = read_specs(load_text(text, display) if text.strip() else [], None)
    return replace(specs, access=recorded_access(state))


def _legacy_yaml(state: dict[str, Any], conn: psycopg.Connection[Any]) -> str:
    """pgstate 0.1 stored its documents as jsonb, whose keys come back reordered: put each kind first again, and
    write what it listed apart (what the run created) as absent. It named the indexes a run created without their
    table: the catalog says which table holds each now."""
    documents = []
    for document in state.get("documents", []):
        kind = next(key for key in ("table", "function", "view", "database") if key in document)
        documents.append({kind: document[kind], **{k: v for k, v in document.items() if k != kind}})
    for schema, name, types in state.get("absent_functions", []):
        documents.append({"function": name, "schema": schema, "arguments": types, "present": False})
    for schema, name in state.get("absent_views", []):
        documents.append({"view": name, "schema": schema, "present": False})
    for schema, name in state.get("absent_indexes", []):
        row = conn.execute(
            "SELECT t.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t"
            " ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s"
            " AND c.relname = %s",
            [schema, name],
        ).fetchone()
        if row is None:
            continue  # gone already
        table = next((d for d in documents if d.get("table") == row[0] and d.get("schema") == schema), None)
        if table is None:
            table = {"table": row[0], "schema": schema}
            documents.append(table)
        table.setdefault("indexes", []).append({"name": name, "present": False})
        table.pop("prune_indexes", None)  # the indexes it listed are kept or made absent one by one
    return dump_yaml(documents)


def _touched(step: dict[str, Any]) -> set[tuple[str, ...]]:
    """What a recorded step touches: its subject and its table (older records name them as text only)."""
    found: set[tuple[str, ...]] = set()
    subject = step.get("subject")
    if subject:
        found.add((subject["kind"], *subject["parts"]))
    label = step.get("table") or step.get("target")
    if label:
        found.add(("label", label))
    return found


def _refuse_if_changed_later(conn: psycopg.Connection[Any], run: runs.Run) -> None:
    """A later run that changed the same objects would be undone too: refuse unless --force. A run changed
    something when any step of it is applied: a failed run whose transaction had committed (its upkeep failed,
    or it did not converge) counts."""
    touched = {item for step in run.plan.get("steps", []) for item in _touched(step)}
    for later in runs.read_runs(conn):
        changed = later.status == "applied" or any(step.get("status") == "applied" for step in later.steps)
        if later.id <= run.id or not changed or later.rollback_of == run.id:
            continue
        overlap = touched & {item for step in later.plan.get("steps", []) for item in _touched(step)}
        if overlap:
            names = sorted(item[1] if item[0] == "label" else ".".join(item[1:]) for item in overlap)
            raise Refused(
                f"run {later.id} changed the same objects after run {run.id}: {', '.join(dict.fromkeys(names))}",
                hint=f"roll back run {later.id} first, or pass --force to return them to their state before run"
                f" {run.id} anyway",
            )


def _refuse_if_values_were_converted(run: runs.Run) -> None:
    """A lossy type change converted values; changing the type back does not bring the old values back."""
    lossy = [
        step["target"]
        for step in run.plan.get("steps", [])
        if step["action"] == "alter-column-type" and "data-loss" in step.get("hazards", [])
    ]
    if lossy:
        raise Refused(
            f"run {run.id} converted values that the types alone cannot restore: {', '.join(lossy)}",
            hint=f"rollback would change the types back but not the values (the originals are in {run.backup});"
            " pass --force to roll back anyway",
        )


def _retired_tables(run: runs.Run) -> list[str]:
    found = []
    for step in run.plan.get("steps", []):
        if step["action"] != "retire-table":
            continue
        subject = step.get("subject")
        found.append(str(QualifiedName(*subject["parts"][:2])) if subject else step["target"])
    return found


def _restore_retired(conn: psycopg.Connection[Any], url: str, run: runs.Run, retired: list[str], say: Say) -> None:
    """Bring back, from the run's verified dumps, the tables it retired that are still gone."""
    if not retired:
        return
    if run.backup is None:
        raise PgstateError(f"run {run.id} retired {', '.join(retired)} without a backup: they cannot come back")
    manifest = json.loads((Path(run.backup) / MANIFEST_NAME).read_text(encoding="utf-8"))
    tool = DumpTool(Path(manifest["pg_dump"]["path"]), manifest["pg_dump"]["version"])
    for entry in manifest["tables"]:
        name = QualifiedName(entry["schema"], entry["table"])
        if str(name) not in retired:
            continue
        exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", [name.identifier().as_string(conn)]).fetchone()
        if exists and exists[0]:
            continue  # already back: a second rollback changes nothing
        dump = TableDump(name, Path(run.backup) / entry["file"], entry["rows"], entry["sha256"], entry["bytes"])
        say(f"restore {name}: {dump.rows} rows from {dump.file}")
        restore_table(url, dump, tool.bin_dir)
    # Views dropped with a retired table (cascade) come back from their definitions. Foreign keys of other
    # tables into it do not: those tables still exist, and their dumps would re-create them whole.
    for entry in manifest.get("definitions", []):
        file = Path(run.backup) / entry["file"]
        if file.name.startswith("definition-") and _defines_missing_view(conn, file):
            say(f"restore the view defined in {file.name}")
            restore_definition(url, file, entry["sha256"], tool.bin_dir)


def _defines_missing_view(conn: psycopg.Connection[Any], file: Path) -> bool:
    """Whether a definition dump creates a view that does not exist now (read from pg_dump's own header)."""
    for line in file.read_text(encoding="utf-8").splitlines():
        # pg_dump writes "-- Name: v; Type: VIEW; Schema: public; Owner: -" before each object.
        if line.startswith("-- Name: ") and "; Type: VIEW;" in line:
            name = line.removeprefix("-- Name: ").split("; Type:")[0]
            schema = line.split("; Schema: ")[1].split(";")[0]
            found = conn.execute(
                "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = %s AND c.relname = %s",
                [schema, name],
            ).fetchone()
            return found is None
    return False
