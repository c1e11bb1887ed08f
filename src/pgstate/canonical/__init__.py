"""Turn desired specs into the model, spelled exactly as the live catalog spells the same things.

What can be decided locally is (plain columns; a type or expression written exactly as the server prints the
live one). Everything else is handed to the server inside one transaction that is always rolled back (see
``session``): types are read back with ``format_type`` (``types``); each table that needs it gets empty
temporary copies on which its desired types and indexes are created and read back (``tables``).

Every statement runs in the extended query protocol, where the server accepts exactly one statement; every
fragment must also stand alone as one expression, and what is built from it must have the shape the spec asked
for. A fragment that is not a single expression is refused and never reaches the live tables.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import psycopg

from ..desired import ColumnSpec, FunctionSpec, IndexSpec, KeySpec, TableSpec, ViewSpec
from ..errors import InvalidDesiredState, SourceLocation
from ..model import (
    Column,
    DesiredState,
    DesiredTable,
    Function,
    Index,
    IndexKey,
    LiveTable,
    Policy,
    QualifiedName,
    View,
)
from ..naming import default_index_name
from .functions import deparse_function, stand_in
from .policies import deparse_policies
from .session import Problems, rolled_back
from .tables import TableFacts, check_storage, deparse_table
from .types import canonical_types
from .views import deparse_view


def canonicalize(
    conn: psycopg.Connection[Any],
    specs: list[TableSpec],
    live_tables: dict[QualifiedName, LiveTable],
    *,
    lock_timeout: str,
    files: tuple[str, ...] = (),
    functions: Sequence[FunctionSpec] = (),
    views: Sequence[ViewSpec] = (),
    live_functions: dict[QualifiedName, tuple[Function, ...]] | None = None,
) -> DesiredState:
    """The desired state as model objects; raises InvalidDesiredState naming every fragment the server refused."""
    problems = Problems()
    live_functions = live_functions or {}
    policies: dict[QualifiedName, tuple[Policy, ...]] = {}
    desired_functions: dict[str, Function] = {}
    desired_views: dict[QualifiedName, View] = {}
    present = [spec for spec in specs if spec.present and spec.name in live_tables]
    # Worked out once per table: columns written otherwise than the live type, and the indexes decided locally.
    retyped = {spec.name: [c for c in spec.columns if _type_changes(c, live_tables[spec.name])] for spec in present}
    local = {
        (spec.name, position): _local_index(spec.name, index, live_tables[spec.name])
        for spec in present
        for position, index in enumerate(spec.indexes or ())
    }
    types_to_ask = {column.type: column.location for columns in retyped.values() for column in columns}
    types: dict[str, str] = {}
    facts: dict[QualifiedName, TableFacts] = {}
    work = [(spec, [p for p in range(len(spec.indexes or ())) if local[(spec.name, p)] is None]) for spec in present]
    work = [(spec, positions) for spec, positions in work if positions or retyped[spec.name]]
    with_policies = [spec for spec in present if spec.policies is not None]
    with_storage = [spec for spec in present if spec.storage]
    if types_to_ask or work or with_policies or with_storage or functions or views:
        with rolled_back(conn, lock_timeout) as cur:
            types = canonical_types(cur, types_to_ask, problems)
            # Functions first: policies may call them, views may select from them.
            for function_spec in functions:
                with problems.collect(cur, function_spec.location):
                    function = deparse_function(cur, function_spec)
                    desired_functions[function.key] = function
                    stand_in(cur, function_spec, live_functions.get(function_spec.name, ()))
            for spec, positions in work:
                with problems.collect(cur, spec.location):
                    changing = _changing(spec, live_tables[spec.name], types)
                    facts[spec.name] = deparse_table(cur, spec, live_tables[spec.name], changing, positions)
            for spec in with_policies:
                with problems.collect(cur, spec.location):
                    changing = _changing(spec, live_tables[spec.name], types)
                    policies[spec.name] = deparse_policies(cur, spec, changing)
            for spec in present:
                if spec.storage:
                    with problems.collect(cur, spec.location):
                        check_storage(cur, spec)
            for number, view_spec in enumerate(views):
                with problems.collect(cur, view_spec.location):
                    desired_views[view_spec.name] = deparse_view(cur, view_spec, number)
    if problems.items:
        raise InvalidDesiredState(problems.sorted())
    tables = {
        spec.name: _desired_table(
            spec, live_tables.get(spec.name), types, facts.get(spec.name, TableFacts()), policies.get(spec.name), local
        )
        for spec in specs
    }
    _check_unique_index_names(tables)
    return DesiredState(tables=tables, files=files, functions=desired_functions, views=desired_views)


def _changing(spec: TableSpec, live: LiveTable, types: dict[str, str]) -> list[tuple[ColumnSpec, str]]:
    """(column, canonical type) of the spec's real type changes."""
    return [
        (c, types[c.type])
        for c in spec.columns
        if _type_changes(c, live)
        and c.type in types
        and c.name in live.columns
        and types[c.type] != live.columns[c.name].type
    ]


