"""Turn desired specs into the model, spelled exactly as the live catalog spells the same things.

What can be decided locally is (plain columns; a type or expression written exactly as the server prints the
live one). Everything else is handed to the server inside one transaction that is always rolled back:

* types are declared on a temporary table and read back with ``format_type``;
* each table whose indexes need it gets an empty temporary copy (``LIKE``, named as the table so that default
  index names come out as PostgreSQL would choose them); desired column types are applied to it, which also
  tells whether the change rewrites the table (its relfilenode changes) and checks the ``USING`` expression;
  desired indexes are created on it and read back with the same catalog query that reads the live ones.

Every statement runs in the extended query protocol, where the server accepts exactly one statement, and the
structure of what was created is checked against the spec, so a fragment that is not a single expression is
refused and never reaches the live tables.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import psycopg
from psycopg import sql

from .desired import ColumnSpec, IndexSpec, KeySpec, TableSpec
from .errors import InvalidDesiredState, PgstateError, SourceLocation
from .introspect import read_indexes
from .model import Column, DesiredState, DesiredTable, Index, IndexKey, LiveTable, QualifiedName
from .naming import default_index_name
from .sqlexec import execute

# A desired fragment is parsed on empty temporary tables: nothing should take long.
CANONICALIZE_STATEMENT_TIMEOUT = "30s"


@dataclass
class _Problems:
    items: list[PgstateError] = field(default_factory=list)

    def add(self, message: str, location: SourceLocation, hint: str | None = None) -> None:
        self.items.append(PgstateError(message, location=location, hint=hint))


def canonicalize(
    conn: psycopg.Connection[Any],
    specs: list[TableSpec],
    live_tables: dict[QualifiedName, LiveTable],
    *,
    lock_timeout: str,
    files: tuple[str, ...] = (),
) -> DesiredState:
    """The desired state as model objects; raises InvalidDesiredState naming every fragment the server refused."""
    problems = _Problems()
    needs_server = [
        spec for spec in specs if spec.present and spec.name in live_tables and _needs_server(spec, live_tables)
    ]
    canonical_types: dict[str, str] = {}
    server_indexes: dict[tuple[QualifiedName, int], Index] = {}
    rewrites: dict[tuple[QualifiedName, str], bool] = {}
    if needs_server:
        with _rolled_back(conn, lock_timeout) as cur:
            canonical_types = _canonical_types(cur, needs_server, live_tables, problems)
            for spec in needs_server:
                _deparse_on_copy(cur, spec, live_tables[spec.name], canonical_types, problems, server_indexes, rewrites)
    if problems.items:
        raise InvalidDesiredState(sorted(problems.items, key=_location_order))

    tables: dict[QualifiedName, DesiredTable] = {}
    for spec in specs:
        live = live_tables.get(spec.name)
        columns = tuple(
            Column(
                c.name,
                canonical_types.get(c.type, c.type),
                c.using,
                rewrites=rewrites.get((spec.name, c.name), False),
                location=c.location,
            )
            for c in spec.columns
        )
        indexes = None
        if spec.indexes is not None:
            indexes = tuple(
                _index_model(spec.name, position, index, live, server_indexes)
                for position, index in enumerate(spec.indexes)
            )
        tables[spec.name] = DesiredTable(spec.name, spec.present, columns, indexes, spec.prune_indexes, spec.location)
    return DesiredState(tables=tables, files=files)


def _index_model(
    table: QualifiedName,
    position: int,
    spec: IndexSpec,
    live: LiveTable | None,
    server_indexes: dict[tuple[QualifiedName, int], Index],
) -> Index:
    index = server_indexes.get((table, position)) or _local_index(table, spec, live)
    assert index is not None, "every index the server was needed for was deparsed, or a problem was raised"
    return index


def _location_order(problem: PgstateError) -> tuple[str, int, int]:
    loc = problem.location
    return (loc.file, loc.line, loc.column) if loc else ("", 0, 0)


@contextmanager
def _rolled_back(conn: psycopg.Connection[Any], lock_timeout: str) -> Iterator[psycopg.Cursor[Any]]:
    """A transaction that never commits: nothing done here can reach the database."""
    with conn.transaction(force_rollback=True), conn.cursor() as cur:
        execute(cur, sql.SQL("SELECT set_config('statement_timeout', %s, true)"), [CANONICALIZE_STATEMENT_TIMEOUT])
        execute(cur, sql.SQL("SELECT set_config('lock_timeout', %s, true)"), [lock_timeout])
        yield cur


# --- what can be decided without the server ------------------------------------------------------------------


def _needs_server(spec: TableSpec, live_tables: dict[QualifiedName, LiveTable]) -> bool:
    live = live_tables[spec.name]
    if any(_type_changes(column, live) for column in spec.columns):
        return True
    return spec.indexes is not None and any(_local_index(spec.name, i, live) is None for i in spec.indexes)


def _type_changes(column: ColumnSpec, live: LiveTable) -> bool:
    """True unless the type is written exactly as the server prints the live one (then it is the same)."""
    current = live.columns.get(column.name)
    return current is None or current.type != column.type


def _local_index(table: QualifiedName, spec: IndexSpec, live: LiveTable | None) -> Index | None:
    """The model of an index spec when no server is needed for it, else None.

    Plain columns never need the server. An operator class, expression or predicate needs it unless it is
    written exactly as the live index of the same name prints it: then it means the same.
    """
    name = spec.name
    if name is None:
        if not spec.is_plain:
            return None  # PostgreSQL names expression keys after the function; only the server knows
        name = default_index_name(table.name, [k.column or "" for k in spec.keys] + list(spec.include))
    live_index = live.indexes.get(name) if live else None
    keys: list[IndexKey] = []
    for position, key in enumerate(spec.keys):
        live_key = live_index.keys[position] if live_index and position < len(live_index.keys) else None
        local = _local_key(key, live_key)
        if local is None:
            if live is None:  # a missing table: keep the text as written, for drift to show
                local = IndexKey(key.column, key.expression, key.descending, key.nulls_first, key.opclass)
            else:
                return None
        keys.append(local)
    predicate = spec.where
    if predicate is not None and live is not None:
        if live_index is None or live_index.predicate != predicate.strip():
            return None
        predicate = live_index.predicate
    return Index(
        table=table,
        name=name,
        keys=tuple(keys),
        method=spec.method,
        unique=spec.unique,
        include=spec.include,
        predicate=predicate,
        location=spec.location,
    )


def _local_key(key: KeySpec, live_key: IndexKey | None) -> IndexKey | None:
    local = IndexKey(key.column, None, key.descending, key.nulls_first, None)
    if key.column is not None and key.opclass is None:
        return local
    if live_key is None:
        return None
    if key.column is not None and live_key.column == key.column and live_key.opclass == key.opclass:
        return replace(local, opclass=key.opclass)
    if key.expression is not None and key.opclass is None and live_key.expression == key.expression.strip():
        return IndexKey(None, live_key.expression, key.descending, key.nulls_first, None)
    return None


# --- what the server decides ----------------------------------------------------------------------------------


def _canonical_types(
    cur: psycopg.Cursor[Any],
    specs: list[TableSpec],
    live_tables: dict[QualifiedName, LiveTable],
    problems: _Problems,
) -> dict[str, str]:
    """Each type as written -> as format_type prints it; one temporary table holds them all."""
    wanted: dict[str, SourceLocation] = {}
    for spec in specs:
        for column in spec.columns:
            if _type_changes(column, live_tables[spec.name]):
                wanted.setdefault(column.type, column.location)
    if not wanted:
        return {}
    written = list(wanted)
    try:
        with cur.connection.transaction():
            return dict(zip(written, _declare_types(cur, "pgstate_types", written), strict=True))
    except psycopg.Error:
        pass  # find out which ones the server refused, each in its own savepoint, to name them all
    result: dict[str, str] = {}
    for position, type_text in enumerate(written):
        try:
            with cur.connection.transaction():
                result[type_text] = _declare_types(cur, f"pgstate_type_{position}", [type_text])[0]
        except psycopg.Error as error:
            problems.add(
                f"unknown or malformed type {type_text!r}: {_server_message(error)}",
                wanted[type_text],
                "write the type as PostgreSQL knows it, e.g. text, jsonb, varchar(320), numeric(6,2)",
            )
    return result


def _declare_types(cur: psycopg.Cursor[Any], table: str, types: list[str]) -> list[str]:
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(f"t{i}"), sql.SQL(t)) for i, t in enumerate(types)
    )
    execute(cur, sql.SQL("CREATE TEMP TABLE {} ({})").format(sql.Identifier(table), columns))
    execute(
        cur,
        sql.SQL(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute"
            " WHERE attrelid = {}::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
        ).format(sql.Literal(f"pg_temp.{sql.Identifier(table).as_string(None)}")),
    )
    printed = [row[0] for row in cur.fetchall()]
    if len(printed) != len(types):  # a comma smuggled into a type would declare more columns
        raise psycopg.DataError("not a single type")
    return printed


def _deparse_on_copy(
    cur: psycopg.Cursor[Any],
    spec: TableSpec,
    live: LiveTable,
    canonical_types: dict[str, str],
    problems: _Problems,
    server_indexes: dict[tuple[QualifiedName, int], Index],
    rewrites: dict[tuple[QualifiedName, str], bool],
) -> None:
    """Apply the spec's types and indexes to an empty temporary copy of the table and read them back."""
    changing = [
        c for c in spec.columns if _type_changes(c, live) and c.type in canonical_types and c.name in live.columns
    ]
    location = spec.location
    try:
        with cur.connection.transaction():
            projected: dict[str, Index] = {}
            if changing and spec.indexes:
                projected = _project_live_indexes(cur, spec, live, changing, canonical_types)
            copy = sql.Identifier("pg_temp", spec.name.name)
            execute(cur, sql.SQL("CREATE TEMP TABLE {} (LIKE {})").format(copy, spec.name.identifier()))
            copy_oid, filenode = _oid_and_filenode(cur, spec.name.name)
            for column in changing:
                location = column.location
                execute(cur, alter_type_sql(copy, column.name, canonical_types[column.type], column.using))
                _check_columns_unchanged(cur, copy_oid, live, column)
                _, new_filenode = _oid_and_filenode(cur, spec.name.name)
                rewrites[(spec.name, column.name)] = new_filenode != filenode
                filenode = new_filenode
            _create_indexes_on_copy(cur, spec, live, copy_oid, projected, server_indexes)
            execute(cur, sql.SQL("DROP TABLE {}").format(copy))
    except _NotASingleExpression as refused:
        problems.add(refused.message, refused.location, "write one SQL expression, without ';' or extra clauses")
    except psycopg.errors.SyntaxError as error:
        where = getattr(error, "pgstate_location", None) or location
        problems.add(
            f"not a single SQL expression: {_server_message(error)}",
            where,
            "write one SQL expression, without ';', comments or extra clauses",
        )
    except psycopg.Error as error:
        where = getattr(error, "pgstate_location", None) or location
        problems.add(f"PostgreSQL refused this: {_server_message(error)}", where)


