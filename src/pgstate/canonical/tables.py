"""A managed table's desired types and indexes, applied to empty temporary copies of it and read back.

* The copy named as the table itself gets the desired column types (which shows whether each change rewrites
  the table: the copy's relfilenode changes) and the desired indexes, read back by the query that reads the
  live ones; being named as the table, it gets the default index names PostgreSQL would choose.
* When types change, a second copy gets the live indexes first and then the type changes, which shows how they
  will read afterwards (``lower((email)::text)`` becomes ``lower(email)``) and which ones the change rebuilds.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import psycopg
from psycopg import sql

from ..ddl import alter_type_sql, create_index_sql
from ..desired import ColumnSpec, IndexSpec, TableSpec
from ..introspect import read_indexes
from ..model import Index, LiveTable, QualifiedName
from ..naming import default_index_name
from ..sqlexec import execute
from .session import NotASingleExpression, check_single_expression, located

PROJECTION_TABLE = "pgstate_projection"


@dataclass
class TableFacts:
    """What the server told about one table's desired state."""

    indexes: dict[int, Index] = field(default_factory=dict)  # position in the spec -> deparsed index
    rewrites: dict[str, bool] = field(default_factory=dict)  # column -> its type change rewrites the table
    rebuilds: dict[str, tuple[str, ...]] = field(default_factory=dict)  # column -> live indexes it rebuilds


def deparse_table(
    cur: psycopg.Cursor[Any],
    spec: TableSpec,
    live: LiveTable,
    changing: list[tuple[ColumnSpec, str]],
    server_positions: list[int],
) -> TableFacts:
    """``changing``: (column, canonical type) of the type changes; ``server_positions``: the indexes to deparse."""
    facts = TableFacts()
    projected: dict[str, Index] = {}
    if changing:
        projected = _project_live_indexes(cur, spec.name, live, changing, facts)
    copy = sql.Identifier("pg_temp", spec.name.name)
    execute(cur, sql.SQL("CREATE TEMP TABLE {} (LIKE {})").format(copy, spec.name.identifier()))
    copy_oid, filenode = _oid_and_filenode(cur, spec.name.name)
    for column, type_name in changing:
        if column.using is not None:
            check_single_expression(cur, column.using, copy, column.location)
        try:
            execute(cur, alter_type_sql(copy, column.name, type_name, column.using))
        except psycopg.Error as error:
            raise located(error, column.location) from None
        _, new_filenode = _oid_and_filenode(cur, spec.name.name)
        facts.rewrites[column.name] = new_filenode != filenode
        filenode = new_filenode
    if server_positions:
        _deparse_indexes(cur, spec, live, copy, copy_oid, server_positions, projected, facts)
    execute(cur, sql.SQL("DROP TABLE {}").format(copy))
    return facts


def _deparse_indexes(
    cur: psycopg.Cursor[Any],
    spec: TableSpec,
    live: LiveTable,
    copy: sql.Identifier,
    copy_oid: int,
    server_positions: list[int],
    projected: dict[str, Index],
    facts: TableFacts,
) -> None:
    """Create every desired index on the copy, in declaration order, so that a name PostgreSQL chooses for an
    unnamed one takes the others into account; read back those the server was needed for."""
    assert spec.indexes is not None
    for position, wanted in enumerate(spec.indexes):
        if position in server_positions:
            for key in wanted.keys:
                if key.expression is not None:
                    check_single_expression(cur, key.expression, copy, key.location)
            if wanted.where is not None:
                check_single_expression(cur, wanted.where, copy, wanted.where_location)
        name = wanted.name or (
            default_index_name(spec.name.name, [k.column or "" for k in wanted.keys] + list(wanted.include))
            if wanted.is_plain
            else None
        )
        try:
            execute(cur, create_index_sql(wanted, copy, name=name))
        except psycopg.Error as error:
            raise located(error, wanted.location) from None
    execute(
        cur,
        sql.SQL(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indrelid = %s ORDER BY i.indexrelid"
        ),
        [copy_oid],
    )
    created_names = [row[0] for row in cur.fetchall()]  # creation order is oid order
    built = read_indexes(cur, {copy_oid: spec.name}).get(copy_oid, {})
    for position in server_positions:
        wanted = spec.indexes[position]
        name = created_names[position]
        index = replace(built[name], location=wanted.location)
        _check_structure(wanted, index)
        current = live.indexes.get(name)
        if current is not None and name in projected and projected[name].definition() == index.definition():
            # Equal once the types change: spell it as the live index is spelled today, so no step is planned.
            index = replace(
                index,
                keys=current.keys,
                include=current.include,
                predicate=current.predicate,
                method=current.method,
                unique=current.unique,
            )
        facts.indexes[position] = index


