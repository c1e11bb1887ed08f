"""The record of runs in ``pgstate.runs`` and ``pgstate.run_steps``: written before anything changes, finished
whatever happens (or, when the process could not, by the next apply), read by ``history`` and ``rollback``."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from .. import __version__
from ..catalog import query
from ..db.connection import connect, scrub
from ..errors import PgstateError
from .status import RunStatus, StepStatus


def ensure_schema(conn: psycopg.Connection[Any]) -> None:
    with conn.cursor() as cur:
        cur.execute(query("runs_schema"))  # a trusted, shipped script of several statements


def recover_interrupted(conn: psycopg.Connection[Any]) -> list[str]:
    """Runs still 'running' belong to a process that died (killed, or it lost the server before it could record
    the end): only the advisory-lock holder calls this. Each is finished as interrupted, saying whether its
    transaction had committed, and described for the user, who is told before anything else happens."""
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE pgstate.runs SET status = %s, finished_at = clock_timestamp(), error = CASE WHEN committed_at"
            " IS NULL THEN %s ELSE %s END WHERE status = %s RETURNING id, committed_at IS NOT NULL",
            [RunStatus.INTERRUPTED, _DIED_BEFORE_COMMIT, _DIED_AFTER_COMMIT, RunStatus.RUNNING],
        )
        found = cur.fetchall()
        if not found:
            return []
        ids = [int(row[0]) for row in found]
        # A transactional step of a run whose transaction did not commit took no effect, whether or not it ran
        # before the end: rolled back. Any other step not marked was never finished: skipped.
        cur.execute(
            "UPDATE pgstate.run_steps s SET status = CASE WHEN r.committed_at IS NULL"
            " AND r.plan -> 'steps' -> (s.position - 1) ->> 'phase' = 'transaction' THEN %s ELSE %s END"
            " FROM pgstate.runs r WHERE r.id = s.run_id AND s.run_id = ANY (%s) AND s.status = %s",
            [StepStatus.ROLLED_BACK, StepStatus.SKIPPED, ids, StepStatus.PLANNED],
        )
    return [
        f"run {run_id} did not finish: {_DIED_AFTER_COMMIT if committed else _DIED_BEFORE_COMMIT}; recorded as"
        f" interrupted (see `pgstate history {run_id}`)"
        for run_id, committed in found
    ]


_DIED_BEFORE_COMMIT = (
    "the process ended before the run finished; its transaction did not commit (indexes it built may remain)"
)
_DIED_AFTER_COMMIT = "the process ended after the run's transaction committed; its upkeep and check did not run"


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
            " pre_state, rollback_of) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            [
                RunStatus.RUNNING,
                __version__,
                desired_commit,
                desired_dirty,
                fingerprint,
                Jsonb(plan),
                Jsonb(pre_state),
                rollback_of,
            ],
        )
        row = cur.fetchone()
        assert row is not None
        run_id = int(row[0])
        cur.executemany(
            "INSERT INTO pgstate.run_steps (run_id, position, action, target, status) VALUES (%s, %s, %s, %s, %s)",
            [
                (run_id, n, step["action"], step["target"], StepStatus.PLANNED)
                for n, step in enumerate(plan["steps"], 1)
            ],
        )
        return run_id


def commit_marks(run_id: int, positions: list[int], converted: dict[str, Any]) -> list[sql.Composed]:
    """The statements that end a run's transaction: they mark its steps committed (and record what its lossy
    type changes left) in that same transaction, so the record is committed exactly when the changes are."""
    return [
        sql.SQL(
            "UPDATE pgstate.run_steps SET status = {}, finished_at = clock_timestamp()"
            " WHERE run_id = {} AND position = ANY ({})"
        ).format(sql.Literal(StepStatus.COMMITTED.value), sql.Literal(run_id), sql.Literal(positions)),
        sql.SQL("UPDATE pgstate.runs SET committed_at = clock_timestamp(), converted = {} WHERE id = {}").format(
            sql.Literal(Jsonb(converted)), sql.Literal(run_id)
        ),
    ]


class RunRecord:
    """The record of one run, written by the process that makes the run. It never raises: a write that meets a
    dead connection reconnects and tries once more; when even that fails, the run stays 'running', which the next
    apply finds, finishes as interrupted and reports (``recover_interrupted``)."""

    def __init__(self, url: str, conn: psycopg.Connection[Any], run_id: int, say: Callable[[str], None]):
        self.url = url
        self.conn = conn
        self.run_id = run_id
        self.say = say
        self.lost = False  # a write could not be made: the record may lag behind what happened

    def connection(self, *, probe: bool = False) -> psycopg.Connection[Any] | None:
        """A live connection for the record (and, with ``probe``, checked by a round trip first: for reading the
        database after a failure, which may have ended the session without the client knowing yet), or None."""
        if not self.conn.closed and self.conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
            if not probe:
                return self.conn
            try:
                self.conn.execute("SELECT 1")
                return self.conn
            except (psycopg.OperationalError, psycopg.InterfaceError):
                pass
        try:
            self.conn = connect(self.url)
        except PgstateError:
            return None
        return self.conn

    def _write(self, statement: str, params: list[Any]) -> bool:
        for _attempt in range(2):
            conn = self.connection()
            if conn is None:
                break
            try:
                conn.execute(statement, params)
                return True
            except (psycopg.OperationalError, psycopg.InterfaceError):
                continue  # the connection died under the write: once more on a new one
        if not self.lost:
            self.say(f"could not update the record of run {self.run_id}: the server cannot be reached")
        self.lost = True
        return False

    def steps(self, positions: list[int], status: StepStatus, error: str | None = None) -> None:
        if positions:
            self._write(
                "UPDATE pgstate.run_steps SET status = %s, error = %s, finished_at = clock_timestamp()"
                " WHERE run_id = %s AND position = ANY (%s)",
                [status, error and scrub(error, self.url), self.run_id, positions],
            )

    def add_steps(self, first: int, steps: list[dict[str, Any]]) -> None:
        """Steps the run found it needs after it started (a rollback's, once its tables are back): recorded as
        planned, at positions ``first`` on, and appended to the run's plan."""
        conn = self.connection()
        if conn is None:
            self.lost = True
            return
        try:
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO pgstate.run_steps (run_id, position, action, target, status)"
                    " VALUES (%s, %s, %s, %s, %s)",
                    [
                        (self.run_id, first + n, s["action"], s["target"], StepStatus.PLANNED)
                        for n, s in enumerate(steps)
                    ],
                )
                cur.execute(
                    "UPDATE pgstate.runs SET plan = jsonb_set(plan, '{steps}', (plan -> 'steps') || %s) WHERE id = %s",
                    [Jsonb(steps), self.run_id],
                )
        except (psycopg.OperationalError, psycopg.InterfaceError):
            self.lost = True

    def set_backup(self, location: str) -> None:
        self._write("UPDATE pgstate.runs SET backup = %s WHERE id = %s", [location, self.run_id])

    def committed(self, xid: str | None = None) -> bool | None:
        """Whether the run's transaction committed, as the database says; None when it cannot be asked.

        ``xid``: the transaction's id, when it got one. A COMMIT whose reply was lost may still be under way in
        its server process (writing its commit record, or waiting for a synchronous standby): until the server
        says the transaction is no longer in progress, its marks are not visible yet and "not committed" would
        be a guess. The wait is bounded; past it, the outcome is unknown (None)."""
        conn = self.connection(probe=True)
        if conn is None:
            return None
        try:
            if xid is not None and not _settled(conn, xid):
                return None
            row = conn.execute(
                "SELECT committed_at IS NOT NULL FROM pgstate.runs WHERE id = %s", [self.run_id]
            ).fetchone()
        except (psycopg.OperationalError, psycopg.InterfaceError):
            return None
        return bool(row and row[0])

    def finish(self, status: RunStatus, error: str | None = None) -> bool:
        """End the run; the steps it never reached are skipped. False when it could not be recorded."""
        return self._write(
            "WITH run AS (UPDATE pgstate.runs SET status = %s, finished_at = clock_timestamp(), error = %s"
            " WHERE id = %s RETURNING id) UPDATE pgstate.run_steps SET status = %s FROM run"
            " WHERE run_id = run.id AND status = %s",
            [status, error and scrub(error, self.url), self.run_id, StepStatus.SKIPPED, StepStatus.PLANNED],
        )


SETTLE_SECONDS = 30.0  # how long a commit under way may take to settle before its outcome is called unknown


def _settled(conn: psycopg.Connection[Any], xid: str) -> bool:
    """Whether the transaction ``xid`` is no longer in progress (committed, aborted, or too old to tell)."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        row = conn.execute("SELECT pg_xact_status(%s::xid8)", [xid]).fetchone()
        if row is None or row[0] != "in progress":
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


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
    converted: dict[str, Any]  # table -> what the run's lossy type changes left in it (rows, digest)
    committed: bool  # the run's transaction committed
    pgstate_version: str  # of the pgstate that made the run

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "status": self.status,
            "pgstate_version": self.pgstate_version,
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
                row.get("converted") or {},
                row.get("committed_at") is not None,
                row["pgstate_version"],
            )
            for row in cur.fetchall()
        ]
