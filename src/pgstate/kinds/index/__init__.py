"""Indexes: built CONCURRENTLY before the transaction when the table is not rewritten anyway.

A changed index is never dropped before its replacement exists: the new definition is built under a temporary
name, then, inside the transaction, the old one is dropped and the new one renamed. Constraint-backed indexes
are never touched, and an index a foreign key references through is never dropped: the plan names it and
refuses. An index of a partitioned table is built online too: ``CREATE INDEX ... ON ONLY`` the parent, each
partition's ``CONCURRENTLY`` before the transaction, then ``ALTER INDEX ... ATTACH PARTITION`` in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ...catalog.reader import Reader, read_columns
from ...errors import PgstateError, Refused
from ...model.keys import ObjectKey
from ...model.names import QualifiedName
from ...planning.diff import Change, Difference
from ...planning.findings import Finding, FindingClass
from ...planning.steps import Step
from ...sandbox.session import Sandbox
from ...source.compose import Part, Unexpressible
from ...source.documents import Header
from ..base import Desired, Disposition, Kind, Live, register
from ..context import PlanContext
from . import canonical, owners, projection, steps
from .canonical import IndexDesired
from .document import index_entry, unexpressible
from .model import Index, IndexesSpec, key_of, temporary_name
from .parse import _entry, _include_problems
from .read import read_indexes


class IndexKind(Kind[IndexesSpec, Index]):
    desired_type = IndexDesired
    name = "index"
    document = "table"
    keys = ("indexes", "prune_indexes")
    after = ("column", "function")
    finding_missing = "missing-index"
    finding_changed = "index-definition"
    finding_removed = "undeclared-index"

    # --- source ---------------------------------------------------------------------------------------------

    def parse(self, header: Header) -> list[IndexesSpec]:
        if not header.has("indexes") and not header.has("prune_indexes"):
            return []
        table = header.qualified
        entries = None
        if header.has("indexes"):
            entries = tuple(
                _entry(header, table, position, raw) for position, raw in enumerate(header.get("indexes") or [])
            )
        return [
            IndexesSpec(
                key_of(table, "*"),
                header.locate("indexes") if header.has("indexes") else header.locate("prune_indexes"),
                table,
                entries,
                bool(header.get("prune_indexes", False)),
            )
        ]

    def check(self, specs: Sequence[IndexesSpec]) -> list[PgstateError]:
        problems = []
        for spec in specs:
            for entry in spec.entries or ():
                problems += _include_problems(entry)
                extra = [key for key in entry.given if key not in ("name", "present")]
                if not entry.present and extra:
                    problems.append(
                        PgstateError(
                            f"an index declared absent takes only its name, not {', '.join(extra)}",
                            location=entry.location,
                            hint="remove those keys, or `present: false` to keep the index",
                        )
                    )
        return problems

    def relation_names(self, specs: Sequence[IndexesSpec]) -> list[Any]:
        from ...source.meaning import Relation

        found = []
        for spec in specs:
            for entry in spec.entries or ():
                name = entry.known_name
                if name is not None and entry.present:
                    found.append(
                        Relation(spec.table.schema, name, "index", entry.location, default_name=entry.name is None)
                    )
        return found

    # --- catalog --------------------------------------------------------------------------------------------

    def read(self, reader: Reader, specs: Sequence[IndexesSpec]) -> Live[Index]:
        """Every index of every managed table (lint and the fingerprint look at all of them)."""
        columns = {oid: table.by_attnum for oid, table in ((t.oid, t) for t in reader.tables.values())}
        found = read_indexes(reader.cur, reader.oids, columns)
        return Live({index.key: index for indexes in found.values() for index in indexes.values()})

    def read_dependents(self, reader: Reader, live: Live[Index], rows: Sequence[Any]) -> Live[Index]:
        """Expression indexes of any table that use a function the plan drops and creates."""
        tables: dict[int, QualifiedName] = {}
        for row in rows:
            if row.table_oid is not None and row.table_oid not in reader.oids:
                tables[int(row.table_oid)] = QualifiedName(row.key.parts[0], row.key.parts[1])
        if not tables:
            return live
        found = read_indexes(reader.cur, tables, read_columns(reader.cur, list(tables)))
        wanted = {row.key for row in rows}
        extra = {index.key: index for indexes in found.values() for index in indexes.values() if index.key in wanted}
        return Live({**live.objects, **extra})

    # --- sandbox --------------------------------------------------------------------------------------------

    def prefetch(
        self,
        sandbox: Sandbox,
        specs: Sequence[IndexesSpec],
        live: Live[Index],
        rounds: Sequence[frozenset[QualifiedName]],
    ) -> None:
        projection.project_in_batch(sandbox, specs, live.objects)
        canonical.deparse_in_batch(sandbox, specs, live.objects, rounds)

    def canonicalize(self, sandbox: Sandbox, specs: Sequence[IndexesSpec], live: Live[Index]) -> IndexDesired:
        return canonical.canonicalize(sandbox, specs, live.objects)

    def finish(self, sandbox: Sandbox, desired: Desired[Index], live: Live[Index]) -> IndexDesired:
        assert isinstance(desired, canonical.IndexDesired)
        return owners.with_owners(sandbox, desired, live.objects)

    # --- comparing ------------------------------------------------------------------------------------------

    def live_only(self, key: ObjectKey, obj: Index, desired: Desired[Index], context: PlanContext) -> Disposition:
        assert isinstance(desired, IndexDesired)
        if obj.constraint is not None or obj.inherited or obj.table not in desired.tables:
            return Disposition.IGNORE
        if _leftover_of(obj, desired) is not None:
            return Disposition.REMOVE
        return Disposition.REMOVE if desired.tables[obj.table] else Disposition.UNMANAGED

    def problems(self, differences: Sequence[Difference], context: PlanContext) -> list[PgstateError]:
        desired: IndexDesired = context.kind_desired(self.name)
        live = context.live.of(self.name).objects
        problems = []
        for key, index in desired.objects.items():
            if not context.in_scope(key):
                continue
            location = desired.locations.get(key)
            table = context.live.tables[index.table]
            for key_spec in index.keys:
                if key_spec.column is not None and key_spec.column not in table.columns:
                    problems.append(_no_column(key_spec.column, index, location))
            problems += [_no_column(column, index, location) for column in index.include if column not in table.columns]
            current = live.get(key)
            if current is not None and current.constraint is not None and current.definition() != index.definition():
                problems.append(
                    PgstateError(
                        f"index {index.qualified_name} backs the constraint {current.constraint!r} and is defined"
                        f" as {current.describe()}; pgstate does not change constraint indexes",
                        location=location,
                        hint="give the desired index another name, or declare it as the constraint defines it",
                    )
                )
            problems += _name_problems(index, desired, current, location)
            if table.partitioned and table.subpartitioned and (current is None or current != index):
                names = ", ".join(str(name) for name in table.subpartitioned)
                problems.append(
                    PgstateError(
                        f"table {index.table} has partitions that are partitioned themselves ({names}); pgstate"
                        " builds indexes of one level of partitions only",
                        location=location,
                        hint="create this index by migration, or declare it on each partitioned partition",
                    )
                )
        for obj in live.values():
            leftover_of = _leftover_of(obj, desired)
            if leftover_of is not None and obj.valid and obj.definition() != leftover_of.definition():
                problems.append(
                    PgstateError(
                        f"index {obj.qualified_name} is in the way: pgstate builds the replacement of"
                        f" {leftover_of.name} under that name, and it is not a leftover of pgstate's",
                        location=desired.locations.get(leftover_of.key),
                        hint=f"rename or drop {obj.qualified_name}",
                    )
                )
        return problems

    # --- planning -------------------------------------------------------------------------------------------

    def plan(self, differences: Sequence[Difference], context: PlanContext) -> list[Step]:
        desired: IndexDesired = context.kind_desired(self.name)
        planned: list[Step] = []
        handled = set()
        for key in sorted(k for k in context.in_the_way if k.kind == self.name):
            live_index = context.live.of(self.name).objects[key]
            if context.dropped_by_retirement(key):
                continue
            wanted = desired.objects.get(key, live_index)
            planned += steps.out_of_the_way(live_index, wanted, context, desired.locations.get(key))
            handled.add(key)
        for difference in differences:
            if difference.key in handled:
                continue
            location = difference.location
            if difference.change is Change.ADDED:
                planned += steps.create(difference.desired, context, location)
            elif difference.change is Change.CHANGED:
                current: Index = difference.live
                wanted_index: Index = difference.desired
                if current.definition() == wanted_index.definition() and not current.valid:
                    planned += steps.rebuild(current, wanted_index, context, location)
                else:
                    planned += steps.replace_index(current, wanted_index, context, location)
            else:
                current = difference.live
                leftover = _leftover_of(current, desired)
                if leftover is not None:
                    dropping = steps.drop_concurrently(current, "leftover of an interrupted run", location)
                else:
                    pruned = difference.key not in desired.absent
                    dropping = steps.drop(current, replaced=False, location=location, pruned=pruned)
                if current.foreign_keys:  # shown by plan beside the steps that run; apply refuses
                    refused = Refused(
                        f"index {current.qualified_name} would be dropped, but foreign keys reference rows through"
                        f" it: {', '.join(current.foreign_keys)}",
                        location=location,
                        hint="list the index in `indexes:` (or give the foreign keys another unique index first)",
                    )
                    context.refuse(difference.key, refused, dropping)
                else:
                    planned.append(dropping)
        return planned

    # --- reporting ------------------------------------------------------------------------------------------

    def finding(self, difference: Difference, context: PlanContext) -> Finding:
        found = super().finding(difference, context)
        live: Index | None = difference.live
        rebuilt = difference.change is Change.CHANGED and live is not None and not live.valid
        if rebuilt and live is not None and live.definition() == difference.desired.definition():
            return replace(
                found,
                finding="invalid-index",
                message="index is INVALID (a failed or interrupted concurrent build): apply rebuilds it",
                fields=(),
            )
        return found

    def removed_message(self, difference: Difference) -> str:
        return "index exists but is not declared (prune_indexes drops it)"

    def notes(self, desired: Desired[Index], live: Live[Index], context: PlanContext) -> list[Finding]:
        assert isinstance(desired, IndexDesired)
        # With maintenance.reindex_invalid the upkeep kind plans (and reports) the rebuild of an undeclared
        # INVALID index: one finding for its one step, not a second note here.
        rebuilt = any(spec.reindex_invalid for spec in context.specs.of("upkeep"))
        found = []
        for key, index in live.objects.items():  # drift sorts its findings
            if index.table not in context.present_tables:
                continue
            if key in desired.objects or key in desired.absent:
                continue
            disposition = self.live_only(key, index, desired, context) if index.table in desired.tables else None
            if not index.valid and disposition is not Disposition.REMOVE and index.constraint is None:
                if rebuilt:
                    continue
                found.append(
                    Finding(
                        "invalid-index",
                        self.name,
                        key,
                        str(index.table),
                        "index is INVALID (a failed or interrupted concurrent build)",
                        live=index.describe(),
                    )
                )
            elif disposition is Disposition.UNMANAGED:
                found.append(
                    Finding(
                        "unmanaged-index",
                        self.name,
                        key,
                        str(index.table),
                        "index exists but is not declared (information: without prune_indexes it is left alone)",
                        live=index.describe(),
                        cls=FindingClass.INFO,
                    )
                )
        return found

    def describe(self, obj: Index) -> str:
        return obj.describe()

    def items(self, specs: Sequence[IndexesSpec]) -> list[tuple[ObjectKey, Any]]:
        found: list[tuple[ObjectKey, Any]] = []
        for spec in specs:
            found.append((key_of(spec.table, "*"), spec.prune))
            for entry in spec.entries or ():
                name = entry.known_name or f"(unnamed #{entry.position + 1})"
                found.append((key_of(spec.table, name), entry.raw))
        return found

    # --- documenting ----------------------------------------------------------------------------------------

    def to_yaml(self, key: ObjectKey, obj: Index) -> list[Part] | Unexpressible:
        reason = unexpressible(obj)
        if reason is not None:
            return Unexpressible(key, reason)
        owner = (obj.table.schema, obj.table.name)
        return [Part("table", owner, ("indexes",), index_entry(obj), append=True)]

    def record_parts(self, differences: Sequence[Difference], context: PlanContext) -> list[Part | Unexpressible]:
        """Also the indexes of tables whose column types change: PostgreSQL rebuilds them from their definition
        read again under the new types (``amount > 0`` becomes ``amount > (0)::numeric``), and a rollback must
        give back the definition they had."""
        recorded = {difference.key for difference in differences}
        rebuilt = [
            Difference(self.name, key, Change.CHANGED, None, index)
            for key, index in sorted(context.live.of(self.name).objects.items())
            if key not in recorded
            and context.changing_columns(index.table)
            and not context.dropped_by_retirement(key)
            and unexpressible(index) is None
        ]
        return super().record_parts([*differences, *rebuilt], context)

    def absent_yaml(self, key: ObjectKey, desired: Desired[Index]) -> list[Part]:
        assert key.table is not None
        entry = {"name": key.parts[2], "present": False}
        return [Part("table", (key.table.schema, key.table.name), ("indexes",), entry, append=True)]

    def export_parts(
        self, specs: Sequence[IndexesSpec], live: Live[Index], tables: Sequence[QualifiedName]
    ) -> list[Part | Unexpressible]:
        """Every non-constraint valid index of each exported table, with ``prune_indexes: false``: adopting
        pgstate drops nothing. Indexes of a partition attached to its parent's belong to the parent."""
        parts: list[Part | Unexpressible] = []
        for table in sorted(tables):
            owner = (table.schema, table.name)
            parts += [Part("table", owner, ("indexes",), []), Part("table", owner, ("prune_indexes",), False)]
        for key, index in sorted(live.objects.items()):
            if index.constraint is None and index.valid and not index.inherited:
                found = self.to_yaml(key, index)
                parts += [found] if isinstance(found, Unexpressible) else found
        return parts


