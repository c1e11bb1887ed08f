"""The live state of managed objects written as desired documents (plain data, ready for YAML).

``rollback`` writes the state recorded before a run this way and applies it with the same engine; ``export``
(bootstrapping a repository) will use it too. Exporting and then planning gives no steps: every value is
spelled as the catalog prints it, which the canonicalization reads back unchanged.
"""

from __future__ import annotations

from typing import Any

from .model import Function, Index, IndexKey, LiveTable, Policy, View


def table_document(
    table: LiveTable,
    *,
    columns: list[str] | None = None,
    indexes: bool = True,
    rls: bool = True,
    policies: bool = True,
) -> dict[str, Any]:
    """A ``table:`` document for the live table; ``columns``: which columns' types (None: all)."""
    document: dict[str, Any] = {"table": table.name.name, "schema": table.name.schema}
    names = list(table.columns) if columns is None else [c for c in columns if c in table.columns]
    if names:
        document["columns"] = {name: {"type": table.columns[name].type} for name in names}
    if indexes:
        document["indexes"] = [
            index_entry(index) for _, index in sorted(table.indexes.items()) if index.constraint is None and index.valid
        ]
        document["prune_indexes"] = True
    if rls:
        document["rls"] = {"enabled": table.rls.enabled, "forced": table.rls.forced}
    if policies:
        document["policies"] = [policy_entry(policy) for _, policy in sorted(table.policies.items())]
    return document


def index_entry(index: Index) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": index.name, "columns": [key_entry(key) for key in index.keys]}
    if index.method != "btree":
        entry["method"] = index.method
    if index.unique:
        entry["unique"] = True
    if index.include:
        entry["include"] = list(index.include)
    if index.predicate is not None:
        entry["where"] = index.predicate
    return entry


def key_entry(key: IndexKey) -> str | dict[str, Any]:
    if key.column is not None and not (key.descending or key.nulls_first or key.opclass):
        return key.column
    entry: dict[str, Any] = {"column": key.column} if key.column is not None else {"expression": key.expression}
    if key.descending:
        entry["order"] = "desc"
    if key.nulls_first != key.descending:
        entry["nulls"] = "first" if key.nulls_first else "last"
    if key.opclass:
        entry["opclass"] = key.opclass
    return entry


def policy_entry(policy: Policy) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": policy.name,
        "command": policy.command,
        "roles": list(policy.roles),
        "permissive": policy.permissive,
    }
    if policy.using is not None:
        entry["using"] = policy.using
    if policy.with_check is not None:
        entry["with_check"] = policy.with_check
    return entry


def function_document(function: Function) -> dict[str, Any]:
    document: dict[str, Any] = {
        "function": function.name,
        "schema": function.schema,
        "arguments": function.arguments,
        "returns": function.returns,
        "language": function.language,
        "volatility": function.volatility,
        "security": "definer" if function.security_definer else "invoker",
    }
    if function.search_path is not None:
        document["search_path"] = [part.strip().strip('"') for part in function.search_path.split(",")]
    document["body"] = function.body
    return document


def view_document(view: View) -> dict[str, Any]:
    return {"view": view.name.name, "schema": view.name.schema, "query": view.definition.strip().removesuffix(";")}
