"""What the desired files change since a git revision, for people (text) and pull requests (markdown)."""

from __future__ import annotations

from ..source.changes import ObjectChange
from .plan import md

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
        return f"### Desired files\n\nUnchanged since `{md(base)}`.\n"
    lines = [f"### Desired files: changes since `{md(base)}`", "", "| | object | what changed |", "|---|---|---|"]
    for change in changes:
        lines.append(f"| {change.change} | {change.kind} `{md(change.target)}` | {md(', '.join(change.fields))} |")
    return "\n".join(lines) + "\n"
