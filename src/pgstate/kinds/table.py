"""Tables: declared ones must exist (pgstate never creates a table), and ``present: false`` retires one.

Retiring is refused while the table is in use (recent rows in ``activity_column``, on PostgreSQL 16+ a recent
scan) or depended on (unless ``cascade``); else the table is dropped in the transaction, after its rows and
definition were dumped and the dump verified. The guards' evidence is read in the snapshot.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import psycopg
from psycopg import sql

from ..catalog.reader import Reader
from ..errors import PgstateError, Refused, SourceLocation
from ..model.keys import ObjectKey, table_key
from ..model.names import QualifiedName
from ..model.tables import Dependent
from ..planning.diff import Change, Difference
from ..planning.findings import Finding, FindingClass
from ..planning.steps import Action, Hazard, Lock, Phase, Step
from ..sandbox.session import Sandbox
from ..source.compose import Part
from ..source.documents import Header
from .base import Desired, Kind, Live, register
from .context import PlanContext

# Keys a retired table cannot have: there is nothing left to manage on a table that is being dropped.
MANAGED_TABLE_KEYS = ("columns", "indexes", "prune_indexes", "rls", "policies", "storage")
# pg_stat_user_tables has last_seq_scan and last_idx_scan since PostgreSQL 16.
LAST_SCAN_SINCE = 160000


@dataclass(frozen=True)
class Retirement:
    """How a table declared ``present: false`` is dropped."""

    activity_column: str | None
    quiet_days: int
    backup: bool
    cascade: bool


class TableSpec(NamedTuple):
    """A declared table. A tuple underneath (immutable, built in C), as the specs of table objects are."""

    key: ObjectKey
    location: SourceLocation
    present: bool
    retire: Retirement | None
    # Of a table being retired: which of MANAGED_TABLE_KEYS its document has (refused with it), and where.
    managed_keys: tuple[tuple[str, SourceLocation], ...]
    retire_location: SourceLocation | None
    raw: Any = None


@dataclass(frozen=True, slots=True)
class Table:
    """A table that exists (live) or must (desired)."""

    name: QualifiedName


@dataclass(frozen=True)
class RetirementFacts:
    """What the database says about a table to be retired: the guards' evidence."""

    newest_activity: str | None  # the newest activity_column value within quiet_days, if any (as text)
    last_scan: str | None  # PostgreSQL 16+: the last scan within quiet_days, if any (as text)
    dependents: tuple[Dependent, ...]


@dataclass(frozen=True)
class TableLive(Live[Table]):
    retirements: dict[ObjectKey, RetirementFacts] | None = None


def key_of(name: QualifiedName) -> ObjectKey:
    return table_key("table", name, label=str(name))


