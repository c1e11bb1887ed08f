"""Rules on the plan: steps that are slow for the application, lose something for good, or open up rows."""

from __future__ import annotations

from collections.abc import Iterator

from ...planning.steps import Hazard, Step
from ..base import Hit, Severity
from ..context import LintContext
from ..registry import rule

DATA_LOSS = "data-loss"  # a hazard a future kind may declare (e.g. a lossy type change); read by name

# Drops of these lose nothing that cannot be rebuilt from the data: an index (even a valid one, whose drop has
# the index-dropped hazard) is slower queries at worst, never lost data.
REBUILDABLE = frozenset({"index", "invalid-index"})


@rule("column-type-rewrite", Severity.WARNING, "a column type change rewrites the table under ACCESS EXCLUSIVE")
def type_rewrite(ctx: LintContext) -> Iterator[Hit]:
    for change in ctx.input.plan.steps if ctx.input.plan else ():
        if Hazard.TABLE_REWRITE not in change.hazards:
            continue
        size = f" ({change.rewrites.describe()})" if change.rewrites else ""
        yield Hit(
            change.target,
            f"{change.summary}: the table{size} is copied while reads and writes wait",
            "run it in a quiet hour, or choose a binary-compatible type (varchar -> text, or a longer varchar,"
            " does not rewrite)",
            change.location or (ctx.locator.table(change.table) if change.table else None),
        )


@rule(
    "destructive-change",
    Severity.ERROR,
    "a plan step destroys data, or drops a policy, function or view it does not re-create (index drops do not count)",
)
def destructive(ctx: LintContext) -> Iterator[Hit]:
    changes = ctx.input.plan.steps if ctx.input.plan else ()
    created = {(_object_kind(c, "create-"), c.target) for c in changes}
    for change in changes:
        kind = _object_kind(change, "drop-") or _object_kind(change, "retire-")
        loses_data = DATA_LOSS in {str(h) for h in change.hazards}
        dropped_for_good = kind is not None and kind not in REBUILDABLE and (kind, change.target) not in created
        if loses_data or dropped_for_good:
            yield Hit(
                change.target,
                f"{change.action}: {change.summary}"
                + (" (data is lost)" if loses_data else f" (no step re-creates the {kind})"),
                "make sure it is meant: apply refuses it without --allow-destructive, and rollback restores only"
                " what was backed up",
                change.location or (ctx.locator.table(change.table) if change.table else None),
            )


AUTHZ = {
    str(Hazard.AUTHZ_WIDENING): "widens who can see or change rows",
    str(Hazard.AUTHZ_CHANGED): "changes a policy's expression, not provably to the same",
}


@rule(
    "authz-change",
    Severity.WARNING,
    "a plan step widens who can see or change rows (RLS off, a permissive policy added, a restrictive one dropped,"
    " roles or commands widened), or changes a policy's expression",
)
def authz_change(ctx: LintContext) -> Iterator[Hit]:
    for change in ctx.input.plan.steps if ctx.input.plan else ():
        found = [what for hazard, what in AUTHZ.items() if hazard in {str(h) for h in change.hazards}]
        if not found:
            continue
        yield Hit(
            change.target,
            f"{change.action}: {change.summary} ({'; '.join(found)})",
            "make sure it is meant: apply refuses it without --allow-authz-widening (a rollback restores the access"
            " of before without it)",
            change.location or (ctx.locator.table(change.table) if change.table else None),
        )


def _object_kind(change: Step, prefix: str) -> str | None:
    action = str(change.action)
    return action.removeprefix(prefix) if action.startswith(prefix) else None
