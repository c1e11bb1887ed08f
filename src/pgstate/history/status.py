"""What a run and each of its steps are, in the record: said from what happened, never from what was hoped.

A transactional step is ``committed`` only by its own transaction: the statement that marks it runs inside that
transaction, so the mark and the change commit together or not at all. A step outside the transaction (a
concurrent build, upkeep) is ``committed`` once its statement returned.
"""

from __future__ import annotations

from enum import StrEnum

import psycopg

from ..errors import PgstateError


class RunStatus(StrEnum):
    RUNNING = "running"
    APPLIED = "applied"  # converged
    ROLLED_BACK = "rolled back"  # failed before its commit; the pre-run state is back, verified
    FAILED = "failed"  # failed before its commit; the pre-run state could not be verified
    INCOMPLETE = "incomplete"  # its transaction committed, then upkeep failed or it did not converge
    INTERRUPTED = "interrupted"  # the process ended before it could say how: found and set by the next apply


class StepStatus(StrEnum):
    PLANNED = "planned"
    COMMITTED = "committed"
    FAILED = "failed"
    ROLLED_BACK = "rolled back"  # it ran, and its transaction rolled back or what it made was undone
    SKIPPED = "skipped"  # it never ran: the run stopped before it
    APPLIED = "applied"  # pgstate 0.2 and older: what "committed" says now


CHANGED = frozenset({StepStatus.COMMITTED, StepStatus.APPLIED})


def step_changed(status: str) -> bool:
    """Whether a recorded step left its change in the database (older records say "applied")."""
    return status in CHANGED


def failure_message(failure: BaseException) -> str:
    """What went wrong, for the run record and the user: every kind of failure is described here, once."""
    if isinstance(failure, PgstateError):
        return failure.message
    if isinstance(failure, KeyboardInterrupt):
        return str(failure) or "interrupted (Ctrl-C)"  # the checkpoint's Interrupted says which signal
    if isinstance(failure, SystemExit):
        return "interrupted (the process was asked to exit)"
    if isinstance(failure, psycopg.OperationalError | psycopg.InterfaceError):
        first = (str(failure).strip().splitlines() or [type(failure).__name__])[0]
        return f"the connection to the server was lost: {first}"
    if isinstance(failure, psycopg.Error):
        return f"database error: {failure.diag.message_primary or type(failure).__name__}"
    return f"internal error: {type(failure).__name__}: {failure}"


def status_after_failure(*, restored: bool | None) -> RunStatus:
    """A run that failed before its commit: rolled back when the pre-run state was verified back, else failed."""
    return RunStatus.ROLLED_BACK if restored else RunStatus.FAILED
