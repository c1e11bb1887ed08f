"""Running a plan's steps: outside a transaction one by one (concurrent builds, upkeep), or all in one transaction;
each under lock_timeout, a lock timeout or deadlock retried with exponential backoff and jitter, and what a step
outside the transaction made remembered so that a later failure can undo it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors as pgerrors
from psycopg import sql

from ..backup.content import TableContent, table_content
from ..db.connection import connect
from ..db.patience import pause_before_retry
from ..db.sqlexec import execute
from ..errors import PgstateError
from ..history import runs
from ..history.runs import RunRecord
from ..history.status import StepStatus
from ..model.names import QualifiedName
from ..planning.plan import Plan
from ..planning.steps import Action, Phase, Step, StepId
from . import interrupts
from .options import ApplyOptions
from .progress import step_progress
from .waits import WaitLog, WaitWatch

# Phases whose steps may run long enough for a progress bar (builds, upkeep).
LONG_PHASES = (Phase.BUILD, Phase.MAINTENANCE)
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
        record: RunRecord,
        plan: Plan,
    ):
        self.url = url
        self.work = work
        self.options = options
        self.say = say
        self.record = record
        self.positions = {step.id: number for number, step in enumerate(plan.steps, 1)}
        self.built: list[Step] = []
        self.completed: set[StepId] = set()  # steps outside the transaction whose statement returned
        self.unsettled: list[Step] = []  # steps of a transaction whose commit failed: committed or not, unknown
        self.xid: str | None = None  # the id of the run's transaction: whether a lost COMMIT happened is its status
        self.verified_rows: dict[str, TableContent] = {}  # table -> what its verified dump holds
        # table -> what the expected content is and what a difference means, for the message (a rollback's
        # expectation is what a run left, not a dump)
        self.verified_source: dict[str, tuple[str, str]] = {}
        self.watch = WaitWatch(url, say)

    def close(self) -> None:
        self.watch.close()

    def _record(self, changes: list[Step], status: StepStatus, error: str | None = None) -> None:
        self.record.steps([self.positions[c.id] for c in changes], status, error)

    def run_outside_transaction(self, changes: list[Step], *, undo_on_failure: bool) -> None:
        for change in changes:
            interrupts.check()
            if change.action is Action.BUILD_INDEX and self.options.replica_lag_budget is not None:
                from ..fleet.replicas import throttle

                throttle(self.work, self.options.replica_lag_budget, self.say)
            if undo_on_failure:
                # Recorded before it runs: an interruption mid-build must drop what it half made.
                self.built.append(change)
            try:
                self._run_with_retries(change)
            except PgstateError as failure:
                self._record([change], StepStatus.FAILED, failure.message)
                raise
            except interrupts.Interrupted as failure:
                self._record([change], StepStatus.FAILED, str(failure))
                raise
            self.completed.add(change.id)
            self._record([change], StepStatus.COMMITTED)
        interrupts.check()

    def _wait_budget(self, change: Step) -> str:
        """A concurrent build waits out every older transaction in the database; those waits block no query, so
        they get their own budget (--build-wait). Everything else waits at most lock_timeout."""
        if change.action is Action.BUILD_INDEX and self.options.build_wait is not None:
            return self.options.build_wait
        return self.options.lock_timeout

    def _run_with_retries(self, change: Step) -> None:
        what = f"{change.action} {change.target}"
        budget = self._wait_budget(change)
        for attempt in range(self.options.retries + 1):
            self.say(what)
            waited = WaitLog()
            if change.payload is not None:
                change.payload.run(self.url, None, budget)  # a restore: its own transaction, its own checks
                return
            try:
                with (
                    self.work.cursor() as cur,
                    self.watch.watching(self.work.info.backend_pid, what) as waited,
                    step_progress(
                        self.url if self.options.show_progress and change.phase in LONG_PHASES else None,
                        self.work.info.backend_pid,
                        what,
                    ),
                    _lock_timeout(cur, budget, self.options.lock_timeout),
                ):
                    execute(cur, change.statement)
                oldest = waited.oldest
                if change.action is Action.BUILD_INDEX and oldest is not None:
                    self.say(f"  {what} waited for older transactions; the oldest: {oldest.describe()}")
                return
            except RETRYABLE as error:
                self._undo_one(change)  # a failed concurrent build leaves an INVALID index behind
                if attempt == self.options.retries:
                    raise interrupts.instead(_lock_failure(change, error, self.options, budget, waited)) from None
                self.say(f"  lock not available within {budget}; retrying")
                pause_before_retry(attempt)
                interrupts.check()
            except pgerrors.DuplicateTable as error:
                # The name was taken after the plan was made: nothing of ours to undo, and never drop theirs.
                if self.built and self.built[-1] is change:
                    self.built.pop()
                raise _step_failure(change, error) from None
            except psycopg.Error as error:
                # undo_builds drops what it left; a statement cancelled by an interrupt is the interruption
                raise interrupts.instead(_step_failure(change, error)) from None

    def run_transaction(self, changes: list[Step]) -> None:
        """All the steps in one transaction, which also marks them committed in the run's record: the mark
        commits with them or not at all. A lock timeout rolls it all back and retries it whole."""
        if not changes:
            return
        positions = [self.positions[c.id] for c in changes]
        for attempt in range(self.options.retries + 1):
            current: Step | None = None
            ran: list[Step] = []
            committing = False
            waited = WaitLog()
            try:
                with (
                    self.watch.watching(self.work.info.backend_pid, "the transaction") as waited,
                    self.work.transaction(),
                    self.work.cursor() as cur,
                ):
                    execute(cur, sql.SQL("SELECT set_config('lock_timeout', %s, true)"), [self.options.lock_timeout])
                    self.xid = str(cur.execute("SELECT pg_current_xact_id()").fetchone()[0])  # type: ignore[index]
                    checked: set[str] = set()
                    for current in changes:
                        interrupts.check()
                        self.say(f"{current.action} {current.target}")
                        self._check_dumps_before(cur, current, checked)
                        if current.payload is not None:
                            current.payload.run(self.url, cur, self.options.lock_timeout)
                        else:
                            execute(cur, current.statement)
                        for followup in current.followups:
                            execute(cur, followup)
                        ran.append(current)
                    interrupts.check()  # the last moment to stop: after it, the transaction commits
                    current, committing = None, True  # from here on, a failure is the commit's
                    for mark in runs.commit_marks(self.record.run_id, positions, self._converted(cur, changes)):
                        execute(cur, mark)
                return
            except RETRYABLE as error:
                failing = current or changes[-1]
                if attempt == self.options.retries:
                    failure = _lock_failure(failing, error, self.options, self.options.lock_timeout, waited)
                    self._record_failed(ran, current, failure.message)
                    raise failure from None
                self.say(f"  lock not available within {self.options.lock_timeout}; rolled back, retrying")
                pause_before_retry(attempt)
                interrupts.check()
            except psycopg.Error as error:
                failure = _step_failure(current, error) if current is not None else _commit_failure(error, committing)
                if committing:
                    # The commit may have happened with its reply lost: the record's marks say which, and the
                    # apply settles these steps once it has read them (settle_uncommitted).
                    self.unsettled = ran
                else:
                    self._record_failed(ran, current, failure.message)
                raise interrupts.instead(failure) from None
            except PgstateError as failure:
                self._record_failed(ran, current, failure.message)
                raise
            except interrupts.Interrupted as failure:
                self._record_failed(ran, current, str(failure))  # a checkpoint before the commit: rolled back
                raise

    def settle_uncommitted(self) -> None:
        """The transaction turned out not to have committed: the steps that ran in it are rolled back."""
        self._record(self.unsettled, StepStatus.ROLLED_BACK)
        self.unsettled = []

    def _record_failed(self, ran: list[Step], current: Step | None, message: str) -> None:
        """The transaction rolled back: what ran in it is rolled back, and the step it failed in failed."""
        self._record(ran, StepStatus.ROLLED_BACK)
        if current is not None:
            self._record([current], StepStatus.FAILED, message)

    def _converted(self, cur: psycopg.Cursor[Any], changes: list[Step]) -> dict[str, Any]:
        """What each table whose values a lossy type change converted holds now, under the transaction's lock:
        rollback later gives the original values back only if the table still holds exactly this."""
        tables = dict.fromkeys(
            c.table for c in changes if c.action is Action.ALTER_COLUMN_TYPE and c.dump is not None and c.table
        )
        return {str(table): table_content(cur, table)._asdict() for table in tables if table is not None}

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
            source, since = self.verified_source.get(
                str(table), ("its verified backup", "the backup, nothing destroyed")
            )
            raise PgstateError(
                f"{change.action} {change.target}: {table} holds {now.describe()}, {source}"
                f" {expected.describe()}; {what} changed since {since}",
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
            except (*RETRYABLE, pgerrors.QueryCanceled):
                # QueryCanceled: the interrupt's cancel request reached the server after the statement it was
                # meant for had ended, and cancelled this one
                pause_before_retry(attempt)
            except psycopg.Error as error:
                self.say(f"could not undo {change.action} {change.target}: {error.diag.message_primary}")
                return False
        self.say(f"could not undo {change.action} {change.target}: lock not available; apply again to clean up")
        return False

    def undo_builds(self) -> bool:
        """Drop, newest first, every index this run built (or was building) outside the transaction."""
        if not self.built:
            return True
        try:
            if self.work.closed or self.work.info.transaction_status in (
                psycopg.pq.TransactionStatus.UNKNOWN,
                psycopg.pq.TransactionStatus.ACTIVE,  # abandoned mid-statement (a second Ctrl-C)
            ):
                self.work.close()  # the server stops what it ran within client_connection_check_interval
                self.work = connect(self.url)  # the session died with the failure; undo from a new one
                prepare_session(self.work, self.options)
            elif self.work.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                self.work.rollback()
        except (PgstateError, psycopg.Error) as error:
            self.say(f"could not undo the builds: {getattr(error, 'message', error)}; apply again to clean up")
            return False
        restored = True
        for change in reversed(self.built):
            self.say(f"undo {change.action} {change.target}")
            undone = self._undo_one(change)
            restored = undone and restored
            if undone and change.id in self.completed:
                self._record([change], StepStatus.ROLLED_BACK)
        self.built.clear()
        return restored


@contextmanager
def _lock_timeout(cur: psycopg.Cursor[Any], budget: str, usual: str) -> Iterator[None]:
    """Run the block under a lock_timeout other than the session's usual one, then put the usual one back."""
    if budget == usual:
        yield
        return
    execute(cur, sql.SQL("SELECT set_config('lock_timeout', %s, false)"), [budget])
    try:
        yield
    finally:
        if cur.connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
            execute(cur, sql.SQL("SELECT set_config('lock_timeout', %s, false)"), [usual])


