"""The evidence the guards of a retirement look at: recent rows, recent scans, and dependents."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import psycopg
from psycopg import sql

from .catalog import query
from .errors import PgstateError
from .model import Dependent, DesiredState, LiveState, QualifiedName, RetirementFacts

# pg_stat_user_tables has last_seq_scan and last_idx_scan since PostgreSQL 16.
LAST_SCAN_SINCE = 160000


def read_retirement_facts(
    conn: psycopg.Connection[Any], desired: DesiredState, live: LiveState
) -> dict[QualifiedName, RetirementFacts]:
    """For each table to be retired that exists: one dependents query for all, and per table the two guard
    queries (they read the table's data and statistics, which no catalog query can batch)."""
    retiring = {
        name: table for name, table in desired.tables.items() if table.retire is not None and name in live.tables
    }
    if not retiring:
        return {}
    oids = {live.tables[name].oid: name for name in retiring}
    dependents: dict[QualifiedName, list[Dependent]] = defaultdict(list)
    facts = {}
    with conn.cursor() as cur:
        cur.execute(query("dependents"), {"oids": list(oids)})
        for table_oid, kind, name, relation_schema, relation_name, function_oid in cur.fetchall():
            relation = QualifiedName(relation_schema, relation_name) if relation_name is not None else None
            dependents[oids[table_oid]].append(Dependent(kind, name, relation, function_oid))
        for name, table in sorted(retiring.items()):
            assert table.retire is not None
            # The scan statistics first: the activity check below scans the table itself.
            last_scan = _recent_scan(cur, live.tables[name].oid, table.retire.quiet_days, live.server_version)
            newest = _recent_activity(
                cur, name, table.retire.activity_column, table.retire.quiet_days, live, table.location
            )
            facts[name] = RetirementFacts(newest, last_scan, tuple(dependents[name]))
    return facts


def _recent_activity(
    cur: psycopg.Cursor[Any], table: QualifiedName, column: str | None, days: int, live: LiveState, location: Any
) -> str | None:
    if column is None:
        return None
    if column not in live.tables[table].columns:
        raise PgstateError(
            f"activity_column {column!r} is not a column of {table}",
            location=location,
            hint="name the timestamp column that records activity (e.g. created_at or updated_at)",
        )
    statement = sql.SQL(
        "SELECT max({column})::text FROM {table} WHERE {column} > now() - make_interval(days => %s)"
    ).format(column=sql.Identifier(column), table=table.identifier())
    with cur.connection.transaction():
        # Our own look at the rows must not count as a scan, or the scan guard of the next plan or apply would
        # refuse because of it. Only roles allowed to set track_counts (superusers, or GRANT SET on PostgreSQL
        # 15+) can say so; for others the guard's own scan counts (see README).
        try:
            with cur.connection.transaction():
                cur.execute("SET LOCAL track_counts = off")
        except psycopg.errors.InsufficientPrivilege:
            pass
        cur.execute(statement, [days])
        row = cur.fetchone()
    return None if row is None or row[0] is None else str(row[0])


def _recent_scan(cur: psycopg.Cursor[Any], oid: int, days: int, server_version: int) -> str | None:
    if server_version < LAST_SCAN_SINCE:
        return None
    cur.execute(
        "SELECT greatest(last_seq_scan, last_idx_scan)::text FROM pg_stat_user_tables"
        " WHERE relid = %s AND greatest(last_seq_scan, last_idx_scan) > now() - make_interval(days => %s)",
        [oid, days],
    )
    row = cur.fetchone()
    return None if row is None or row[0] is None else str(row[0])
