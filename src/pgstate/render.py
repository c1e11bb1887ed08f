"""Plans and drift, written for people (text, markdown) and machines (json, sql)."""

from __future__ import annotations

import json
from typing import Any

import psycopg

from .change import HAZARD_HELP
from .findings import Finding
from .plan import Plan


def plan_text(plan: Plan, conn: psycopg.Connection[Any] | None) -> str:
    if not plan.has_changes:
        return "No changes: the database matches the desired state.\n"
    lines = [f"Plan: {len(plan.changes)} step(s)"]
    for number, change in enumerate(plan.changes, 1):
        where = "in the transaction" if change.transactional else "outside a transaction"
        lines.append(f"\n{number}. {change.action} {change.target}")
        lines.append(f"   {change.summary}")
        lines.append(f"   lock: {change.lock} on {change.table}, {where}")
        if change.rewrites is not None:
            lines.append(f"   rewrites {change.table}: {change.rewrites.describe()}")
        for hazard in change.hazards:
            lines.append(f"   hazard {hazard}: {HAZARD_HELP[hazard]}")
        lines.append(f"   {change.statement.as_string(conn)};")
    return "\n".join(lines) + "\n"


def plan_sql(plan: Plan, conn: psycopg.Connection[Any] | None) -> str:
    """A script a person could read or run by hand: the transaction's steps between BEGIN and COMMIT."""
    lines = ["-- pgstate plan", f"-- fingerprint {plan.fingerprint}"]
    in_transaction = False
    for change in plan.changes:
        if change.transactional and not in_transaction:
            lines += ["BEGIN;", f"SET LOCAL lock_timeout = '{plan.lock_timeout}';"]
            in_transaction = True
        lines.append(f"-- {change.action} {change.target}: {change.summary}")
        lines.append(f"{change.statement.as_string(conn)};")
    if in_transaction:
        lines.append("COMMIT;")
    return "\n".join(lines) + "\n"


def plan_markdown(plan: Plan, conn: psycopg.Connection[Any] | None) -> str:
    if not plan.has_changes:
        return "### pgstate plan\n\nNo changes: the database matches the desired state.\n"
    hazards = sorted({h for c in plan.changes for h in c.hazards})
    lines = [
        "### pgstate plan",
        "",
        f"**{len(plan.changes)} step(s)**" + (f", hazards: {', '.join(f'`{h}`' for h in hazards)}" if hazards else ""),
        "",
        "| # | step | object | lock | transactional | rewrites | hazards |",
        "|---|---|---|---|---|---|---|",
    ]
    for number, change in enumerate(plan.changes, 1):
        lines.append(
            f"| {number} | {change.action} | `{_md(change.target)}` | {change.lock} | "
            f"{'yes' if change.transactional else 'no'} | {change.rewrites.describe() if change.rewrites else ''} | "
            f"{', '.join(str(h) for h in change.hazards)} |"
        )
    lines += ["", "<details><summary>SQL</summary>", "", "```sql", plan_sql(plan, conn).rstrip(), "```", "</details>"]
    return "\n".join(lines) + "\n"


def plan_json(plan: Plan, conn: psycopg.Connection[Any] | None) -> str:
    return json.dumps(plan.to_json(conn), indent=2, sort_keys=True) + "\n"


def drift_text(findings: list[Finding]) -> str:
    if not findings:
        return "No drift: the database matches the desired state.\n"
    lines = [f"Drift: {len(findings)} difference(s)"]
    for finding in findings:
        lines.append(f"- {finding.object_kind} {finding.target}: {finding.message}")
        if finding.desired is not None:
            lines.append(f"    desired: {finding.desired}")
        if finding.live is not None:
            lines.append(f"    live:    {finding.live}")
    return "\n".join(lines) + "\n"


def drift_json(findings: list[Finding]) -> str:
    document = {"format": "pgstate-drift/1", "drift": bool(findings), "findings": [f.to_json() for f in findings]}
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def drift_markdown(findings: list[Finding]) -> str:
    if not findings:
        return "### pgstate drift\n\nNo drift: the database matches the desired state.\n"
    lines = [
        "### pgstate drift",
        "",
        f"**{len(findings)} difference(s)** between `desired/` and the live database.",
        "",
        "| object | finding | desired | live |",
        "|---|---|---|---|",
    ]
    for f in findings:
        lines.append(
            f"| {f.object_kind} `{_md(f.target)}` | {_md(f.message)} | {_md(str(f.desired or ''))} | "
            f"{_md(str(f.live or ''))} |"
        )
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
