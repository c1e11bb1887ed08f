"""Object keys: the stable identity of every managed object, of every kind.

A key is the kind's name and the parts that identify the object among all of its kind (``("public", "User_idx")``
for an index, ``("public", "User", "own rows")`` for a policy). Both sides, desired and live, key their objects the
same way, so one keyed diff pairs them. The label is how people read the key; it is not part of the identity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .names import QualifiedName, quote_for_display


@dataclass(frozen=True, order=True)
class ObjectKey:
    kind: str
    parts: tuple[str, ...]
    label: str = field(default="", compare=False, repr=False)

    def __str__(self) -> str:
        return self.label or ".".join(quote_for_display(part) for part in self.parts)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "parts": list(self.parts), "label": str(self)}

    @staticmethod
    def from_json(data: dict[str, Any]) -> ObjectKey:
        return ObjectKey(str(data["kind"]), tuple(str(part) for part in data["parts"]), str(data.get("label", "")))

    @property
    def table(self) -> QualifiedName | None:
        """The table a table object belongs to (its first two parts), for kinds whose keys start with it."""
        return QualifiedName(self.parts[0], self.parts[1]) if len(self.parts) >= 2 else None


def table_key(kind: str, table: QualifiedName, *rest: str, label: str | None = None) -> ObjectKey:
    """A key of an object of ``table``: schema, table, then the object's own parts."""
    shown = label if label is not None else ".".join([str(table), *(quote_for_display(part) for part in rest)])
    return ObjectKey(kind, (table.schema, table.name, *rest), shown)
