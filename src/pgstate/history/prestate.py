"""The state of the managed objects before a run, recorded so that ``rollback`` can apply it again.

It is written as desired YAML by the kinds themselves (``Kind.record_parts``): each object the plan changes or
drops as it is, each one it creates as absent. Stored as YAML text, so that it reads back exactly as written
(key order included: a document's kind is its first key). What a kind cannot write is named, and rollback
refuses to claim it restored it. The owner and privileges of what the plan drops, which the format does not
say, are recorded apart: a rollback gives them back to what it creates again.
"""

from __future__ import annotations

from typing import Any

from ..kinds import all_kinds
from ..kinds.context import PlanContext
from ..model.access import Access
from ..model.keys import ObjectKey
from ..planning.diff import Change, Difference
from ..source.compose import Part, Unexpressible, compose, dump_yaml

STATE_FORMAT = "pgstate-state/2"


def record_pre_state(context: PlanContext) -> dict[str, Any]:
    parts: list[Part] = []
    unrestorable: list[dict[str, str]] = []
    access: list[dict[str, Any]] = []
    for kind in all_kinds():
        differences = [*context.differences_of(kind.name), *_in_the_way(kind.name, context)]
        for part in kind.record_parts(differences, context):
            if isinstance(part, Unexpressible):
                unrestorable.append({"object": f"{kind.name} {part.key}", "reason": part.reason})
            else:
                parts.append(part)
        for difference in differences:
            found = kind.access_of(difference.live) if difference.live is not None else None
            if found is not None:
                access.append({"key": difference.key.to_json(), **found.to_json()})
    documents = compose(parts)
    return {
        "format": STATE_FORMAT,
        "yaml": dump_yaml(documents) if documents else "",
        "unrestorable": unrestorable,
        "access": access,
    }


def _in_the_way(kind: str, context: PlanContext) -> list[Difference]:
    """Live dependents the plan drops and creates again (a policy reading a changing column): recorded as they
    are, since created again after the change they may read otherwise (``amount > 0`` becomes ``amount >
    (0)::numeric``), and a rollback must give back the text they had."""
    declared = {difference.key for difference in context.differences_of(kind)}
    live = context.live.of(kind).objects
    return [
        Difference(kind, key, Change.CHANGED, None, live[key])
        for key in sorted(context.in_the_way)
        if key.kind == kind and key not in declared and key in live and not context.dropped_by_retirement(key)
    ]


def recorded_access(state: dict[str, Any]) -> dict[ObjectKey, Access]:
    return {ObjectKey.from_json(item["key"]): Access.from_json(item) for item in state.get("access") or []}
