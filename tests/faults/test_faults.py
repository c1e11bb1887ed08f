"""Fault injection at every step of the seed app's apply and of its rollback, on PostgreSQL 18 and 15, quiet and
with pgbench writing (issue 10, item 7).

Mechanisms: an event trigger raising at the k-th DDL command; pg_terminate_backend of pgstate's backend at step
k; a competing lock that outlasts the retries; failures at the commit (a deferred constraint trigger; the
connection cut, the backend terminated, pgstate killed or the server restarted around the COMMIT); kill -9 of
pgstate at step k and at random moments; the connection cut (a proxy) at step k and after a random message; an
immediate server restart at step k. Upkeep failures are the steps k of the maintenance phase.

After each: the database is in the pre-run state (after a kill or a restart, plus some concurrently built
indexes), or in the desired state when the commit happened; the rows of every table are as they were (or as the
successful run leaves them); nothing temporary is left; the run record says what happened; and a fresh run
converges (for the apply, ``plan`` has no step and ``drift`` exits 0) with no INVALID index.

PGSTATE_FAULTS: unset or ``sample`` (make test) runs a deterministic handful per server; ``all`` (make faults)
runs everything; ``none`` skips. PGSTATE_FAULTS_ONLY='server/op/mode/mechanism/label' (fnmatch) picks
injections, as each failure's "reproduce" line shows. PGSTATE_FAULTS_SCALE divides the seed's row counts (10).
PGSTATE_FAULTS_STRIDE=2 halves the campaign: the odd steps quiet, the even ones under pgbench.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from typing import Any

import pytest
from faultkit import record_result
from mechanisms import MECHANISMS, Campaign, injections, run_injection

SERVERS = ("pg18", "pg15")
OPS = ("apply", "rollback")
MODES = ("quiet", "pgbench")
SELECTION = os.environ.get("PGSTATE_FAULTS", "sample").strip().lower()
ONLY = os.environ.get("PGSTATE_FAULTS_ONLY")

# The sample for every `make test`: each mechanism once, spread over the servers, both runs and both loads; the
# injection within each is chosen by a seeded generator (the same on every run).
SAMPLE: dict[str, tuple[tuple[str, str, str], ...]] = {
    "pg18": (
        ("apply", "quiet", "event-trigger"),
        ("apply", "quiet", "commit"),
        ("apply", "pgbench", "kill9"),
        ("apply", "quiet", "restart"),
    ),
    "pg15": (
        ("apply", "quiet", "lock"),
        ("apply", "quiet", "terminate"),
        ("apply", "quiet", "cut"),
        ("rollback", "quiet", "kill9"),
    ),
}


@dataclass(frozen=True)
class Case:
    server: str
    parts: tuple[tuple[str, str, str], ...]  # (op, mode, mechanism)
    sample: bool


def cases() -> list[Any]:
    if SELECTION in ("none", "0", "off"):
        return []
    if SELECTION == "all":
        return [
            pytest.param(Case(server, ((op, mode, mechanism),), False), id=f"{server}-{op}-{mode}-{mechanism}")
            for mechanism in MECHANISMS  # servers innermost: a run cut short has covered both alike
            for op in OPS
            for mode in MODES
            for server in SERVERS
        ]
    return [pytest.param(Case(server, SAMPLE[server], True), id=f"{server}-sample") for server in SERVERS]


def _patterns() -> list[list[str]]:
    """PGSTATE_FAULTS_ONLY as patterns of five fields: server, op, mode, mechanism, label (which may hold '/')."""
    return [pattern.strip().split("/", 4) for pattern in (ONLY or "").split(",") if pattern.strip()]


def _matches(fields: list[str], patterns: list[list[str]]) -> bool:
    return any(
        all(fnmatch.fnmatchcase(value, pattern[i] if i < len(pattern) else "*") for i, value in enumerate(fields))
        for pattern in patterns
    )


@pytest.mark.parametrize("case", cases())
def test_fault_injection(case: Case, campaign: Campaign) -> None:
    results = []
    patterns = _patterns()
    for op, mode, mechanism in case.parts:
        if patterns and not _matches([case.server, op, mode, mechanism], patterns):
            continue
        scenario = campaign.scenario(case.server, op)
        for injection in injections(scenario, mechanism, mode, case.sample):
            if patterns and not _matches([case.server, op, mode, mechanism, injection.label], patterns):
                continue
            result = run_injection(scenario, mode, injection)
            record_result(campaign.results, result)
            results.append(result)
            print(result.line(), flush=True)
    failed = [r for r in results if not r.held]
    assert not failed, f"{len(failed)} of {len(results)} injections did not hold:\n" + "\n".join(
        f"{r.line()}\n      reproduce: {r.reproduce}" for r in failed
    )
