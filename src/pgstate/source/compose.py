"""Desired documents written from live objects: the parts every kind writes (``kinds.base.Part``), put together
into one document per table, function, view, role and the database, keys in the order the schema lists them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import yaml

from ..model.keys import ObjectKey
from .schema import load_schema


@dataclass(frozen=True)
class Part:
    """A piece of a desired document written from a live object (see :mod:`pgstate.source.compose`).

    ``owner`` names the document (``("public", "User")`` for a table's, ``("authenticated", "all")`` for a role's);
    ``path`` is where the piece goes; with ``name`` it is one entry of the mapping at ``path``, without it a list
    item appended there (``append``) or the value itself.
    """

    document: str
    owner: tuple[str, ...]
    path: tuple[str, ...]
    value: Any
    name: str | None = None
    append: bool = False


@dataclass(frozen=True)
class Unexpressible:
    """A live object the desired format cannot describe, and why; export leaves it out and says so."""

    key: ObjectKey
    reason: str


# The documents that get their header from their owner (the others' kinds write it whole).
HEADERS: dict[str, Callable[[tuple[str, ...]], dict[str, Any]]] = {
    "table": lambda owner: {"table": owner[1], "schema": owner[0]},
    "database": lambda owner: {"database": {}},
}


def compose(parts: Iterable[Part]) -> list[dict[str, Any]]:
    """One document per owner, in a stable order; within each, keys in schema order."""
    documents: dict[tuple[str, tuple[str, ...]], dict[str, Any]] = {}
    ordered = sorted(parts, key=lambda part: (part.path != (), part.name is not None or part.append))
    for part in ordered:
        document = documents.setdefault((part.document, part.owner), dict(_header(part)))
        if not part.path:
            if isinstance(part.value, dict):
                document.update(part.value)
            continue
        target = document
        for step in part.path[:-1]:
            target = target.setdefault(step, {})
        last = part.path[-1]
        if part.name is not None:
            mapping = target.get(last)
            if not isinstance(mapping, dict):
                mapping = target[last] = {}
            mapping[part.name] = part.value
        elif part.append:
            target.setdefault(last, []).append(part.value)
        else:
            target[last] = part.value
    return [_ordered(kind, documents[(kind, owner)]) for kind, owner in sorted(documents, key=_document_order)]


def _header(part: Part) -> dict[str, Any]:
    make = HEADERS.get(part.document)
    return make(part.owner) if make is not None else {}


def _document_order(key: tuple[str, tuple[str, ...]]) -> tuple[int, tuple[str, ...]]:
    order = ("database", "role", "function", "view", "table")
    return (order.index(key[0]) if key[0] in order else len(order), key[1])


def _ordered(kind: str, document: dict[str, Any]) -> dict[str, Any]:
    schema = load_schema()["$defs"]
    properties = list(schema[f"{kind}_document"]["properties"])
    result = {key: document[key] for key in properties if key in document}
    result.update({key: value for key, value in document.items() if key not in result})
    if kind == "database" and isinstance(result.get("database"), dict):
        nested = list(schema["database_settings"]["properties"])
        inner = result["database"]
        result["database"] = {key: inner[key] for key in nested if key in inner} | {
            key: value for key, value in inner.items() if key not in nested
        }
    return result


def dump_yaml(documents: Iterable[dict[str, Any]]) -> str:
    """A YAML stream of the documents, stable byte for byte (no folding of long expressions)."""
    return yaml.safe_dump_all(
        list(documents), sort_keys=False, allow_unicode=True, default_flow_style=False, width=1_000_000_000
    )


def dump_document(document: dict[str, Any]) -> str:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1_000_000_000)
