"""One module per object kind, behind a small registry.

A kind looks at one managed table (desired and live) and returns the changes that make the live one like the
desired one, and the findings drift reports. It knows nothing of the other kinds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..change import Change
from ..findings import Finding
from ..model import DesiredState, DesiredTable, LiveState, LiveTable, QualifiedName


@dataclass(frozen=True)
class TableContext:
    desired: DesiredTable
    live: LiveTable
    # Which relation holds each name the desired indexes use (see LiveState.relations).
    relations: dict[QualifiedName, str] = field(default_factory=dict)
    # Functions this plan drops and creates again (a changed signature or result): policies calling them must
    # be dropped before and created after.
    recreated_functions: frozenset[str] = frozenset()
    # Storage parameters of this table pgstate set (name -> value): only those are reset when undeclared.
    managed_storage: dict[str, str] = field(default_factory=dict)
    # Indexes that must not exist (a rollback drops what the run it undoes created).
    absent_indexes: frozenset[QualifiedName] = frozenset()

    @property
    def changing_columns(self) -> set[str]:
        """Columns whose type this plan changes."""
        return {
            column.name
            for column in self.desired.columns
            if column.name in self.live.columns and self.live.columns[column.name].type != column.type
        }

    @property
    def rewritten(self) -> bool:
        """True when a planned type change rewrites the table (so its indexes are rebuilt in the transaction)."""
        return any(
            column.rewrites
            for column in self.desired.columns
            if column.name in self.live.columns and self.live.columns[column.name].type != column.type
        )


@dataclass(frozen=True)
class Kind:
    name: str
    plan: Callable[[TableContext], list[Change]]
    drift: Callable[[TableContext], list[Finding]]


REGISTRY: dict[str, Kind] = {}


def register(kind: Kind) -> None:
    if kind.name in REGISTRY:
        raise RuntimeError(f"kind {kind.name!r} registered twice")
    REGISTRY[kind.name] = kind


@dataclass(frozen=True)
class GlobalKind:
    """A kind whose objects are not a table's: functions, views, the database, upkeep."""

    name: str
    plan: Callable[[DesiredState, LiveState], list[Change]]
    drift: Callable[[DesiredState, LiveState], list[Finding]]
    # What the plan cannot do itself and a person must (a restart, a preload line); shown with the plan.
    notices: Callable[[DesiredState, LiveState], list[str]] | None = None


GLOBAL_REGISTRY: dict[str, GlobalKind] = {}


def register_global(kind: GlobalKind) -> None:
    if kind.name in GLOBAL_REGISTRY:
        raise RuntimeError(f"kind {kind.name!r} registered twice")
    GLOBAL_REGISTRY[kind.name] = kind


def _load() -> None:
    from . import (  # noqa: F401  # registers them
        columns,
        database,
        functions,
        indexes,
        policies,
        retire,
        rls,
        storage,
        upkeep,
        views,
    )


def all_kinds() -> list[Kind]:
    _load()
    return [REGISTRY[name] for name in sorted(REGISTRY)]


def global_kinds() -> list[GlobalKind]:
    _load()
    return [GLOBAL_REGISTRY[name] for name in sorted(GLOBAL_REGISTRY)]
