"""Running statements: always in the extended query protocol, where the server accepts exactly one statement."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql


def execute(cur: psycopg.Cursor[Any], statement: sql.SQL | sql.Composed, params: Sequence[Any] | None = None) -> None:
    """Execute one statement. Binary results force PQexecParams (psycopg would otherwise send a parameterless
    query with the simple protocol, which runs any number of statements): a smuggled second statement is then
    a syntax error instead of being run."""
    cur.execute(statement, params, binary=True)
