"""Object keys: the stable identity of every managed object, of every kind.

A key is the kind's name and the parts that identify the object among all of its kind (``("public", "User_idx")``
for an index, ``("public", "User", "own rows")`` for a policy). Both sides, desired and live, key their objects the
same way, so one keyed diff pairs them. The label is how people read the key; it is not part of the identity.
"""

from __future__ import annotations

from typing import Any

from .names import QualifiedName, quote_for_display

# Which parts a kind's keys print, when not all of them (an index is named in its schema, not in its table):
# worked out when printed, so that the tens of thousands of keys of a plan need no label of their own.
SHOWN_PARTS: dict[str, tuple[int, ...]] = {"index": (0, 2)}
# (schema, table) -> the one QualifiedName of it that keys hand out (see ObjectKey.table); bounded like the other
# caches of a run.
_TABLES: dict[tuple[str, str], QualifiedName] = {}
_TABLES_LIMIT = 200_000


class ObjectKey(tuple[str, tuple[str, ...]]):
    """``(kind, parts)``, with a label for people that is not part of the identity.

    A tuple underneath: keys are hashed, compared and sorted tens of thousands of times per plan, and a tuple
    does all three in C. Immutable like a tuple; the label and the table are kept beside it.
    """

    # Class-level defaults: a key without a label never gets an instance dictionary, and a plan makes tens of
    # thousands of keys (CPython creates the dictionary on the first attribute set).
    _label: str = ""

    def __new__(cls, kind: str, parts: tuple[str, ...], label: str = "") -> ObjectKey:
        key = super().__new__(cls, (kind, parts))
        if label:
            key._label = label
        return key

    @property
    def kind(self) -> str:
        return self[0]

    @property
    def parts(self) -> tuple[str, ...]:
        return self[1]

    @property
    def label(self) -> str:
        return self._label

    def __repr__(self) -> str:
        return f"ObjectKey({self.kind!r}, {self.parts!r})"

    def __str__(self) -> str:
        if self._label:
            return self._label
        shown = SHOWN_PARTS.get(self[0])
        parts = self[1] if shown is None else [self[1][position] for position in shown if position < len(self[1])]
        return ".".join(quote_for_display(part) for part in parts)

    def __reduce__(self) -> tuple[Any, ...]:
        return (ObjectKey, (self.kind, self.parts, self._label))

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "parts": list(self.parts), "label": str(self)}

    @staticmethod
    def from_json(data: dict[str, Any]) -> ObjectKey:
        return ObjectKey(str(data["kind"]), tuple(str(part) for part in data["parts"]), str(data.get("label", "")))

    @property
    def table(self) -> QualifiedName | None:
        """The table a table object belongs to (its first two parts), for kinds whose keys start with it."""
        parts = self[1]
        if len(parts) < 2:
            return None
        # One name per table, shared by all its keys: memoised on the key instead, it cost each key an instance
        # dictionary (a tuple subclass can have no slots) and a name of its own, 15 MB at 5,000 tables.
        pair = (parts[0], parts[1])
        found = _TABLES.get(pair)
        if found is None:
            found = QualifiedName(*pair)
            if len(_TABLES) < _TABLES_LIMIT:
                _TABLES[pair] = found
        return found


def table_key(kind: str, table: QualifiedName, *rest: str, label: str | None = None) -> ObjectKey:
    """A key of an object of ``table``: schema, table, then the object's own parts."""
    # Without a label the key prints as its parts do (schema.table.rest), worked out only when printed.
    return ObjectKey(kind, (table.schema, table.name, *rest), label or "")
