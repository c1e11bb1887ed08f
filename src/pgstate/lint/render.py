"""Lint findings for people (text) and for machines (json, stable keys); both end with the counts."""

from __future__ import annotations

import json
from collections.abc import Sequence

from .base import LintFinding, Severity


def summary(findings: Sequence[LintFinding]) -> str:
    errors = sum(f.severity is Severity.ERROR for f in findings)
    warnings = len(findings) - errors
    return f"{errors} error{'' if errors == 1 else 's'}, {warnings} warning{'' if warnings == 1 else 's'}"


def render_text(findings: Sequence[LintFinding]) -> str:
    """One ``file:line:col: severity: [rule] target: message`` line per finding and its hint, then the counts."""
    lines = []
    for finding in findings:
        where = f"{finding.location}: " if finding.location else ""
        lines.append(f"{where}{finding.severity}: [{finding.rule}] {finding.target}: {finding.message}")
        lines.append(f"  hint: {finding.hint}")
    lines.append(summary(findings))
    return "\n".join(lines) + "\n"


def render_json(findings: Sequence[LintFinding]) -> str:
    errors = sum(f.severity is Severity.ERROR for f in findings)
    document = {
        "format": "pgstate-lint/1",
        "findings": [finding.to_json() for finding in findings],
        "summary": {"errors": errors, "warnings": len(findings) - errors, "text": summary(findings)},
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"
