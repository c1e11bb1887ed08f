"""Every difference between the desired and the live state of the managed objects."""

from __future__ import annotations

from .findings import Finding, FindingKind
from .kinds import all_kinds, global_kinds
from .model import DesiredState, LiveState
from .plan import table_contexts


def find_drift(desired: DesiredState, live: LiveState) -> list[Finding]:
    findings: list[Finding] = []
    for name, table in sorted(desired.tables.items()):
        if table.present and name not in live.tables:
            findings.append(
                Finding(FindingKind.MISSING_TABLE, "table", str(name), str(name), "declared table does not exist")
            )
    for global_kind in global_kinds():
        findings.extend(global_kind.drift(desired, live))
    for context in table_contexts(desired, live):
        for kind in all_kinds():
            findings.extend(kind.drift(context))
    return findings
