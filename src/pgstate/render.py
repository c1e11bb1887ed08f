"""Plans and drift, written for people (text, markdown) and machines (json, sql)."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

import psycopg

from .change import HAZARD_HELP
from .findings import Finding
from .plan import Plan
from .runs import Run


def _notices(plan: Plan) -> str:
    return "".join(f"NOTICE: {notice}\n" for notice in plan.notices)


def plan_text(plan: Plan, conn: psycopg.Connection[Any] | None) -> str:
    if not plan.has_changes:
        return "No changes: the database matches the desired state.\n" + _notices(plan)
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
    return "\n".join(lines) + "\n" + ("\n" + _notices(plan) if plan.notices else "")


def plan_sql(plan: Plan, conn: psycopg.Connection[Any] | None) -> str:
    """A script a person could read or run by hand: the transaction's steps between BEGIN and COMMIT."""
    lines = ["-- pgstate plan", f"-- fingerprint {plan.fingerprint}"]
    in_transaction = False
    for change in plan.changes:
        if change.transactional and not in_transaction:
            lines += ["BEGIN;", f"SET LOCAL lock_timeout = '{plan.lock_timeout}';"]
            in_transaction = True
        elif not change.transactional and in_transaction:  # upkeep runs after the commit
            lines.append("COMMIT;")
            in_transaction = False
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
    lines += [f"> **Notice:** {notice}" for notice in plan.notices]
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


def runs_text(found: list[Run]) -> str:
    if not found:
        return "No runs recorded (pgstate.runs is empty or absent).\n"
    lines = [f"{'run':>5}  {'started (UTC)':<19}  {'status':<11}  {'steps':>5}  commit"]
    for run in found:
        commit = (run.desired_commit or "-")[:12] + (" (dirty)" if run.desired_dirty else "")
        note = f"  rollback of {run.rollback_of}" if run.rollback_of else ""
        started = run.started_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        lines.append(f"{run.id:>5}  {started}  {run.status:<11}  {len(run.steps):>5}  {commit}{note}")
    return "\n".join(lines) + "\n"


def run_text(run: Run) -> str:
    finished = run.finished_at.isoformat() if run.finished_at else "-"
    lines = [
        f"Run {run.id}: {run.status}" + (f" (rollback of run {run.rollback_of})" if run.rollback_of else ""),
        f"  started {run.started_at.isoformat()}, finished {finished}",
        f"  desired files at commit {run.desired_commit or '-'}"
        + (" with changes not committed" if run.desired_dirty else ""),
    ]
    if run.backup:
        lines.append(f"  backup: {run.backup}")
    if run.error:
        lines.append(f"  error: {run.error}")
    lines.append("")
    for step in run.steps:
        error = f" ({step['error']})" if step.get("error") else ""
        lines.append(f"  {step['position']:>3}. {step['status']:<11} {step['action']} {step['target']}{error}")
    if run.status == "applied":
        lines.append(f"\nUndo it with: pgstate rollback {run.id}")
    return "\n".join(lines) + "\n"
