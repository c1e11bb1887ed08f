"""Declared upkeep (``database.maintenance``): ANALYZE tables whose statistics are too old, VACUUM (ANALYZE)
tables with too many dead tuples, REINDEX CONCURRENTLY indexes left INVALID. Run after the schema transaction,
outside one; they change no definition, so a failure there leaves the schema steps in place.

Upkeep is not a definition: its live side is statistics, compared with the budget, and nothing of it is
exported, recorded for rollback or part of the fingerprint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from psycopg import sql

from ..catalog.reader import Reader
from ..errors import SourceLocation
from ..model.keys import ObjectKey, table_key
from ..model.names import QualifiedName
from ..planning.diff import Change, Difference
from ..planning.findings import Finding
from ..planning.steps import Action, Lock, Phase, Step
from ..sandbox.session import Sandbox
from ..source.documents import Header
from ..units import duration_seconds
from .base import Desired, Kind, Live, register
from .context import PlanContext


@dataclass(frozen=True)
class MaintenanceSpec:
    key: ObjectKey
    location: SourceLocation
    analyze_max_age: float | None  # seconds
    vacuum_dead_ratio: float | None
    reindex_invalid: bool
    raw: Any = field(default=None, compare=False)


@dataclass(frozen=True)
class Statistics:
    """What pg_stat_user_tables says of a table's statistics and dead tuples."""

    last_analyzed: datetime | None  # the later of the last ANALYZE and autoanalyze
    live_tuples: int
    dead_tuples: int


@dataclass(frozen=True)
class UpkeepLive(Live[object]):
    statistics: dict[QualifiedName, Statistics] = field(default_factory=dict)


@dataclass(frozen=True)
class Need:
    """Why a table or index is out of its upkeep budget."""

    reason: str  # vacuum | analyze | reindex
    summary: str


class UpkeepKind(Kind[MaintenanceSpec, object]):
    live_type = UpkeepLive
    name = "upkeep"
    document = "database"
    keys = ("maintenance",)
    after = ("index",)
    finding_changed = "upkeep"

    def parse(self, header: Header) -> list[MaintenanceSpec]:
        if not header.has("maintenance"):
            return []
        raw = header.get("maintenance") or {}
        age = raw.get("analyze_max_age")
        return [
            MaintenanceSpec(
                ObjectKey("upkeep", ("database",), "maintenance"),
                header.locate("maintenance"),
                duration_seconds(age.replace(" ", "")) if age is not None else None,
                raw.get("vacuum_dead_ratio"),
                raw.get("reindex_invalid", False),
                raw,
            )
        ]

    def read(self, reader: Reader, specs: Sequence[MaintenanceSpec]) -> UpkeepLive:
        if not specs or reader.server.in_recovery:
            # A standby's activity statistics are its own (ANALYZE on the primary updates the primary's), and it
            # can run no upkeep: upkeep is the primary's. INVALID indexes replicate, and are still reported.
            return UpkeepLive({})
        statistics = {
            reader.oids[oid]: Statistics(last_analyzed, int(live), int(dead))
            for oid, last_analyzed, live, dead in reader.rows("upkeep", {"oids": list(reader.oids)})
        }
        return UpkeepLive({}, statistics)

    def canonicalize(self, sandbox: Sandbox, specs: Sequence[MaintenanceSpec], live: Live[object]) -> Desired[object]:
        return Desired({}, {}, {spec.key: spec.location for spec in specs})

    def differences(self, desired: Desired[object], live: Live[object], context: PlanContext) -> list[Difference]:
        """One difference per table (or INVALID index) out of the budget: the need is the 'live' side."""
        assert isinstance(live, UpkeepLive)
        specs: Sequence[MaintenanceSpec] = context.specs.of(self.name)
        if not specs:
            return []
        budget = specs[0]
        now = datetime.now(UTC)
        found = []
        for table in sorted(context.present_tables):
            statistics = live.statistics.get(table)
            if statistics is not None:
                need = _need(statistics, budget, now)
                if need is not None:
                    key = table_key("upkeep", table, need.reason, label=str(table))
                    found.append(Difference(self.name, key, Change.CHANGED, None, need, (), budget.location))
        if budget.reindex_invalid:
            indexes = context.live.of("index").objects
            declared = context.kind_desired("index").objects
            for key, index in sorted(indexes.items()):
                if index.table in context.present_tables and not index.valid and key not in declared:
                    # A declared INVALID index is rebuilt by the index kind, within the run.
                    need_key = ObjectKey("upkeep", (*key.parts, "reindex"), str(key))
                    found.append(
                        Difference(
                            self.name,
                            need_key,
                            Change.CHANGED,
                            None,
                            Need("reindex", "INVALID: rebuilt concurrently"),
                            (),
                            budget.location,
                        )
                    )
        return found

    def plan(self, differences: Sequence[Difference], context: PlanContext) -> list[Step]:
        steps = []
        for difference in differences:
            need: Need = difference.live
            if need.reason == "reindex":
                schema, _table, index = difference.key.parts[:3]
                name = QualifiedName(schema, index)
                steps.append(
                    Step(
                        action=Action.REINDEX_INDEX,
                        subject=difference.key,
                        statement=sql.SQL("REINDEX INDEX CONCURRENTLY {}").format(name.identifier()),
                        lock=Lock.SHARE_UPDATE_EXCLUSIVE,
                        phase=Phase.MAINTENANCE,
                        summary=need.summary,
                        table=difference.key.table,
                        location=difference.location,
                        # A failed REINDEX CONCURRENTLY leaves its new copy behind, INVALID.
                        undo=sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(
                            sql.Identifier(schema, f"{index}_ccnew")
                        ),
                    )
                )
                continue
            table = difference.key.table
            assert table is not None
            action, template = (
                (Action.VACUUM_TABLE, "VACUUM (ANALYZE) {}")
                if need.reason == "vacuum"
                else (Action.ANALYZE_TABLE, "ANALYZE {}")
            )
            steps.append(
                Step(
                    action=action,
                    subject=difference.key,
                    statement=sql.SQL(template).format(table.identifier()),
                    lock=Lock.SHARE_UPDATE_EXCLUSIVE,
                    phase=Phase.MAINTENANCE,
                    summary=need.summary,
                    table=table,
                    location=difference.location,
                )
            )
        return steps

    def finding(self, difference: Difference, context: PlanContext) -> Finding:
        need: Need = difference.live
        what = "index" if need.reason == "reindex" else "table"
        return Finding(
            "upkeep",
            what,
            difference.key,
            str(difference.key.table),
            f"out of its upkeep budget: {need.reason} ({need.summary})",
            location=difference.location,
        )


def _need(statistics: Statistics, budget: MaintenanceSpec, now: datetime) -> Need | None:
    """Why the table is out of its upkeep budget: vacuum, or analyze (at most one of them)."""
    if budget.vacuum_dead_ratio is not None:
        total = statistics.live_tuples + statistics.dead_tuples
        if total and statistics.dead_tuples / total > budget.vacuum_dead_ratio:
            return Need(
                "vacuum", f"{statistics.dead_tuples:,} dead of {total:,} tuples, above {budget.vacuum_dead_ratio:.0%}"
            )
    if budget.analyze_max_age is not None:
        last = statistics.last_analyzed
        age = None if last is None else (now - last).total_seconds()
        if age is None or age > budget.analyze_max_age:
            return Need("analyze", f"last analyzed: {last.isoformat(timespec='seconds') if last else 'never'}")
    return None


register(UpkeepKind())
