"""Column types (and collations): ``ALTER TABLE ... ALTER COLUMN ... TYPE ... [COLLATE ...] USING ...`` in the
transaction. Only the declared columns are managed.

A type is compared as ``format_type`` prints it (``int4`` = ``integer``); whether its change rewrites the table
is measured by the server on an empty copy (its relfilenode changes), never guessed. A column's explicit
collation is kept across a type change unless another is declared. A partition's inherited column changes with
its parent's: the change is declared, and planned, on the partitioned table only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from ..catalog.reader import Reader
from ..errors import PgstateError, SourceLocation
from ..model.keys import ObjectKey, table_key
from ..model.names import QualifiedName, quote_for_display
from ..model.state import Root
from ..planning.diff import Change, Difference
from ..planning.findings import Finding, FindingClass
from ..planning.steps import Action, Hazard, Lock, Phase, Step
from ..sandbox.copies import (
    RETYPED_IN_BATCH,
    RETYPED_TABLES,
    ColumnChange,
    alter_type_sql,
    copy_of,
    needs_rounds,
    retype_in_batch,
)
from ..sandbox.session import Sandbox
from ..sandbox.types import canonical_types, is_collatable
from ..source.compose import Part, Unexpressible
from ..source.documents import Header
from .base import Desired, Kind, Live, register
from .context import PlanContext

COLLATION_HINT = "name a collation of this database exactly as pg_collation stores it, e.g. C or en-x-icu"
DEFAULT_COLLATION = "default"  # the type's own collation (the database's, for text types)


class ColumnSpec(NamedTuple):
    """A declared column. A tuple underneath (immutable, built in C): a desired tree declares tens of thousands."""

    key: ObjectKey
    location: SourceLocation
    table: QualifiedName
    column: str
    type: str
    collation: str | None
    using: str | None
    raw: Any = None


@dataclass(frozen=True, slots=True)
class Column:
    table: QualifiedName
    name: str
    type: str  # as format_type prints it
    collation: str | None = None  # quoted as the catalog prints it, when not the type's default
    # Desired only: the conversion expression, checked by the server, and what the change costs (measured on an
    # empty copy: whether it rewrites the table; whether values may be lost, so the table is dumped first).
    using: str | None = field(default=None, compare=False)
    rewrites: bool = field(default=False, compare=False)
    lossy: bool = field(default=False, compare=False)
    # Live only: inherited from a partitioned parent.
    inherited: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class ColumnLive(Live[Column]):
    collations: dict[str, str] = field(default_factory=dict)  # a declared collation name -> as the catalog quotes it


def key_of(table: QualifiedName, column: str) -> ObjectKey:
    return table_key("column", table, column)


class ColumnKind(Kind[ColumnSpec, Column]):
    live_type = ColumnLive
    name = "column"
    document = "table"
    keys = ("columns",)
    finding_missing = "missing-column"
    finding_changed = "column-type"

    def parse(self, header: Header) -> list[ColumnSpec]:
        table = header.qualified
        return [
            ColumnSpec(
                key_of(table, column),
                header.locate("columns", column),
                table,
                column,
                spec["type"],
                spec.get("collation"),
                spec.get("using"),
                spec,
            )
            for column, spec in (header.get("columns") or {}).items()
        ]

    def read(self, reader: Reader, specs: Sequence[ColumnSpec]) -> ColumnLive:
        """The declared columns that exist; for export, every column of every named table."""
        if reader.everything:
            objects = {
                key_of(name, column.name): Column(
                    name, column.name, column.type, column.collation, inherited=column.inherited
                )
                for name, table in reader.tables.items()
                for column in table.by_attnum.values()
            }
        else:  # only declared columns are compared: the others of a table are not read into objects at all
            objects = {}
            for spec in specs:
                table = reader.tables.get(spec.table)
                column = table.columns.get(spec.column) if table is not None else None
                if column is not None:
                    objects[spec.key] = Column(
                        spec.table, column.name, column.type, column.collation, inherited=column.inherited
                    )
        names = sorted({spec.collation for spec in specs if spec.collation})
        collations = dict(reader.rows("collations", {"names": names})) if names else {}
        return ColumnLive(objects, collations)

    def roots(self, reader: Reader, specs: Sequence[ColumnSpec], live: ColumnLive) -> list[Root]:
        """Columns whose type or collation the desired files may change: what depends on them is read."""
        found = []
        for spec in specs:
            current = live.objects.get(spec.key)
            table = reader.tables.get(spec.table)
            if current is None or table is None:
                continue
            collation = live.collations.get(spec.collation) if spec.collation else current.collation
            if spec.type != current.type or collation != current.collation:
                found.append(Root("pg_class", table.oid, table.columns[spec.column].attnum, spec.key))
        return found

    def prefetch(
        self,
        sandbox: Sandbox,
        specs: Sequence[ColumnSpec],
        live: Live[Column],
        rounds: Sequence[frozenset[QualifiedName]],
    ) -> None:
        """Which tables' column types may change; their changes made on copies in one batch (the other kinds
        make them again at the start of their batch work on those copies)."""
        assert isinstance(live, ColumnLive)
        retyped = frozenset(
            spec.table
            for spec in specs
            if spec.key in live.objects and not _as_live(spec, live.objects[spec.key], *_declared(spec, live))
        )
        sandbox.facts[RETYPED_TABLES] = retyped
        if not retyped:
            return
        _, changes = self._settle(sandbox, [spec for spec in specs if spec.table in retyped], live)
        sandbox.facts.setdefault("column_changes", {}).update(changes)
        proved = retype_in_batch(sandbox, changes, rounds)
        needs_rounds(sandbox, set(changes) - set(proved))  # refused, or a USING with a ';': located there

    def canonicalize(self, sandbox: Sandbox, specs: Sequence[ColumnSpec], live: Live[Column]) -> Desired[Column]:
        assert isinstance(live, ColumnLive)
        objects, changes = self._settle(sandbox, specs, live)
        known: dict[QualifiedName, list[ColumnChange]] = sandbox.facts.setdefault("column_changes", {})
        known.update(changes)
        proved: dict[QualifiedName, dict[str, bool]] = sandbox.facts.get(RETYPED_IN_BATCH, {})
        for table, table_changes in changes.items():
            rewrites = proved.get(table)
            if rewrites is None:
                with sandbox.collect(table_changes[0].location):
                    rewrites = copy_of(sandbox, table).rewrites
            if rewrites is None:
                continue  # refused: the problem is recorded
            for change in table_changes:
                key = key_of(table, change.column)
                old = live.objects[key].type
                objects[key] = replace(
                    objects[key],
                    rewrites=rewrites.get(change.column, False),
                    lossy=is_lossy(old, change.type, change.using, rewrites.get(change.column)),
                )
        return Desired(objects, {}, {spec.key: spec.location for spec in specs})

    def _settle(
        self, sandbox: Sandbox, specs: Sequence[ColumnSpec], live: ColumnLive
    ) -> tuple[dict[ObjectKey, Column], dict[QualifiedName, list[ColumnChange]]]:
        """The desired columns, and the type changes by table (the types as the server spells them: one
        statement for all the types not met before)."""
        objects: dict[ObjectKey, Column] = {}
        pending: list[ColumnSpec] = []
        for spec in specs:
            current = live.objects.get(spec.key)
            declared, collation = self._collation(sandbox, spec, live)
            if current is None:  # a missing column: kept as written, for the plan to refuse and drift to show
                objects[spec.key] = Column(spec.table, spec.column, spec.type, collation)
            elif _as_live(spec, current, declared, collation):
                objects[spec.key] = current  # written exactly as the server prints it: the same
            else:
                pending.append(spec)
        types = canonical_types(sandbox, {spec.type: spec.location for spec in pending})
        changes: dict[QualifiedName, list[ColumnChange]] = defaultdict(list)
        for spec in pending:
            current = live.objects[spec.key]
            canonical = types.get(spec.type)
            if canonical is None:
                continue  # refused: the problem is recorded
            declared, collation = self._collation(sandbox, spec, live)
            if not is_collatable(sandbox, canonical):
                collation = None
            elif not declared:  # kept across the change
                collation = current.collation
            if canonical == current.type and collation == current.collation:
                objects[spec.key] = current
                continue
            # The type's own collation, named when it replaces another one (else ALTER ... TYPE keeps nothing).
            written = collation or ('"default"' if declared and current.collation else None)
            changes[spec.table].append(ColumnChange(spec.column, canonical, written, spec.using, spec.location))
            objects[spec.key] = Column(spec.table, spec.column, canonical, collation, using=spec.using)
        return objects, dict(changes)

    def _collation(self, sandbox: Sandbox, spec: ColumnSpec, live: ColumnLive) -> tuple[bool, str | None]:
        """Whether the spec declares a collation, and which (None for ``default``: the type's own)."""
        declared, found = _declared(spec, live)
        if declared and found is None and spec.collation != DEFAULT_COLLATION:
            sandbox.problems.add(f"unknown collation {spec.collation!r}", spec.location, COLLATION_HINT)
        return declared, found

    def record_parts(self, differences: Sequence[Difference], context: PlanContext) -> list[Part | Unexpressible]:
        """Each changed column as it is; its collation named even when it is the type's own (a rollback must put
        that back, and an undeclared collation would mean: keep whatever it is)."""
        parts: list[Part | Unexpressible] = []
        for difference in differences:
            if difference.live is None:
                continue
            for part in self.to_yaml(difference.key, difference.live):
                if difference.live.collation is None and difference.desired.collation is not None:
                    part = replace(part, value={**part.value, "collation": DEFAULT_COLLATION})
                parts.append(part)
        return parts

    def blocking_changes(self, differences: Sequence[Difference], context: PlanContext) -> dict[ObjectKey, ObjectKey]:
        return {d.key: d.key for d in differences if d.change is Change.CHANGED}

    def problems(self, differences: Sequence[Difference], context: PlanContext) -> list[PgstateError]:
        problems = []
        for difference in differences:
            if difference.change is Change.ADDED:
                column = difference.key.parts[2]
                problems.append(
                    PgstateError(
                        f"column {column!r} of table {difference.key.table} is declared but does not exist",
                        location=difference.location,
                        hint="pgstate never creates columns: add it with the application's migrations",
                    )
                )
            elif difference.live.inherited and not self._parent_changes(difference, context):
                table = context.live.tables[difference.key.table]  # type: ignore[index]
                problems.append(
                    PgstateError(
                        f"column {difference.key.parts[2]!r} of partition {table.name} is inherited from"
                        f" {table.partition_of}: its type changes only with the parent's",
                        location=difference.location,
                        hint=f"declare the type change on {table.partition_of} (it changes every partition)",
                    )
                )
        return problems

    def _parent_changes(self, difference: Difference, context: PlanContext) -> bool:
        """Whether the partitioned parent's declared change makes this inherited column the desired one."""
        table = context.live.tables.get(difference.key.table)  # type: ignore[arg-type]
        if table is None or table.partition_of is None:
            return False
        parent = context.desired.of(self.name).objects.get(key_of(table.partition_of, difference.key.parts[2]))
        desired: Column = difference.desired
        return parent is not None and (parent.type, parent.collation) == (desired.type, desired.collation)

    def plan(self, differences: Sequence[Difference], context: PlanContext) -> list[Step]:
        rebuilds = getattr(context.kind_desired("index"), "rebuilds", {})
        steps = []
        for difference in differences:
            if difference.change is not Change.CHANGED or difference.live.inherited:
                continue  # a missing column is refused; an inherited one changes with its parent
            wanted: Column = difference.desired
            current: Column = difference.live
            rebuilt = rebuilds.get(difference.key, ())
            hazards = [Hazard.ACCESS_EXCLUSIVE_LOCK]
            if wanted.rewrites:
                hazards.insert(0, Hazard.TABLE_REWRITE)
            elif rebuilt:
                hazards.append(Hazard.INDEX_REBUILD)
            if wanted.lossy:
                hazards.append(Hazard.DATA_LOSS)
            change = ColumnChange(wanted.name, wanted.type, wanted.collation, wanted.using, difference.location)  # type: ignore[arg-type]
            steps.append(
                Step(
                    action=Action.ALTER_COLUMN_TYPE,
                    subject=difference.key,
                    statement=alter_type_sql(wanted.table.identifier(), change),
                    lock=Lock.ACCESS_EXCLUSIVE,
                    phase=Phase.TRANSACTION,
                    summary=f"change type {self.describe(current)} -> {self.describe(wanted)}" + _cost(wanted, rebuilt),
                    table=wanted.table,
                    location=difference.location,
                    rewrites=context.live.tables[wanted.table].size if wanted.rewrites else None,
                    hazards=tuple(hazards),
                    dump=wanted.table if wanted.lossy else None,
                )
            )
        return steps

    def finding(self, difference: Difference, context: PlanContext) -> Finding:
        found = super().finding(difference, context)
        if difference.change is Change.ADDED:
            return replace(found, message="declared column does not exist", cls=FindingClass.ACTION)
        return replace(
            found, message=f"type is {self.describe(difference.live)}, desired {self.describe(difference.desired)}"
        )

    def describe(self, obj: Column) -> str:
        return obj.type + (f" COLLATE {obj.collation}" if obj.collation else "")

    def to_yaml(self, key: ObjectKey, obj: Column) -> list[Part]:
        entry: dict[str, str] = {"type": obj.type}
        if obj.collation:
            entry["collation"] = _unquote(obj.collation)
        return [Part("table", (obj.table.schema, obj.table.name), ("columns",), entry, name=obj.name)]


def _declared(spec: ColumnSpec, live: ColumnLive) -> tuple[bool, str | None]:
    """Whether the spec declares a collation, and which as the catalog quotes it (None: the type's own, or one
    the server does not know)."""
    if spec.collation is None:
        return False, None
    if spec.collation == DEFAULT_COLLATION:
        return True, None
    return True, live.collations.get(spec.collation)


def _as_live(spec: ColumnSpec, current: Column, declared: bool, collation: str | None) -> bool:
    """Written exactly as the server prints the live column: the same, with no server needed."""
    return spec.type == current.type and (not declared or collation == current.collation)


def _cost(column: Column, rebuilt: tuple[str, ...]) -> str:
    if column.rewrites:
        return " (rewrites the table)"
    if rebuilt:
        return f" (no table rewrite; rebuilds {', '.join(quote_for_display(name) for name in rebuilt)})"
    return " (no rewrite)"


def _unquote(quoted: str) -> str:
    """A collation as the catalog quotes it, back as stored (the format names it exactly as stored)."""
    return quoted[1:-1].replace('""', '"') if quoted.startswith('"') and quoted.endswith('"') else quoted


# Changes of type that keep every value: the new type holds all of the old type's values exactly. PostgreSQL's
# catalog has no such fact (an implicit cast may still round, as float8 -> numeric does), so the list is kept here.
WIDENING = {
    ("smallint", "integer"),
    ("smallint", "bigint"),
    ("integer", "bigint"),
    ("smallint", "numeric"),
    ("integer", "numeric"),
    ("bigint", "numeric"),
    ("real", "double precision"),
    ("date", "timestamp without time zone"),
    ("date", "timestamp with time zone"),
}


def is_lossy(old: str, new: str, using: str | None, rewrites: bool | None) -> bool:
    """Whether converting values from ``old`` to ``new`` may lose information.

    No rewrite means the stored bytes stay as they are (``varchar(n)`` -> ``text``): nothing is lost. A USING
    expression can do anything. Otherwise only the widenings above are safe; ``json`` -> ``jsonb``, for one,
    drops duplicate keys, key order and whitespace.
    """
    if old == new or rewrites is False:
        return False
    if using is not None:
        return True
    return (old, new) not in WIDENING


register(ColumnKind())
