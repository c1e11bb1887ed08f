"""The recorded runs, for people: built as rich Text, whose plain form is the report piped or saved."""

from __future__ import annotations

from datetime import UTC

from rich.text import Text

from ..history.runs import Run
from ..history.status import RunStatus, StepStatus

# What a status means at a glance on a colour terminal: green converged, red failed, yellow needs a look.
STATUS_STYLES: dict[str, str] = {
    RunStatus.APPLIED: "green",
    RunStatus.ROLLED_BACK: "red",
    RunStatus.FAILED: "bold red",
    RunStatus.INCOMPLETE: "yellow",
    RunStatus.INTERRUPTED: "yellow",
    RunStatus.RUNNING: "cyan",
    StepStatus.COMMITTED: "green",
    StepStatus.APPLIED: "green",
    StepStatus.FAILED: "bold red",
    StepStatus.ROLLED_BACK: "red",
    StepStatus.SKIPPED: "dim",
}


def status_text(status: str, width: int = 0) -> Text:
    return Text(f"{status:<{width}}", style=STATUS_STYLES.get(status, ""))


def runs_text(found: list[Run]) -> Text:
    if not found:
        return Text("No runs recorded (pgstate.runs is empty or absent).\n")
    text = Text(f"{'run':>5}  {'started (UTC)':<19}  {'status':<11}  {'steps':>5}  commit\n", style="bold")
    for run in found:
        commit = (run.desired_commit or "-")[:12] + (" (dirty)" if run.desired_dirty else "")
        note = f"  rollback of {run.rollback_of}" if run.rollback_of else ""
        started = run.started_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        text.append(f"{run.id:>5}  {started}  ")
        text.append_text(status_text(run.status, 11))
        text.append(f"  {len(run.steps):>5}  {commit}{note}\n")
    return text


def run_text(run: Run) -> Text:
    finished = run.finished_at.isoformat() if run.finished_at else "-"
    text = Text(f"Run {run.id}: ", style="bold")
    text.append_text(status_text(run.status))
    text.append((f" (rollback of run {run.rollback_of})" if run.rollback_of else "") + "\n")
    text.append(f"  started {run.started_at.isoformat()}, finished {finished}\n")
    text.append(
        f"  desired files at commit {run.desired_commit or '-'}"
        + (" with changes not committed" if run.desired_dirty else "")
        + "\n"
    )
    if run.backup:
        text.append(f"  backup: {run.backup}\n")
    if run.error:
        text.append(f"  error: {run.error}\n", style="red")
    text.append("\n")
    for step in run.steps:
        error = f" ({step['error']})" if step.get("error") else ""
        text.append(f"  {step['position']:>3}. ")
        text.append_text(status_text(step["status"], 11))
        text.append(f" {step['action']} {step['target']}{error}\n")
    if run.status in (RunStatus.APPLIED, RunStatus.INCOMPLETE) or (
        run.status == RunStatus.INTERRUPTED and run.committed
    ):
        text.append(f"\nUndo it with: pgstate rollback {run.id}\n")
    return text
