"""Drift: every difference a plan would turn into steps, as findings, plus what the kinds note besides (INVALID
indexes, what needs a person, undeclared indexes as information). The differences are the plan's own."""

from __future__ import annotations

from ..kinds import all_kinds
from ..kinds.context import PlanContext
from .findings import Finding


def find_drift(context: PlanContext) -> list[Finding]:
    findings: list[Finding] = []
    for kind in all_kinds():
        findings += [kind.finding(difference, context) for difference in context.differences_of(kind.name)]
        findings += kind.notes(context.desired.of(kind.name), context.live.of(kind.name), context)
    return sorted(findings, key=lambda finding: (finding.key, finding.finding))
