"""Field-by-field differences between a desired and a live object of the model, computed with deepdiff."""

from __future__ import annotations

import dataclasses
from typing import Any


def _definition(obj: Any) -> Any:
    """The object as plain data, without what is not part of its definition (compare=False fields)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _definition(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.compare}
    if isinstance(obj, tuple | list):
        return [_definition(item) for item in obj]
    return obj


def field_differences(desired: Any, live: Any) -> tuple[dict[str, Any], ...]:
    """Each differing field: its path (``keys[0].descending``), the desired and the live value."""
    from deepdiff import DeepDiff  # imported only when drift is reported

    found = []
    diff = DeepDiff(_definition(desired), _definition(live), view="tree")
    for items in diff.values():
        for item in items:
            path = "".join(
                f"[{part}]" if isinstance(part, int) else (f".{part}" if index else str(part))
                for index, part in enumerate(item.path(output_format="list"))
            )
            desired_value = None if type(item.t1).__name__ == "NotPresent" else item.t1
            live_value = None if type(item.t2).__name__ == "NotPresent" else item.t2
            found.append({"field": path, "desired": desired_value, "live": live_value})
    return tuple(sorted(found, key=lambda entry: entry["field"]))
