"""Read the live state of the managed tables: a fixed number of catalog queries, whatever their number."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import psycopg

from .catalog import query
from .model import Column, Index, IndexKey, LiveState, LiveTable, QualifiedName, TableSize


def read_live_state(conn: psycopg.Connection[Any], tables: Iterable[QualifiedName]) -> LiveState:
    """Introspect the given tables (those that exist); three queries plus one for the server's facts."""
    wanted = sorted(set(tables))
    with conn.cursor() as cur:
        cur.execute(query("server"))
        server_version, search_path, _database = cur.fetchone() or (0, "", "")
        cur.execute(
            query("tables"),
            {"schemas": [t.schema for t in wanted], "names": [t.name for t in wanted]},
        )
        found = {
            oid: (QualifiedName(schema, name), TableSize(int(rows), int(size)))
            for oid, schema, name, rows, size in cur.fetchall()
        }
        oids = list(found)
        columns = read_columns(cur, oids)
        indexes = read_indexes(cur, {oid: name for oid, (name, _) in found.items()})
    live = {
        name: LiveTable(name, oid, columns.get(oid, {}), indexes.get(oid, {}), size)
        for oid, (name, size) in found.items()
    }
    return LiveState(server_version=int(server_version), search_path=str(search_path), tables=live)


def read_columns(cur: psycopg.Cursor[Any], oids: list[int]) -> dict[int, dict[str, Column]]:
    cur.execute(query("columns"), {"oids": oids})
    columns: dict[int, dict[str, Column]] = defaultdict(dict)
    for table_oid, name, type_name in cur.fetchall():
        columns[table_oid][name] = Column(name, type_name)
    return columns


def read_indexes(cur: psycopg.Cursor[Any], tables: dict[int, QualifiedName]) -> dict[int, dict[str, Index]]:
    """Indexes of the tables with the given oids, keyed by table oid then index name."""
    cur.execute(query("indexes"), {"oids": list(tables)})
    indexes: dict[int, dict[str, Index]] = defaultdict(dict)
    for row in cur.fetchall():
        indexes[row[0]][row[1]] = index_from_row(tables[row[0]], row)
    return indexes


def index_from_row(table: QualifiedName, row: tuple[Any, ...]) -> Index:
    (_, name, method, is_unique, is_valid, constraint, predicate, key_count,
     columns, expressions, descending, nulls_first, opclasses, collations) = row
    keys = tuple(
        IndexKey(
            column=columns[k] if expressions[k] is None else None,
            expression=expressions[k],
            descending=descending[k],
            nulls_first=nulls_first[k],
            opclass=opclasses[k],
            collation=collations[k],
        )
        for k in range(key_count)
    )
    return Index(
        table=table,
        name=name,
        keys=keys,
        method=method,
        unique=is_unique,
        include=tuple(columns[key_count:]),
        predicate=predicate,
        valid=is_valid,
        constraint=constraint,
    )