PROJECTION_TABLE = "pgstate_projection"


def _project_live_indexes(
    cur: psycopg.Cursor[Any],
    spec: TableSpec,
    live: LiveTable,
    changing: list[ColumnSpec],
    canonical_types: dict[str, str],
) -> dict[str, Index]:
    """The live indexes as they will read after the type changes.

    ``ALTER ... TYPE`` re-parses the indexes on the column (``lower((email)::text)`` becomes ``lower(email)``
    once email is text), so a desired index equal to that projection needs no step of its own.
    """
    copy = sql.Identifier("pg_temp", PROJECTION_TABLE)
    execute(cur, sql.SQL("CREATE TEMP TABLE {} (LIKE {})").format(copy, spec.name.identifier()))
    copy_oid, _ = _oid_and_filenode(cur, PROJECTION_TABLE)
    candidates = [index for index in live.indexes.values() if index.valid and index.constraint is None]
    for number, index in enumerate(candidates):
        execute(cur, create_index_sql(index, copy, name=f"{PROJECTION_TABLE}_{number}"))
    for column in changing:
        execute(cur, alter_type_sql(copy, column.name, canonical_types[column.type], column.using))
    projected = read_indexes(cur, {copy_oid: spec.name}).get(copy_oid, {})
    execute(cur, sql.SQL("DROP TABLE {}").format(copy))
    return {index.name: projected[f"{PROJECTION_TABLE}_{n}"] for n, index in enumerate(candidates)}


