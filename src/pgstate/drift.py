"""Every difference between the desired and the live state of the managed objects, with where the desired state
came from (its git commit) and, for the cron that watches it, the state of the last runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from .findings import Finding, FindingKind
from .gitinfo import GitFacts, git_facts
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


@dataclass(frozen=True)
class RunFacts:
    """What pgstate.runs says, for monitoring: when an apply last succeeded, and whether the last run failed."""

    last_success: datetime | None = None
    last_run_failed: bool = False


@dataclass(frozen=True)
class DriftReport:
    findings: list[Finding]
    git: GitFacts | None  # None: the desired files are not in a git repository
    runs: RunFacts = RunFacts()
    invalid_indexes: dict[str, int] = field(default_factory=dict)  # managed table -> INVALID indexes
    # Per drifted object (its target): the last commit that touched the file declaring it.
    last_commits: dict[str, dict[str, Any]] = field(default_factory=dict)


def read_run_facts(conn: psycopg.Connection[Any]) -> RunFacts:
    row = conn.execute("SELECT to_regclass('pgstate.runs') IS NOT NULL").fetchone()
    if not (row and row[0]):
        return RunFacts()
    row = conn.execute(
        "SELECT (SELECT max(finished_at) FROM pgstate.runs WHERE status = 'applied'),"
        " (SELECT status FROM pgstate.runs WHERE status <> 'running' ORDER BY id DESC LIMIT 1)"
    ).fetchone()
    assert row is not None
    return RunFacts(row[0], row[1] in ("failed", "rolled back", "interrupted"))


def drift_report(conn: psycopg.Connection[Any], desired: DesiredState, live: LiveState, directory: Path) -> DriftReport:
    findings = find_drift(desired, live)
    git = git_facts(directory)
    last_commits: dict[str, dict[str, Any]] = {}
    if git is not None:
        for finding in findings:
            file = _declaring_file(desired, finding)
            if file is not None:
                commit = git.last_commit(file)
                if commit is not None:
                    last_commits[finding.target] = commit
    invalid = {
        str(name): sum(1 for index in table.indexes.values() if not index.valid)
        for name, table in sorted(live.tables.items())
        if name in desired.tables
    }
    return DriftReport(findings, git, read_run_facts(conn), invalid, last_commits)


def _declaring_file(desired: DesiredState, finding: Finding) -> str | None:
    """The desired file that declares the object of a finding (its table's, for a table's parts)."""
    for name, table in desired.tables.items():
        if str(name) == (finding.table or finding.target) and table.location is not None:
            return table.location.file
    for function in desired.functions.values():
        if finding.target.startswith(str(function.qualified_name)) and function.location is not None:
            return function.location.file
    for view in desired.views.values():
        if finding.target == str(view.name) and view.location is not None:
            return view.location.file
    if desired.database is not None and desired.database.location is not None and not finding.table:
        return desired.database.location.file
    return None
