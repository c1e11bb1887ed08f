"""What the desired files change since a git revision, for people (text) and pull requests (markdown), and which
steps of the plan those changes cause: a pull request's review reads them apart from the differences that were
there before it (drift, or changes merged and not applied yet)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from ..model.keys import ObjectKey
from ..planning.refusals import Refusal
from ..planning.steps import Step, StepId
from ..source.changes import ObjectChange
from .plan import md

_MARKS = {"added": "+", "changed": "~", "removed": "-"}


def desired_changes_text(changes: list[ObjectChange], base: str) -> str:
    if not changes:
        return f"The desired files are unchanged since {base}.\n"
    lines = [f"Changes to the desired files since {base}:"]
    for change in changes:
        fields = f" ({', '.join(change.fields)})" if change.fields else ""
        lines.append(f"  {_MARKS[change.change]} {change.kind} {change.target}{fields}")
    return "\n".join(lines) + "\n"


def desired_changes_markdown(changes: Sequence[ObjectChange], base: str) -> str:
    """The objects the desired files add, change and remove since ``base``: a list, narrow enough for a
    pull-request comment."""
    if not changes:
        return f"The desired files are unchanged since `{md(base)}`.\n"
    words = {"added": "added", "changed": "changed", "removed": "removed"}
    lines = []
    for change in changes:
        fields = f" ({md(', '.join(change.fields))})" if change.fields else ""
        lines.append(f"- {words[change.change]} {change.kind} `{md(change.target)}`{fields}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Split:
    """A plan's steps and refusals: the ones the desired files' changes since the base cause, and the rest."""

    ours: tuple[Step, ...]
    before: tuple[Step, ...]  # already different before the changes
    ours_refused: tuple[Refusal, ...]
    before_refused: tuple[Refusal, ...]


def split_by_changes(steps: Sequence[Step], refusals: Sequence[Refusal], changes: Sequence[ObjectChange]) -> Split:
    """Which steps the changes cause, in plan order.

    A step is caused by the changes when its subject, or an object it makes or drops, is an object the changes
    add, change or remove; a change of a table's ``prune_indexes`` or of an index written without a name covers
    the table's index steps. So are the steps such a step cannot go without: those it must follow by a hard edge
    (a replacement's build and drop), the drops of what it needs gone (a policy in the way of a type change),
    and the steps on the same object that must follow it (that policy created again). Everything else was
    already different before the changes.
    """
    changed = frozenset(change.key for change in changes if change.key is not None)
    index_tables = frozenset(
        change.key.table for change in changes if change.key is not None and _covers_table_indexes(change.key)
    )

    def caused(step: Step) -> bool:
        if step.subject in changed or not changed.isdisjoint(step.makes | step.drops):
            return True
        return step.kind == "index" and step.table in index_tables

    by_id = {step.id: step for step in steps}
    droppers: dict[ObjectKey, list[StepId]] = defaultdict(list)
    followers: dict[StepId, list[StepId]] = defaultdict(list)
    for step in steps:
        for key in step.drops:
            droppers[key].append(step.id)
        for hard in step.after:
            followers[hard].append(step.id)
    ours = {step.id for step in steps if caused(step)}
    frontier = list(ours)
    while frontier:
        step = by_id[frontier.pop()]
        related = [hard for hard in step.after if hard in by_id]
        related += [dropper for key in step.needs_gone for dropper in droppers[key]]
        related += [other for other in followers[step.id] if by_id[other].subject == step.subject]
        for other in related:
            if other not in ours:
                ours.add(other)
                frontier.append(other)

    def refusal_caused(refusal: Refusal) -> bool:
        return refusal.subject in changed or (refusal.step is not None and caused(refusal.step))

    return Split(
        tuple(step for step in steps if step.id in ours),
        tuple(step for step in steps if step.id not in ours),
        tuple(refusal for refusal in refusals if refusal_caused(refusal)),
        tuple(refusal for refusal in refusals if not refusal_caused(refusal)),
    )


def _covers_table_indexes(key: ObjectKey) -> bool:
    """The index kind's key for a table's ``prune_indexes`` (``*``), or for an entry without a name (named by its
    position, since only the server can say the name it gets): a change of either may touch any index step of
    the table."""
    name = key.parts[-1] if key.parts else ""
    return key.kind == "index" and (name == "*" or name.startswith("(unnamed")) and key.table is not None
