"""Carrying out a plan, as the spec's "Applying, in order" says.

1. Preflight: take the advisory lock, introspect, plan (or check a saved plan), record the run.
2. Clean up INVALID leftovers; build new indexes of tables not rewritten CONCURRENTLY, one by one.
3. Everything else in one transaction under ``SET LOCAL lock_timeout``; a lock timeout retries it with backoff.
4. On any failure: roll back, drop what step 2 built, verify the pre-run state, exit 1.
5. On success: introspect again; the new plan must be empty.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import errors as pgerrors
from psycopg import sql

from ..backup import dump as backup
from ..db.connection import connect
from ..db.sqlexec import execute
from ..errors import ApplyFailed, ExitCode, PgstateError, Refused
from ..history import runs
from ..history.prestate import record_pre_state
from ..model.names import QualifiedName
from ..pipeline import State, plan_for, read_state
from ..planning.diff import plain
from ..planning.plan import Plan, fingerprint, step_json
from ..planning.steps import Hazard, Phase, Step
from ..source.documents import SpecSet
from ..source.git import desired_commit
from .progress import step_progress

# Phases whose steps may run long enough for a progress bar (builds, upkeep).
LONG_PHASES = (Phase.BUILD, Phase.MAINTENANCE)
# One key for every pgstate of every version: two applies on one database never interleave.
ADVISORY_LOCK_KEY = 0x70677374617465  # "pgstate"
BACKOFF_FIRST_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 8.0
# Errors that mean "someone else holds what we need, try again later".
RETRYABLE = (pgerrors.LockNotAvailable, pgerrors.DeadlockDetected)


@dataclass(frozen=True)
class ApplyOptions:
    lock_timeout: str = "2s"
    retries: int = 5
    wait: bool = False
    plan_file: Path | None = None
    show_progress: bool = False
    allow_destructive: bool = False
    backup_dir: Path = Path(".pgstate/backups")
    full_backup: bool = False  # --backup full: dump the whole database first
    rollback_of: int | None = None  # this apply is the rollback of that run
    # Run under the advisory lock before planning (rollback restores retired tables there).
    prelude: Callable[[psycopg.Connection[Any]], None] | None = None


@dataclass(frozen=True)
class ApplyOutcome:
    exit_code: ExitCode
    plan: Plan
    run_id: int | None


Say = Callable[[str], None]
Confirm = Callable[[Plan, psycopg.Connection[Any]], bool]


def apply(url: str, desired: SpecSet, options: ApplyOptions, *, say: Say, confirm: Confirm) -> ApplyOutcome:
    """Apply the desired state; returns the outcome, raises Refused (exit 3) or ApplyFailed (exit 1)."""
    with connect(url) as control, connect(url) as work:
        # The session settings are checked by the server before anything else happens (a bad --lock-timeout).
        _prepare_session(work, options)
        # The lock lives on the session that makes the changes: if that session ends, so do its changes.
        _take_lock(work, wait=options.wait, say=say, lock_timeout=options.lock_timeout)
        try:
            return _apply_locked(url, control, work, desired, options, say=say, confirm=confirm)
        finally:
            if not work.closed and work.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
                work.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])


def _take_lock(conn: psycopg.Connection[Any], *, wait: bool, say: Say, lock_timeout: str) -> None:
    with conn.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
        row = cur.fetchone()
        if row and row[0]:
            return
        if not wait:
            raise Refused(
                "another pgstate apply is running on this database",
                hint="wait for it to finish, or pass --wait to queue behind it",
            )
        say("another pgstate apply is running; waiting for it to finish (--wait)")
        # --wait means as long as it takes: the session's lock_timeout must not cut it short.
        execute(cur, sql.SQL("SELECT set_config('lock_timeout', '0', false)"))
        cur.execute("SELECT pg_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
        execute(cur, sql.SQL("SELECT set_config('lock_timeout', %s, false)"), [lock_timeout])


def _apply_locked(
    url: str,
    control: psycopg.Connection[Any],
    work: psycopg.Connection[Any],
    desired: SpecSet,
    options: ApplyOptions,
    *,
    say: Say,
    confirm: Confirm,
) -> ApplyOutcome:
    if options.prelude is not None:
        options.prelude(control)
    before, plan = plan_for(control, desired, lock_timeout=options.lock_timeout)
    if options.plan_file is not None:
        _check_saved_plan(options.plan_file, plan, control)
    if not plan.has_changes:
        return ApplyOutcome(ExitCode.OK, plan, None)
    destructive = [step for step in plan.steps if Hazard.DATA_LOSS in step.hazards]
    if destructive and not options.allow_destructive:
        raise Refused(
            "the plan destroys data: " + ", ".join(str(step.id) for step in destructive),
            hint="review the plan; the data is dumped and verified first; then pass --allow-destructive",
        )
    if not confirm(plan, control):
        raise Refused("not confirmed; nothing was changed", hint="answer y, or pass --yes")

    runs.ensure_schema(control)
    runs.mark_interrupted(control)
    commit, dirty = desired_commit(desired.directory) if desired.directory is not None else (None, None)
    run_id = runs.start_run(
        control,
        fingerprint=plan.fingerprint,
        plan=plan.to_json(control),
        pre_state=record_pre_state(before.context),
        desired_commit=commit,
        desired_dirty=dirty,
        rollback_of=options.rollback_of,
    )
    executor = _Executor(url, work, options, say, control=control, run_id=run_id, plan=plan)
    try:
        executor.verified_rows = _back_up(url, control, desired, before, plan, run_id, commit, options, say)
        executor.run_outside_transaction(plan.in_phase(Phase.PREPARE), undo_on_failure=False)
        executor.run_outside_transaction(plan.in_phase(Phase.BUILD), undo_on_failure=True)
        executor.run_transaction(plan.in_phase(Phase.TRANSACTION))
    except BaseException as failure:
        # A failed step, or an interruption (Ctrl-C): put back what was built, check, and say so in the record.
        restored = executor.undo_builds()
        problem = _verify_restored(control, desired, before, options)
        interrupted = not isinstance(failure, PgstateError)
        message = "interrupted" if interrupted else failure.message  # type: ignore[attr-defined]
        status = "rolled back" if restored and problem is None else "failed"
        if problem:
            message += f"; {problem}"
        runs.finish_run(control, run_id, status, message)
        if interrupted:
            raise
        raise ApplyFailed(
            f"run {run_id} {status}: {message}",
            hint=getattr(failure, "hint", None)
            or "the database is as it was before the run; fix the cause and apply again",
        ) from None

    # Committed: the indexes built before the transaction are part of the outcome now, never undone.
    executor.built.clear()
    upkeep = plan.in_phase(Phase.MAINTENANCE)
    if upkeep:
        # Upkeep changes no definition: a failure here leaves the committed schema steps, and says so.
        try:
            executor.run_outside_transaction(upkeep, undo_on_failure=True)
        except PgstateError as failure:
            executor.undo_builds()
            runs.finish_run(control, run_id, "failed", f"schema steps applied; upkeep failed: {failure.message}")
            raise ApplyFailed(
                f"run {run_id}: the schema steps were applied, but upkeep failed: {failure.message}",
                hint=failure.hint or "apply again to retry the upkeep",
            ) from None
        executor.built.clear()
    _, after = plan_for(control, desired, lock_timeout=options.lock_timeout)
    if after.has_changes:
        leftover = ", ".join(str(step.id) for step in after.steps)
        runs.finish_run(control, run_id, "failed", f"did not converge: {leftover}")
        raise ApplyFailed(f"run {run_id} applied but did not converge; a new plan still has: {leftover}")
    runs.finish_run(control, run_id, "applied")
    return ApplyOutcome(ExitCode.OK, plan, run_id)


def _back_up(
    url: str,
    control: psycopg.Connection[Any],
    desired: SpecSet,
    before: State,
    plan: Plan,
    run_id: int,
    commit: str | None,
    options: ApplyOptions,
    say: Say,
) -> dict[str, int]:
    """Dump what the plan destroys (and everything with --backup full), verify each dump's rows against the
    table, and write the manifest; returns table -> rows, which the transaction checks again before destroying."""
    tables = sorted({step.dump for step in plan.steps if step.dump is not None})
    if not tables and not options.full_backup:
        return {}
    tool = backup.choose_pg_dump(before.live.server_version)
    directory = backup.backup_directory(options.backup_dir, run_id)
    runs.set_backup(control, run_id, str(directory))
    say(f"backing up to {directory} with {tool.version}")
    full = backup.dump_full(url, directory, tool, lock_timeout=options.lock_timeout) if options.full_backup else None

    def count(table: QualifiedName) -> int:
        row = control.execute(sql.SQL("SELECT count(*) FROM {}").format(table.identifier())).fetchone()
        return int(row[0]) if row else 0

    dumps = backup.dump_tables(url, tables, directory, tool, expected_rows=count, lock_timeout=options.lock_timeout)
    references: list[QualifiedName | backup.FunctionRef] = []
    for dependent in (d for step in plan.steps for d in step.dump_definitions):
        reference = (
            backup.FunctionRef(dependent.function_oid) if dependent.function_oid is not None else dependent.relation
        )
        if reference is not None and reference not in references:
            references.append(reference)
    definitions = backup.dump_definitions(url, references, directory, tool, lock_timeout=options.lock_timeout)
    result = backup.Backup(directory, tool, tuple(dumps), tuple(definitions), full)
    backup.write_manifest(
        result,
        directory,
        run_id=run_id,
        desired_commit=commit,
        desired_files=_file_digests(desired),
        server_version=str(before.live.server_version),
    )
    for dump in dumps:
        say(f"  {dump.table}: {dump.rows} rows dumped and verified ({dump.file.name})")
    return {str(dump.table): dump.rows for dump in dumps}


def _file_digests(desired: SpecSet) -> dict[str, str]:
    if desired.directory is None:
        return {}
    return {
        str(path.relative_to(desired.directory)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(desired.directory.rglob("*"))
        if path.is_file() and path.suffix in (".yaml", ".yml")
    }


def _prepare_session(work: psycopg.Connection[Any], options: ApplyOptions) -> None:
    with work.cursor() as cur:
        # Waits are bounded by lock_timeout, not by a statement timeout: an index build may take long.
        execute(cur, sql.SQL("SELECT set_config('lock_timeout', %s, false)"), [options.lock_timeout])
        execute(cur, sql.SQL("SELECT set_config('statement_timeout', '0', false)"))
        # If pgstate dies mid-build, the server notices within a second and stops the build (PostgreSQL 14+).
        execute(cur, sql.SQL("SELECT set_config('client_connection_check_interval', '1s', false)"))


def _check_saved_plan(path: Path, fresh: Plan, conn: psycopg.Connection[Any]) -> None:
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        saved_fingerprint = saved["fingerprint"]
        saved_steps = [(s["action"], s["target"], s["sql"]) for s in saved["steps"]]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise PgstateError(
            f"cannot read the saved plan {path}: {error}", hint="make it with `pgstate plan --out`"
        ) from None
    if saved_fingerprint != fresh.fingerprint:
        raise Refused(
            f"the saved plan {path} is stale: the live database changed since it was made",
            hint="make a new plan with `pgstate plan --out` and review it",
        )
    fresh_steps = [(s["action"], s["target"], s["sql"]) for s in (step_json(step, conn) for step in fresh.steps)]
    if saved_steps != fresh_steps:
        raise Refused(
            f"the saved plan {path} no longer matches the desired files",
            hint="make a new plan with `pgstate plan --out` and review it",
        )


def _verify_restored(
    control: psycopg.Connection[Any], desired: SpecSet, before: State, options: ApplyOptions
) -> str | None:
    """None when the managed objects are exactly as before the run, else what differs."""
    try:
        now = read_state(control, desired, lock_timeout=options.lock_timeout)
    except PgstateError as error:
        return f"could not verify the pre-run state: {error.message}"
    if fingerprint(now.live) == fingerprint(before.live):
        return None
    changed = sorted(
        str(key)
        for name, kind in before.live.kinds.items()
        for key in set(kind.objects) | set(now.live.of(name).objects)
        if plain(kind.objects.get(key)) != plain(now.live.of(name).objects.get(key))
    )
    return f"the pre-run state could not be fully restored for {', '.join(changed) or 'the dependencies'}"


class _Executor:
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
        self.verified_rows: dict[str, int] = {}  # table -> rows in its verified dump

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
                    for current in changes:
                        self.say(f"{current.action} {current.target}")
                        if current.dump is not None:
                            self._check_dump_still_matches(cur, current)
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

    def _check_dump_still_matches(self, cur: psycopg.Cursor[Any], change: Step) -> None:
        """Right before destroying: the table, locked, still has exactly the rows its verified dump holds."""
        assert change.dump is not None
        table = change.dump
        expected = self.verified_rows.get(str(table))
        if expected is None:
            raise PgstateError(f"{change.action} {change.target}: no verified backup of {table}; nothing destroyed")
        execute(cur, sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(table.identifier()))
        execute(cur, sql.SQL("SELECT count(*) FROM {}").format(table.identifier()))
        row = cur.fetchone()
        rows = int(row[0]) if row else -1
        if rows != expected:
            raise PgstateError(
                f"{change.action} {change.target}: {table} has {rows} rows, its verified backup {expected};"
                " rows changed since the backup, nothing destroyed",
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
            _prepare_session(self.work, self.options)
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
