"""Returning the managed objects to the state recorded before a run, with the same engine as apply.

Before each run, ``apply`` records the pre-run state of what the plan changes, written as desired YAML by the
kinds (``history.prestate``): each changed object as it was, each created one as absent. ``rollback RUN``
applies that YAML, with steps that give back what only the run's backup holds (``execution.restoration``: the
tables it retired, the values its lossy type changes converted): planned and shown before anything changes,
locked, atomic and verified like any apply, and recorded as a run of its own. What the pre-run state could not
record is named, and the rollback ends with an error saying so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from ..backup.content import TableContent
from ..backup.files import MANIFEST_NAME, TableDump
from ..backup.restore import TableRestore, primary_keys
from ..backup.tools import DumpTool
from ..backup.values import ValueRestore
from ..db.connection import connect
from ..db.pooler import refuse_transaction_pooler
from ..db.recovery import refuse_standby
from ..errors import PgstateError, Refused
from ..execution.apply import ApplyOutcome, Confirm, Say, apply
from ..execution.options import ApplyOptions
from ..execution.restoration import Restoration
from ..kinds import all_kinds
from ..model.keys import table_key
from ..model.names import QualifiedName
from ..planning.steps import Action, Lock, Phase, Step
from ..source.compose import dump_yaml
from ..source.documents import SpecSet, read_specs
from ..source.loader import load_text
from . import runs
from .prestate import STATE_FORMAT, recorded_access
from .status import RunStatus, step_changed

LEGACY_FORMAT = "pgstate-state/1"


@dataclass(frozen=True)
class RollbackOptions:
    apply: ApplyOptions
    force: bool = False


def rollback(url: str, run_id: int, options: RollbackOptions, *, say: Say, confirm: Confirm) -> ApplyOutcome:
    """Plan the return to the state before run ``run_id`` (with what only its backup holds), show it, and after
    the confirmation carry it out as a recorded run of its own. Nothing changes before the confirmation."""
    with connect(url) as conn:
        refuse_standby(conn, "rollback")  # before reading the run: apply would refuse it anyway
        refuse_transaction_pooler(url, conn, "rollback")
        found = runs.read_runs(conn, run_id)
        if not found:
            raise PgstateError(f"there is no run {run_id} in pgstate.runs", hint="list them with `pgstate history`")
        run = found[0]
        if not options.force:
            _refuse_if_changed_later(conn, run)
        full = pre_run_specs(run, conn)
        restoration = plan_restoration(conn, run, full)
    restored = {step.table for step in restoration.tables if step.table is not None}
    apply_options = replace(
        options.apply, allow_destructive=True, allow_authz_widening=True, rollback_of=run_id, restoration=restoration
    )
    outcome = apply(url, without_tables(full, restored), apply_options, say=say, confirm=confirm)
    unrestorable = run.pre_state.get("unrestorable") or []
    if unrestorable:
        names = "; ".join(f"{item['object']} ({item['reason']})" for item in unrestorable)
        raise PgstateError(
            f"run {run_id} was rolled back except for what its pre-run state could not record: {names}",
            hint="restore those by hand; the run's backup, if any, holds their data",
        )
    return outcome


def without_tables(specs: SpecSet, tables: set[QualifiedName]) -> SpecSet:
    """The specs without the documents of ``tables`` (tables that are not there yet: they cannot be planned)."""
    if not tables:
        return specs
    of_tables = {kind.name for kind in all_kinds() if kind.document == "table"}  # keys that start with the table
    headers = tuple(h for h in specs.headers if not (h.kind == "table" and h.qualified in tables))
    by_kind = {
        kind: tuple(spec for spec in found if kind not in of_tables or spec.key.table not in tables)
        for kind, found in specs.by_kind.items()
    }
    return replace(specs, headers=headers, by_kind=by_kind)


def plan_restoration(conn: psycopg.Connection[Any], run: runs.Run, full: SpecSet) -> Restoration:
    """The steps that give back what only the run's backup holds: its retired tables, still gone, and the values
    its lossy type changes converted. Refused, naming the reason, when that cannot be done safely."""
    retired = [name for name in _retired_tables(run) if not _exists(conn, name)]
    lossy = _lossy_columns(run)
    if not retired and not lossy:
        return Restoration(run.id, full=full)
    manifest = _manifest(run, retired + list(lossy))
    tool = DumpTool(Path(manifest["pg_dump"]["path"]), manifest["pg_dump"]["version"])
    dumps = {
        QualifiedName(entry["schema"], entry["table"]): TableDump(
            QualifiedName(entry["schema"], entry["table"]),
            Path(str(run.backup)) / entry["file"],
            entry["rows"],
            entry["sha256"],
            entry["bytes"],
            entry.get("content_digest"),
        )
        for entry in manifest["tables"]
    }
    tables = tuple(_restore_table_step(conn, run, dumps, name, manifest, tool) for name in retired)
    values: list[Step] = []
    unchanged: dict[str, TableContent] = {}
    keys = primary_keys(conn, [table for table in lossy if table not in retired])
    for table, columns in lossy.items():
        if table in retired:
            continue  # it comes back whole from its dump, with its original values
        dump = dumps.get(table)
        if dump is None:
            raise Refused(f"run {run.id} converted {table} without a backup of it: its original values are lost")
        left = run.converted.get(str(table))
        if left is None:
            raise Refused(
                f"run {run.id} did not record what its type change left in {table} (pgstate 0.2 or older): its"
                " original values cannot be given back safely",
                hint="change the types back by editing the desired files and applying; the original values are"
                f" in {run.backup}",
            )
        key = keys.get(table)
        if not key:
            raise Refused(
                f"{table} has no primary key: the original values in the backup cannot be matched to its rows",
                hint="change the types back by editing the desired files and applying; the original values are"
                f" in {run.backup}",
            )
        restore = ValueRestore.of(table, tuple(columns), key, dump)
        values.append(
            Step(
                action=Action.RESTORE_VALUES,
                subject=table_key("table", table),
                statement=sql.SQL(";\n").join(restore.statements()),
                lock=Lock.ACCESS_EXCLUSIVE,
                phase=Phase.TRANSACTION,
                summary=f"give back the original values of {', '.join(columns)} from the backup ({dump.rows} rows,"
                f" matched by {', '.join(key)})",
                table=table,
                payload=restore,
            )
        )
        unchanged[str(table)] = TableContent(int(left["rows"]), str(left["digest"]))
    return Restoration(run.id, tables, tuple(values), unchanged, full)


def _exists(conn: psycopg.Connection[Any], name: QualifiedName) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", [name.identifier().as_string(conn)]).fetchone()
    return bool(row and row[0])


def _lossy_columns(run: runs.Run) -> dict[QualifiedName, list[str]]:
    """table -> the columns whose values the run's lossy type changes converted."""
    found: dict[QualifiedName, list[str]] = {}
    for step in run.plan.get("steps", []):
        if step["action"] == "alter-column-type" and "data-loss" in step.get("hazards", []):
            schema, table, column = step["subject"]["parts"][:3]
            found.setdefault(QualifiedName(schema, table), []).append(column)
    return found


