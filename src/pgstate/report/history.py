"""The recorded runs, for people."""

from __future__ import annotations

from datetime import UTC

from ..history.runs import Run
from ..history.status import RunStatus


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
    if run.status in (RunStatus.APPLIED, RunStatus.INCOMPLETE) or (
        run.status == RunStatus.INTERRUPTED and run.committed
    ):
        lines.append(f"\nUndo it with: pgstate rollback {run.id}")
    return "\n".join(lines) + "\n"
