"""Declared upkeep (``database.maintenance``): ANALYZE tables whose statistics are too old, VACUUM (ANALYZE)
tables with too many dead tuples, REINDEX CONCURRENTLY indexes left INVALID. Run after the schema transaction,
outside one; they change no definition, so a failure there leaves the schema steps in place."""

from __future__ import annotations

from datetime import UTC, datetime

from psycopg import sql

from ..change import Action, Change, Lock, Phase
from ..findings import Finding, FindingKind
from ..model import DesiredState, LiveState, LiveTable, Maintenance
from . import GlobalKind, register_global


def _managed(desired: DesiredState, live: LiveState) -> list[LiveTable]:
    return [
        live.tables[name] for name, table in sorted(desired.tables.items()) if table.present and name in live.tables
    ]


def _needs(table: LiveTable, maintenance: Maintenance, now: datetime) -> list[str]:
    """Why the table is out of its upkeep budget: 'vacuum', 'analyze' (at most one of them), and indexes."""
    reasons = []
    upkeep = table.upkeep
    if upkeep is not None and maintenance.vacuum_dead_ratio is not None:
        total = upkeep.live_tuples + upkeep.dead_tuples
        if total and upkeep.dead_tuples / total > maintenance.vacuum_dead_ratio:
            reasons.append("vacuum")
    if upkeep is not None and maintenance.analyze_max_age is not None and "vacuum" not in reasons:
        age = None if upkeep.last_analyzed is None else (now - upkeep.last_analyzed).total_seconds()
        if age is None or age > maintenance.analyze_max_age:
            reasons.append("analyze")
    return reasons


def plan(desired: DesiredState, live: LiveState) -> list[Change]:
    maintenance = desired.database.maintenance if desired.database else None
    if maintenance is None:
        return []
    now = datetime.now(UTC)
    changes = []
    for table in _managed(desired, live):
        for reason in _needs(table, maintenance, now):
            upkeep = table.upkeep
            assert upkeep is not None
            if reason == "vacuum":
                changes.append(
                    _step(
                        Action.VACUUM_TABLE,
                        table,
                        sql.SQL("VACUUM (ANALYZE) {}"),
                        f"{upkeep.dead_tuples:,} dead of {upkeep.live_tuples + upkeep.dead_tuples:,}"
                        f" tuples, above {maintenance.vacuum_dead_ratio:.0%}",
                    )
                )
            else:
                last = upkeep.last_analyzed.isoformat(timespec="seconds") if upkeep.last_analyzed else "never"
                changes.append(_step(Action.ANALYZE_TABLE, table, sql.SQL("ANALYZE {}"), f"last analyzed: {last}"))
        if maintenance.reindex_invalid:
            declared = {i.name for i in desired.tables[table.name].indexes or ()}
            for name, index in sorted(table.indexes.items()):
                if index.valid or name in declared:
                    continue  # a declared INVALID index is rebuilt by the indexes kind, within the run
                leftover = sql.Identifier(index.table.schema, f"{name}_ccnew")
                changes.append(
                    Change(
                        action=Action.REINDEX_INDEX,
                        target=str(index.qualified_name),
                        table=str(table.name),
                        statement=sql.SQL("REINDEX INDEX CONCURRENTLY {}").format(index.qualified_name.identifier()),
                        lock=Lock.SHARE_UPDATE_EXCLUSIVE,
                        phase=Phase.MAINTENANCE,
                        summary="INVALID: rebuilt concurrently",
                        # A failed REINDEX CONCURRENTLY leaves its new copy behind, INVALID.
                        undo=sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(leftover),
                    )
                )
    return changes


def _step(action: Action, table: LiveTable, template: sql.SQL, summary: str) -> Change:
    return Change(
        action=action,
        target=str(table.name),
        table=str(table.name),
        statement=template.format(table.name.identifier()),
        lock=Lock.SHARE_UPDATE_EXCLUSIVE,
        phase=Phase.MAINTENANCE,
        summary=summary,
    )


def drift(desired: DesiredState, live: LiveState) -> list[Finding]:
    maintenance = desired.database.maintenance if desired.database else None
    if maintenance is None:
        return []
    now = datetime.now(UTC)
    return [
        Finding(FindingKind.UPKEEP, "table", str(table.name), str(table.name), f"out of its upkeep budget: {reason}")
        for table in _managed(desired, live)
        for reason in _needs(table, maintenance, now)
    ]


register_global(GlobalKind("upkeep", plan, drift))
