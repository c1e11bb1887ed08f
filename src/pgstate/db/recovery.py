"""Hot standbys: a server in recovery replays its primary and changes nothing itself."""

from __future__ import annotations

from typing import Any

import psycopg

from ..errors import Refused


def refuse_standby(conn: psycopg.Connection[Any], verb: str) -> None:
    """A hot standby replays its primary and changes nothing itself: what it should have is applied there."""
    row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
    if row and row[0]:
        raise Refused(
            f"this database is a hot standby (read-only, in recovery): {verb} changes nothing here",
            hint=f"{verb} on its primary; the standby replays the change (plan and drift work on a standby)",
        )