def _lock_failure(
    change: Step, error: psycopg.Error, options: ApplyOptions, budget: str, waited: WaitLog
) -> PgstateError:
    if change.phase is Phase.TRANSACTION:
        hint = "another session holds the table (a long transaction?); retry later or raise --lock-timeout/--retries"
        limit = f"lock_timeout {budget}"
    elif change.action is Action.BUILD_INDEX:
        # CREATE INDEX CONCURRENTLY also waits for every transaction in the database that is older than it; those
        # waits block no application query, so they have their own budget.
        hint = (
            "a concurrent index build waits for every older transaction in the database, on any table: one stayed"
            " open longer than that; retry when it is gone, or raise --build-wait (the wait blocks no query)"
        )
        limit = f"--build-wait {budget}" if budget != options.lock_timeout else f"lock_timeout {budget}"
    else:
        hint = "another session holds what the step needs; retry later or raise --lock-timeout/--retries"
        limit = f"lock_timeout {budget}"
    return PgstateError(
        f"{change.action} {change.target}: could not get a lock within {limit} after {options.retries + 1}"
        f" attempts ({error.diag.message_primary}){waited.describe()}",
        hint=hint,
    )


def _commit_failure(error: psycopg.Error, committing: bool) -> PgstateError:
    """The transaction failed outside its steps: at its commit, or before its first step (a dead session)."""
    detail = error.diag.message_detail
    where = "at its commit" if committing else "before its first step"
    first = error.diag.message_primary or (str(error).strip().splitlines() or [type(error).__name__])[0]
    return PgstateError(f"the transaction failed {where}: {first}" + (f" ({detail})" if detail else ""))


def _step_failure(change: Step, error: psycopg.Error) -> PgstateError:
    detail = error.diag.message_detail
    return PgstateError(
        f"{change.action} {change.target} failed: {error.diag.message_primary}" + (f" ({detail})" if detail else ""),
    )
