"""What ``plan`` reports: the plan, and with it what the desired files changed since a base revision (``--base``)
and the lint findings (``--lint``), in each plan format."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
from rich.text import Text

from ..planning.plan import Plan
from .changes import desired_changes_text, split_by_changes
from .comment import plan_comment
from .plan import plan_json, plan_rich, plan_sql

if TYPE_CHECKING:
    from ..lint import LintFinding
    from ..source.changes import ObjectChange


@dataclass(frozen=True)
class PlanReview:
    plan: Plan
    base: str | None = None
    changes: Sequence[ObjectChange] | None = None  # since base; None without --base
    lint: Sequence[LintFinding] | None = None  # None: not linted


def review_rich(review: PlanReview, conn: psycopg.Connection[Any] | None) -> Text:
    """For people: the desired changes since the base, the plan, the lint findings; ``.plain`` when piped."""
    text = Text()
    if review.changes is not None and review.base is not None:
        text.append(desired_changes_text(list(review.changes), review.base) + "\n")
    text += plan_rich(review.plan, conn)
    if review.lint is not None:
        from ..lint import render_text

        text.append("\nLint:\n", style="bold")
        text.append(render_text(review.lint))
    return text


def review_markdown(review: PlanReview, conn: psycopg.Connection[Any] | None) -> str:
    return plan_comment(review.plan, conn, base=review.base, changes=review.changes, lint=review.lint)


def review_json(review: PlanReview, conn: psycopg.Connection[Any] | None) -> str:
    """The plan's JSON, and, when asked for, ``desired_changes`` with each step's ``since_base`` (whether the
    changes cause it), and ``lint`` as ``pgstate lint --format json`` writes it."""
    if review.changes is None and review.lint is None:
        return plan_json(review.plan, conn)
    document = json.loads(plan_json(review.plan, conn))
    if review.changes is not None:
        document["desired_changes"] = [change.to_json() for change in review.changes]
        split = split_by_changes(review.plan.steps, review.plan.refusals, review.changes)
        ours = {step.id for step in split.ours}
        for step, shown in zip(review.plan.steps, document["steps"], strict=True):
            shown["since_base"] = step.id in ours
        for refusal, shown in zip(review.plan.refusals, document["refusals"], strict=True):
            shown["since_base"] = refusal in split.ours_refused
    if review.lint is not None:
        from ..lint import render_json

        document["lint"] = json.loads(render_json(review.lint))
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def review_sql(review: PlanReview, conn: psycopg.Connection[Any] | None) -> str:
    """The script alone: what a person runs by hand has no room for a review."""
    return plan_sql(review.plan, conn)
