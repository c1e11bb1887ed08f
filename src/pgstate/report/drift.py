"""The drift report: the findings, where the desired state came from (its git commit, and the last commit of the
file declaring each drifted object) and, for the cron that watches it, the state of the last runs and which
database was checked, when."""

from __future__ import annotations

import getpass
import os
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import psycopg
from psycopg import pq

from ..db.urls import connection_target
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
class CheckTarget:
    """The database a check looked at, as monitoring tells checks apart: its name and the server's host:port.
    Never the user or the password. The name alone is not enough: every Supabase database is ``postgres``,
    and two checks of one name on one node exporter would write the same series twice (it refuses them)."""

    database: str
    server: str  # host:port; the host is a socket directory for a local socket ("" when not known)

    @classmethod
    def of_connection(cls, conn: psycopg.Connection[Any]) -> CheckTarget:
        """What the server says it is: current_database(), and the host and port libpq connected to."""
        row = conn.execute("SELECT current_database()").fetchone()
        assert row is not None
        return cls(str(row[0]), f"{conn.info.host}:{conn.info.port}")

    @classmethod
    def of_url(cls, url: str | None) -> CheckTarget:
        """Where ``url`` points, without connecting: for the report of a check that failed, with the labels a
        check that succeeds would have (libpq's defaults fill what the URL leaves out, as when connecting)."""
        if not url:
            return UNKNOWN_TARGET
        try:
            given = _settled(pq.Conninfo.parse(connection_target(url).url.encode("utf-8")))
        except (psycopg.Error, UnicodeEncodeError):  # not libpq's even so: what it says as a URL
            given = _of_foreign_url(url)
        options = {**_settled(pq.Conninfo.get_defaults()), **{k: v for k, v in given.items() if v}}
        database = options.get("dbname") or options.get("user") or getpass.getuser()
        return cls(database, f"{options.get('host') or ''}:{options.get('port') or ''}")


def _settled(options: list[pq.ConninfoOption]) -> dict[str, str]:
    """Connection options as libpq settles them: the given value, else the environment variable, else the
    compiled-in default."""
    found = {}
    for option in options:
        value = option.val.decode() if option.val is not None else None
        if value is None and option.envvar is not None:
            value = os.environ.get(option.envvar.decode()) or None
        if value is None and option.compiled is not None:
            value = option.compiled.decode()
        if value is not None:
            found[option.keyword.decode()] = value
    return found


def _of_foreign_url(url: str) -> dict[str, str]:
    """What a URL libpq does not take says of the host, port and database, read as a URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return {}
    return {"host": parts.hostname or "", "port": str(port or ""), "dbname": unquote(parts.path.lstrip("/"))}


UNKNOWN_TARGET = CheckTarget("", "")


@dataclass(frozen=True)
class DriftReport:
    """What one drift check found, and of which database, when."""

    findings: list[Finding]  # drift and information alike; Finding.counts tells them apart
    git: GitFacts | None  # None: the desired files are not in a git repository
    runs: RunFacts = RunFacts()
    invalid_indexes: dict[str, int] = field(default_factory=dict)  # managed table -> INVALID indexes
    # Per drifted object (its target): the last commit that touched the file declaring it.
    last_commits: dict[str, dict[str, Any]] = field(default_factory=dict)
    target: CheckTarget = UNKNOWN_TARGET
    checked_at: float = 0.0  # when the live state was read, Unix time
    # --strict: information (an undeclared index left alone without prune_indexes) counts as drift too.
    strict: bool = False

    @property
    def drift(self) -> list[Finding]:
        """What makes drift exit 2."""
        return [finding for finding in self.findings if finding.counts or self.strict]

    @property
    def information(self) -> list[Finding]:
        return [finding for finding in self.findings if not (finding.counts or self.strict)]

    @property
    def unmanaged_indexes(self) -> int:
        """Undeclared indexes of managed tables left alone (no prune_indexes), counted or not."""
        return sum(1 for finding in self.findings if finding.finding == UNMANAGED_INDEX)


UNMANAGED_INDEX = "unmanaged-index"  # the finding the index kind notes for them


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


def drift_report(
    conn: psycopg.Connection[Any], context: PlanContext, directory: Path, *, strict: bool = False
) -> DriftReport:
    """The report of the comparison in ``context``; ``strict``: information counts as drift."""
    checked_at = time.time()
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
    return DriftReport(
        findings,
        git,
        read_run_facts(conn),
        dict(sorted(invalid.items())),
        last_commits,
        CheckTarget.of_connection(conn),
        checked_at,
        strict,
    )
