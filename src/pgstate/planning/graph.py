"""One dependency graph orders every step of a plan, across kinds.

Edges come from three places: a step's hard ``after`` edges (which must name steps of the plan), what it needs
done (every step that makes such an object runs first) and what it needs gone (every step that drops such an
object runs first). An edge against the phase order, or a cycle, is an error naming the steps. Among steps that
are ready, the phase, then the action's order, then the subject decide (``steps.Action``).
"""

from __future__ import annotations

import heapq
from collections import defaultdict

from ..errors import PgstateError
from ..model.keys import ObjectKey
from .steps import ACTION_ORDER, Step, StepId


class PlanGraphError(PgstateError):
    """The steps contradict each other: a bug in a kind, or desired objects that cannot be ordered."""


def order_steps(steps: list[Step]) -> list[Step]:
    """Topological order over every edge; raises PlanGraphError on a duplicate step, a missing or backwards edge, or
    a cycle."""
    by_id: dict[StepId, Step] = {}
    for step in steps:
        if step.id in by_id:
            raise PlanGraphError(
                f"the plan has the same step twice: {step.id}",
                hint="two desired objects map to the same live object; rename one",
            )
        by_id[step.id] = step
    waiting_on = {step_id: set(edges) for step_id, edges in _edges(by_id).items()}
    dependents: dict[StepId, list[StepId]] = defaultdict(list)
    for step_id, edges in waiting_on.items():
        for before in edges:
            dependents[before].append(step_id)

    def priority(step_id: StepId) -> tuple[int, int, ObjectKey]:
        step = by_id[step_id]
        return (step.phase.value, ACTION_ORDER[step.action], step.subject)

    ready = [(priority(step_id), step_id) for step_id, edges in waiting_on.items() if not edges]
    heapq.heapify(ready)
    ordered: list[Step] = []
    while ready:
        _, step_id = heapq.heappop(ready)
        ordered.append(by_id[step_id])
        for dependent in dependents[step_id]:
            waiting_on[dependent].discard(step_id)
            if not waiting_on[dependent]:
                heapq.heappush(ready, (priority(dependent), dependent))
    if len(ordered) != len(steps):
        stuck = sorted(str(step_id) for step_id, edges in waiting_on.items() if edges)
        raise PlanGraphError(f"the plan has a dependency cycle between: {', '.join(stuck)}")
    return ordered


def _edges(by_id: dict[StepId, Step]) -> dict[StepId, set[StepId]]:
    """For every step, the steps that must run before it."""
    makers: dict[ObjectKey, list[StepId]] = defaultdict(list)
    droppers: dict[ObjectKey, list[StepId]] = defaultdict(list)
    for step_id, step in by_id.items():
        for key in step.makes:
            makers[key].append(step_id)
        for key in step.drops:
            droppers[key].append(step_id)
    edges: dict[StepId, set[StepId]] = {}
    for step_id, step in by_id.items():
        before: set[StepId] = set()
        for hard in step.after:
            if hard not in by_id:
                raise PlanGraphError(f"step {step_id} must follow {hard}, which the plan does not have")
            before.add(hard)
        for key in step.needs_done:
            before.update(maker for maker in makers.get(key, ()) if maker != step_id)
        for key in step.needs_gone:
            before.update(dropper for dropper in droppers.get(key, ()) if dropper != step_id)
        for earlier in before:
            if by_id[earlier].phase.value > step.phase.value:
                raise PlanGraphError(
                    f"step {step_id} ({step.phase.name.lower()}) would have to follow {earlier}"
                    f" ({by_id[earlier].phase.name.lower()}), which runs in a later phase"
                )
        edges[step_id] = before
    return edges