def _desired_table(
    spec: TableSpec,
    live: LiveTable | None,
    types: dict[str, str],
    facts: TableFacts,
    policies: tuple[Policy, ...] | None,
    local: dict[tuple[QualifiedName, int], Index | None],
) -> DesiredTable:
    columns = tuple(
        Column(
            c.name,
            types.get(c.type, c.type),
            c.using,
            rewrites=facts.rewrites.get(c.name, False),
            rebuilds=facts.rebuilds.get(c.name, ()),
            lossy=c.type in types
            and live is not None
            and c.name in live.columns
            and is_lossy(live.columns[c.name].type, types[c.type], c.using, facts.rewrites.get(c.name)),
            location=c.location,
        )
        for c in spec.columns
    )
    indexes = None
    if spec.indexes is not None:
        indexes = tuple(
            facts.indexes.get(position)
            or _required(
                local[(spec.name, position)] if (spec.name, position) in local else _local_index(spec.name, index, live)
            )
            for position, index in enumerate(spec.indexes)
        )
    if spec.policies is not None and policies is None:
        # A missing table: its policies are kept as written, for drift to show.
        policies = tuple(
            Policy(spec.name, p.name, p.command, p.roles, p.permissive, p.using, p.with_check, location=p.location)
            for p in spec.policies
        )
    return DesiredTable(
        spec.name,
        spec.present,
        columns,
        indexes,
        spec.prune_indexes,
        spec.location,
        rls=spec.rls,
        policies=policies,
        retire=spec.retire,
        storage=spec.storage,
    )


# Changes of type that keep every value: the new type holds all of the old type's values exactly. PostgreSQL's
# catalog has no such fact (an implicit cast may still round, as float8 -> numeric does), so the list is kept here.
WIDENING = {
    ("smallint", "integer"),
    ("smallint", "bigint"),
    ("integer", "bigint"),
    ("smallint", "numeric"),
    ("integer", "numeric"),
    ("bigint", "numeric"),
    ("real", "double precision"),
    ("date", "timestamp without time zone"),
    ("date", "timestamp with time zone"),
}


def is_lossy(old: str, new: str, using: str | None, rewrites: bool | None) -> bool:
    """Whether converting values from ``old`` to ``new`` may lose information.

    No rewrite means the stored bytes stay as they are (``varchar(n)`` -> ``text``): nothing is lost. A USING
    expression can do anything. Otherwise only the widenings above are safe; ``json`` -> ``jsonb``, for one,
    drops duplicate keys, key order and whitespace.
    """
    if old == new or rewrites is False:
        return False
    if using is not None:
        return True
    return (old, new) not in WIDENING


def _required(index: Index | None) -> Index:
    assert index is not None, "every index the server was needed for was deparsed, or a problem was raised"
    return index


def _check_unique_index_names(tables: dict[QualifiedName, DesiredTable]) -> None:
    """Index names are unique per schema; a name the server chose can only be checked now."""
    named = [(index.qualified_name, index.location) for t in tables.values() for index in t.indexes or ()]
    counts = Counter(name for name, _ in named)
    problems = Problems()
    for name, location in named:
        if counts[name] > 1:
            problems.add(
                f"two desired indexes are named {name}",
                location or SourceLocation("?", 1, 1),
                "give each index its own `name:`",
            )
    if problems.items:
        raise InvalidDesiredState(problems.sorted())


# --- what can be decided without the server ------------------------------------------------------------------


def _type_changes(column: ColumnSpec, live: LiveTable) -> bool:
    """True unless the type is written exactly as the server prints the live one (then it is the same)."""
    current = live.columns.get(column.name)
    return current is not None and current.type != column.type


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
