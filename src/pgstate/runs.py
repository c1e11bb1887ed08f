"""The record of runs in ``pgstate.runs``: written before anything changes, finished whatever happens."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from . import __version__
from .catalog import query


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


def start_run(
    conn: psycopg.Connection[Any],
    *,
    fingerprint: str,
    plan: dict[str, Any],
    pre_state: dict[str, Any],
    desired_commit: str | None,
    desired_dirty: bool | None,
) -> int:
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO pgstate.runs (status, pgstate_version, desired_commit, desired_dirty, fingerprint, plan,"
            " pre_state) VALUES ('running', %s, %s, %s, %s, %s, %s) RETURNING id",
            [__version__, desired_commit, desired_dirty, fingerprint, Jsonb(plan), Jsonb(pre_state)],
        )
        row = cur.fetchone()
        assert row is not None
        return int(row[0])


def finish_run(conn: psycopg.Connection[Any], run_id: int, status: str, error: str | None = None) -> None:
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL("UPDATE pgstate.runs SET status = %s, finished_at = clock_timestamp(), error = %s WHERE id = %s"),
            [status, error, run_id],
        )
