"""Retiring a table (``present: false``): refused while it is in use or depended on, else dropped last in the
transaction, after its rows and definition were dumped and the dump verified."""

from __future__ import annotations

from psycopg import sql

from ..change import Action, Change, Hazard, Lock, Phase
from ..errors import Refused
from ..findings import Finding, FindingKind
from ..model import DesiredState, DesiredTable, LiveState, RetirementFacts
from . import GlobalKind, register_global


def plan(desired: DesiredState, live: LiveState) -> list[Change]:
    changes = []
    for name, table in sorted(desired.tables.items()):
        if table.retire is None or name not in live.tables:
            continue  # already gone: no change
        facts = live.retirements.get(name, RetirementFacts(None, None, ()))
        _guard(table, facts)
        dependents = ", ".join(f"{d.kind} {d.name}" for d in facts.dependents)
        size = live.tables[name].size
        changes.append(
            Change(
                action=Action.RETIRE_TABLE,
                target=str(name),
                table=str(name),
                statement=sql.SQL("DROP TABLE {}{}").format(
                    name.identifier(), sql.SQL(" CASCADE" if table.retire.cascade else "")
                ),
                lock=Lock.ACCESS_EXCLUSIVE,
                phase=Phase.TRANSACTION,
                summary=f"drop the table ({size.describe()})"
                + (f", and with it: {dependents}" if dependents else "")
                + ("; rows and definition dumped and verified first" if table.retire.backup else "; NO backup"),
                destroys=size,
                hazards=(Hazard.ACCESS_EXCLUSIVE_LOCK, Hazard.DATA_LOSS),
                dump=name if table.retire.backup else None,
                dump_definitions=facts.dependents if table.retire.backup else (),
            )
        )
    return changes


def _guard(table: DesiredTable, facts: RetirementFacts) -> None:
    retire = table.retire
    assert retire is not None
    if facts.newest_activity is not None:
        raise Refused(
            f"{table.name} is still in use: {retire.activity_column} has a row from {facts.newest_activity},"
            f" within quiet_days ({retire.quiet_days})",
            location=table.location,
            hint="retire it once no row is newer than quiet_days, or lower quiet_days",
        )
    if facts.last_scan is not None:
        raise Refused(
            f"{table.name} is still read: PostgreSQL last scanned it at {facts.last_scan}, within quiet_days"
            f" ({retire.quiet_days})",
            location=table.location,
            hint="find what still reads it (pg_stat_statements), or wait",
        )
    if facts.dependents and not retire.cascade:
        names = "; ".join(f"{d.kind} {d.name}" for d in facts.dependents)
        raise Refused(
            f"{table.name} has dependents that DROP TABLE would refuse over: {names}",
            location=table.location,
            hint="retire or change them first, or set `cascade: true` to drop them with it (their definitions go"
            " into the backup)",
        )


def drift(desired: DesiredState, live: LiveState) -> list[Finding]:
    return [
        Finding(
            FindingKind.TABLE_NOT_RETIRED,
            "table",
            str(name),
            str(name),
            "declared retired (present: false) but still exists",
            live=live.tables[name].size.describe(),
        )
        for name, table in sorted(desired.tables.items())
        if table.retire is not None and name in live.tables
    ]


register_global(GlobalKind("retire", plan, drift))
