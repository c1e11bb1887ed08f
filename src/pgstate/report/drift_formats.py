"""Drift reports for people (text, markdown: an issue body) and machines (json, prometheus), and how a report is
written to a file that others read while it changes."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.exposition import generate_latest
from rich.text import Text

from ..kinds import all_kinds
from ..planning.findings import Finding
from .drift import CheckTarget, DriftReport
from .plan import md

KIND_NAMES = frozenset(kind.name for kind in all_kinds())


def _source(report: DriftReport) -> str:
    if report.git is None:
        return "desired state: not in a git repository"
    commit = (report.git.commit or "no commit yet")[:12]
    return f"desired state from commit {commit}" + (" with changes not committed" if report.git.dirty else "")


# How the text report is styled on a colour terminal (report/terminal.py): what is wrong in red, what is only
# information dimmed, what the desired state says in green, what the database has in yellow.
DRIFT_STYLE = "bold red"
CLEAN_STYLE = "bold green"
INFO_STYLE = "cyan"
DESIRED_STYLE = "green"
LIVE_STYLE = "yellow"
ASIDE_STYLE = "dim"


def _finding_text(finding: Finding, report: DriftReport, counted: bool) -> Text:
    line_style = "" if counted else ASIDE_STYLE
    text = Text()
    text.append(f"- {finding.object_kind} ", style=line_style)
    text.append(finding.target, style="bold" if counted else ASIDE_STYLE)
    text.append(f": {finding.message}\n", style=line_style)
    for difference in finding.fields:
        text.append(f"    {difference.field}: ")
        text.append(f"desired {difference.desired!r}", style=DESIRED_STYLE)
        text.append(", ")
        text.append(f"live {difference.live!r}", style=LIVE_STYLE)
        text.append("\n")
    if not finding.fields:
        if finding.desired is not None:
            text.append("    ")
            text.append(f"desired: {finding.desired}", style=DESIRED_STYLE)
            text.append("\n")
        if finding.live is not None:
            text.append("    ")
            text.append(f"live:    {finding.live}", style=LIVE_STYLE)
            text.append("\n")
    commit = report.last_commits.get(finding.target)
    if commit:
        text.append(
            f"    declared in a file last changed by {commit['commit'][:12]} ({commit['summary']})\n", style=ASIDE_STYLE
        )
    return text


def drift_styled(report: DriftReport) -> Text:
    """The report for people, with the styles a colour terminal shows; its ``plain`` is ``drift_text``."""
    drift, information = report.drift, report.information
    text = Text()
    if not drift:
        text.append("No drift", style=CLEAN_STYLE)
        text.append(f": the database matches the desired state ({_source(report)}).\n")
    else:
        text.append("Drift", style=DRIFT_STYLE)
        text.append(f": {len(drift)} difference(s); {_source(report)}\n")
        for finding in drift:
            text.append_text(_finding_text(finding, report, counted=True))
    if information:
        text.append(f"Information ({len(information)}, not drift):\n", style=INFO_STYLE)
        for finding in information:
            text.append_text(_finding_text(finding, report, counted=False))
    return text


def drift_text(report: DriftReport) -> str:
    """The report for people, as plain text (piped, or written with --out)."""
    return drift_styled(report).plain


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


# Every pgstate series carries these labels: which database was checked (never a user or a password).
TARGET_LABELS = ("database", "server")


def drift_prometheus(report: DriftReport) -> str:
    """The report as metrics, in the text exposition format, for node exporter's textfile collector or a push
    gateway. Gauges all: each file is the state at one check, not an accumulation."""
    registry = _check_registry(report.target, report.checked_at, up=True)
    drifted = Counter(finding.key.kind for finding in report.drift)
    # Every kind has its series, 0 when clean: a series that appears only with drift cannot be graphed or
    # summed across checks (the kinds are a short fixed list: pgstate's own).
    by_kind: dict[tuple[str, ...], float] = {
        (kind,): float(drifted.get(kind, 0)) for kind in sorted({*KIND_NAMES, *drifted})
    }
    last_success = report.runs.last_success.timestamp() if report.runs.last_success else 0.0
    series: list[tuple[str, str, Mapping[tuple[str, ...], float], tuple[str, ...]]] = [
        (
            "pgstate_drift_detected",
            "1 when the live database differs from the desired state (pgstate drift exits 2: apply would change"
            " something, or a person must act), else 0.",
            {(): float(bool(report.drift))},
            (),
        ),
        (
            "pgstate_drift_items",
            "Differences from the desired state that count as drift, by kind of object as pgstate names it"
            " (index, column, policy, ..., upkeep for maintenance due); their sum is what drift reports.",
            by_kind,
            ("kind",),
        ),
        (
            "pgstate_invalid_indexes",
            "INVALID indexes (left by a failed or interrupted concurrent build) on managed tables; they are"
            " drift. apply rebuilds the declared ones, and the others with maintenance.reindex_invalid.",
            {(): float(sum(report.invalid_indexes.values()))},
            (),
        ),
        (
            "pgstate_unmanaged_indexes",
            "Indexes of managed tables that the desired state does not declare, left alone without"
            " prune_indexes: information, not drift (unless drift runs with --strict).",
            {(): float(report.unmanaged_indexes)},
            (),
        ),
        (
            "pgstate_last_successful_apply_timestamp_seconds",
            "When an apply last succeeded, Unix time, from pgstate.runs (0: never).",
            {(): last_success},
            (),
        ),
        (
            "pgstate_last_run_failed",
            "1 when the last finished run failed, was rolled back or was interrupted, else 0.",
            {(): float(report.runs.last_run_failed)},
            (),
        ),
    ]
    for name, documentation, values, extra in series:
        _gauge(registry, report.target, name, documentation, values, extra)
    return generate_latest(registry).decode("utf-8")


def failed_check_prometheus(target: CheckTarget, checked_at: float) -> str:
    """The metrics of a check that could not run (no connection, a bad desired file): pgstate_up 0 and when,
    and no drift figures (unknown, not 0), so that an alert on pgstate_up fires and none on drift does."""
    return generate_latest(_check_registry(target, checked_at, up=False)).decode("utf-8")


def _check_registry(target: CheckTarget, checked_at: float, *, up: bool) -> CollectorRegistry:
    """A registry of its own (not prometheus_client's global one, which holds the process's metrics) with what
    every check writes, whether it ran or not."""
    registry = CollectorRegistry()
    _gauge(
        registry,
        target,
        "pgstate_up",
        "1 when the drift check ran (read the desired files and the live database), 0 when it failed: then"
        " the other pgstate metrics are absent and pgstate's log says why.",
        {(): float(up)},
    )
    _gauge(
        registry,
        target,
        "pgstate_last_check_timestamp_seconds",
        "When the drift check last ran, Unix time, whether it succeeded or not: a value that stops moving"
        " means the check stopped running.",
        {(): checked_at},
    )
    return registry


def _gauge(
    registry: CollectorRegistry,
    target: CheckTarget,
    name: str,
    documentation: str,
    values: Mapping[tuple[str, ...], float],
    extra_labels: tuple[str, ...] = (),
) -> None:
    """A gauge with the target's labels (and ``extra_labels``), one sample per entry of ``values``."""
    gauge = Gauge(name, documentation, [*TARGET_LABELS, *extra_labels], registry=registry)
    for extra, value in values.items():
        gauge.labels(target.database, target.server, *extra).set(value)


def write_atomically(path: Path, content: str) -> None:
    """``content`` into ``path`` so that a reader sees the old file whole or the new one whole, never part of
    one: a temporary file in the same directory (one file system: the rename is atomic), flushed to disk, then
    renamed over ``path``. node exporter's textfile collector reads only ``*.prom`` files, and the temporary
    name does not end so. prometheus_client's write_to_textfile renames but never fsyncs: after a crash the
    new name could hold an empty file. The file gets the mode a new file gets (0666 less the umask), not
    mkstemp's 0600: node exporter usually runs as another user and must read it."""
    directory = path.parent
    temporary = directory / f".{path.name}.{os.getpid()}.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _sync_directory(directory)


def _sync_directory(directory: Path) -> None:
    """The rename itself made durable (the directory's entry); not every file system lets a directory be
    opened or synced, and the file is in place either way."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
