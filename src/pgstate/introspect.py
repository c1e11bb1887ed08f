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
    rows_by_index: dict[tuple[int, str], list[tuple[Any, ...]]] = defaultdict(list)
    for row in cur.fetchall():
        rows_by_index[(row[0], row[1])].append(row)
    indexes: dict[int, dict[str, Index]] = defaultdict(dict)
    for (table_oid, index_name), rows in rows_by_index.items():
        indexes[table_oid][index_name] = index_from_rows(tables[table_oid], index_name, rows)
    return indexes


def index_from_rows(table: QualifiedName, name: str, rows: list[tuple[Any, ...]]) -> Index:
    (_, _, method, is_unique, is_valid, constraint, predicate, *_rest) = rows[0]
    keys: list[IndexKey] = []
    include: list[str] = []
    for row in rows:
        (_, _, _, _, _, _, _, _position, is_key, column, expression, desc, nulls_first, opclass, collation) = row
        if not is_key:
            include.append(column)
            continue
        keys.append(
            IndexKey(
                column=column if expression is None else None,
                expression=expression,
                descending=bool(desc),
                nulls_first=bool(nulls_first),
                opclass=opclass,
                collation=collation,
            )
        )
    return Index(
        table=table,
        name=name,
        keys=tuple(keys),
        method=method,
        unique=bool(is_unique),
        include=tuple(include),
        predicate=predicate,
        valid=bool(is_valid),
        constraint=constraint,
    )
