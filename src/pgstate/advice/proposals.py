"""What the advisor proposes: each proposal with its reason, its evidence and the desired-state change it is."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..model.names import QualifiedName


@dataclass(frozen=True)
class Evidence:
    """One statement a proposal serves: the normalised text, its calls and mean time, the estimated costs."""

    statement: str
    calls: int
    mean_ms: float
    cost_before: float | None = None
    cost_after: float | None = None


@dataclass
class Proposal:
    kind: str  # index | drop-index | jsonb | rls | setting
    table: QualifiedName | None
    title: str
    reason: str
    verified: bool  # estimated with hypopg (or, for what is not an index, read from the catalog)
    change: dict[str, Any] = field(default_factory=dict)  # the desired-state entry: see writeback
    evidence: list[Evidence] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "table": None if self.table is None else {"schema": self.table.schema, "name": self.table.name},
            "title": self.title,
            "reason": self.reason,
            "verified": self.verified,
            "change": self.change,
            "evidence": [vars(item) for item in self.evidence],
        }


@dataclass
class Advice:
    proposals: list[Proposal]
    statements: int  # of the workload read
    planned: int  # of them, planned
    unplannable: list[tuple[str, str]]  # statement, why
    hypopg: str | None  # its version when used; None: candidates are unverified
    notes: list[str] = field(default_factory=list)
