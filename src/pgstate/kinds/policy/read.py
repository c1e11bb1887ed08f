"""Reading policies from the catalog: of the live tables, of dependents by oid, and of the sandbox's copies."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import psycopg

from ...catalog import query
from ...model.keys import ObjectKey, table_key
from ...model.names import QualifiedName
from .model import Policy


def read_policies(
    cur: psycopg.Cursor[Any],
    tables: Mapping[int, QualifiedName],
    columns: Mapping[int, Mapping[int, Any]],
    *,
    policies: Sequence[int] = (),
) -> dict[ObjectKey, Policy]:
    """Policies of the tables with the given oids (or the policies with the given oids), by key."""
    cur.execute(query("policies"), {"oids": [] if policies else list(tables), "policies": list(policies)})
    return policies_from_rows(cur.fetchall(), tables, columns)


def policies_from_rows(
    rows: Iterable[Sequence[Any]], tables: Mapping[int, QualifiedName], columns: Mapping[int, Mapping[int, Any]]
) -> dict[ObjectKey, Policy]:
    """The policies in rows of the ``policies`` query (read here, or by the sandbox's batch as JSON)."""
    found = {}
    for row in rows:
        (
            table_oid,
            name,
            command,
            permissive,
            roles,
            using,
            with_check,
            using_tree,
            with_check_tree,
            own,
            dependencies,
            _oid,
        ) = row
        table = tables[int(table_oid)]  # the batch reads oids as JSON strings
        policy = Policy(
            table=table,
            name=name,
            command=command,
            roles=tuple(roles),
            permissive=permissive,
            using=using,
            with_check=with_check,
            columns=tuple(own),
            depends_on=frozenset(_dependency_key(parts) for parts in dependencies or ()),
            using_tree=using_tree,
            with_check_tree=with_check_tree,
            attributes={attnum: column.name for attnum, column in columns.get(int(table_oid), {}).items()},
        )
        found[policy.key] = policy
    return found


def _dependency_key(parts: Sequence[str]) -> ObjectKey:
    kind, *rest = parts
    if kind == "function":
        from ..function import key_of as function_key

        return function_key(QualifiedName(rest[0], rest[1]), rest[2])
    if kind == "column":
        from ..column import key_of as column_key

        return column_key(QualifiedName(rest[0], rest[1]), rest[2])
    if kind == "view":
        return ObjectKey("view", (rest[0], rest[1]), str(QualifiedName(rest[0], rest[1])))
    return table_key("table", QualifiedName(rest[0], rest[1]), label=str(QualifiedName(rest[0], rest[1])))
