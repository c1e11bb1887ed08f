"""Read the live state of the managed tables: a fixed number of catalog queries, whatever their number."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import psycopg

from .catalog import query
from .model import (
    Column,
    Function,
    Index,
    IndexKey,
    LiveDatabase,
    LiveState,
    LiveTable,
    Policy,
    QualifiedName,
    RowSecurity,
    SettingInfo,
    TableSize,
    Upkeep,
    View,
)

# pg_index.indoption bits (src/include/catalog/pg_index.h)
INDOPTION_DESC = 1
INDOPTION_NULLS_FIRST = 2


@dataclass(frozen=True)
class Attribute:
    name: str
    collation: int


Attributes = dict[int, dict[int, Attribute]]  # table oid -> attnum -> attribute


def read_live_state(
    conn: psycopg.Connection[Any],
    tables: Iterable[QualifiedName],
    functions: Iterable[QualifiedName] = (),
    views: Iterable[QualifiedName] = (),
    *,
    database: bool = False,
) -> LiveState:
    """Introspect the given objects (those that exist): at most eight queries, whatever their number."""
    wanted = sorted(set(tables))
    with conn.cursor() as cur:
        cur.execute(query("server"))
        server_version, search_path, _database = cur.fetchone() or (0, "", "")
        cur.execute(
            query("tables"),
            {"schemas": [t.schema for t in wanted], "names": [t.name for t in wanted]},
        )
        found = {
            oid: (
                QualifiedName(schema, name),
                TableSize(int(rows), int(size)),
                RowSecurity(enabled, forced),
                partitioned,
            )
            for oid, schema, name, rows, size, enabled, forced, partitioned in cur.fetchall()
        }
        names = {oid: name for oid, (name, _, _, _) in found.items()}
        columns, attributes = read_columns(cur, list(found))
        indexes = read_indexes(cur, names, attributes)
        policies = read_policies(cur, names, attributes)
        upkeep, storage = read_upkeep(cur, list(found))
        live_functions = read_functions(cur, functions)
        live_views = read_views(cur, views)
        live_database = read_database(cur) if database else None
        managed_settings = live_database.managed if live_database else read_managed_settings(cur)
    live = {
        name: LiveTable(
            name,
            oid,
            columns.get(oid, {}),
            indexes.get(oid, {}),
            size,
            rls,
            policies.get(oid, {}),
            partitioned,
            storage.get(oid, {}),
            upkeep.get(oid),
        )
        for oid, (name, size, rls, partitioned) in found.items()
    }
    return LiveState(
        server_version=int(server_version),
        search_path=str(search_path),
        tables=live,
        functions=live_functions,
        views=live_views,
        database=live_database,
        managed_settings=managed_settings,
    )


def _options(options: list[str], prefix: str = "") -> dict[str, str]:
    """reloptions/setconfig entries ``name=value`` as a dict (the value may itself contain '=')."""
    return {prefix + name: value for name, _, value in (option.partition("=") for option in options)}


def read_upkeep(cur: psycopg.Cursor[Any], oids: list[int]) -> tuple[dict[int, Upkeep], dict[int, dict[str, str]]]:
    cur.execute(query("upkeep"), {"oids": oids})
    upkeep: dict[int, Upkeep] = {}
    storage: dict[int, dict[str, str]] = {}
    for oid, last_analyzed, live_tuples, dead_tuples, reloptions, toast_reloptions in cur.fetchall():
        upkeep[oid] = Upkeep(last_analyzed, int(live_tuples), int(dead_tuples))
        storage[oid] = {**_options(reloptions), **_options(toast_reloptions, "toast.")}
    return upkeep, storage


def read_managed_settings(cur: psycopg.Cursor[Any]) -> dict[tuple[str, str, str], str]:
    """What pgstate set, (scope, object, name) -> value; empty before the first apply."""
    cur.execute("SELECT to_regclass('pgstate.managed_settings') IS NOT NULL")
    if not (cur.fetchone() or (False,))[0]:
        return {}
    cur.execute("SELECT scope, object, name, value FROM pgstate.managed_settings")
    return {(scope, obj, setting): value for scope, obj, setting, value in cur.fetchall()}


def read_database(cur: psycopg.Cursor[Any]) -> LiveDatabase:
    """The current database's settings, the server's settings catalog, extensions, and pgstate's records."""
    cur.execute(query("database"))
    name, settings, preloaded = cur.fetchone() or ("", [], "")
    cur.execute(query("settings"))
    catalog = {row[0]: SettingInfo(row[0], row[1], row[2], row[3], row[4], tuple(row[5])) for row in cur.fetchall()}
    cur.execute(query("extensions"))
    extensions: dict[str, str] = {}
    available: set[str] = set()
    for extension, version in cur.fetchall():
        available.add(extension)
        if version is not None:
            extensions[extension] = version
    managed = read_managed_settings(cur)
    libraries = frozenset(part.strip().strip('"') for part in str(preloaded).split(",") if part.strip())
    return LiveDatabase(
        str(name), _options(list(settings)), catalog, extensions, frozenset(available), libraries, managed
    )


