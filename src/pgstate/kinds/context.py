"""What a kind sees while it plans: both states, every kind's differences, the dependents in the way of a
change, and the steps the kinds before it planned."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ..errors import SourceLocation
from ..model.keys import ObjectKey
from ..model.names import QualifiedName
from ..model.state import Dependency, DesiredState, LiveState
from .base import REGISTRY

if TYPE_CHECKING:
    from ..errors import Refused
    from ..planning.diff import Difference
    from ..planning.refusals import Refusal
    from ..planning.steps import Step
    from ..source.documents import SpecSet


@dataclass
class PlanContext:
    desired: DesiredState
    live: LiveState
    specs: SpecSet
    differences: dict[str, list[Difference]] = field(default_factory=dict)
    # Live objects whose change their dependents block, and what takes their place (the same key, or the key
    # of a function's new signature).
    replaced: dict[ObjectKey, ObjectKey] = field(default_factory=dict)
    # Live dependents of those, which must be dropped before the change and re-created after it.
    in_the_way: dict[ObjectKey, tuple[Dependency, ...]] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)  # what the kinds planned so far, in kind order
    refusals: list[Refusal] = field(default_factory=list)  # what the planner will not let run, and why

    # --- scope ---------------------------------------------------------------------------------------------

    @cached_property
    def present_tables(self) -> frozenset[QualifiedName]:
        """Declared tables that exist and are not being retired: the tables whose objects are compared."""
        retiring = {spec.key.table for spec in self.specs.of("table") if not spec.present}
        return frozenset(name for name in self.live.tables if name not in retiring)

    @cached_property
    def retiring_tables(self) -> frozenset[QualifiedName]:
        return frozenset(
            spec.key.table for spec in self.specs.of("table") if not spec.present and spec.key.table in self.live.tables
        )

    def in_scope(self, key: ObjectKey) -> bool:
        """Objects of a table are compared only when the table exists and stays (a missing one is reported, and
        refused, once, as the table)."""
        kind = REGISTRY.get(key.kind)
        if kind is None or kind.document != "table" or key.kind == "table":
            return True
        return key.table in self.present_tables

    def location_of(self, key: ObjectKey) -> SourceLocation | None:
        """Where the desired files declare the object, or the table (or document) it belongs to."""
        desired = self.desired.kinds.get(key.kind)
        if desired is not None and key in desired.locations:
            location: SourceLocation = desired.locations[key]
            return location
        if key.table is not None:
            return self.table_location(key.table)
        return None

    def table_location(self, table: QualifiedName) -> SourceLocation | None:
        header = self._table_headers.get(table)
        return header.location if header is not None else None

    @cached_property
    def _table_headers(self) -> dict[QualifiedName, Any]:
        """The first document declaring each table, once: each changed object of a table asks for its location
        (a walk of every header per ask was 0.9 s for the 500 changed tables of a 5,000-table plan)."""
        found: dict[QualifiedName, Any] = {}
        for header in self.specs.headers:
            if header.kind == "table":
                found.setdefault(header.qualified, header)
        return found

    def refuse(self, subject: ObjectKey, error: Refused, step: Step | None = None) -> None:
        """Record that ``subject`` cannot change (``step`` is what would run): the plan goes on without it, and
        what carries the plan out refuses (see planning.refusals)."""
        from ..planning.refusals import Refusal

        self.refusals.append(Refusal(subject, error, step))

    # --- what other kinds decided ----------------------------------------------------------------------------

    def differences_of(self, kind: str) -> list[Difference]:
        return self.differences.get(kind, [])

    def rewritten(self, table: QualifiedName) -> bool:
        """Whether a planned type change rewrites the table (its indexes are then built in the transaction)."""
        return any(
            difference.key.table == table and getattr(difference.desired, "rewrites", False)
            for difference in self.differences_of("column")
        )

    def changing_columns(self, table: QualifiedName) -> set[str]:
        return {
            difference.key.parts[2] for difference in self.differences_of("column") if difference.key.table == table
        }

    def made_in_transaction(self, keys: Iterable[ObjectKey]) -> bool:
        """Whether a step planned so far makes one of these objects inside the transaction."""
        from ..planning.steps import Phase

        wanted = set(keys)
        return any(step.phase is Phase.TRANSACTION and step.makes & wanted for step in self.steps)

    def dropped_by_retirement(self, key: ObjectKey) -> bool:
        return key.table is not None and key.table in self.retiring_tables

    def dependents_of(self, key: ObjectKey) -> list[Dependency]:
        """Live objects that depend directly on ``key`` and are in the way of its change."""
        return [found for dependencies in self.in_the_way.values() for found in dependencies if found.parent == key]

    def parents_of(self, key: ObjectKey) -> set[ObjectKey]:
        """What an object in the way depends on directly, as it will be named after the change."""
        return {self.replaced.get(found.parent, found.parent) for found in self.in_the_way.get(key, ())}

    def managed_value(self, kind: str, obj: str, name: str) -> str | None:
        return self.live.managed.get((kind, obj, name))

    def kind_desired(self, kind: str) -> Any:
        return self.desired.kinds.get(kind)
