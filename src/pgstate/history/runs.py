"""The record of runs in ``pgstate.runs`` and ``pgstate.run_steps``: written before anything changes, finished
whatever happens, read by ``history`` and ``rollback``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from .. import __version__
from ..catalog import query


def ensure_schema(conn: psycopg.Connection[Any]) -> None:
    with conn.cursor() as cur:
        cur.execute(query("runs_schema"))  # a trusted, shipped script of several statements


def mark_interrupted(conn: psycopg.Connection[Any]) -> None:
    """Runs still 'running' belong to a process that died: only the advisory-lock holder calls this."""
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE pgstate.runs SET status = 'interrupted', finished_at = clock_timestamp(),"
            " error = 'the process ended before the run finished' WHERE status = 'running'"
        )
        cur.execute(
            "UPDATE pgstate.run_steps s SET status = 'rolled back' FROM pgstate.runs r"
            " WHERE r.id = s.run_id AND r.status = 'interrupted' AND s.status = 'planned'"
        )


def start_run(
    conn: psycopg.Connection[Any],
    *,
    fingerprint: str,
    plan: dict[str, Any],
    pre_state: dict[str, Any],
    desired_commit: str | None,
    desired_dirty: bool | None,
    rollback_of: int | None = None,
) -> int:
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO pgstate.runs (status, pgstate_version, desired_commit, desired_dirty, fingerprint, plan,"
            " pre_state, rollback_of) VALUES ('running', %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            [__version__, desired_commit, desired_dirty, fingerprint, Jsonb(plan), Jsonb(pre_state), rollback_of],
        )
        row = cur.fetchone()
        assert row is not None
        run_id = int(row[0])
        cur.executemany(
            "INSERT INTO pgstate.run_steps (run_id, position, action, target, status) VALUES (%s, %s, %s, %s,"
            " 'planned')",
            [(run_id, n, step["action"], step["target"]) for n, step in enumerate(plan["steps"], 1)],
        )
        return run_id


def step_done(
    conn: psycopg.Connection[Any], run_id: int, positions: list[int], status: str, error: str | None = None
) -> None:
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE pgstate.run_steps SET status = %s, error = %s, finished_at = clock_timestamp()"
            " WHERE run_id = %s AND position = ANY (%s)",
            [status, error, run_id, positions],
        )


def set_backup(conn: psycopg.Connection[Any], run_id: int, location: str) -> None:
    with conn.cursor() as cur:
        cur.execute("UPDATE pgstate.runs SET backup = %s WHERE id = %s", [location, run_id])


def finish_run(
    conn: psycopg.Connection[Any], run_id: int, status: str, error: str | None = None, *, committed: bool = False
) -> None:
    """``committed``: the run's transaction committed before it failed (upkeep, convergence): its applied steps
    stay applied, and the steps it never reached stay planned. Otherwise everything was rolled back."""
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE pgstate.runs SET status = %s, finished_at = clock_timestamp(), error = %s WHERE id = %s",
            [status, error, run_id],
        )
        if status != "applied" and not committed:
            cur.execute(
                "UPDATE pgstate.run_steps SET status = 'rolled back', finished_at = clock_timestamp()"
                " WHERE run_id = %s AND status IN ('planned', 'applied')",
                [run_id],
            )


@dataclass(frozen=True)
class Run:
    id: int
    started_at: datetime
    finished_at: datetime | None
    status: str
    desired_commit: str | None
    desired_dirty: bool | None
    backup: str | None
    error: str | None
    rollback_of: int | None
    plan: dict[str, Any]
    pre_state: dict[str, Any]
    steps: list[dict[str, Any]]

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "status": self.status,
            "steps": len(self.steps),
            "desired_commit": self.desired_commit,
            "desired_dirty": self.desired_dirty,
            "backup": self.backup,
            "rollback_of": self.rollback_of,
            "error": self.error,
        }


def history_exists(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute("SELECT to_regclass('pgstate.run_steps') IS NOT NULL").fetchone()
    return bool(row and row[0])


def read_runs(conn: psycopg.Connection[Any], run_id: int | None = None) -> list[Run]:
    """Every run, newest first, or the one with ``run_id``; with their steps."""
    if not history_exists(conn):
        return []
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT r.*, coalesce((SELECT jsonb_agg(to_jsonb(s) - 'run_id' ORDER BY s.position)"
            " FROM pgstate.run_steps s WHERE s.run_id = r.id), '[]') AS steps"
            " FROM pgstate.runs r WHERE %(id)s::bigint IS NULL OR r.id = %(id)s ORDER BY r.id DESC",
            {"id": run_id},
        )
        return [
            Run(
                row["id"],
                row["started_at"],
                row["finished_at"],
                row["status"],
                row["desired_commit"],
                row["desired_dirty"],
                row["backup"],
                row["error"],
                row["rollback_of"],
                row["plan"],
                row["pre_state"],
                row["steps"],
            )
            for row in cur.fetchall()
        ]
