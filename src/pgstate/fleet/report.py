"""The fleet's report: every target's result joined, failures first, then the targets grouped by the fingerprint
of their drift ("412 in sync · 7 share the same drift · 1 unique"), as text, markdown, JSON or Prometheus series
with a ``target`` label."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.exposition import generate_latest

from ..errors import ExitCode
from .results import DRIFT, FAILED, IN_SYNC, TargetResult
from .targets import Target

NOT_REPORTED = "no result: its job did not run or did not finish"
LISTED = 20  # names listed per group before "and N more"


@dataclass(frozen=True)
class DriftGroup:
    fingerprint: str
    members: list[TargetResult]

    @property
    def findings(self) -> list[dict[str, object]]:
        return self.members[0].findings


@dataclass(frozen=True)
class FleetReport:
    failures: list[TargetResult]  # failed, refused, or never reported
    groups: list[DriftGroup]  # largest first
    in_sync: list[TargetResult]
    duplicates: list[str] = field(default_factory=list)  # targets with more than one result: the last one counts

    @property
    def exit_code(self) -> ExitCode:
        if self.failures:
            return ExitCode.ERROR
        return ExitCode.CHANGES if self.groups else ExitCode.OK

    @property
    def total(self) -> int:
        return len(self.failures) + len(self.in_sync) + sum(len(group.members) for group in self.groups)

    def summary(self) -> str:
        shared = sum(len(group.members) for group in self.groups if len(group.members) > 1)
        unique = sum(1 for group in self.groups if len(group.members) == 1)
        parts = [f"{len(self.in_sync)} in sync"]
        if shared:
            groups = sum(1 for group in self.groups if len(group.members) > 1)
            parts.append(f"{shared} share the same drift" + (f" ({groups} groups)" if groups > 1 else ""))
        if unique:
            parts.append(f"{unique} unique")
        if self.failures:
            parts.append(f"{len(self.failures)} failed")
        return " · ".join(parts)


def join(results: list[TargetResult], expected: list[Target]) -> FleetReport:
    """The results by target (a target's latest result, by time, when it has several), with every expected
    target that has none counted as a failure."""
    latest: dict[str, TargetResult] = {}
    duplicates = set()
    for result in sorted(results, key=lambda result: result.at):
        if result.target in latest:
            duplicates.add(result.target)
        latest[result.target] = result
    for target in expected:
        if target.name not in latest:
            latest[target.name] = TargetResult(
                target.name, "none", FAILED, int(ExitCode.ERROR), target.wave, target.role, error=NOT_REPORTED, at=0.0
            )
    failures, in_sync = [], []
    by_fingerprint: dict[str, list[TargetResult]] = defaultdict(list)
    for name in sorted(latest):
        result = latest[name]
        if result.status == IN_SYNC:
            in_sync.append(result)
        elif result.status == DRIFT and result.fingerprint is not None:
            by_fingerprint[result.fingerprint].append(result)
        else:
            failures.append(result)
    groups = [DriftGroup(fingerprint, members) for fingerprint, members in by_fingerprint.items()]
    groups.sort(key=lambda group: (-len(group.members), group.fingerprint))
    return FleetReport(failures, groups, in_sync, sorted(duplicates))


def _names(results: list[TargetResult]) -> str:
    names = [result.target for result in results]
    shown = ", ".join(names[:LISTED])
    return shown + (f" and {len(names) - LISTED} more" if len(names) > LISTED else "")


def report_text(report: FleetReport) -> str:
    lines = [f"fleet: {report.total} target(s): {report.summary()}"]
    for result in report.failures:
        lines.append(
            f"  FAILED  {result.target} ({result.verb}, exit {result.exit_code}): {result.error or result.status}"
        )
    for group in report.groups:
        label = "same drift" if len(group.members) > 1 else "unique drift"
        lines.append(
            f"  DRIFT   {group.fingerprint} {label}, {len(group.findings)} finding(s): {_names(group.members)}"
        )
        lines += [f"            {item['kind']} {item['object']}: {_said(item)}" for item in group.findings[:10]]
        if len(group.findings) > 10:
            lines.append(f"            and {len(group.findings) - 10} more")
    if report.in_sync:
        lines.append(f"  IN SYNC {_names(report.in_sync)}")
    return "\n".join(lines) + "\n"


def _said(item: dict[str, object]) -> str:
    """A finding in words: its message, shortened to one line (the first member's: the group shares the rest)."""
    text = str(item.get("message") or item.get("finding") or "")
    return text if len(text) <= 120 else text[:117] + "..."


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def report_markdown(report: FleetReport) -> str:
    lines = ["### pgstate fleet", "", f"**{report.total} targets: {report.summary()}**"]
    if report.failures:
        lines += ["", "#### Failed", "", "| target | wave | verb | exit | error |", "|---|---|---|---|---|"]
        lines += [
            f"| `{r.target}` | {r.wave or ''} | {r.verb} | {r.exit_code} | {_cell(r.error or r.status)} |"
            for r in report.failures
        ]
    for group in report.groups:
        label = f"{len(group.members)} targets share this drift" if len(group.members) > 1 else "unique drift"
        lines += ["", f"#### Drift `{group.fingerprint}`: {label}", "", f"Targets: {_names(group.members)}", ""]
        lines += ["| kind | object | finding |", "|---|---|---|"]
        lines += [f"| {item['kind']} | `{_cell(item['object'])}` | {_cell(_said(item))} |" for item in group.findings]
    if report.in_sync:
        lines += ["", f"<details><summary>{len(report.in_sync)} in sync</summary>", "", _names(report.in_sync)]
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def report_json(report: FleetReport) -> str:
    document = {
        "format": "pgstate-fleet/1",
        "summary": report.summary(),
        "targets": report.total,
        "failed": [result.to_json() for result in report.failures],
        "drift_groups": [
            {"fingerprint": group.fingerprint, "targets": [r.target for r in group.members], "findings": group.findings}
            for group in report.groups
        ],
        "in_sync": [result.target for result in report.in_sync],
        "duplicates": report.duplicates,
    }
    return json.dumps(document, indent=2, sort_keys=True, default=str) + "\n"


def report_prometheus(report: FleetReport) -> str:
    """Per target: its state (one series per state, 1 for the one it is in), its drift findings and group, and
    when its result was made; for the fleet, how many targets are in each state."""
    registry = CollectorRegistry()
    labels = ("target", "wave", "role")
    state = Gauge(
        "pgstate_fleet_target_state",
        "1 for the state the target's last result is in (in_sync, drift, failed), 0 for the others",
        [*labels, "state"],
        registry=registry,
    )
    findings = Gauge(
        "pgstate_fleet_target_drift_findings",
        "differences the target's last result found (absent when it failed)",
        [*labels, "fingerprint"],
        registry=registry,
    )
    at = Gauge(
        "pgstate_fleet_target_result_timestamp_seconds",
        "when the target's last result was made, Unix time (0: it never reported)",
        labels,
        registry=registry,
    )
    totals = Gauge("pgstate_fleet_targets", "targets per state", ["state"], registry=registry)
    members = [
        *(("failed", r) for r in report.failures),
        *(("drift", r) for group in report.groups for r in group.members),
        *(("in_sync", r) for r in report.in_sync),
    ]
    for name, result in members:
        values = (result.target, result.wave or "", result.role or "")
        for candidate in ("in_sync", "drift", "failed"):
            state.labels(*values, candidate).set(1.0 if candidate == name else 0.0)
        if name != "failed":
            findings.labels(*values, result.fingerprint or "").set(float(len(result.findings)))
        at.labels(*values).set(result.at)
    for name in ("in_sync", "drift", "failed"):
        totals.labels(name).set(float(sum(1 for candidate, _ in members if candidate == name)))
    return generate_latest(registry).decode("utf-8")
