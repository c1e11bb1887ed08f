"""Desired indexes that need no server: plain columns, and fragments written exactly as the live index of the same
name prints them (then they mean the same)."""

from __future__ import annotations

from collections.abc import Mapping

from ...model.names import quote_for_display
from .model import Index, IndexKey, IndexSpec, KeySpec


def local_index(spec: IndexSpec, current: Mapping[str, Index]) -> Index | None:
    """The model of an index spec when no server is needed for it, else None.

    Plain columns never need the server. An operator class, collation, expression or predicate needs it unless it
    is written exactly as the live index of the same name prints it: then it means the same.
    """
    name = spec.known_name
    if name is None:
        return None  # PostgreSQL names expression keys after the function; only the server knows
    live_index = current.get(name)
    keys: list[IndexKey] = []
    for position, key in enumerate(spec.keys):
        live_key = live_index.keys[position] if live_index and position < len(live_index.keys) else None
        local = local_key(key, live_key)
        if local is None:
            return None
        keys.append(local)
    predicate = spec.where
    if predicate is not None:
        if live_index is None or live_index.predicate != predicate.strip():
            return None
        predicate = live_index.predicate
    return Index(
        table=spec.table,
        name=name,
        keys=tuple(keys),
        method=spec.method,
        unique=spec.unique,
        include=spec.include,
        predicate=predicate,
    )


def local_key(key: KeySpec, live_key: IndexKey | None) -> IndexKey | None:
    local = IndexKey(key.column, None, key.descending, key.nulls_first, None, None)
    if key.column is not None and key.opclass is None and key.collation is None:
        return local
    if live_key is None:
        return None
    wanted_collation = quote_for_display(key.collation) if key.collation is not None else None
    same_decoration = live_key.opclass == key.opclass and live_key.collation == wanted_collation
    if key.column is not None and live_key.column == key.column and same_decoration:
        return local._replace(opclass=live_key.opclass, collation=live_key.collation)
    if key.expression is not None and same_decoration and live_key.expression == key.expression.strip():
        return IndexKey(
            None, live_key.expression, key.descending, key.nulls_first, live_key.opclass, live_key.collation
        )
    return None
