"""Live indexes written as desired YAML (export, the pre-run state)."""

from __future__ import annotations

from typing import Any

from .model import METHODS, Index


def unexpressible(index: Index) -> str | None:
    """Why the desired format cannot describe this live index (None: it can)."""
    if index.method not in METHODS:
        return f"its access method {index.method} is not one of {', '.join(sorted(METHODS))}"
    return None


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


def key_entry(key: Any) -> str | dict[str, Any]:
    if key.column is not None and not (key.descending or key.nulls_first or key.opclass or key.collation):
        return str(key.column)
    entry: dict[str, Any] = {"column": key.column} if key.column is not None else {"expression": key.expression}
    if key.descending:
        entry["order"] = "desc"
    if key.nulls_first != key.descending:
        entry["nulls"] = "first" if key.nulls_first else "last"
    if key.opclass:
        entry["opclass"] = key.opclass
    if key.collation:
        entry["collation"] = _unquote(key.collation)
    return entry


def _unquote(quoted: str) -> str:
    return quoted[1:-1].replace('""', '"') if quoted.startswith('"') and quoted.endswith('"') else quoted
