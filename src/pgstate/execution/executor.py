"""Running a plan's steps: outside a transaction one by one (concurrent builds, upkeep), or all in one transaction;
each under lock_timeout, a lock timeout or deadlock retried with exponential backoff and jitter, and what a step
outside the transaction made remembered so that a later failure can undo it."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import errors as pgerrors
from psycopg import sql

from ..backup.content import TableContent, table_content
from ..db.connection import connect
from ..db.sqlexec import execute
from ..errors import PgstateError
from ..history import runs
from ..model.names import QualifiedName
from ..planning.plan import Plan
from ..planning.steps import Phase, Step
from .options import ApplyOptions
from .progress import step_progress

# Phases whose steps may run long enough for a progress bar (builds, upkeep).
LONG_PHASES = (Phase.BUILD, Phase.MAINTENANCE)
BACKOFF_FIRST_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 8.0
# Errors that mean "someone else holds what we need, try again later".
RETRYABLE = (pgerrors.LockNotAvailable, pgerrors.DeadlockDetected)

Say = Callable[[str], None]


def prepare_session(work: psycopg.Connection[Any], options: ApplyOptions) -> None:
    with work.cursor() as cur:
        # Waits are bounded by lock_timeout, not by a statement timeout: an index build may take long.
        execute(cur, sql.SQL("SELECT set_config('lock_timeout', %s, false)"), [options.lock_timeout])
        execute(cur, sql.SQL("SELECT set_config('statement_timeout', '0', false)"))
        # If pgstate dies mid-build, the server notices within a second and stops the build (PostgreSQL 14+).
        execute(cur, sql.SQL("SELECT set_config('client_connection_check_interval', '1s', false)"))


class Executor:
    """Runs the steps of one apply and remembers what must be undone if a later step fails."""

    def __init__(
        self,
        url: str,
        work: psycopg.Connection[Any],
        options: ApplyOptions,
        say: Say,
        *,
        control: psycopg.Connection[Any],
        run_id: int,
        plan: Plan,
    ):
        self.url = url
        self.work = work
        self.options = options
        self.say = say
        self.control = control
        self.run_id = run_id
        self.positions = {step.id: number for number, step in enumerate(plan.steps, 1)}
        self.built: list[Step] = []
        self.verified_rows: dict[str, TableContent] = {}  # table -> what its verified dump holds

    def _record(self, changes: list[Step], status: str, error: str | None = None) -> None:
        runs.step_done(self.control, self.run_id, [self.positions[c.id] for c in changes], status, error)

    def _backoff(self, attempt: int) -> None:
        delay = min(BACKOFF_FIRST_SECONDS * 2**attempt, BACKOFF_MAX_SECONDS)
        time.sleep(delay * random.uniform(0.75, 1.25))  # jitter: two waiting tools should not retry in step

    def run_outside_transaction(self, changes: list[Step], *, undo_on_failure: bool) -> None:
        for change in changes:
            if undo_on_failure:
                # Recorded before it runs: an interruption mid-build must drop what it half made.
                self.built.append(change)
            try:
                self._run_with_retries(change)
            except PgstateError as failure:
                self._record([change], "failed", failure.message)
                raise
            self._record([change], "applied")

    def _run_with_retries(self, change: Step) -> None:
        for attempt in range(self.options.retries + 1):
            self.say(f"{change.action} {change.target}")
            try:
                with (
                    self.work.cursor() as cur,
                    step_progress(
                        self.url if self.options.show_progress and change.phase in LONG_PHASES else None,
                        self.work.info.backend_pid,
                        f"{change.action} {change.target}",
                    ),
                ):
                    execute(cur, change.statement)
                return
            except RETRYABLE as error:
                self._undo_one(change)  # a failed concurrent build leaves an INVALID index behind
                if attempt == self.options.retries:
                    raise _lock_failure(change, error, self.options) from None
                self.say(f"  lock not available within {self.options.lock_timeout}; retrying")
                self._backoff(attempt)
            except pgerrors.DuplicateTable as error:
                # The name was taken after the plan was made: nothing of ours to undo, and never drop theirs.
                if self.built and self.built[-1] is change:
                    self.built.pop()
                raise _step_failure(change, error) from None
            except psycopg.Error as error:
                raise _step_failure(change, error) from None  # undo_builds drops what it left

    def run_transaction(self, changes: list[Step]) -> None:
        if not changes:
            return
        for attempt in range(self.options.retries + 1):
            current: Step | None = None
            try:
                with self.work.transaction(), self.work.cursor() as cur:
                    execute(cur, sql.SQL("SELECT set_config('lock_timeout', %s, true)"), [self.options.lock_timeout])
                    checked: set[str] = set()
                    for current in changes:
                        self.say(f"{current.action} {current.target}")
                        self._check_dumps_before(cur, current, checked)
                        execute(cur, current.statement)
                        for followup in current.followups:
                            execute(cur, followup)
                self._record(changes, "applied")
                return
            except RETRYABLE as error:
                assert current is not None
                if attempt == self.options.retries:
                    raise _lock_failure(current, error, self.options) from None
                self.say(f"  lock not available within {self.options.lock_timeout}; rolled back, retrying")
                self._backoff(attempt)
            except psycopg.Error as error:
                assert current is not None
                failure = _step_failure(current, error)
                self._record([current], "failed", failure.message)
                raise failure from None
            except PgstateError as failure:
                assert current is not None
                self._record([current], "failed", failure.message)
                raise

    def _check_dumps_before(self, cur: psycopg.Cursor[Any], change: Step, checked: set[str]) -> None:
        """Each dumped table is checked once, before the first step of the transaction that touches it: before an
        earlier type change of the same table turns its rows into other text, and at the latest right before the
        step that destroys. The lock it takes then keeps every other session out until the commit."""
        for table in dict.fromkeys(t for t in (change.dump, change.table) if t is not None):
            if str(table) not in checked and (table == change.dump or str(table) in self.verified_rows):
                self._check_dump_still_matches(cur, change, table)
                checked.add(str(table))

    def _check_dump_still_matches(self, cur: psycopg.Cursor[Any], change: Step, table: QualifiedName) -> None:
        """The table, locked, still holds exactly the rows and values its verified dump holds (the same count and
        the same digest): nothing changed it since the dump, so destroying it loses nothing the dump lacks."""
        expected = self.verified_rows.get(str(table))
        if expected is None:
            raise PgstateError(f"{change.action} {change.target}: no verified backup of {table}; nothing destroyed")
        execute(cur, sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(table.identifier()))
        now = table_content(cur, table)
        if now != expected:
            what = "rows" if now.rows != expected.rows else "values"
            raise PgstateError(
                f"{change.action} {change.target}: {table} holds {now.describe()}, its verified backup"
                f" {expected.describe()}; {what} changed since the backup, nothing destroyed",
                hint="the table is not quiet: find what writes to it",
            )

    def _undo_one(self, change: Step) -> bool:
        if change.undo is None:
            return True
        for attempt in range(self.options.retries + 1):
            try:
                with self.work.cursor() as cur:
                    execute(cur, change.undo)
                return True
            except RETRYABLE:
                self._backoff(attempt)
            except psycopg.Error as error:
                self.say(f"could not undo {change.action} {change.target}: {error.diag.message_primary}")
                return False
        self.say(f"could not undo {change.action} {change.target}: lock not available; apply again to clean up")
        return False

    def undo_builds(self) -> bool:
        """Drop, newest first, every index this run built (or was building) outside the transaction."""
        if self.work.closed or self.work.info.transaction_status == psycopg.pq.TransactionStatus.UNKNOWN:
            self.work = connect(self.url)  # the session died with the failure; undo from a new one
            prepare_session(self.work, self.options)
        elif self.work.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            self.work.rollback()
        restored = True
        for change in reversed(self.built):
            self.say(f"undo {change.action} {change.target}")
            restored = self._undo_one(change) and restored
        self.built.clear()
        return restored


def _lock_failure(change: Step, error: psycopg.Error, options: ApplyOptions) -> PgstateError:
    if change.phase is Phase.TRANSACTION:
        hint = "another session holds the table (a long transaction?); retry later or raise --lock-timeout/--retries"
    else:
        # CREATE/DROP INDEX CONCURRENTLY also waits, under the same lock_timeout, for every transaction in the
        # database that is older than it; those waits block no application query.
        hint = (
            "a concurrent index build waits for every older transaction in the database, on any table: one stayed"
            " open longer than lock_timeout; retry when it is gone, or raise --lock-timeout (it blocks no query)"
        )
    return PgstateError(
        f"{change.action} {change.target}: could not get a lock within lock_timeout {options.lock_timeout}"
        f" after {options.retries + 1} attempts ({error.diag.message_primary})",
        hint=hint,
    )


def _step_failure(change: Step, error: psycopg.Error) -> PgstateError:
    detail = error.diag.message_detail
    return PgstateError(
        f"{change.action} {change.target} failed: {error.diag.message_primary}" + (f" ({detail})" if detail else ""),
    )
