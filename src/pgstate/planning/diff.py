"""One generic keyed diff for every kind: desired and live objects paired by key into added, removed and changed
ones, each changed one with its differing fields. Plan and drift both start from these differences."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from ..errors import SourceLocation
from ..model.keys import ObjectKey

if TYPE_CHECKING:
    from ..kinds.base import Desired, Kind, Live
    from ..kinds.context import PlanContext


class Change(StrEnum):
    ADDED = "added"  # desired, not live: to be created
    REMOVED = "removed"  # live, and the desired state excludes it: to be dropped
    CHANGED = "changed"  # both, and they differ


@dataclass(frozen=True)
class FieldChange:
    field: str  # a path into the object, e.g. keys[0].descending
    desired: Any
    live: Any

    def to_json(self) -> dict[str, Any]:
        return {"field": self.field, "desired": self.desired, "live": self.live}


@dataclass(frozen=True)
class Difference:
    kind: str
    key: ObjectKey
    change: Change
    desired: Any  # the desired object (None when removed)
    live: Any  # the live object (None when added)
    fields: tuple[FieldChange, ...] = ()
    location: SourceLocation | None = None  # where the desired files declare it (or exclude it)


def keyed_diff(kind: Kind[Any, Any], desired: Desired[Any], live: Live[Any], context: PlanContext) -> list[Difference]:
    """Pair desired and live objects by key. Live objects no spec declares are removed only when the kind's
    ``live_only`` says so; objects declared absent are removed when they exist."""
    from ..kinds.base import Disposition

    found: list[Difference] = []
    # Objects of a table are compared only while the table exists and stays (context.in_scope), decided here
    # once for the kind rather than per object: a plan compares tens of thousands of them.
    if kind.document == "table" and kind.name != "table":
        present = context.present_tables

        def in_scope(key: ObjectKey) -> bool:
            return key.table in present
    else:

        def in_scope(key: ObjectKey) -> bool:
            return True

    for key, wanted in desired.objects.items():
        if not in_scope(key):
            continue
        current = live.objects.get(key)
        location = desired.locations.get(key)
        if current is None:
            found.append(Difference(kind.name, key, Change.ADDED, wanted, None, (), location))
        elif current is not wanted and current != wanted:  # canonicalisation hands back the live object itself
            found.append(
                Difference(kind.name, key, Change.CHANGED, wanted, current, field_changes(wanted, current), location)
            )
    for key, location in desired.absent.items():
        current = live.objects.get(key)
        if current is not None and in_scope(key):
            found.append(Difference(kind.name, key, Change.REMOVED, None, current, (), location))
    for key, current in live.objects.items():
        if key in desired.objects or key in desired.absent or not in_scope(key):
            continue
        if kind.live_only(key, current, desired, context) is Disposition.REMOVE:
            found.append(Difference(kind.name, key, Change.REMOVED, None, current, (), context.location_of(key)))
    return sorted(found, key=lambda difference: difference.key)


SCALARS = frozenset({str, int, float, bool, type(None)})


@functools.cache
def _compared_fields(cls: type[Any]) -> tuple[str, ...] | None:
    """The fields of a record type that are part of its definition: a dataclass's compare=True fields, every
    field of a named tuple; None for other types."""
    if dataclasses.is_dataclass(cls):
        return tuple(f.name for f in dataclasses.fields(cls) if f.compare)
    if issubclass(cls, tuple) and hasattr(cls, "_fields"):
        return tuple(cls._fields)
    return None


def plain(obj: Any) -> Any:
    """The object as plain data, without what is not part of its definition (compare=False fields)."""
    cls = type(obj)
    if cls in SCALARS:
        return obj
    names = _compared_fields(cls)  # type: ignore[arg-type]  # a class is hashable
    if names is not None:
        return {name: plain(getattr(obj, name)) for name in names}
    if isinstance(obj, tuple | list | frozenset):
        items = [plain(item) for item in obj]
        return sorted(items, key=repr) if isinstance(obj, frozenset) else items
    if isinstance(obj, dict):
        return {str(key): plain(value) for key, value in sorted(obj.items(), key=lambda item: repr(item[0]))}
    if isinstance(obj, StrEnum):
        return str(obj)
    return obj


def field_changes(desired: Any, live: Any) -> tuple[FieldChange, ...]:
    """Each differing field: its path (``keys[0].descending``), the desired and the live value."""
    from deepdiff import DeepDiff  # imported only when something differs

    found = []
    diff = DeepDiff(plain(desired), plain(live), view="tree")
    for items in diff.values():
        for item in items:
            path = "".join(
                f"[{part}]" if isinstance(part, int) else (f".{part}" if index else str(part))
                for index, part in enumerate(item.path(output_format="list"))
            )
            desired_value = None if type(item.t1).__name__ == "NotPresent" else item.t1
            live_value = None if type(item.t2).__name__ == "NotPresent" else item.t2
            found.append(FieldChange(path, desired_value, live_value))
    return tuple(sorted(found, key=lambda change: change.field))


def changed_names(differences: Iterable[Difference]) -> list[str]:
    return sorted({change.field.split(".")[0].split("[")[0] for d in differences for change in d.fields})
