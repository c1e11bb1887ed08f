"""``pgstate status``: one line for a prompt, a chat message or a dashboard cell: in sync or not, the commit of
the desired files, and the last run with its outcome."""

from __future__ import annotations

from collections import Counter
from datetime import UTC

from rich.text import Text

from ..history.runs import Run
from .drift import DriftReport
from .history import status_text


def status_line(report: DriftReport, last_run: Run | None) -> Text:
    drift = report.drift
    if drift:
        kinds = Counter(finding.object_kind for finding in drift)
        per_kind = ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items()))
        text = Text(f"not in sync: {len(drift)} difference(s) ({per_kind})", style="bold yellow")
    else:
        text = Text("in sync", style="bold green")
    if report.git is None or report.git.commit is None:
        text.append(" · desired files not in git")
    else:
        text.append(f" · desired at {report.git.commit[:12]}")
        if report.git.dirty:
            text.append(" with uncommitted changes", style="yellow")
    if last_run is None:
        text.append(" · no runs recorded")
    else:
        started = last_run.started_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        text.append(f" · last run {last_run.id} ")
        text.append_text(status_text(last_run.status))
        text.append(f" {started}")
        if last_run.desired_commit:
            text.append(f" at {last_run.desired_commit[:12]}")
    text.append("\n")
    return text
