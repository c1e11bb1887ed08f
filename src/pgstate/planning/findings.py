"""What drift reports: one finding per difference between desired and live, and what it notes besides.

A finding's class says what it means for the exit code: ``drift`` (a plan would change it), ``action`` (a person
must act: a restart, a missing table or package; drift, but no plan step), ``info`` (listed, not drift: an
undeclared index of a table whose indexes are listed without prune_indexes).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ..errors import SourceLocation
from ..model.keys import ObjectKey
from .diff import FieldChange


class FindingClass(StrEnum):
    DRIFT = "drift"
    ACTION = "action"
    INFO = "info"


@dataclass(frozen=True)
class Finding:
    finding: str  # e.g. missing-index, index-definition, invalid-index, setting
    object_kind: str  # the kind: index, column, policy, ...
    key: ObjectKey
    table: str  # the table it belongs to, as people read it ("" for functions, settings, ...)
    message: str
    desired: Any = None
    live: Any = None
    fields: tuple[FieldChange, ...] = ()
    location: SourceLocation | None = None
    cls: FindingClass = FindingClass.DRIFT

    @property
    def target(self) -> str:
        return str(self.key)

    @property
    def counts(self) -> bool:
        """Whether it makes drift exit 2."""
        return self.cls is not FindingClass.INFO

    def to_json(self) -> dict[str, Any]:
        return {
            "finding": self.finding,
            "class": str(self.cls),
            "object_kind": self.object_kind,
            "target": self.target,
            "subject": self.key.to_json(),
            "table": self.table,
            "message": self.message,
            "desired": self.desired,
            "live": self.live,
            "fields": [change.to_json() for change in self.fields],
            "location": str(self.location) if self.location else None,
        }