class _NotASingleExpression(Exception):
    def __init__(self, message: str, location: SourceLocation):
        super().__init__(message)
        self.message = message
        self.location = location


def _oid_and_filenode(cur: psycopg.Cursor[Any], name: str) -> tuple[int, int]:
    execute(
        cur,
        sql.SQL("SELECT oid, relfilenode FROM pg_class WHERE relnamespace = pg_my_temp_schema() AND relname = %s"),
        [name],
    )
    row = cur.fetchone()
    assert row is not None, "the temporary copy was just created"
    return int(row[0]), int(row[1])


def alter_type_sql(table: sql.Identifier, column: str, type_name: str, using: str | None) -> sql.Composed:
    """ALTER ... TYPE with USING; without one, the column is cast to the new type (``"c"::type``)."""
    new_type = sql.SQL(type_name)  # as format_type printed it
    conversion = (
        sql.SQL(using)  # parsed by the server on an empty copy first
        if using is not None
        else sql.SQL("{}::{}").format(sql.Identifier(column), new_type)
    )
    return sql.SQL("ALTER TABLE {} ALTER COLUMN {} TYPE {} USING ({})").format(
        table, sql.Identifier(column), new_type, conversion
    )


def _check_columns_unchanged(cur: psycopg.Cursor[Any], copy_oid: int, live: LiveTable, changed: ColumnSpec) -> None:
    """A USING fragment could close its parenthesis and add sub-commands: the columns would show it."""
    execute(
        cur,
        sql.SQL("SELECT attname FROM pg_attribute WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped"),
        [copy_oid],
    )
    names = sorted(row[0] for row in cur.fetchall())
    if names != sorted(live.columns):
        raise _NotASingleExpression(
            f"the USING of column {changed.name!r} is not a single expression", changed.location
        )