def _check_structure(spec: IndexSpec, built: Index) -> None:
    """What the server built must have exactly the shape the spec asked for, else a fragment smuggled more."""
    same = (
        len(built.keys) == len(spec.keys)
        and built.include == spec.include
        and (built.predicate is None) == (spec.where is None)
        and built.unique == spec.unique
        and built.method == spec.method
        and all(
            (b.column is None) == (s.column is None)
            and b.descending == s.descending
            and (b.nulls_first == s.nulls_first or spec.method != "btree")
            for b, s in zip(built.keys, spec.keys, strict=False)
        )
    )
    if not same:
        raise NotASingleExpression("an expression or predicate of this index is not a single expression", spec.location)


def _project_live_indexes(
    cur: psycopg.Cursor[Any],
    table: QualifiedName,
    live: LiveTable,
    changing: list[tuple[ColumnSpec, str]],
    facts: TableFacts,
) -> dict[str, Index]:
    """The live indexes as they will read after the type changes; records which ones each change rebuilds.

    An index that cannot survive the change (an operator class the new type lacks) makes the projection fail;
    then nothing is projected, and the plan (which drops indexes before changing types) or the apply decides.
    """
    candidates = [index for index in live.indexes.values() if index.valid]
    copy = sql.Identifier("pg_temp", PROJECTION_TABLE)
    try:
        with cur.connection.transaction():
            execute(cur, sql.SQL("CREATE TEMP TABLE {} (LIKE {})").format(copy, table.identifier()))
            copy_oid, _ = _oid_and_filenode(cur, PROJECTION_TABLE)
            for number, index in enumerate(candidates):
                execute(cur, create_index_sql(index, copy, name=f"{PROJECTION_TABLE}_{number}"))
            for column, type_name in changing:
                before = _index_filenodes(cur, copy_oid)
                execute(cur, alter_type_sql(copy, column.name, type_name, column.using))
                after = _index_filenodes(cur, copy_oid)
                rebuilt = sorted(
                    candidates[int(name.rsplit("_", 1)[1])].name for name in before if before[name] != after[name]
                )
                facts.rebuilds[column.name] = tuple(rebuilt)
            projected = read_indexes(cur, {copy_oid: table}).get(copy_oid, {})
            execute(cur, sql.SQL("DROP TABLE {}").format(copy))
    except psycopg.Error:
        facts.rebuilds.clear()
        return {}
    return {index.name: projected[f"{PROJECTION_TABLE}_{n}"] for n, index in enumerate(candidates)}


def _index_filenodes(cur: psycopg.Cursor[Any], table_oid: int) -> dict[str, int]:
    execute(
        cur,
        sql.SQL(
            "SELECT c.relname, c.relfilenode FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indrelid = %s"
        ),
        [table_oid],
    )
    return {name: filenode for name, filenode in cur.fetchall()}


def _oid_and_filenode(cur: psycopg.Cursor[Any], name: str) -> tuple[int, int]:
    execute(
        cur,
        sql.SQL("SELECT oid, relfilenode FROM pg_class WHERE relnamespace = pg_my_temp_schema() AND relname = %s"),
        [name],
    )
    row = cur.fetchone()
    assert row is not None, "the temporary copy was just created"
    return int(row[0]), int(row[1])


def check_storage(cur: psycopg.Cursor[Any], spec: TableSpec) -> None:
    """The server refuses an unknown storage parameter or a bad value: on an empty copy, each one in turn."""
    assert spec.storage is not None
    copy = sql.Identifier("pg_temp", "pgstate_storage_copy")
    execute(cur, sql.SQL("CREATE TEMP TABLE {} (LIKE {})").format(copy, spec.name.identifier()))
    for parameter in spec.storage:
        name = sql.SQL(".").join(sql.Identifier(part) for part in parameter.name.split(".", 1))
        try:
            execute(cur, sql.SQL("ALTER TABLE {} SET ({} = {})").format(copy, name, sql.Literal(parameter.value)))
        except psycopg.Error as error:
            raise located(error, parameter.location or spec.location) from None
    execute(cur, sql.SQL("DROP TABLE {}").format(copy))
