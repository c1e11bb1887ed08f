"""The state of the managed objects before a run, recorded so that ``rollback`` can apply it again.

It is written as desired YAML by the kinds themselves (``Kind.record_parts``): each object the plan changes or
drops as it is, each one it creates as absent. Stored as YAML text, so that it reads back exactly as written
(key order included: a document's kind is its first key). What a kind cannot write is named, and rollback
refuses to claim it restored it.
"""

from __future__ import annotations

from typing import Any

from ..kinds import all_kinds
from ..kinds.base import Part, Unexpressible
from ..kinds.context import PlanContext
from ..source.compose import compose, dump_yaml

STATE_FORMAT = "pgstate-state/2"


def record_pre_state(context: PlanContext) -> dict[str, Any]:
    parts: list[Part] = []
    unrestorable: list[dict[str, str]] = []
    for kind in all_kinds():
        for part in kind.record_parts(context.differences_of(kind.name), context):
            if isinstance(part, Unexpressible):
                unrestorable.append({"object": f"{kind.name} {part.key}", "reason": part.reason})
            else:
                parts.append(part)
    documents = compose(parts)
    return {"format": STATE_FORMAT, "yaml": dump_yaml(documents) if documents else "", "unrestorable": unrestorable}
