"""Storage parameters (reloptions) of managed tables: ALTER TABLE ... SET (...) / RESET (...).

Most take SHARE UPDATE EXCLUSIVE, which ordinary reads and writes do not wait for; the others ACCESS
EXCLUSIVE (PostgreSQL's reloptions.c gives each parameter its lock). Values compare by meaning (``0.050`` =
``0.05``, ``on`` = ``true`` for a boolean). Only the listed parameters are managed; one pgstate set is reset
when the desired files stop listing it, and ``null`` resets one whoever set it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from ..catalog.reader import Reader
from ..errors import SourceLocation
from ..model.keys import ObjectKey, table_key
from ..model.names import QualifiedName
from ..planning.diff import Change, Difference
from ..planning.steps import Action, Hazard, Lock, Phase, Step
from ..sandbox.copies import copy_of
from ..sandbox.session import Sandbox, located
from ..source.compose import Part
from ..source.documents import Header
from ..units import reloption_value
from . import _records
from .base import Desired, Disposition, Kind, Live, register
from .context import PlanContext

# The table and TOAST parameters whose lock is SHARE UPDATE EXCLUSIVE (reloptions.c); all others: ACCESS EXCLUSIVE.
SHARE_UPDATE_EXCLUSIVE = frozenset(
    {
        "fillfactor",
        "toast_tuple_target",
        "parallel_workers",
        "vacuum_index_cleanup",
        "vacuum_truncate",
        "log_autovacuum_min_duration",
        "autovacuum_enabled",
        "autovacuum_vacuum_threshold",
        "autovacuum_vacuum_insert_threshold",
        "autovacuum_vacuum_max_threshold",
        "autovacuum_analyze_threshold",
        "autovacuum_vacuum_cost_delay",
        "autovacuum_vacuum_cost_limit",
        "autovacuum_freeze_min_age",
        "autovacuum_freeze_max_age",
        "autovacuum_freeze_table_age",
        "autovacuum_multixact_freeze_min_age",
        "autovacuum_multixact_freeze_max_age",
        "autovacuum_multixact_freeze_table_age",
        "autovacuum_vacuum_scale_factor",
        "autovacuum_vacuum_insert_scale_factor",
        "autovacuum_analyze_scale_factor",
    }
)


def lock_for(name: str) -> Lock:
    bare = name.removeprefix("toast.")
    return Lock.SHARE_UPDATE_EXCLUSIVE if bare in SHARE_UPDATE_EXCLUSIVE else Lock.ACCESS_EXCLUSIVE


@dataclass(frozen=True)
class StorageSpec:
    key: ObjectKey
    location: SourceLocation
    table: QualifiedName
    name: str
    value: str | None  # None: must not be set (reset)
    raw: Any = field(default=None, compare=False)


@dataclass(frozen=True)
class StorageParameter:
    table: QualifiedName
    name: str
    value: str = field(compare=False)  # as written (desired) or stored (live)
    canonical: object = None  # what compares: a number, a boolean or a word

    @staticmethod
    def of(table: QualifiedName, name: str, value: str) -> StorageParameter:
        return StorageParameter(table, name, value, reloption_value(name, value))


def key_of(table: QualifiedName, name: str) -> ObjectKey:
    return table_key("storage", table, name, label=f"{table}.{name}")


def storage_text(value: Any) -> str:
    """A YAML scalar as PostgreSQL reads a reloption: booleans as true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def storage_value(text: str) -> str | int | float | bool:
    """A reloption as the catalog stores it (text), typed for YAML where the type writes the same text: ``70``
    -> 70, ``0.05`` -> 0.05, ``false`` -> False. Anything else (``on``, ``0.050``) stays a string, which YAML
    quotes when it would read it otherwise: a rollback sets the text as it was stored."""
    import math
    import re

    if text in ("true", "false"):
        return text == "true"
    if re.fullmatch(r"-?[1-9][0-9]*|0", text):
        return int(text)
    if re.fullmatch(r"-?[0-9]+\.[0-9]+", text):
        number = float(text)
        if math.isfinite(number) and repr(number) == text:
            return number
    return text


@dataclass(frozen=True)
class StorageDesired(Desired[StorageParameter]):
    tables: frozenset[QualifiedName] = frozenset()


