"""Reading indexes from the catalog: of the live tables, and of the temporary copies desired ones are built on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg

from ...catalog import query
from ...model.names import QualifiedName
from ...model.tables import ColumnFacts
from .model import Index, IndexKey

# pg_index.indoption bits (src/include/catalog/pg_index.h)
INDOPTION_DESC = 1
INDOPTION_NULLS_FIRST = 2
DEFAULT_COLLATION_OID = 100  # pg_collation's "default" (src/include/catalog/pg_collation.dat)

Columns = Mapping[int, Mapping[int, ColumnFacts]]  # table oid -> attnum -> column
Names = dict[tuple[str, int], tuple[str, bool]]  # ("opclass" | "collation", oid) -> (quoted name, is default)


def read_indexes(
    cur: psycopg.Cursor[Any], tables: Mapping[int, QualifiedName], columns: Columns
) -> dict[int, dict[str, Index]]:
    """Indexes of the tables with the given oids, keyed by table oid then index name: two queries."""
    if not tables:
        return {}
    cur.execute(query("indexes"), {"oids": list(tables)})
    return indexes_from_rows(cur, cur.fetchall(), tables, columns)


def indexes_from_rows(
    cur: psycopg.Cursor[Any],
    rows: Sequence[Sequence[Any]],
    tables: Mapping[int, QualifiedName],
    columns: Columns,
    names: Names | None = None,
) -> dict[int, dict[str, Index]]:
    """The indexes in rows of the ``indexes`` query (read here, or by the sandbox's batch as JSON, where the
    oids may come as strings); one more query names their operator classes and collations, unless ``names``
    (index_names) already has them."""
    decoded = [_with_int_oids(row) for row in rows]
    if names is None:
        names = _read_names(cur, decoded)
    indexes: dict[int, dict[str, Index]] = {}
    for row in decoded:
        indexes.setdefault(row[0], {})[row[1]] = _index_from_row(tables[row[0]], row, columns.get(row[0], {}), names)
    return indexes


def index_names(cur: psycopg.Cursor[Any], rows: Sequence[Sequence[Any]]) -> Names:
    """The names of the operator classes and collations of index rows (of many readbacks): one query."""
    return _read_names(cur, [_with_int_oids(row) for row in rows])


def _with_int_oids(row: Sequence[Any]) -> tuple[Any, ...]:
    if type(row[0]) is int:  # read here: psycopg gave the oids as numbers already (the batch's JSON gives strings)
        return tuple(row)
    values = list(row)
    values[0] = int(values[0])
    values[10] = [int(oid) for oid in values[10]]
    values[11] = [int(oid) for oid in values[11]]
    return tuple(values)


def _read_names(cur: psycopg.Cursor[Any], rows: list[tuple[Any, ...]]) -> Names:
    """(kind, oid) -> (quoted name, is the default operator class), for the oids the index rows use."""
    opclasses = sorted({oid for row in rows for oid in row[10]})
    collations = sorted({oid for row in rows for oid in row[11] if oid})
    cur.execute(query("index_names"), {"opclasses": opclasses, "collations": collations})
    return {(kind, oid): (name, is_default) for kind, oid, name, is_default in cur.fetchall()}


def _index_from_row(
    table: QualifiedName,
    row: tuple[Any, ...],
    attributes: Mapping[int, ColumnFacts],
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
        partitioned,
        inherited,
        foreign_keys,
        functions,
    ) = row
    keys = []
    for k in range(key_count):
        attribute = attributes.get(attnums[k])
        opclass, is_default = names[("opclass", opclasses[k])]
        collation = None
        # Like pg_get_indexdef: a collation only when it differs from the column's own.
        if attribute is not None and collations[k] and collations[k] != attribute.collation_oid:
            collation = names[("collation", collations[k])][0]
        elif attribute is None and collations[k] not in (0, DEFAULT_COLLATION_OID):
            # pg_get_indexdef prints an expression key without its collation; the catalog's own is the truth
            # (the same rule reads the desired key on its copy, so both sides agree).
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
        inherited=bool(inherited),
        partitioned=bool(partitioned),
        foreign_keys=tuple(foreign_keys or ()),
        functions=tuple(tuple(parts) for parts in functions or ()),
    )
