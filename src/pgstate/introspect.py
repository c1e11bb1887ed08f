"""Read the live state of the managed tables: a fixed number of catalog queries, whatever their number."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import psycopg

from .catalog import query
from .model import Column, Index, IndexKey, LiveState, LiveTable, QualifiedName, TableSize

# pg_index.indoption bits (src/include/catalog/pg_index.h)
INDOPTION_DESC = 1
INDOPTION_NULLS_FIRST = 2


@dataclass(frozen=True)
class Attribute:
    name: str
    collation: int


Attributes = dict[int, dict[int, Attribute]]  # table oid -> attnum -> attribute


def read_live_state(conn: psycopg.Connection[Any], tables: Iterable[QualifiedName]) -> LiveState:
    """Introspect the given tables (those that exist): five queries, whatever the number of tables."""
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
        columns, attributes = read_columns(cur, list(found))
        indexes = read_indexes(cur, {oid: name for oid, (name, _) in found.items()}, attributes)
    live = {
        name: LiveTable(name, oid, columns.get(oid, {}), indexes.get(oid, {}), size)
        for oid, (name, size) in found.items()
    }
    return LiveState(server_version=int(server_version), search_path=str(search_path), tables=live)


def read_columns(cur: psycopg.Cursor[Any], oids: list[int]) -> tuple[dict[int, dict[str, Column]], Attributes]:
    """The columns of the tables, by name, and by attribute number (what index keys refer to)."""
    cur.execute(query("columns"), {"oids": oids})
    columns: dict[int, dict[str, Column]] = defaultdict(dict)
    attributes: Attributes = defaultdict(dict)
    for table_oid, attnum, name, type_name, collation in cur.fetchall():
        columns[table_oid][name] = Column(name, type_name)
        attributes[table_oid][attnum] = Attribute(name, collation)
    return columns, attributes


def read_indexes(
    cur: psycopg.Cursor[Any], tables: dict[int, QualifiedName], attributes: Attributes | None = None
) -> dict[int, dict[str, Index]]:
    """Indexes of the tables with the given oids, keyed by table oid then index name."""
    if attributes is None:
        _, attributes = read_columns(cur, list(tables))
    cur.execute(query("indexes"), {"oids": list(tables)})
    rows = cur.fetchall()
    names = _read_names(cur, rows)
    indexes: dict[int, dict[str, Index]] = defaultdict(dict)
    for row in rows:
        indexes[row[0]][row[1]] = _index_from_row(tables[row[0]], row, attributes[row[0]], names)
    return indexes


def _read_names(cur: psycopg.Cursor[Any], rows: list[tuple[Any, ...]]) -> dict[tuple[str, int], tuple[str, bool]]:
    """(kind, oid) -> (quoted name, is the default operator class), for the oids the index rows use."""
    opclasses = sorted({oid for row in rows for oid in row[10]})
    collations = sorted({oid for row in rows for oid in row[11] if oid})
    cur.execute(query("index_names"), {"opclasses": opclasses, "collations": collations})
    return {(kind, oid): (name, is_default) for kind, oid, name, is_default in cur.fetchall()}


def _index_from_row(
    table: QualifiedName,
    row: tuple[Any, ...],
    attributes: dict[int, Attribute],
    names: dict[tuple[str, int], tuple[str, bool]],
) -> Index:
    (
        _,
        name,
        method,
        is_unique,
        is_valid,
        constraint,
        predicate,
        key_count,
        attnums,
        options,
        opclasses,
        collations,
        expressions,
    ) = row
    keys = []
    for k in range(key_count):
        attribute = attributes.get(attnums[k])
        opclass, is_default = names[("opclass", opclasses[k])]
        collation = None
        # Like pg_get_indexdef: a collation only when it differs from the column's own.
        if attribute is not None and collations[k] and collations[k] != attribute.collation:
            collation = names[("collation", collations[k])][0]
        keys.append(
            IndexKey(
                column=attribute.name if attribute is not None else None,
                expression=expressions[k] if attribute is None else None,
                descending=bool(options[k] & INDOPTION_DESC),
                nulls_first=bool(options[k] & INDOPTION_NULLS_FIRST),
                opclass=None if is_default else opclass,
                collation=collation,
            )
        )
    return Index(
        table=table,
        name=name,
        keys=tuple(keys),
        method=method,
        unique=is_unique,
        include=tuple(attributes[attnum].name for attnum in attnums[key_count:]),
        predicate=predicate,
        valid=is_valid,
        constraint=constraint,
    )