class StorageKind(Kind[StorageSpec, StorageParameter]):
    desired_type = StorageDesired
    name = "storage"
    document = "table"
    keys = ("storage",)
    after = ("column",)
    finding_missing = "storage-parameter"
    finding_changed = "storage-parameter"
    finding_removed = "storage-parameter"

    def parse(self, header: Header) -> list[StorageSpec]:
        table = header.qualified
        return [
            StorageSpec(
                key_of(table, name),
                header.locate("storage", name),
                table,
                name,
                None if value is None else storage_text(value),
                value,
            )
            for name, value in (header.get("storage") or {}).items()
        ]

    def read(self, reader: Reader, specs: Sequence[StorageSpec]) -> Live[StorageParameter]:
        if not specs and not reader.everything and not reader.managed_by(self.name):
            return Live({})
        objects = {}
        for oid, reloptions, toast in reader.rows("storage", {"oids": list(reader.oids)}):
            table = reader.oids[oid]
            for prefix, options in (("", reloptions), ("toast.", toast)):
                for option in options:
                    name, _, value = option.partition("=")
                    objects[key_of(table, prefix + name)] = StorageParameter.of(table, prefix + name, value)
        return Live(objects)

    def canonicalize(
        self, sandbox: Sandbox, specs: Sequence[StorageSpec], live: Live[StorageParameter]
    ) -> StorageDesired:
        """The server refuses an unknown parameter or a bad value: on the table's copy, all at once, then one by
        one to name each refusal."""
        by_table: dict[QualifiedName, list[StorageSpec]] = {}
        for spec in specs:
            if spec.table in sandbox.live.tables and spec.value is not None:
                current = live.objects.get(spec.key)
                if current is None or current.value != spec.value:
                    by_table.setdefault(spec.table, []).append(spec)
        for table, table_specs in by_table.items():
            with sandbox.collect(table_specs[0].location):
                copy = copy_of(sandbox, table)
                try:
                    with sandbox.cur.connection.transaction():
                        sandbox.execute(_set_sql(copy.identifier, table_specs))
                except psycopg.Error:
                    for spec in table_specs:
                        try:
                            sandbox.execute(_set_sql(copy.identifier, [spec]))
                        except psycopg.Error as error:
                            raise located(error, spec.location) from None
        return StorageDesired(
            {
                spec.key: StorageParameter.of(spec.table, spec.name, spec.value)
                for spec in specs
                if spec.value is not None
            },
            {spec.key: spec.location for spec in specs if spec.value is None},
            {spec.key: spec.location for spec in specs},
            frozenset(spec.table for spec in specs),
        )

    def live_only(
        self, key: ObjectKey, obj: StorageParameter, desired: Desired[StorageParameter], context: PlanContext
    ) -> Disposition:
        managed = context.managed_value(self.name, str(obj.table), obj.name) is not None
        return Disposition.REMOVE if managed else Disposition.IGNORE

    def plan(self, differences: Sequence[Difference], context: PlanContext) -> list[Step]:
        steps = []
        for difference in differences:
            table = difference.key.table
            assert table is not None
            name = difference.key.parts[2]
            if difference.change is Change.REMOVED:
                why = (
                    f"declared null (reset), was {difference.live.value}"
                    if difference.key in context.kind_desired(self.name).absent
                    else f"set by pgstate ({difference.live.value}) and no longer declared"
                )
                steps.append(
                    _step(
                        difference,
                        Action.RESET_STORAGE,
                        sql.SQL("ALTER TABLE {} RESET ({})").format(table.identifier(), _records.dotted_name(name)),
                        why,
                        _records.record_reset(self.name, str(table), name),
                    )
                )
            else:
                wanted: StorageParameter = difference.desired
                was = difference.live.value if difference.live is not None else "(default)"
                steps.append(
                    _step(
                        difference,
                        Action.SET_STORAGE,
                        sql.SQL("ALTER TABLE {} SET ({} = {})").format(
                            table.identifier(), _records.dotted_name(name), sql.Literal(wanted.value)
                        ),
                        f"{was} -> {wanted.value}",
                        _records.record_set(self.name, str(table), name, wanted.value),
                    )
                )
        return steps

    def describe(self, obj: StorageParameter) -> str:
        return obj.value

    def removed_message(self, difference: Difference) -> str:
        return f"is {difference.live.value}, desired not set (apply resets it)"

    def to_yaml(self, key: ObjectKey, obj: StorageParameter) -> list[Part]:
        return [
            Part("table", (obj.table.schema, obj.table.name), ("storage",), storage_value(obj.value), name=obj.name)
        ]

    def export_parts(
        self, specs: Sequence[StorageSpec], live: Live[StorageParameter], tables: Sequence[QualifiedName]
    ) -> list[Any]:
        """Every storage parameter of each exported table (``storage: {}`` when it has none)."""
        parts: list[Any] = [Part("table", (t.schema, t.name), ("storage",), {}) for t in sorted(tables)]
        return parts + super().export_parts(specs, live, tables)

    def absent_yaml(self, key: ObjectKey, desired: Desired[StorageParameter]) -> list[Part]:
        assert key.table is not None
        return [Part("table", (key.table.schema, key.table.name), ("storage",), None, name=key.parts[2])]


def _set_sql(table: sql.Composable, specs: Sequence[StorageSpec]) -> sql.Composed:
    return sql.SQL("ALTER TABLE {} SET ({})").format(
        table,
        sql.SQL(", ").join(
            sql.SQL("{} = {}").format(_records.dotted_name(spec.name), sql.Literal(spec.value)) for spec in specs
        ),
    )


def _step(difference: Difference, action: Action, statement: sql.Composed, summary: str, record: sql.Composed) -> Step:
    lock = lock_for(difference.key.parts[2])
    return Step(
        action=action,
        subject=difference.key,
        statement=statement,
        lock=lock,
        phase=Phase.TRANSACTION,
        summary=summary,
        table=difference.key.table,
        location=difference.location,
        hazards=(Hazard.ACCESS_EXCLUSIVE_LOCK,) if lock is Lock.ACCESS_EXCLUSIVE else (),
        followups=(record,),
    )


register(StorageKind())
