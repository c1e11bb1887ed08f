"""What the advisor reads: the top statements, the tables with their columns and indexes, the server's settings."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.rows import dict_row

from ..model.names import QualifiedName
from . import query


@dataclass(frozen=True)
class Statement:
    """One normalised statement of the workload and what pg_stat_statements measured of it."""

    text: str
    calls: int
    total_ms: float
    mean_ms: float
    role: str | None


@dataclass(frozen=True)
class ExistingIndex:
    name: str
    keys: tuple[str | None, ...]  # column names; None for an expression
    method: str
    partial: bool
    valid: bool
    unique: bool
    constraint: bool
    scans: int
    oid: int
    definition: str


@dataclass(frozen=True)
class Table:
    name: QualifiedName
    rls: bool
    rows: int
    writes: int  # rows inserted, updated and deleted since the statistics were reset
    index_writes: int  # of them, the ones every index is written for (inserts and non-HOT updates)
    columns: dict[str, str]  # name -> type as format_type prints it
    indexes: tuple[ExistingIndex, ...]


@dataclass(frozen=True)
class Server:
    log_min_duration_statement: str
    statements_preloaded: bool
    statements_created: bool
    hypopg_created: str | None
    hypopg_available: bool
    statistics_since: datetime.datetime
    version_num: int
    standby: bool


@dataclass
class Workload:
    server: Server
    statements: list[Statement]
    tables: dict[QualifiedName, Table]
    policies: list[dict[str, Any]] = field(default_factory=list)

    def table(self, schema: str | None, name: str) -> Table | None:
        if schema is not None:
            return self.tables.get(QualifiedName(schema, name))
        found = [table for key, table in self.tables.items() if key.name == name]
        return found[0] if len(found) == 1 else None


def read_server(conn: psycopg.Connection[Any]) -> Server:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(query("server")).fetchone()
    assert row is not None  # one row, always
    return Server(**row)


def read_workload(conn: psycopg.Connection[Any], *, top: int, min_calls: int) -> Workload:
    """The workload in four statements whatever the number of tables: the server, the top statements (none when
    pg_stat_statements is not created here), the tables, the policies."""
    server = read_server(conn)
    statements = read_statements(conn, top=top, min_calls=min_calls) if server.statements_created else []
    with conn.cursor(row_factory=dict_row) as cur:
        tables = {}
        for row in cur.execute(query("tables")):
            name = QualifiedName(row["schema"], row["name"])
            indexes = tuple(ExistingIndex(**{**found, "keys": tuple(found["keys"] or ())}) for found in row["indexes"])
            tables[name] = Table(
                name,
                row["rls"],
                max(row["rows"], 0),
                row["writes"],
                row["index_writes"],
                {column: kind for column, kind in row["columns"] or ()},
                indexes,
            )
        policies = list(cur.execute(query("policies")))
    return Workload(server, statements, tables, policies)


def read_statements(conn: psycopg.Connection[Any], *, top: int, min_calls: int) -> list[Statement]:
    """The top statements of this server's pg_stat_statements (a standby's are its own: the reads it served)."""
    with conn.cursor(row_factory=dict_row) as cur:
        return [
            Statement(row["query"], row["calls"], row["total_exec_time"], row["mean_exec_time"], row["rolname"])
            for row in cur.execute(query("workload"), {"min_calls": min_calls, "top": top})
        ]


def joined(top: int, *workloads: list[Statement]) -> list[Statement]:
    """The statements of several servers (a primary and its standbys) as one workload: the same normalised text
    run by the same role is one statement, its calls and time summed; the ``top`` by total time."""
    calls: dict[tuple[str, str | None], int] = {}
    total: dict[tuple[str, str | None], float] = {}
    for statements in workloads:
        for statement in statements:
            key = (statement.text, statement.role)
            calls[key] = calls.get(key, 0) + statement.calls
            total[key] = total.get(key, 0.0) + statement.total_ms
    found = [
        Statement(text, calls[text, role], total[text, role], total[text, role] / max(calls[text, role], 1), role)
        for text, role in calls
    ]
    return sorted(found, key=lambda statement: -statement.total_ms)[:top]


def role_timeouts(conn: psycopg.Connection[Any], roles: list[str]) -> dict[str, str | None]:
    """Each existing role's statement_timeout here (this database's, else every database's), None when unset."""
    with conn.cursor() as cur:
        return {name: timeout for name, timeout in cur.execute(query("roles"), {"roles": roles})}
