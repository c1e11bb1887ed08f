"""Steps the planner will not let run: a retirement its guards refuse, an index a foreign key needs, a change
that dependents pgstate cannot re-create stand in the way of.

A refusal is a finding of the plan, not the end of it: ``plan`` shows it beside the steps that would run (a pull
request's review needs both), and everything that carries a plan out (``apply``, ``rollback``) refuses with it,
exit 3, as :func:`raise_first` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import Refused
from ..model.keys import ObjectKey
from .steps import Step


@dataclass(frozen=True)
class Refusal:
    """Why ``subject`` cannot change; ``step`` is what would run if it could (None when the refusal comes before
    any step, from what stands in the way of a change)."""

    subject: ObjectKey
    error: Refused
    step: Step | None = None

    @property
    def action(self) -> str:
        return str(self.step.action) if self.step is not None else "change"

    @property
    def target(self) -> str:
        return str(self.subject)

    def to_json(self) -> dict[str, Any]:
        from .plan import step_json  # the plan's module imports this one

        return {
            "subject": self.subject.to_json(),
            "step": step_json(self.step, None) if self.step is not None else None,
            "action": self.action,
            "kind": self.subject.kind,
            "target": self.target,
            "summary": self.step.summary if self.step is not None else None,
            "message": self.error.message,
            "hint": self.error.hint,
            "location": str(self.error.location) if self.error.location else None,
        }


def raise_first(refusals: Sequence[Refusal]) -> None:
    """What apply and every other verb that runs a plan do with refusals: stop (exit 3), with the first one as it
    was always raised, and how many more there are."""
    if not refusals:
        return
    first = refusals[0].error
    if len(refusals) == 1:
        raise first
    more = len(refusals) - 1
    raise Refused(
        f"{first.message} (and {more} more refused step{'s' if more > 1 else ''})",
        location=first.location,
        hint=(first.hint + "; " if first.hint else "") + "`pgstate plan` lists every refusal",
    )


def without_refused(steps: list[Step], refusals: list[Refusal]) -> list[Step]:
    """The steps that can still run; ``refusals`` gets the ones that cannot. A refusal made before any step (a
    change blocked by its dependents) takes the steps of its subject; a step whose hard edge names a refused step
    is refused with it (the graph requires every such edge to name a step of the plan)."""
    kept = list(steps)
    for number, refusal in enumerate(list(refusals)):
        if refusal.step is None:
            claimed = [step for step in kept if step.subject == refusal.subject]
            for position, step in enumerate(claimed):
                kept.remove(step)
                if position == 0:
                    refusals[number] = Refusal(refusal.subject, refusal.error, step)
                else:
                    refusals.append(Refusal(refusal.subject, refusal.error, step))
    refused = {refusal.step.id for refusal in refusals if refusal.step is not None}
    changed = bool(refused)
    while changed:
        changed = False
        for step in list(kept):
            waits_for = next((hard for hard in step.after if hard in refused), None)
            if waits_for is not None:
                kept.remove(step)
                refused.add(step.id)
                refusals.append(
                    Refusal(
                        step.subject,
                        Refused(f"it waits for the refused step {waits_for}", location=step.location),
                        step,
                    )
                )
                changed = True
    return kept
