"""What lint takes in and gives out: its input, the facts read for it, and one finding per problem."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from ..errors import SourceLocation
from ..source.nodes import Document

if TYPE_CHECKING:
    from ..pipeline import State
    from ..planning.plan import Plan


class Severity(StrEnum):
    ERROR = "error"  # `pgstate lint` exits 1
    WARNING = "warning"


@dataclass(frozen=True)
class LintFinding:
    rule: str
    severity: Severity
    target: str  # display name of the object, e.g. public."User" or "own rows" on public."User"
    message: str
    hint: str
    # Where in the desired files the object was declared (or its table, for live objects of a declared table);
    # None for objects no document declares, which therefore cannot be silenced by a document either.
    location: SourceLocation | None

    def to_json(self) -> dict[str, Any]:
        location = None
        if self.location is not None:
            location = {"file": self.location.file, "line": self.location.line, "column": self.location.column}
        return {
            "rule": self.rule,
            "severity": str(self.severity),
            "target": self.target,
            "message": self.message,
            "hint": self.hint,
            "location": location,
        }


@dataclass(frozen=True)
class LintInput:
    documents: list[Document]  # the desired documents: for `lint: {ignore: [...]}` and for locations
    state: State | None  # both states of the managed objects; None when no database was reachable
    plan: Plan | None


@dataclass(frozen=True)
class Hit:
    """What a rule reports; the runner adds the rule's id, and its registered severity unless the hit has one."""

    target: str
    message: str
    hint: str
    location: SourceLocation | None
    severity: Severity | None = None