def _manifest(run: runs.Run, needed: list[QualifiedName]) -> dict[str, Any]:
    names = ", ".join(str(name) for name in needed)
    if run.backup is None:
        raise PgstateError(f"run {run.id} has no backup, and only a backup holds {names}")
    try:
        manifest: dict[str, Any] = json.loads((Path(run.backup) / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise PgstateError(
            f"cannot read the backup of run {run.id} ({run.backup}), which holds {names}: {error}",
            hint="run the rollback where the backup directory is (--backup-dir does not matter: the run names it)",
        ) from None
    return manifest


def _restore_table_step(
    conn: psycopg.Connection[Any],
    run: runs.Run,
    dumps: dict[QualifiedName, TableDump],
    name: QualifiedName,
    manifest: dict[str, Any],
    tool: DumpTool,
) -> Step:
    dump = dumps.get(name)
    if dump is None:
        raise PgstateError(f"run {run.id} retired {name} without a backup of it: it cannot come back")
    # Views dropped with the retired table (cascade) come back from their definitions. Foreign keys of other
    # tables into it do not: those tables still exist, and their dumps would re-create them whole.
    views = tuple(
        (Path(str(run.backup)) / entry["file"], str(entry["sha256"]))
        for entry in manifest.get("definitions", [])
        if Path(entry["file"]).name.startswith("definition-")
        and _defines_missing_view(conn, Path(str(run.backup)) / entry["file"])
    )
    shown = f"{dump.file.name}" + "".join(f", {file.name}" for file, _ in views)
    return Step(
        action=Action.RESTORE_TABLE,
        subject=table_key("table", name),
        # What psql replays, shown as a comment: it is not a statement pgstate runs itself.
        statement=sql.SQL("-- psql --single-transaction < {}").format(sql.Literal(shown)),
        lock=Lock.NONE,
        phase=Phase.RESTORE,
        summary=f"restore {name} from its verified dump ({dump.rows} rows)"
        + (f" with {len(views)} view(s) dropped with it" if views else ""),
        table=name,
        payload=TableRestore(dump, tool.bin_dir, views),
        # If a later step fails, the table goes again: it was not there before the rollback, and its dump stays.
        undo=sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(name.identifier()),
    )


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
    something when any step of it committed: a run whose upkeep failed after its commit, or that did not
    converge, or that was interrupted after its commit, counts."""
    touched = {item for step in run.plan.get("steps", []) for item in _touched(step)}
    for later in runs.read_runs(conn):
        changed = later.status == RunStatus.APPLIED or any(step_changed(step.get("status", "")) for step in later.steps)
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


def _retired_tables(run: runs.Run) -> list[QualifiedName]:
    found = []
    for step in run.plan.get("steps", []):
        if step["action"] != "retire-table":
            continue
        subject = step.get("subject")
        if subject:
            found.append(QualifiedName(*subject["parts"][:2]))
        else:  # pgstate 0.1 named it as text, schema.table
            schema, _, name = str(step["target"]).rpartition(".")
            found.append(QualifiedName(schema or "public", name))
    return found


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
