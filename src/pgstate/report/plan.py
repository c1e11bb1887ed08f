"""Plans written for people (text) and machines (json, sql); the pull-request comment is report/comment.py.

The text is built once as :class:`rich.text.Text`: its ``plain`` is what ``plan`` prints when piped, and the
styles ride along for a colour terminal (report/terminal.py decides which a stream gets).
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
from rich.text import Text

from ..planning.plan import Plan
from ..planning.refusals import Refusal
from ..planning.steps import GATED, HAZARD_HELP, Step

# What a colour terminal shows: what destroys data or opens access stands out, the mechanics recede.
STYLE_GATED = "bold red"
STYLE_HAZARD = "yellow"
STYLE_QUIET = "dim"
STYLE_SQL = "cyan"
STYLE_REFUSED = "bold red"


def _notices(plan: Plan) -> Text:
    text = Text()
    for notice in plan.notices:
        text.append("NOTICE:", style="bold yellow")
        text.append(f" {notice}\n")
    return text


def plan_text(plan: Plan, conn: psycopg.Connection[Any] | None) -> str:
    return plan_rich(plan, conn).plain


def plan_rich(plan: Plan, conn: psycopg.Connection[Any] | None) -> Text:
    """The plan for people, styled; ``.plain`` is the text as piped."""
    if not plan.differs:
        text = Text()
        text.append("No changes: the database matches the desired state.\n", style="green")
        return text + _notices(plan)
    header = f"Plan: {len(plan.steps)} step(s)" + (f", {len(plan.refusals)} refused" if plan.refusals else "")
    text = Text()
    text.append(header, style="bold")
    for number, step in enumerate(plan.steps, 1):
        text.append("\n\n")
        text += _step(f"{number}.", step, conn)
    if plan.refusals:
        text.append("\n\n")
        text.append(
            "Refused: apply refuses the whole plan (exit 3) until these are resolved; the steps above are what would"
            " run with them",
            style=STYLE_REFUSED,
        )
        for number, refusal in enumerate(plan.refusals, 1):
            text.append("\n\n")
            text += _refusal(f"R{number}.", refusal, conn)
    text.append("\n")
    if plan.notices:
        text.append("\n")
        text += _notices(plan)
    return text


def _step(label: str, step: Step, conn: psycopg.Connection[Any] | None) -> Text:
    gated = any(hazard in GATED for hazard in step.hazards)
    text = Text(f"{label} ")
    text.append(str(step.action), style=STYLE_GATED if gated else "bold")
    text.append(f" {step.target}")
    text.append(f"\n   {step.summary}")
    where = "in the transaction" if step.transactional else "outside a transaction"
    on = f" on {step.table}" if step.table is not None else ""
    text.append(f"\n   lock: {step.lock}{on}, {where}", style=STYLE_QUIET)
    if step.location is not None:
        text.append(f"\n   declared at {step.location}", style=STYLE_QUIET)
    if step.rewrites is not None:
        text.append(f"\n   rewrites {step.table}: {step.rewrites.describe()}", style=STYLE_HAZARD)
    for hazard in step.hazards:
        text.append(
            f"\n   hazard {hazard}: {HAZARD_HELP[hazard]}", style=STYLE_GATED if hazard in GATED else STYLE_HAZARD
        )
    text.append(f"\n   {step.printed.as_string(conn)};", style=STYLE_SQL)
    return text


def _refusal(label: str, refusal: Refusal, conn: psycopg.Connection[Any] | None) -> Text:
    step = refusal.step
    text = _step(label, step, conn) if step is not None else Text(f"{label} change {refusal.target}")
    error = refusal.error
    text.append(f"\n   refused: {error.message}", style=STYLE_REFUSED)
    if error.location is not None and (refusal.step is None or refusal.step.location != error.location):
        text.append(f"\n   at {error.location}", style=STYLE_QUIET)
    if error.hint:
        text.append(f"\n   hint: {error.hint}")
    return text


def plan_sql(plan: Plan, conn: psycopg.Connection[Any] | None) -> str:
    """A script a person could read or run by hand: the transaction's steps between BEGIN and COMMIT. The hazards
    that apply refuses without an option (data loss, authorization) are named above their step; the other formats
    list every hazard. Refused steps are not in it: a comment at the end names them."""
    lines = ["-- pgstate plan", f"-- fingerprint {plan.fingerprint}"]
    in_transaction = False
    for step in plan.steps:
        if step.transactional and not in_transaction:
            lines += ["BEGIN;", f"SET LOCAL lock_timeout = '{plan.lock_timeout}';"]
            in_transaction = True
        elif not step.transactional and in_transaction:  # upkeep runs after the commit
            lines.append("COMMIT;")
            in_transaction = False
        lines.append(f"-- {step.action} {step.target}: {step.summary}")
        lines += [f"-- hazard {hazard}: {HAZARD_HELP[hazard]}" for hazard in step.hazards if hazard in GATED]
        lines.append(f"{step.printed.as_string(conn)};")
    if in_transaction:
        lines.append("COMMIT;")
    for refusal in plan.refusals:
        lines.append(f"-- refused, not in this script: {refusal.action} {refusal.target}: {refusal.error.message}")
    return "\n".join(lines) + "\n"


def plan_markdown(plan: Plan, conn: psycopg.Connection[Any] | None) -> str:
    """The pull-request comment of a plan alone (no base to compare with, no lint): report/comment.py."""
    from .comment import plan_comment

    return plan_comment(plan, conn)


def plan_json(plan: Plan, conn: psycopg.Connection[Any] | None) -> str:
    return json.dumps(plan.to_json(conn), indent=2, sort_keys=True) + "\n"


def md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
