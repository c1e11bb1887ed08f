"""One module per object kind, behind a small registry.

A kind looks at one managed table (desired and live) and returns the changes that make the live one like the
desired one, and the findings drift reports. It knows nothing of the other kinds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..change import Change
from ..findings import Finding
from ..model import DesiredTable, LiveTable, QualifiedName


@dataclass(frozen=True)
class TableContext:
    desired: DesiredTable
    live: LiveTable
    # Which relation holds each name the desired indexes use (see LiveState.relations).
    relations: dict[QualifiedName, str] = field(default_factory=dict)

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


def all_kinds() -> list[Kind]:
    from . import columns, indexes  # noqa: F401  # registers them

    return [REGISTRY[name] for name in sorted(REGISTRY)]
