"""The drift report: the findings, where the desired state came from (its git commit, and the last commit of the
file declaring each drifted object) and, for the cron that watches it, the state of the last runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from ..history.status import RunStatus
from ..kinds.context import PlanContext
from ..planning.drift import find_drift
from ..planning.findings import Finding
from ..source.git import GitFacts, git_facts


@dataclass(frozen=True)
class RunFacts:
    """What pgstate.runs says, for monitoring: when an apply last succeeded, and whether the last run failed."""

    last_success: datetime | None = None
    last_run_failed: bool = False


@dataclass(frozen=True)
class DriftReport:
    findings: list[Finding]  # drift and information alike; Finding.counts tells them apart
    git: GitFacts | None  # None: the desired files are not in a git repository
    runs: RunFacts = RunFacts()
    invalid_indexes: dict[str, int] = field(default_factory=dict)  # managed table -> INVALID indexes
    # Per drifted object (its target): the last commit that touched the file declaring it.
    last_commits: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def drift(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.counts]

    @property
    def information(self) -> list[Finding]:
        return [finding for finding in self.findings if not finding.counts]


def read_run_facts(conn: psycopg.Connection[Any]) -> RunFacts:
    row = conn.execute("SELECT to_regclass('pgstate.runs') IS NOT NULL").fetchone()
    if not (row and row[0]):
        return RunFacts()
    row = conn.execute(
        "SELECT (SELECT max(finished_at) FROM pgstate.runs WHERE status = 'applied'),"
        " (SELECT status FROM pgstate.runs WHERE status <> 'running' ORDER BY id DESC LIMIT 1)"
    ).fetchone()
    assert row is not None
    return RunFacts(row[0], row[1] is not None and row[1] != RunStatus.APPLIED)


def drift_report(conn: psycopg.Connection[Any], context: PlanContext, directory: Path) -> DriftReport:
    findings = find_drift(context)
    git = git_facts(directory)
    last_commits: dict[str, dict[str, Any]] = {}
    if git is not None:
        for finding in findings:
            location = finding.location or context.location_of(finding.key)
            if finding.counts and location is not None:
                commit = git.last_commit(location.file)
                if commit is not None:
                    last_commits[finding.target] = commit
        git.close()  # the report keeps the facts, not git's processes
    invalid: dict[str, int] = {}
    for index in context.live.of("index").objects.values():
        if index.table in context.present_tables and not index.valid:
            invalid[str(index.table)] = invalid.get(str(index.table), 0) + 1
    return DriftReport(findings, git, read_run_facts(conn), dict(sorted(invalid.items())), last_commits)
