"""Comparing the two states, once, for plan and drift alike: every kind's differences, then the live dependents
that stand in the way of the changes (found through pg_depend, across tables)."""

from __future__ import annotations

from collections import defaultdict

from ..errors import Refused
from ..kinds import all_kinds
from ..kinds.context import PlanContext
from ..model.keys import ObjectKey
from ..model.state import Dependency, DesiredState, LiveState
from ..source.documents import SpecSet
from .refusals import raise_first


def compare(desired: DesiredState, live: LiveState, specs: SpecSet, *, keep_refusals: bool = False) -> PlanContext:
    """Every kind's differences and what stands in their way. A change blocked by dependents pgstate cannot
    re-create is refused (exit 3), or, with ``keep_refusals``, recorded for the plan to show (``plan`` does)."""
    context = PlanContext(desired, live, specs)
    for kind in all_kinds():
        context.differences[kind.name] = kind.differences(desired.of(kind.name), live.of(kind.name), context)
    for kind in all_kinds():
        context.replaced.update(kind.blocking_changes(context.differences[kind.name], context))
    context.in_the_way = in_the_way(context)
    if not keep_refusals:
        raise_first(context.refusals)
    return context


def in_the_way(context: PlanContext) -> dict[ObjectKey, tuple[Dependency, ...]]:
    """Live dependents of what the plan changes, which must be dropped before and re-created after.

    Objects of tables being retired in the same run go with their table (the retirement comes first). A
    dependent pgstate cannot re-create exactly (a trigger, a materialized view, a rule, a default or constraint
    calling a function) refuses the change, naming it and what it blocks.
    """
    found: dict[ObjectKey, list[Dependency]] = defaultdict(list)
    blocked: list[Dependency] = []
    for dependency in context.live.dependencies:
        if dependency.root not in context.replaced:
            continue
        if not dependency.supported:
            blocked.append(dependency)
            continue
        found[dependency.key].append(dependency)
    if blocked:
        names = "; ".join(f"{d.description} (depends on {d.root})" for d in blocked)
        refused = Refused(
            f"the plan changes objects that others depend on and pgstate cannot re-create: {names}",
            location=context.location_of(blocked[0].root),
            hint="change or drop those dependents first (by migration), then plan again",
        )
        context.refuse(blocked[0].root, refused)
    return {key: tuple(dependencies) for key, dependencies in found.items()}