RELKINDS = {
    "r": "table",
    "p": "partitioned table",
    "v": "view",
    "m": "materialized view",
    "S": "sequence",
    "f": "foreign table",
    "c": "type",
    "t": "TOAST table",
}


def read_relation_owners(cur: psycopg.Cursor[Any], names: Iterable[QualifiedName]) -> dict[QualifiedName, str]:
    """Which relation holds each of the given names now: ``index on <table>``, or its kind."""
    wanted = sorted(set(names))
    cur.execute(query("relations"), {"schemas": [n.schema for n in wanted], "names": [n.name for n in wanted]})
    owners = {}
    for schema, name, relkind, table_schema, table_name in cur.fetchall():
        if relkind in ("i", "I"):
            owners[QualifiedName(schema, name)] = f"index on {QualifiedName(table_schema, table_name)}"
        else:
            owners[QualifiedName(schema, name)] = RELKINDS.get(relkind, "relation")
    return owners


def read_policies(
    cur: psycopg.Cursor[Any], tables: dict[int, QualifiedName], attributes: Attributes
) -> dict[int, dict[str, Policy]]:
    """Policies of the tables with the given oids, keyed by table oid then policy name."""
    cur.execute(query("policies"), {"oids": list(tables)})
    policies: dict[int, dict[str, Policy]] = defaultdict(dict)
    for (
        table_oid,
        name,
        command,
        permissive,
        roles,
        using,
        with_check,
        using_tree,
        with_check_tree,
        columns,
        functions,
    ) in cur.fetchall():
        policies[table_oid][name] = Policy(
            table=tables[table_oid],
            name=name,
            command=command,
            roles=tuple(roles),
            permissive=permissive,
            using=using,
            with_check=with_check,
            columns=tuple(columns),
            functions=tuple(functions),
            using_tree=using_tree,
            with_check_tree=with_check_tree,
            attributes={attnum: attribute.name for attnum, attribute in attributes[table_oid].items()},
        )
    return policies


def read_functions(
    cur: psycopg.Cursor[Any], names: Iterable[QualifiedName], *, oids: list[int] | None = None
) -> dict[QualifiedName, tuple[Function, ...]]:
    """Every overload of the named functions (or of the functions with the given oids), by name."""
    wanted = sorted(set(names))
    if not wanted and not oids:
        return {}
    cur.execute(
        query("functions"),
        {"schemas": [n.schema for n in wanted], "names": [n.name for n in wanted], "oids": oids or []},
    )
    found: dict[QualifiedName, list[Function]] = defaultdict(list)
    for (
        _oid,
        schema,
        name,
        argument_types,
        identity,
        arguments,
        returns,
        language,
        volatility,
        definer,
        search_path,
        body,
        owner,
        grants,
    ) in cur.fetchall():
        found[QualifiedName(schema, name)].append(
            Function(
                schema,
                name,
                argument_types,
                identity,
                arguments,
                returns,
                language,
                volatility,
                definer,
                search_path,
                body,
                owner=owner,
                grants=tuple(grants) if grants is not None else None,
            )
        )
    return {name: tuple(overloads) for name, overloads in found.items()}


def read_views(
    cur: psycopg.Cursor[Any], names: Iterable[QualifiedName], *, oids: list[int] | None = None
) -> dict[QualifiedName, View]:
    wanted = sorted(set(names))
    if not wanted and not oids:
        return {}
    cur.execute(
        query("views"), {"schemas": [n.schema for n in wanted], "names": [n.name for n in wanted], "oids": oids or []}
    )
    return {
        QualifiedName(schema, name): View(
            QualifiedName(schema, name),
            definition,
            tuple(zip(column_names, column_types, strict=True)),
            options=tuple(options),
            owner=owner,
            grants=tuple(grants) if grants is not None else None,
        )
        for _oid, schema, name, definition, column_names, column_types, options, owner, grants in cur.fetchall()
    }


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
