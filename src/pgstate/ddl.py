"""The statements pgstate runs, built with psycopg.sql: identifiers quoted, fragments only as the server printed
them (or, on temporary copies inside a rolled-back transaction, as written, to be parsed)."""

from __future__ import annotations

from psycopg import sql

from .desired import IndexSpec, KeySpec
from .model import Index, IndexKey


def create_index_sql(
    spec_or_index: IndexSpec | Index,
    table: sql.Composable,
    *,
    name: str | None,
    concurrently: bool = False,
) -> sql.Composed:
    """CREATE INDEX for a spec (fragments as written: only ever run on a temporary copy) or a model index."""
    if isinstance(spec_or_index, IndexSpec):
        keys = [_spec_key_sql(k) for k in spec_or_index.keys]
        predicate = spec_or_index.where
    else:
        keys = [index_key_sql(k) for k in spec_or_index.keys]
        predicate = spec_or_index.predicate
    parts: list[sql.Composable] = [
        sql.SQL("CREATE UNIQUE INDEX" if spec_or_index.unique else "CREATE INDEX"),
    ]
    if concurrently:
        parts.append(sql.SQL("CONCURRENTLY"))
    if name is not None:
        parts.append(sql.Identifier(name))
    parts.append(
        sql.SQL("ON {} USING {} ({})").format(table, sql.Identifier(spec_or_index.method), sql.SQL(", ").join(keys))
    )
    if spec_or_index.include:
        parts.append(sql.SQL("INCLUDE ({})").format(sql.SQL(", ").join(map(sql.Identifier, spec_or_index.include))))
    if predicate is not None:
        parts.append(sql.SQL("WHERE ({})").format(sql.SQL(predicate)))
    return sql.SQL(" ").join(parts)


def alter_type_sql(table: sql.Composable, column: str, type_name: str, using: str | None) -> sql.Composed:
    """ALTER ... TYPE with USING; without one, the column is cast to the new type (``"c"::type``)."""
    new_type = sql.SQL(type_name)  # as format_type printed it
    conversion = (
        sql.SQL(using)  # parsed by the server, alone and on an empty copy, before it gets here
        if using is not None
        else sql.SQL("{}::{}").format(sql.Identifier(column), new_type)
    )
    return sql.SQL("ALTER TABLE {} ALTER COLUMN {} TYPE {} USING ({})").format(
        table, sql.Identifier(column), new_type, conversion
    )


def _spec_key_sql(key: KeySpec) -> sql.Composable:
    # An operator class from YAML is a name, quoted as one (``name`` or ``schema.name``).
    opclass = sql.Identifier(*key.opclass.split(".", 1)) if key.opclass else None
    return _key_sql(key.column, key.expression, key.descending, key.nulls_first, opclass, None)


def index_key_sql(key: IndexKey) -> sql.Composable:
    # In the model, operator classes and collations are as the catalog query printed them with quote_ident.
    opclass = sql.SQL(key.opclass) if key.opclass else None
    return _key_sql(key.column, key.expression, key.descending, key.nulls_first, opclass, key.collation)


def _key_sql(
    column: str | None,
    expression: str | None,
    descending: bool,
    nulls_first: bool,
    opclass: sql.Composable | None,
    collation: str | None,
) -> sql.Composable:
    parts: list[sql.Composable] = [
        sql.Identifier(column) if column is not None else sql.SQL("({})").format(sql.SQL(expression or ""))
    ]
    if collation:
        parts.append(sql.SQL("COLLATE {}").format(sql.SQL(collation)))  # quote_ident'ed by the catalog
    if opclass is not None:
        parts.append(opclass)
    if descending:
        parts.append(sql.SQL("DESC"))
    if nulls_first != descending:  # only when it differs from PostgreSQL's default for the order
        parts.append(sql.SQL("NULLS FIRST" if nulls_first else "NULLS LAST"))
    return sql.SQL(" ").join(parts)
