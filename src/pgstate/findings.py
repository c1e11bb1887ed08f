"""What drift reports: one finding per difference between desired and live."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class FindingKind(StrEnum):
    MISSING_TABLE = "missing-table"
    TABLE_NOT_RETIRED = "table-not-retired"
    MISSING_COLUMN = "missing-column"
    COLUMN_TYPE = "column-type"
    MISSING_INDEX = "missing-index"
    INDEX_DEFINITION = "index-definition"
    INVALID_INDEX = "invalid-index"
    UNMANAGED_INDEX = "unmanaged-index"
    RLS_FLAGS = "rls-flags"
    MISSING_POLICY = "missing-policy"
    POLICY_DEFINITION = "policy-definition"
    UNDECLARED_POLICY = "undeclared-policy"
    MISSING_FUNCTION = "missing-function"
    FUNCTION_DEFINITION = "function-definition"
    MISSING_VIEW = "missing-view"
    VIEW_DEFINITION = "view-definition"
    SETTING = "setting"
    EXTENSION = "extension"
    STORAGE = "storage-parameter"
    UPKEEP = "upkeep"


@dataclass(frozen=True)
class Finding:
    kind: FindingKind
    object_kind: str  # table, column, index
    target: str  # display name
    table: str
    message: str
    desired: Any = None
    live: Any = None
    fields: tuple[dict[str, Any], ...] = ()  # field by field, for definitions that differ (see fielddiff)

    def to_json(self) -> dict[str, Any]:
        return {
            "finding": str(self.kind),
            "object_kind": self.object_kind,
            "target": self.target,
            "table": self.table,
            "message": self.message,
            "desired": self.desired,
            "live": self.live,
            "fields": list(self.fields),
        }
