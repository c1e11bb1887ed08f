"""Plans written for people (text, markdown) and machines (json, sql)."""

from __future__ import annotations

import json
from typing import Any

import psycopg

from ..planning.plan import Plan
from ..planning.steps import GATED, HAZARD_HELP


def _notices(plan: Plan) -> str:
    return "".join(f"NOTICE: {notice}\n" for notice in plan.notices)


def plan_text(plan: Plan, conn: psycopg.Connection[Any] | None) -> str:
    if not plan.has_changes:
        return "No changes: the database matches the desired state.\n" + _notices(plan)
    lines = [f"Plan: {len(plan.steps)} step(s)"]
    for number, step in enumerate(plan.steps, 1):
        where = "in the transaction" if step.transactional else "outside a transaction"
        lines.append(f"\n{number}. {step.action} {step.target}")
        lines.append(f"   {step.summary}")
        on = f" on {step.table}" if step.table is not None else ""
        lines.append(f"   lock: {step.lock}{on}, {where}")
        if step.location is not None:
            lines.append(f"   declared at {step.location}")
        if step.rewrites is not None:
            lines.append(f"   rewrites {step.table}: {step.rewrites.describe()}")
        for hazard in step.hazards:
            lines.append(f"   hazard {hazard}: {HAZARD_HELP[hazard]}")
        lines.append(f"   {step.printed.as_string(conn)};")
    return "\n".join(lines) + "\n" + ("\n" + _notices(plan) if plan.notices else "")


def plan_sql(plan: Plan, conn: psycopg.Connection[Any] | None) -> str:
    """A script a person could read or run by hand: the transaction's steps between BEGIN and COMMIT. The hazards
    that apply refuses without an option (data loss, authorization) are named above their step; the other formats
    list every hazard."""
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
    return "\n".join(lines) + "\n"


def plan_markdown(plan: Plan, conn: psycopg.Connection[Any] | None) -> str:
    if not plan.has_changes:
        return "### pgstate plan\n\nNo changes: the database matches the desired state.\n"
    hazards = sorted({h for step in plan.steps for h in step.hazards})
    lines = [
        "### pgstate plan",
        "",
        f"**{len(plan.steps)} step(s)**" + (f", hazards: {', '.join(f'`{h}`' for h in hazards)}" if hazards else ""),
        "",
        "| # | step | object | lock | transactional | rewrites | hazards |",
        "|---|---|---|---|---|---|---|",
    ]
    for number, step in enumerate(plan.steps, 1):
        lines.append(
            f"| {number} | {step.action} | `{md(step.target)}` | {step.lock} | "
            f"{'yes' if step.transactional else 'no'} | {step.rewrites.describe() if step.rewrites else ''} | "
            f"{', '.join(str(h) for h in step.hazards)} |"
        )
    lines += ["", "<details><summary>SQL</summary>", "", "```sql", plan_sql(plan, conn).rstrip(), "```", "</details>"]
    lines += [f"> **Notice:** {notice}" for notice in plan.notices]
    return "\n".join(lines) + "\n"


def plan_json(plan: Plan, conn: psycopg.Connection[Any] | None) -> str:
    return json.dumps(plan.to_json(conn), indent=2, sort_keys=True) + "\n"


def md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
