"""Carrying out a plan, as the spec's "Applying, in order" says.

1. Preflight: take the advisory lock, introspect, plan (or check a saved plan), record the run.
2. Clean up INVALID leftovers; build new indexes of tables not rewritten CONCURRENTLY, one by one.
3. Everything else in one transaction under ``SET LOCAL lock_timeout``; a lock timeout retries it with backoff.
4. On any failure: roll back, drop what step 2 built, verify the pre-run state, exit 1.
5. On success: introspect again; the new plan must be empty.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from ..db.connection import connect
from ..db.pooler import refuse_transaction_pooler
from ..db.recovery import refuse_standby
from ..db.sqlexec import execute
from ..errors import ApplyFailed, ExitCode, PgstateError, Refused
from ..history import runs
from ..history.prestate import record_pre_state
from ..history.runs import RunRecord
from ..history.status import RunStatus, failure_message, status_after_failure
from ..pipeline import State, plan_for, read_state
from ..planning.diff import plain
from ..planning.plan import Plan, fingerprint, step_json
from ..planning.steps import Hazard, Phase
from ..source.documents import SpecSet
from ..source.git import desired_commit
from . import interrupts
from .backups import back_up
from .executor import Executor, prepare_session
from .options import ApplyOptions

# One key for every pgstate of every version: two applies on one database never interleave.
ADVISORY_LOCK_KEY = 0x70677374617465  # "pgstate"

# Hazards of steps that widen, or may widen, who can see or change rows: refused without --allow-authz-widening.
AUTHZ = frozenset({Hazard.AUTHZ_WIDENING, Hazard.AUTHZ_CHANGED})


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
        refuse_standby(work, "rollback" if options.rollback_of is not None else "apply")
        # First, before a session setting or the lock could be left on a pooled server session (db.pooler).
        refuse_transaction_pooler(url, work, "rollback" if options.rollback_of is not None else "apply")
        # The session settings are checked by the server before anything else happens (a bad --lock-timeout).
        prepare_session(work, options)
        # The lock lives on the session that makes the changes: if that session ends, so do its changes.
        _take_lock(work, options, say=say)
        try:
            return _apply_locked(url, control, work, desired, options, say=say, confirm=confirm)
        finally:
            if not work.closed and work.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
                work.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])


def _take_lock(conn: psycopg.Connection[Any], options: ApplyOptions, *, say: Say) -> None:
    with conn.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
        row = cur.fetchone()
        if row and row[0]:
            return
        if not options.wait:
            raise Refused(
                "another pgstate apply is running on this database",
                hint="wait for it to finish, or pass --wait [DURATION] to queue behind it",
            )
        limit = options.wait_limit
        say(f"another pgstate apply is running; waiting for it to finish (--wait{f' {limit}' if limit else ''})")
        # lock_timeout bounds advisory locks too: the wait is bounded by --wait's duration alone, and without
        # one it is as long as it takes.
        execute(cur, sql.SQL("SELECT set_config('lock_timeout', %s, false)"), [limit or "0"])
        try:
            cur.execute("SELECT pg_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
        except psycopg.errors.LockNotAvailable:
            raise Refused(
                f"another pgstate apply is still running on this database after waiting {limit}",
                hint="wait longer (a longer --wait, or --wait alone), or see what runs with `pgstate history`",
            ) from None
        execute(cur, sql.SQL("SELECT set_config('lock_timeout', %s, false)"), [options.lock_timeout])


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
    restoration = options.restoration
    # First, under the lock: a run left 'running' by a process that died is finished and reported, also when
    # this apply then finds nothing to do.
    if runs.history_exists(control):
        runs.ensure_schema(control)  # an older pgstate's record lacks columns the recovery reads
        for line in runs.recover_interrupted(control):
            say(line)
    before, plan = plan_for(control, desired, lock_timeout=options.lock_timeout, retries=options.retries)
    if restoration is not None:
        plan = restoration.merged(plan)
        restoration.check_unchanged(control, plan)
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
    authz = [(step, AUTHZ & set(step.hazards)) for step in plan.steps if AUTHZ & set(step.hazards)]
    if authz and not options.allow_authz_widening:
        raise Refused(
            "the plan widens or changes who can see or change rows: "
            + ", ".join(f"{step.id} ({', '.join(sorted(found))})" for step, found in authz),
            hint="review each authz-widening and authz-changed step of the plan; then pass --allow-authz-widening",
        )
    if not confirm(plan, control):
        raise Refused("not confirmed; nothing was changed", hint="answer y, or pass --yes")

    runs.ensure_schema(control)
    commit, dirty = desired_commit(desired.directory) if desired.directory is not None else (None, None)
    executor: Executor | None = None

    def cancel_running_statement() -> None:
        (executor.work if executor is not None else work).cancel_safe(timeout=2.0)

    # From the run's start until its record says how it ended, Ctrl-C stops at a checkpoint (interrupts.py).
    with interrupts.deferred(cancel_running_statement):
        run_id = runs.start_run(
            control,
            fingerprint=plan.fingerprint,
            plan=plan.to_json(control),
            pre_state=record_pre_state(before.context),
            desired_commit=commit,
            desired_dirty=dirty,
            rollback_of=options.rollback_of,
        )
        record = RunRecord(url, control, run_id, say)
        executor = Executor(url, work, options, say, record=record, plan=plan)
        try:
            return _run(url, record, executor, desired, before, plan, commit, options, say=say)
        finally:
            executor.close()


def _run(
    url: str,
    record: RunRecord,
    executor: Executor,
    desired: SpecSet,
    before: State,
    plan: Plan,
    commit: str | None,
    options: ApplyOptions,
    *,
    say: Say,
) -> ApplyOutcome:
    """Carry out a recorded plan. Whatever happens, the run's record ends saying what did: from here on, every
    way out goes through ``record.finish`` (which cannot raise), or, when even that cannot reach the server,
    leaves the run 'running' for the next apply to find and report."""
    run_id = record.run_id
    restoration = options.restoration
    final = restoration.full if restoration is not None and restoration.full is not None else desired
    try:
        interrupts.check()
        executor.verified_rows.update(back_up(url, record, desired, before, plan, commit, options, say))
        if restoration is not None:
            # What the run left, not what a dump of this rollback holds: the rows must not have changed since.
            expected = restoration.expected(plan)
            executor.verified_rows.update(expected)
            executor.verified_source.update(dict.fromkeys(expected, restoration.since))
        executor.run_outside_transaction(plan.in_phase(Phase.RESTORE), undo_on_failure=True)
        if restoration is not None and restoration.tables:
            conn = record.connection(probe=True)
            if conn is None:
                raise PgstateError("the server cannot be reached to plan the steps after the restores")
            _, fresh = plan_for(conn, final, lock_timeout=options.lock_timeout, retries=options.retries)
            plan, extra = restoration.replanned(plan, fresh)
            if extra:
                say(f"with the restored tables back, also: {', '.join(str(step.id) for step in extra)}")
                first = len(executor.positions) + 1
                record.add_steps(first, [step_json(step, conn) for step in extra])
                executor.positions.update({step.id: first + n for n, step in enumerate(extra)})
        executor.run_outside_transaction(plan.in_phase(Phase.PREPARE), undo_on_failure=False)
        executor.run_outside_transaction(plan.in_phase(Phase.BUILD), undo_on_failure=True)
        executor.run_transaction(plan.in_phase(Phase.TRANSACTION))
    except BaseException as failure:
        message = failure_message(failure)
        committed = record.committed(executor.xid)
        if committed:
            # The transaction committed and the failure came after it (its reply was lost): its changes stand.
            _finish_committed(record, executor, plan, final, options, say, f"failed: {message}")
        if committed is None:
            # Neither the outcome nor the record can be reached: the next apply finds the run and reports it.
            raise ApplyFailed(
                f"run {run_id}: {message}; the server cannot be reached to learn whether its transaction committed",
                hint="the next apply (or `pgstate history`) reports the run's outcome; then plan again",
            ) from None
        # A failed step, or an interruption (Ctrl-C): put back what was built, check, and say so in the record.
        executor.settle_uncommitted()
        restored = executor.undo_builds()
        problem = _verify_restored(record, desired, before, options)
        status = status_after_failure(restored=restored and problem is None)
        if problem:
            message += f"; {problem}"
        record.finish(status, message)
        if not isinstance(failure, Exception):
            raise  # Ctrl-C, exit: recorded, and it goes on as it came
        if isinstance(failure, PgstateError):
            raise ApplyFailed(
                f"run {run_id} {status}: {message}",
                hint=failure.hint or "the database is as it was before the run; fix the cause and apply again",
            ) from None
        raise ApplyFailed(
            f"run {run_id} {status}: {message}",
            hint="this is a bug in pgstate: run again with --verbose to see where, and report it",
        ) from failure
    _finish_committed(record, executor, plan, final, options, say, None)
    return ApplyOutcome(ExitCode.OK, plan, run_id)


def _finish_committed(
    record: RunRecord,
    executor: Executor,
    plan: Plan,
    final: SpecSet,
    options: ApplyOptions,
    say: Say,
    trouble: str | None,
) -> None:
    """After the commit: upkeep, then the convergence check; the committed steps stay whatever happens, and a
    failure says what is now different from before the run. Raises ApplyFailed unless the run converged."""
    run_id = record.run_id
    # The indexes built before the transaction are part of the outcome now, never undone.
    executor.built.clear()
    committed = [str(step.id) for step in plan.steps if step.phase is not Phase.MAINTENANCE]
    changed = f"committed: {', '.join(committed)}" if committed else "nothing was committed"
    upkeep = plan.in_phase(Phase.MAINTENANCE)
    if trouble is None and interrupts.requested():
        trouble = "was interrupted before its upkeep and its check"
    if trouble is None and upkeep:
        # Upkeep changes no definition: a failure here leaves the committed schema steps, and says so.
        try:
            executor.run_outside_transaction(upkeep, undo_on_failure=True)
        except (PgstateError, interrupts.Interrupted) as failure:
            executor.undo_builds()
            trouble = f"upkeep failed: {failure_message(failure)}"
        executor.built.clear()
    if trouble is None:
        conn = record.connection(probe=True)
        try:
            if conn is None:
                raise PgstateError("the server cannot be reached to check the outcome")
            _, after = plan_for(conn, final, lock_timeout=options.lock_timeout, retries=options.retries)
        except PgstateError as error:
            trouble = f"the outcome could not be checked: {error.message}"
        else:
            if after.has_changes:
                trouble = f"did not converge: a new plan still has {', '.join(str(s.id) for s in after.steps)}"
    if trouble is None:
        record.finish(RunStatus.APPLIED)
        return
    record.finish(RunStatus.INCOMPLETE, f"{trouble}; {changed}")
    raise ApplyFailed(
        f"run {run_id} committed its changes, then {trouble}",
        hint=f"what is now different from before the run: {changed}. `pgstate rollback {run_id}` returns them;"
        " or fix the cause and apply again",
    )


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


def _verify_restored(record: RunRecord, desired: SpecSet, before: State, options: ApplyOptions) -> str | None:
    """None when the managed objects are exactly as before the run, else what differs."""
    control = record.connection(probe=True)
    if control is None:
        return "could not verify the pre-run state: the server cannot be reached"
    try:
        now = read_state(control, desired, lock_timeout=options.lock_timeout, retries=options.retries)
    except PgstateError as error:
        return f"could not verify the pre-run state: {error.message}"
    except Exception as error:  # a failure is being recorded: checking it must not stop the record
        return f"could not verify the pre-run state: {failure_message(error)}"
    if fingerprint(now.live) == fingerprint(before.live):
        return None
    changed = sorted(
        str(key)
        for name, kind in before.live.kinds.items()
        for key in set(kind.objects) | set(now.live.of(name).objects)
        if plain(kind.objects.get(key)) != plain(now.live.of(name).objects.get(key))
    )
    return f"the pre-run state could not be fully restored for {', '.join(changed) or 'the dependencies'}"