def _create_indexes_on_copy(
    cur: psycopg.Cursor[Any],
    spec: TableSpec,
    live: LiveTable,
    copy_oid: int,
    projected: dict[str, Index],
    server_indexes: dict[tuple[QualifiedName, int], Index],
) -> None:
    positions = [p for p, index in enumerate(spec.indexes or ()) if _local_index(spec.name, index, live) is None]
    if not positions:
        return
    assert spec.indexes is not None
    copy = sql.Identifier("pg_temp", spec.name.name)
    for position in positions:
        wanted = spec.indexes[position]
        _check_single_expressions(cur, wanted, copy)
        try:
            execute(cur, create_index_sql(wanted, copy, name=wanted.name))
        except psycopg.Error as error:
            error.pgstate_location = wanted.location  # type: ignore[attr-defined]
            raise
    # Unnamed indexes were named by the server; creation order is oid order.
    execute(
        cur,
        sql.SQL(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indrelid = %s ORDER BY i.indexrelid"
        ),
        [copy_oid],
    )
    created_names = [row[0] for row in cur.fetchall()]
    built = read_indexes(cur, {copy_oid: spec.name}).get(copy_oid, {})
    for position, name in zip(positions, created_names, strict=True):
        index_spec = spec.indexes[position]
        index = replace(built[name], location=index_spec.location)
        _check_structure(index_spec, index)
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
        server_indexes[(spec.name, position)] = index


def _check_single_expressions(cur: psycopg.Cursor[Any], spec: IndexSpec, copy: sql.Identifier) -> None:
    """Each fragment must also stand alone as the one column of a SELECT.

    Inside CREATE INDEX a fragment sits in two parentheses and could close them to add clauses whose effect
    the structure check cannot see (``WHERE true`` is folded away); no text escapes both contexts at once.
    """
    fragments = [(k.expression, k.location) for k in spec.keys if k.expression is not None]
    if spec.where is not None:
        fragments.append((spec.where, spec.where_location))
    for fragment, location in fragments:
        try:
            with cur.connection.transaction():
                execute(cur, sql.SQL("SELECT ({}) FROM {} LIMIT 0").format(sql.SQL(fragment), copy))
                columns = len(cur.description or ())
        except psycopg.Error as error:
            error.pgstate_location = location  # type: ignore[attr-defined]
            raise
        if columns != 1:
            raise _NotASingleExpression(f"{fragment!r} is not a single expression", location)


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
        raise _NotASingleExpression(
            "an expression or predicate of this index is not a single expression", spec.location
        )


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


def _server_message(error: psycopg.Error) -> str:
    diag = error.diag
    return diag.message_primary or str(error).splitlines()[0]
