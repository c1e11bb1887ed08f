"""Plans and drift, written for people (text, markdown) and machines (json, sql)."""

from __future__ import annotations

import json
from datetime import UTC
from typing import TYPE_CHECKING, Any

import psycopg

from .change import HAZARD_HELP
from .findings import Finding
from .plan import Plan

if TYPE_CHECKING:  # annotations only: the verbs that need them import them
    from .desired_changes import ObjectChange
    from .drift import DriftReport
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


def _source(report: DriftReport) -> str:
    if report.git is None:
        return "desired state: not in a git repository"
    commit = (report.git.commit or "no commit yet")[:12]
    return f"desired state from commit {commit}" + (" with changes not committed" if report.git.dirty else "")


def drift_text(report: DriftReport) -> str:
    findings = report.findings
    if not findings:
        return f"No drift: the database matches the desired state ({_source(report)}).\n"
    lines = [f"Drift: {len(findings)} difference(s); {_source(report)}"]
    for finding in findings:
        lines.append(f"- {finding.object_kind} {finding.target}: {finding.message}")
        for difference in finding.fields:
            lines.append(f"    {difference['field']}: desired {difference['desired']!r}, live {difference['live']!r}")
        if not finding.fields:
            if finding.desired is not None:
                lines.append(f"    desired: {finding.desired}")
            if finding.live is not None:
                lines.append(f"    live:    {finding.live}")
        commit = report.last_commits.get(finding.target)
        if commit:
            lines.append(f"    declared in a file last changed by {commit['commit'][:12]} ({commit['summary']})")
    return "\n".join(lines) + "\n"


def drift_json(report: DriftReport) -> str:
    """The drift report for machines; its keys are documented in README ("drift --format json")."""
    by_kind: dict[str, int] = {}
    for finding in report.findings:
        by_kind[finding.object_kind] = by_kind.get(finding.object_kind, 0) + 1
    document = {
        "format": "pgstate-drift/1",
        "drift": bool(report.findings),
        "summary": {"total": len(report.findings), "by_kind": by_kind},
        "desired_commit": report.git.commit if report.git else None,
        "desired_dirty": report.git.dirty if report.git else None,
        "findings": [
            {**finding.to_json(), "last_commit": report.last_commits.get(finding.target)} for finding in report.findings
        ],
    }
    return json.dumps(document, indent=2, sort_keys=True, default=str) + "\n"


def drift_markdown(report: DriftReport) -> str:
    """An issue body: a summary line, then a table per kind of object."""
    if not report.findings:
        return f"### pgstate drift\n\nNo drift: the database matches the desired state ({_source(report)}).\n"
    kinds: dict[str, list[Finding]] = {}
    for finding in report.findings:
        kinds.setdefault(finding.object_kind, []).append(finding)
    summary = ", ".join(f"{len(found)} {kind}" for kind, found in sorted(kinds.items()))
    lines = [
        "### pgstate drift",
        "",
        f"**{len(report.findings)} difference(s)** between `desired/` and the live database ({summary});"
        f" {_source(report)}.",
    ]
    for kind, found in sorted(kinds.items()):
        lines += [
            "",
            f"#### {kind}",
            "",
            "| object | finding | desired | live | last change |",
            "|---|---|---|---|---|",
        ]
        for f in found:
            desired = "; ".join(f"{d['field']}: {d['desired']!r}" for d in f.fields) or str(f.desired or "")
            live = "; ".join(f"{d['field']}: {d['live']!r}" for d in f.fields) or str(f.live or "")
            commit = report.last_commits.get(f.target)
            change = f"`{commit['commit'][:7]}` {commit['summary']}" if commit else ""
            lines.append(f"| `{_md(f.target)}` | {_md(f.message)} | {_md(desired)} | {_md(live)} | {_md(change)} |")
    return "\n".join(lines) + "\n"


def drift_prometheus(report: DriftReport) -> str:
    """The text exposition format, for a node-exporter textfile or a push gateway."""
    drifted: dict[tuple[str, str], int] = {}
    for finding in report.findings:
        key = (finding.object_kind, finding.table or finding.target)
        drifted[key] = drifted.get(key, 0) + 1
    last_success = report.runs.last_success.timestamp() if report.runs.last_success else 0
    lines = [
        "# HELP pgstate_drift_objects Objects that differ from the desired state, by kind and table.",
        "# TYPE pgstate_drift_objects gauge",
    ]
    lines += [
        f'pgstate_drift_objects{{kind="{_label(kind)}",table="{_label(table)}"}} {count}'
        for (kind, table), count in sorted(drifted.items())
    ]
    lines += [
        "# HELP pgstate_drift_total All differences from the desired state.",
        "# TYPE pgstate_drift_total gauge",
        f"pgstate_drift_total {len(report.findings)}",
        "# HELP pgstate_invalid_indexes INVALID indexes of managed tables.",
        "# TYPE pgstate_invalid_indexes gauge",
    ]
    lines += [
        f'pgstate_invalid_indexes{{table="{_label(table)}"}} {count}'
        for table, count in sorted(report.invalid_indexes.items())
    ]
    lines += [
        "# HELP pgstate_last_successful_apply_timestamp_seconds When an apply last succeeded (0: never).",
        "# TYPE pgstate_last_successful_apply_timestamp_seconds gauge",
        f"pgstate_last_successful_apply_timestamp_seconds {last_success}",
        "# HELP pgstate_last_run_failed 1 when the last run failed, was rolled back or was interrupted.",
        "# TYPE pgstate_last_run_failed gauge",
        f"pgstate_last_run_failed {1 if report.runs.last_run_failed else 0}",
    ]
    return "\n".join(lines) + "\n"


def _label(value: str) -> str:
    """A label value escaped as the exposition format asks: backslash, double quote, newline."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


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


_MARKS = {"added": "+", "changed": "~", "removed": "-"}


def desired_changes_text(changes: list[ObjectChange], base: str) -> str:
    if not changes:
        return f"The desired files are unchanged since {base}.\n"
    lines = [f"Changes to the desired files since {base}:"]
    for change in changes:
        fields = f" ({', '.join(change.fields)})" if change.fields else ""
        lines.append(f"  {_MARKS[change.change]} {change.kind} {change.target}{fields}")
    return "\n".join(lines) + "\n"


def desired_changes_markdown(changes: list[ObjectChange], base: str) -> str:
    if not changes:
        return f"### Desired files\n\nUnchanged since `{_md(base)}`.\n"
    lines = [f"### Desired files: changes since `{_md(base)}`", "", "| | object | what changed |", "|---|---|---|"]
    for change in changes:
        lines.append(f"| {change.change} | {change.kind} `{_md(change.target)}` | {_md(', '.join(change.fields))} |")
    return "\n".join(lines) + "\n"
