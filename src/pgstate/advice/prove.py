"""``advise --prove``: the proposals measured, not estimated. The database is copied on its own server
(``CREATE DATABASE ... TEMPLATE``), the workload file runs there, the proposals are written into a copy of the
desired files and applied there through the normal apply, the workload runs again, and each statement's measured
times before and after are reported. The copy is dropped at the end; the database itself is only read (CREATE
DATABASE needs it without other sessions, which is one more reason never to run this against production).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import conninfo, sql

from ..errors import ExitCode, PgstateError
from .explain import Persona
from .proposals import Proposal
from .writeback import write_proposals


@dataclass(frozen=True)
class Measured:
    statement: str
    before_ms: float  # median of the rounds
    after_ms: float

    @property
    def ratio(self) -> float:
        return self.after_ms / self.before_ms if self.before_ms else 1.0


def workload_statements(path: Path) -> list[str]:
    """The statements of a workload file: SQL separated by `;` at the end of a line; `--` comment lines skipped."""
    text = "\n".join(
        line for line in path.read_text(encoding="utf-8").splitlines() if not line.lstrip().startswith("--")
    )
    statements = [part.strip() for part in text.split(";\n")]
    statements = [s.rstrip(";").strip() for s in statements if s.strip()]
    if not statements:
        raise PgstateError(f"{path}: no statements", hint="write one concrete query per statement, each ending in ;")
    return statements


def same_database(url: str, other: str | None) -> bool:
    if not other:
        return False
    try:
        one, two = conninfo.conninfo_to_dict(url), conninfo.conninfo_to_dict(other)
    except psycopg.ProgrammingError:
        return False
    keys = ("host", "port", "dbname")
    return all(str(one.get(key) or "") == str(two.get(key) or "") for key in keys)


def prove(
    url: str,
    desired: Path,
    proposals: list[Proposal],
    workload: list[str],
    persona: Persona,
    *,
    rounds: int = 5,
    default_schema: str = "public",
) -> list[Measured]:
    """Measured times per statement before and after applying ``proposals`` on a copy (raises when they do not
    apply there)."""
    source = conninfo.conninfo_to_dict(url)
    name = f"{source.get('dbname') or 'postgres'}_prove_{uuid.uuid4().hex[:8]}"[:63]
    admin = conninfo.make_conninfo(url, dbname="postgres")
    copy_url = conninfo.make_conninfo(url, dbname=name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(str(source["dbname"]))
            )
        )
    scratch = Path(tempfile.mkdtemp(prefix="pgstate-prove-"))
    try:
        before = _timed(copy_url, workload, persona, rounds)
        changed = scratch / "desired"
        shutil.copytree(desired, changed)
        write_proposals(changed, proposals, default_schema)
        applied = subprocess.run(
            [sys.executable, "-m", "pgstate", "apply", "--yes", "--allow-destructive", "--desired", str(changed),
             "--database-url", copy_url, "--backup-dir", str(scratch / "backups")],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if applied.returncode != ExitCode.OK:
            raise PgstateError(
                "the proposals did not apply on the copy: " + " ".join(applied.stderr.split())[-400:],
                hint="run `pgstate advise --write` on a branch and `pgstate plan` to see why",
            )
        with psycopg.connect(copy_url, autocommit=True) as conn:
            conn.execute("ANALYZE")
        after = _timed(copy_url, workload, persona, rounds)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    return [Measured(s, before[s], after[s]) for s in workload]


def _timed(url: str, workload: list[str], persona: Persona, rounds: int) -> dict[str, float]:
    """The median wall time of each statement over ``rounds`` runs (after one to warm the cache), rolled back."""
    samples: dict[str, list[float]] = {statement: [] for statement in workload}
    with psycopg.connect(url, autocommit=True) as conn:
        for round_number in range(rounds + 1):
            for statement in workload:
                elapsed = _run(conn, statement, persona)
                if round_number:
                    samples[statement].append(elapsed)
    return {statement: statistics.median(found) for statement, found in samples.items()}


def _run(conn: psycopg.Connection[Any], statement: str, persona: Persona) -> float:
    with conn.transaction(force_rollback=True):  # a workload's write leaves nothing behind either
        persona.set_claims(conn)
        if persona.role is not None:
            conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(persona.role)))
        start = time.perf_counter()
        cursor = conn.execute(statement.encode())  # the team's own workload file, run as written
        if cursor.description is not None:
            cursor.fetchall()
        return (time.perf_counter() - start) * 1000
