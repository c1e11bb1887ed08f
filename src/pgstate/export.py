"""The live state of managed objects written as desired documents (plain data, ready for YAML).

``rollback`` writes the state recorded before a run this way and applies it with the same engine; ``export``
(bootstrapping a repository, see ``exporting.py``) writes them as YAML files. Exporting and then planning gives
no steps: every value is spelled as the catalog prints it, which the canonicalization reads back unchanged.
"""

from __future__ import annotations

import math
import re
from typing import Any

from .model import Function, Index, IndexKey, LiveTable, Policy, View


def table_document(
    table: LiveTable,
    *,
    columns: list[str] | None = None,
    indexes: bool = True,
    rls: bool = True,
    policies: bool = True,
    storage: bool = False,
    prune_indexes: bool = True,
) -> dict[str, Any]:
    """A ``table:`` document for the live table; ``columns``: which columns' types (None: all).

    ``prune_indexes``: the value written with ``indexes`` (True for rollback, which restores the exact set;
    False for ``export``, where adopting pgstate must not drop anything). ``storage``: every storage parameter
    of the table and its TOAST table, typed (see :func:`storage_value`).
    """
    document: dict[str, Any] = {"table": table.name.name, "schema": table.name.schema}
    names = list(table.columns) if columns is None else [c for c in columns if c in table.columns]
    if names:
        document["columns"] = {name: {"type": table.columns[name].type} for name in names}
    if indexes:
        document["indexes"] = [
            index_entry(index) for _, index in sorted(table.indexes.items()) if index.constraint is None and index.valid
        ]
        document["prune_indexes"] = prune_indexes
    if rls:
        document["rls"] = {"enabled": table.rls.enabled, "forced": table.rls.forced}
    if policies:
        document["policies"] = [policy_entry(policy) for _, policy in sorted(table.policies.items())]
    if storage:
        document["storage"] = {name: storage_value(value) for name, value in sorted(table.storage.items())}
    return document


_INTEGER = re.compile(r"[-+]?[0-9]+")
_DECIMAL = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def storage_value(text: str) -> str | int | float | bool:
    """A reloption as the catalog stores it (text), typed for YAML: ``70`` -> 70, ``0.05`` -> 0.05,
    ``false`` -> False; anything else (``on``, ``auto``) stays a string, which safe_dump quotes when YAML would
    read it otherwise. Loading gives back the same value as ``same_reloption`` compares it."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if _INTEGER.fullmatch(text):
        return int(text)
    if _DECIMAL.fullmatch(text):
        number = float(text)
        if math.isfinite(number):
            return number
    return text


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
