"""The standbys of a primary after an apply: wait until each has replayed the run's last commit (at most the
replica lag budget) and say how far behind each one was; and, before each concurrent index build, wait while a
standby is further behind than the budget (a build on a large table writes its whole index to the WAL at once, and
a standby that already lags would lag more, with every read it serves).

A standby is within the budget when it replays, within the budget, everything the primary had written when pgstate
asked. The standbys are the primary's own list (pg_stat_replication): every streaming standby, named in pgstate.toml or
not, and no credentials of theirs are needed."""

from __future__ import annotations

import time
from dataclasses import dataclass
from importlib import resources
from typing import Any

import psycopg

from ..units import duration_seconds

POLL_S = 0.1


@dataclass(frozen=True)
class StandbyLag:
    name: str  # application_name (pid)
    client: str
    state: str | None
    visible: bool  # False: this role may not see replay positions (pg_read_all_stats)
    behind_bytes: float  # WAL not yet replayed, up to the position asked about
    replay_lag_s: float
    waited_s: float = 0.0

    @property
    def caught_up(self) -> bool:
        return self.visible and self.behind_bytes <= 0

    def describe(self) -> str:
        if not self.visible:
            return f"standby {self.name}: lag unknown (needs superuser or pg_read_all_stats to see replay positions)"
        if self.caught_up:
            return f"standby {self.name} ({self.client}) replayed the run's last commit after {self.waited_s:.2f} s"
        return (
            f"standby {self.name} ({self.client}) is still {self.behind_bytes / 1024:,.0f} kB behind the run's last"
            f" commit after {self.waited_s:.1f} s (replay lag {self.replay_lag_s:.1f} s)"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "client": self.client,
            "state": self.state,
            "caught_up": self.caught_up,
            "lag_known": self.visible,
            "behind_bytes": max(self.behind_bytes, 0.0) if self.visible else None,
            "replay_lag_s": self.replay_lag_s if self.visible else None,
            "waited_s": round(self.waited_s, 3),
        }


def _query(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def written_lsn(conn: psycopg.Connection[Any]) -> str:
    """The end of the WAL the primary has written so far, committed or not (see written.sql)."""
    row = conn.execute(_query("written.sql")).fetchone()
    assert row is not None
    return str(row[0])


def standby_lags(conn: psycopg.Connection[Any], lsn: str | None = None) -> list[StandbyLag]:
    rows = conn.execute(_query("standbys.sql"), {"lsn": lsn or written_lsn(conn)}).fetchall()
    return [
        StandbyLag(str(name), str(client), state, bool(visible), float(behind or 0.0), float(lag or 0.0))
        for name, client, state, visible, behind, lag in rows
    ]


def wait_for_standbys(conn: psycopg.Connection[Any], budget: str) -> list[StandbyLag]:
    """Until every standby that can be watched has replayed what the primary has written so far, or the budget
    is spent: each one's lag as it was when it caught up, or at the end."""
    lsn = written_lsn(conn)
    started = time.monotonic()
    deadline = started + duration_seconds(budget)
    done: dict[str, StandbyLag] = {}
    while True:
        now = time.monotonic()
        pending = []
        for lag in standby_lags(conn, lsn):
            if lag.name in done:
                continue
            if lag.caught_up or not lag.visible:
                done[lag.name] = StandbyLag(**{**lag.__dict__, "waited_s": now - started})
            else:
                pending.append(lag)
        if not pending or now >= deadline:
            final = [StandbyLag(**{**lag.__dict__, "waited_s": now - started}) for lag in pending]
            return sorted([*done.values(), *final], key=lambda lag: lag.name)
        time.sleep(POLL_S)


def throttle(conn: psycopg.Connection[Any], budget: str, say: Any) -> None:
    """Before a concurrent build: wait until every standby has replayed what the primary has written so far (the
    build before this one, above all), at most the budget; one that has not by then is further behind than the
    budget, and the build goes ahead anyway, with a warning, rather than never. (pg_stat_replication's replay_lag
    cannot say it: it is the lag of the last position the standby did replay, and stands still while a standby
    replays nothing.)"""
    lagging = [lag for lag in wait_for_standbys(conn, budget) if lag.visible and not lag.caught_up]
    if lagging:
        names = ", ".join(f"{lag.name} ({lag.behind_bytes / 1024:,.0f} kB behind)" for lag in lagging)
        say(f"warning: standbys have not replayed within --replica-lag-budget {budget}; building anyway: {names}")
