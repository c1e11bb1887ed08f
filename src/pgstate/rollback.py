"""Returning the managed objects to the state recorded before a run, with the same engine as apply.

Before each run, ``apply`` records the pre-run state of what the desired files manage, written as desired
documents (``export``), plus what the run would create (to drop it again). ``rollback RUN`` restores the tables
the run retired from their verified dumps, then applies those documents: planned, locked, atomic and verified
like any apply, and recorded as a run of its own.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psycopg
import yaml

from . import backup, runs
from .apply import ApplyOptions, ApplyOutcome, Confirm, Say, apply
from .connection import connect
from .engine import DesiredFiles, specs_of
from .errors import PgstateError, Refused
from .loader import load_documents
from .model import QualifiedName
from .prestate import STATE_FORMAT


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
        if run.pre_state.get("format") != STATE_FORMAT:
            raise PgstateError(f"run {run_id} was recorded without a restorable pre-run state")
        if not options.force:
            _refuse_if_changed_later(conn, run)
            _refuse_if_values_were_converted(run)
    retired = _retired_tables(run)
    with tempfile.TemporaryDirectory(prefix="pgstate-rollback-") as scratch:
        directory = Path(scratch)
        desired = _desired_files(directory, run.pre_state)

        def restore(conn: psycopg.Connection[Any]) -> None:
            _restore_retired(conn, url, run, retired, say)

        apply_options = replace(options.apply, allow_destructive=True, rollback_of=run_id, prelude=restore)
        return apply(url, desired, apply_options, say=say, confirm=confirm)


def _refuse_if_changed_later(conn: psycopg.Connection[Any], run: runs.Run) -> None:
    """A later applied run that touched the same objects would be undone too: refuse unless --force."""
    touched = {step.get("table") or step["target"] for step in run.plan.get("steps", [])}
    for later in runs.read_runs(conn):
        if later.id <= run.id or later.status != "applied" or later.rollback_of == run.id:
            continue
        overlap = sorted(touched & {s.get("table") or s["target"] for s in later.plan.get("steps", [])})
        if overlap:
            raise Refused(
                f"run {later.id} changed the same objects after run {run.id}: {', '.join(overlap)}",
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
    return [step["target"] for step in run.plan.get("steps", []) if step["action"] == "retire-table"]


def _restore_retired(conn: psycopg.Connection[Any], url: str, run: runs.Run, retired: list[str], say: Say) -> None:
    """Bring back, from the run's verified dumps, the tables it retired that are still gone."""
    if not retired:
        return
    if run.backup is None:
        raise PgstateError(f"run {run.id} retired {', '.join(retired)} without a backup: they cannot come back")
    manifest = json.loads((Path(run.backup) / backup.MANIFEST_NAME).read_text(encoding="utf-8"))
    tool = backup.DumpTool(Path(manifest["pg_dump"]["path"]), manifest["pg_dump"]["version"])
    for entry in manifest["tables"]:
        name = QualifiedName(entry["schema"], entry["table"])
        if str(name) not in retired:
            continue
        exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", [name.identifier().as_string(conn)]).fetchone()
        if exists and exists[0]:
            continue  # already back: a second rollback changes nothing
        dump = backup.TableDump(name, Path(run.backup) / entry["file"], entry["rows"], entry["sha256"], entry["bytes"])
        say(f"restore {name}: {dump.rows} rows from {dump.file}")
        backup.restore_table(url, dump, tool.bin_dir)
    # Views dropped with a retired table (cascade) come back from their definitions. Foreign keys of other
    # tables into it do not: those tables still exist, and their dumps would re-create them whole.
    for entry in manifest.get("definitions", []):
        file = Path(run.backup) / entry["file"]
        if file.name.startswith("definition-") and _defines_missing_view(conn, file):
            say(f"restore the view defined in {file.name}")
            backup.restore_definition(url, file, entry["sha256"], tool.bin_dir)


def _desired_files(directory: Path, state: dict[str, Any]) -> DesiredFiles:
    for number, document in enumerate(state["documents"]):
        (directory / f"{number:04d}.yaml").write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    documents = load_documents(directory)
    return replace(
        specs_of(directory, documents),
        absent_functions=tuple((QualifiedName(s, n), types) for s, n, types in state.get("absent_functions", [])),
        absent_views=tuple(QualifiedName(s, n) for s, n in state.get("absent_views", [])),
        absent_indexes=tuple(QualifiedName(s, n) for s, n in state.get("absent_indexes", [])),
    )


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