class TableKind(Kind[TableSpec, Table]):
    live_type = TableLive
    name = "table"
    document = "table"
    keys = ("present", "retire")
    finding_missing = "missing-table"
    finding_removed = "table-not-retired"

    def parse(self, header: Header) -> list[TableSpec]:
        present = header.get("present", True) is not False
        retire = None
        if not present:
            raw = header.get("retire") or {}
            retire = Retirement(
                activity_column=raw.get("activity_column"),
                quiet_days=raw.get("quiet_days", 7),
                backup=raw.get("backup", True),
                cascade=raw.get("cascade", False),
            )
        return [
            TableSpec(
                key_of(header.qualified),
                header.location,
                present,
                retire,
                () if present else tuple((key, header.locate(key)) for key in MANAGED_TABLE_KEYS if header.has(key)),
                header.locate("retire") if header.has("retire") else None,
                {key: header.get(key) for key in self.keys if header.has(key)},
            )
        ]

    def check(self, specs: Sequence[TableSpec]) -> list[PgstateError]:
        problems = []
        for spec in specs:
            if spec.present and spec.retire_location is not None:
                problems.append(
                    PgstateError(
                        "`retire` needs `present: false`: only a table being retired has retire settings",
                        location=spec.retire_location,
                        hint="add `present: false` to retire (drop) the table, or remove `retire`",
                    )
                )
            if not spec.present:
                problems += [
                    PgstateError(
                        f"`{key}` cannot be used with `present: false`: the table is being retired",
                        location=location,
                        hint=f"remove `{key}`, or set `present: true` to keep managing the table",
                    )
                    for key, location in spec.managed_keys
                ]
        return problems

    def relation_names(self, specs: Sequence[TableSpec]) -> list[Any]:
        from ..source.meaning import Relation

        return [
            Relation(spec.key.parts[0], spec.key.parts[1], "table", spec.location, retired=not spec.present)
            for spec in specs
        ]

    def read(self, reader: Reader, specs: Sequence[TableSpec]) -> TableLive:
        objects = {key_of(name): Table(name) for name in reader.tables}
        retiring = [spec for spec in specs if not spec.present and spec.key.table in reader.tables]
        return TableLive(objects, _retirement_facts(reader, retiring))

    def canonicalize(self, sandbox: Sandbox, specs: Sequence[TableSpec], live: Live[Table]) -> Desired[Table]:
        return Desired(
            objects={spec.key: Table(spec.key.table) for spec in specs if spec.present and spec.key.table},
            absent={spec.key: spec.location for spec in specs if not spec.present},
            locations={spec.key: spec.location for spec in specs},
        )

    def plan(self, differences: Sequence[Difference], context: PlanContext) -> list[Step]:
        steps = []
        specs = {spec.key: spec for spec in context.specs.of(self.name)}
        live: TableLive = context.live.of(self.name)
        for difference in differences:
            spec = specs[difference.key]
            if difference.change is Change.ADDED:
                raise PgstateError(
                    f"table {difference.key} is declared but does not exist",
                    location=spec.location,
                    hint="pgstate never creates tables: create it with the application's migrations, or remove"
                    " the file",
                )
            assert spec.retire is not None
            facts = (live.retirements or {}).get(difference.key, RetirementFacts(None, None, ()))
            _check_activity_column(spec, context)
            step = _retire(spec, facts, context)
            refused = _refusal(spec, facts)
            if refused is None:
                steps.append(step)
            else:  # shown by plan beside the steps that run; apply refuses (planning.refusals)
                context.refuse(spec.key, refused, step)
        return steps

    def finding(self, difference: Difference, context: PlanContext) -> Finding:
        name = difference.key.table
        if difference.change is Change.ADDED:
            return Finding(
                self.finding_missing,
                self.name,
                difference.key,
                str(name),
                "declared table does not exist",
                location=difference.location,
                cls=FindingClass.ACTION,
            )
        size = context.live.tables[name].size.describe() if name is not None and name in context.live.tables else None
        return Finding(
            self.finding_removed,
            self.name,
            difference.key,
            str(name),
            "declared retired (present: false) but still exists",
            live=size,
            location=difference.location,
        )

    def to_yaml(self, key: ObjectKey, obj: Table) -> list[Part]:
        return [Part("table", (obj.name.schema, obj.name.name), (), None)]

    def describe(self, obj: Table) -> str:
        return str(obj.name)


def _retire(spec: TableSpec, facts: RetirementFacts, context: PlanContext) -> Step:
    name = spec.key.table
    assert name is not None and spec.retire is not None
    retire = spec.retire
    dependents = ", ".join(f"{d.kind} {d.name}" for d in facts.dependents)
    size = context.live.tables[name].size
    # What goes with the table: its own objects of every kind (their drops order what depends on them).
    with_it = frozenset(
        key for kind in context.live.kinds.values() for key in kind.objects if key.table == name and key != spec.key
    )
    return Step(
        action=Action.RETIRE_TABLE,
        subject=spec.key,
        statement=sql.SQL("DROP TABLE {}{}").format(name.identifier(), sql.SQL(" CASCADE" if retire.cascade else "")),
        lock=Lock.ACCESS_EXCLUSIVE,
        phase=Phase.TRANSACTION,
        summary=f"drop the table ({size.describe()})"
        + (f", and with it: {dependents}" if dependents else "")
        + ("; rows and definition dumped and verified first" if retire.backup else "; NO backup"),
        table=name,
        location=spec.location,
        destroys=size,
        hazards=(Hazard.ACCESS_EXCLUSIVE_LOCK, Hazard.DATA_LOSS),
        dump=name if retire.backup else None,
        dump_definitions=facts.dependents if retire.backup else (),
        also_drops=with_it,
    )


def _check_activity_column(spec: TableSpec, context: PlanContext) -> None:
    """A retirement whose activity_column cannot say when the table was last written is an error of the desired
    file (exit 1), not a refusal."""
    retire, name = spec.retire, spec.key.table
    assert retire is not None and name is not None
    if retire.activity_column is not None and retire.activity_column not in context.live.tables[name].columns:
        raise PgstateError(
            f"activity_column {retire.activity_column!r} is not a column of {name}",
            location=spec.retire_location or spec.location,
            hint="name the timestamp column that records activity (e.g. created_at or updated_at)",
        )
    column = context.live.tables[name].columns.get(retire.activity_column or "")
    if column is not None and not _is_point_in_time(column.type):
        raise PgstateError(
            f"activity_column {retire.activity_column!r} of {name} is {column.type}, not a date or timestamp:"
            " it cannot say when a row was last written",
            location=spec.retire_location or spec.location,
            hint="name the timestamp column that records activity (e.g. created_at or updated_at)",
        )


