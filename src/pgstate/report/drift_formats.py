"""Drift reports for people (text, markdown: an issue body) and machines (json, prometheus)."""

from __future__ import annotations

import json

from ..planning.findings import Finding
from .drift import DriftReport
from .plan import md


def _source(report: DriftReport) -> str:
    if report.git is None:
        return "desired state: not in a git repository"
    commit = (report.git.commit or "no commit yet")[:12]
    return f"desired state from commit {commit}" + (" with changes not committed" if report.git.dirty else "")


def _lines(finding: Finding, report: DriftReport) -> list[str]:
    lines = [f"- {finding.object_kind} {finding.target}: {finding.message}"]
    for difference in finding.fields:
        lines.append(f"    {difference.field}: desired {difference.desired!r}, live {difference.live!r}")
    if not finding.fields:
        if finding.desired is not None:
            lines.append(f"    desired: {finding.desired}")
        if finding.live is not None:
            lines.append(f"    live:    {finding.live}")
    commit = report.last_commits.get(finding.target)
    if commit:
        lines.append(f"    declared in a file last changed by {commit['commit'][:12]} ({commit['summary']})")
    return lines


def drift_text(report: DriftReport) -> str:
    drift, information = report.drift, report.information
    if not drift:
        lines = [f"No drift: the database matches the desired state ({_source(report)})."]
    else:
        lines = [f"Drift: {len(drift)} difference(s); {_source(report)}"]
        for finding in drift:
            lines += _lines(finding, report)
    if information:
        lines.append(f"Information ({len(information)}, not drift):")
        for finding in information:
            lines += _lines(finding, report)
    return "\n".join(lines) + "\n"


def drift_json(report: DriftReport) -> str:
    """The drift report for machines; its keys are documented in README ("drift --format json")."""
    by_kind: dict[str, int] = {}
    for finding in report.drift:
        by_kind[finding.object_kind] = by_kind.get(finding.object_kind, 0) + 1
    document = {
        "format": "pgstate-drift/1",
        "drift": bool(report.drift),
        "summary": {"total": len(report.drift), "by_kind": by_kind, "information": len(report.information)},
        "desired_commit": report.git.commit if report.git else None,
        "desired_dirty": report.git.dirty if report.git else None,
        "findings": [
            {**finding.to_json(), "last_commit": report.last_commits.get(finding.target)} for finding in report.drift
        ],
        "information": [finding.to_json() for finding in report.information],
    }
    return json.dumps(document, indent=2, sort_keys=True, default=str) + "\n"


def drift_markdown(report: DriftReport) -> str:
    """An issue body: a summary line, then a table per kind of object."""
    drift = report.drift
    if not drift:
        return f"### pgstate drift\n\nNo drift: the database matches the desired state ({_source(report)}).\n"
    kinds: dict[str, list[Finding]] = {}
    for finding in drift:
        kinds.setdefault(finding.object_kind, []).append(finding)
    summary = ", ".join(f"{len(found)} {kind}" for kind, found in sorted(kinds.items()))
    lines = [
        "### pgstate drift",
        "",
        f"**{len(drift)} difference(s)** between `desired/` and the live database ({summary}); {_source(report)}.",
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
            desired = "; ".join(f"{d.field}: {d.desired!r}" for d in f.fields) or str(f.desired or "")
            live = "; ".join(f"{d.field}: {d.live!r}" for d in f.fields) or str(f.live or "")
            commit = report.last_commits.get(f.target)
            change = f"`{commit['commit'][:7]}` {commit['summary']}" if commit else ""
            lines.append(f"| `{md(f.target)}` | {md(f.message)} | {md(desired)} | {md(live)} | {md(change)} |")
    return "\n".join(lines) + "\n"


def drift_prometheus(report: DriftReport) -> str:
    """The text exposition format, for a node-exporter textfile or a push gateway."""
    drifted: dict[tuple[str, str], int] = {}
    for finding in report.drift:
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
        f"pgstate_drift_total {len(report.drift)}",
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
