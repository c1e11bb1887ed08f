"""Poolers in transaction mode, told apart from a connection that has a server session of its own.

``apply`` and ``rollback`` need one server session for the whole run: the advisory lock that keeps two applies
apart (``execution.apply``) is a session's, and so are the settings of the connection that makes the changes
(lock_timeout, statement_timeout, client_connection_check_interval) and the concurrent index builds, which run
outside any transaction. A pooler in transaction mode (PgBouncer's ``pool_mode = transaction`` or
``statement``, Supabase's Supavisor on port 6543) hands each transaction to whichever server session is free:
the lock would stay behind on a pooled session that no one owns, and the next statement would run without it.
Those two verbs refuse such a pooler (exit 3). Reading is safe through one: every read of plan, drift, lint,
export and history is a transaction of its own (the catalog snapshot, the sandbox's rolled-back transaction,
single autocommit statements), whose settings are ``SET LOCAL``.

A pooler in transaction mode is known by what the URL says (``db.urls``: Prisma's ``pgbouncer=true``, port
6543 of Supabase's pooler) or by a probe: the connection's server session is noted, a second client connection
runs a statement, then the first runs one again, twice over. With a session of its own, the second connection
never runs on the first one's session and the first always comes back to its own. A transaction-mode pooler
gives a statement the most recently freed session (PgBouncer reuses them last in, first out), so on a quiet
pool the second connection lands on the first one's session at once; on a busy pool the first connection moves
to another session. Either is proof, never a guess: a direct connection or a session-mode pooler cannot show
either.
"""

from __future__ import annotations

import sys
from typing import Any

import psycopg

from ..catalog import query
from ..errors import Refused
from .connection import connect
from .urls import ConnectionTarget, transaction_pooler

PROBE_ROUNDS = 2
REFUSAL_HINT = (
    "use the direct URL (port 5432; Prisma's DIRECT_URL) or a session-mode pooler's (Supabase: port 5432 of"
    " the pooler host) for apply and rollback"
)


def refuse_declared_pooler(target: ConnectionTarget, verb: str) -> None:
    """Refused (exit 3) when the URL itself says it points at a pooler in transaction mode."""
    if target.pooler is not None:
        raise Refused(_needs_a_session(verb, target.pooler), hint=REFUSAL_HINT)


def refuse_transaction_pooler(url: str, conn: psycopg.Connection[Any], verb: str) -> None:
    """Refused (exit 3) when ``conn`` (opened on ``url``) goes through a pooler in transaction mode, by what the
    URL says or by the probe; nothing is changed or left behind either way (the probe only reads)."""
    reason = transaction_pooler(url) or shared_sessions(url, conn)
    if reason is not None:
        raise Refused(_needs_a_session(verb, reason), hint=REFUSAL_HINT)


def pooler_notice(target: ConnectionTarget) -> str | None:
    """The line that tells a reading verb it goes through a transaction-mode pooler, which is fine for it."""
    if target.pooler is None:
        return None
    return (
        f"pgstate: {target.pooler}: fine for reading (each read is one transaction);"
        " apply and rollback need a server session of their own"
    )


def say_pooler_notice(target: ConnectionTarget) -> None:
    notice = pooler_notice(target)
    if notice is not None:
        print(notice, file=sys.stderr)


def shared_sessions(url: str, conn: psycopg.Connection[Any]) -> str | None:
    """Why ``conn``'s statements do not keep one server session of their own (None when they do): the probe of
    the module's docstring, with a second client connection on ``url``."""
    mine = _session(conn)
    if not mine:
        return None  # the server does not show this session (it always does): nothing to compare
    through = "the URL goes through a pooler in transaction mode"
    with connect(url) as other:
        for _round in range(PROBE_ROUNDS):
            if _session(other) == mine:
                return f"{through} (two client connections ran on one server session)"
            if _session(conn) != mine:
                return f"{through} (one client connection ran on two server sessions)"
    return None


def _session(conn: psycopg.Connection[Any]) -> tuple[Any, ...]:
    row = conn.execute(query("server_session")).fetchone()
    return tuple(row) if row is not None else ()


def _needs_a_session(verb: str, reason: str) -> str:
    return f"{verb} needs a server session of its own (for its advisory lock and its settings), and {reason}"
