"""Sessions that keep another waiting for a lock, as people need them named: pid, application, state, the age
of its transaction and the first line of its query."""

from __future__ import annotations

from typing import Any, NamedTuple

import psycopg

from . import query


class Blocker(NamedTuple):
    pid: int
    application: str
    state: str
    transaction_seconds: float | None
    query: str

    def describe(self) -> str:
        age = (
            f", in a transaction for {_seconds(self.transaction_seconds)}"
            if self.transaction_seconds is not None
            else ""
        )
        who = self.application or "no application name"
        return f"pid {self.pid} ({who}, {self.state or 'state unknown'}{age}): {self.query or '(no query)'}"


def _seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.0f} min"


def _blockers(rows: list[tuple[Any, ...]]) -> list[Blocker]:
    return [Blocker(int(row[0]), str(row[1]), str(row[2]), row[3], str(row[4])) for row in rows]


def blockers_of(conn: psycopg.Connection[Any], pid: int) -> list[Blocker]:
    """Who keeps backend ``pid`` waiting now (``pg_blocking_pids``)."""
    return _blockers(conn.execute(query("blockers"), {"pid": pid}).fetchall())


def exclusive_holders(conn: psycopg.Connection[Any]) -> list[Blocker]:
    """Who holds a table of this database in ACCESS EXCLUSIVE mode: what a catalog read that timed out met."""
    return _blockers(conn.execute(query("lock_holders")).fetchall())