def _no_column(column: str, index: Index, location: Any) -> PgstateError:
    return PgstateError(
        f"index {index.qualified_name} names column {column!r}, which table {index.table} does not have",
        location=location,
        hint="check the spelling: names are case-sensitive, exactly as stored",
    )


def _name_problems(index: Index, desired: IndexDesired, current: Index | None, location: Any) -> list[PgstateError]:
    """Index names are unique per schema: one held by another table's index or by a table is refused, else a
    build would fail on it and its undo would drop what is not ours."""
    candidates = [index.qualified_name] if current is None else []
    if current is not None and current.definition() != index.definition():
        candidates.append(QualifiedName(index.table.schema, temporary_name(index.name)))
    if not candidates:  # the common case: the index is there as declared
        return []
    ours = f"index on {index.table}"
    return [
        PgstateError(
            f"the index name {candidate} is taken (by the {desired.owners[candidate]})",
            location=location,
            hint="index names are unique per schema: choose another `name:`",
        )
        for candidate in candidates
        if candidate in desired.owners and desired.owners[candidate] != ours
    ]


def _leftover_of(index: Index, desired: IndexDesired) -> Index | None:
    """The declared index whose replacement an interrupted run built under this index's (temporary) name."""
    if not index.name.endswith("_pgstate"):
        return None
    for key, wanted in desired.objects.items():
        if key.table == index.table and temporary_name(wanted.name) == index.name and wanted.name != index.name:
            return wanted
    return None


register(IndexKind())
