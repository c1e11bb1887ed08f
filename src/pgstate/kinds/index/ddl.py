"""The statements of the index kind, built with psycopg.sql: identifiers quoted, fragments only as the server
printed them (or, on temporary copies inside the sandbox, as written, to be parsed)."""

from __future__ import annotations

from psycopg import sql

from .model import Index, IndexKey, IndexSpec, KeySpec


def create_index_sql(
    spec_or_index: IndexSpec | Index,
    table: sql.Composable,
    *,
    name: str | None,
    concurrently: bool = False,
    only: bool = False,
) -> sql.Composed:
    """CREATE INDEX for a spec (fragments as written: only ever run on a temporary copy) or a model index.

    ``only``: ``ON ONLY`` a partitioned table (its partitions' indexes are built apart and attached)."""
    if isinstance(spec_or_index, IndexSpec):
        keys = [_spec_key_sql(k) for k in spec_or_index.keys]
        predicate = spec_or_index.where
    else:
        keys = [index_key_sql(k) for k in spec_or_index.keys]
        predicate = spec_or_index.predicate
    parts: list[sql.Composable] = [sql.SQL("CREATE UNIQUE INDEX" if spec_or_index.unique else "CREATE INDEX")]
    if concurrently:
        parts.append(sql.SQL("CONCURRENTLY"))
    if name is not None:
        parts.append(sql.Identifier(name))
    parts.append(
        sql.SQL("ON {}{} USING {} ({})").format(
            sql.SQL("ONLY ") if only else sql.SQL(""),
            table,
            sql.Identifier(spec_or_index.method),
            sql.SQL(", ").join(keys),
        )
    )
    if spec_or_index.include:
        parts.append(sql.SQL("INCLUDE ({})").format(sql.SQL(", ").join(map(sql.Identifier, spec_or_index.include))))
    if predicate is not None:
        parts.append(sql.SQL("WHERE ({})").format(sql.SQL(predicate)))
    return sql.SQL(" ").join(parts)


def _spec_key_sql(key: KeySpec) -> sql.Composable:
    # An operator class or collation from YAML is a name, quoted as one (``name`` or ``schema.name``).
    opclass = sql.Identifier(*key.opclass.split(".", 1)) if key.opclass else None
    collation = sql.Identifier(key.collation) if key.collation else None
    return _key_sql(key.column, key.expression, key.descending, key.nulls_first, opclass, collation)


def index_key_sql(key: IndexKey) -> sql.Composable:
    # In the model, operator classes and collations are as the catalog query printed them with quote_ident.
    opclass = sql.SQL(key.opclass) if key.opclass else None
    collation = sql.SQL(key.collation) if key.collation else None
    return _key_sql(key.column, key.expression, key.descending, key.nulls_first, opclass, collation)


def _key_sql(
    column: str | None,
    expression: str | None,
    descending: bool,
    nulls_first: bool,
    opclass: sql.Composable | None,
    collation: sql.Composable | None,
) -> sql.Composable:
    parts: list[sql.Composable] = [
        sql.Identifier(column) if column is not None else sql.SQL("({})").format(sql.SQL(expression or ""))
    ]
    if collation is not None:
        parts.append(sql.SQL("COLLATE {}").format(collation))
    if opclass is not None:
        parts.append(opclass)
    if descending:
        parts.append(sql.SQL("DESC"))
    if nulls_first != descending:  # only when it differs from PostgreSQL's default for the order
        parts.append(sql.SQL("NULLS FIRST" if nulls_first else "NULLS LAST"))
    return sql.SQL(" ").join(parts)


def drop_index_sql(index: Index, *, concurrently: bool = False) -> sql.Composed:
    verb = "DROP INDEX CONCURRENTLY IF EXISTS" if concurrently else "DROP INDEX"
    return sql.SQL("{} {}").format(sql.SQL(verb), index.qualified_name.identifier())


def rename_index_sql(schema: str, old: str, new: str) -> sql.Composed:
    return sql.SQL("ALTER INDEX {} RENAME TO {}").format(sql.Identifier(schema, old), sql.Identifier(new))


def attach_index_sql(schema: str, parent: str, child_schema: str, child: str) -> sql.Composed:
    return sql.SQL("ALTER INDEX {} ATTACH PARTITION {}").format(
        sql.Identifier(schema, parent), sql.Identifier(child_schema, child)
    )