def _refusal(spec: TableSpec, facts: RetirementFacts) -> Refused | None:
    """The first guard that refuses the retirement: the table is still written, still read, or depended on."""
    retire, name = spec.retire, spec.key.table
    assert retire is not None and name is not None
    if facts.newest_activity is not None:
        return Refused(
            f"{name} is still in use: {retire.activity_column} has a row from {facts.newest_activity},"
            f" within quiet_days ({retire.quiet_days})",
            location=spec.location,
            hint="retire it once no row is newer than quiet_days, or lower quiet_days",
        )
    if facts.last_scan is not None:
        return Refused(
            f"{name} is still read: PostgreSQL last scanned it at {facts.last_scan}, within quiet_days"
            f" ({retire.quiet_days})",
            location=spec.location,
            hint="find what still reads it (pg_stat_statements), or wait",
        )
    if facts.dependents and not retire.cascade:
        names = "; ".join(f"{d.kind} {d.name}" for d in facts.dependents)
        return Refused(
            f"{name} has dependents that DROP TABLE would refuse over: {names}",
            location=spec.location,
            hint="retire or change them first, or set `cascade: true` to drop them with it (their definitions go"
            " into the backup)",
        )
    return None


def _retirement_facts(reader: Reader, retiring: list[TableSpec]) -> dict[ObjectKey, RetirementFacts]:
    """For each table to be retired that exists: one dependents query for all, and per table the two guard
    queries (they read the table's data and statistics, which no catalog query can batch)."""
    if not retiring:
        return {}
    oids = {reader.tables[spec.key.table].oid: spec.key for spec in retiring if spec.key.table}
    dependents: dict[ObjectKey, list[Dependent]] = defaultdict(list)
    for table_oid, kind, name, relation_schema, relation_name, function_oid in reader.rows(
        "retire_dependents", {"oids": list(oids)}
    ):
        relation = QualifiedName(relation_schema, relation_name) if relation_name is not None else None
        dependents[oids[table_oid]].append(Dependent(kind, name, relation, function_oid))
    facts = {}
    for spec in retiring:
        name, retire = spec.key.table, spec.retire
        assert name is not None and retire is not None
        table = reader.tables[name]
        # The scan statistics first: the activity check below scans the table itself.
        last_scan = _recent_scan(reader, table.oid, retire.quiet_days)
        newest = None
        column = table.columns.get(retire.activity_column or "")
        if column is not None and _is_point_in_time(column.type):
            newest = _recent_activity(reader, name, column.name, retire.quiet_days)
        facts[spec.key] = RetirementFacts(newest, last_scan, tuple(dependents[spec.key]))
    return facts


def _is_point_in_time(type_name: str) -> bool:
    """A date or a timestamp (Prisma writes ``timestamp(3) without time zone``), as format_type prints it."""
    return re.fullmatch(r"date|timestamp(\(\d+\))? with(out)? time zone", type_name) is not None


def _recent_activity(reader: Reader, table: QualifiedName, column: str, days: int) -> str | None:
    statement = sql.SQL(
        "SELECT max({column})::text FROM {table} WHERE {column} > now() - make_interval(days => %s)"
    ).format(column=sql.Identifier(column), table=table.identifier())
    cur = reader.cur
    with cur.connection.transaction():
        # Our own look at the rows must not count as a scan, or the scan guard of the next plan or apply would
        # refuse because of it. Only roles allowed to set track_counts (superusers, or GRANT SET on PostgreSQL
        # 15+) can say so; for others the guard's own scan counts (see README).
        try:
            with cur.connection.transaction():
                cur.execute("SET LOCAL track_counts = off")
        except psycopg.errors.InsufficientPrivilege:
            pass
        cur.execute(statement, [days])
        row = cur.fetchone()
    return None if row is None or row[0] is None else str(row[0])


def _recent_scan(reader: Reader, oid: int, days: int) -> str | None:
    if reader.server.version < LAST_SCAN_SINCE:
        return None
    reader.cur.execute(
        "SELECT greatest(last_seq_scan, last_idx_scan)::text FROM pg_stat_user_tables"
        " WHERE relid = %s AND greatest(last_seq_scan, last_idx_scan) > now() - make_interval(days => %s)",
        [oid, days],
    )
    row = reader.cur.fetchone()
    return None if row is None or row[0] is None else str(row[0])


register(TableKind())
