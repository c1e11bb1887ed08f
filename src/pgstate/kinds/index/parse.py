"""Index specs read from a table document's ``indexes:``, and what a schema cannot say about them."""

from __future__ import annotations

from typing import Any

from ...errors import PgstateError
from ...model.names import QualifiedName
from ...source.documents import Header
from .model import IndexSpec, KeySpec


def _entry(header: Header, table: QualifiedName, position: int, raw: dict[str, Any]) -> IndexSpec:
    path: tuple[str | int, ...] = ("indexes", position)
    keys = tuple(_key(header, (*path, "columns", i), key) for i, key in enumerate(raw.get("columns") or []))
    location = header.locate(*path)
    where = raw.get("where")
    include = tuple(raw.get("include") or ())
    return IndexSpec(
        table=table,
        position=position,
        name=raw.get("name"),
        keys=keys,
        method=raw.get("method", "btree"),
        unique=raw.get("unique", False),
        where=where,
        include=include,
        present=raw.get("present", True) is not False,
        location=location,
        where_location=header.locate(*path, "where") if where is not None else location,
        include_locations=tuple(header.locate(*path, "include", i) for i in range(len(include))),
        given=tuple(raw),
        raw=raw,
    )


def _key(header: Header, path: tuple[str | int, ...], raw: str | dict[str, Any]) -> KeySpec:
    if isinstance(raw, str):
        return KeySpec(raw, None, False, False, None, None, header.locate(*path))
    descending = raw.get("order", "asc") == "desc"
    nulls = raw.get("nulls")
    return KeySpec(
        column=raw.get("column"),
        expression=raw.get("expression"),
        descending=descending,
        # PostgreSQL's default puts NULLs last ascending and first descending.
        nulls_first=descending if nulls is None else nulls == "first",
        opclass=raw.get("opclass"),
        collation=raw.get("collation"),
        location=header.locate(*path),
    )


def _include_problems(entry: IndexSpec) -> list[PgstateError]:
    if not entry.include:
        return []
    key_columns = {key.column for key in entry.keys}
    seen: set[str] = set()
    problems = []
    for offset, column in enumerate(entry.include):
        location = entry.include_locations[offset] if offset < len(entry.include_locations) else entry.location
        where = f"indexes[{entry.position}].include"
        if column in seen:
            problems.append(
                PgstateError(
                    f"{where} lists {column!r} twice", location=location, hint="list each included column once"
                )
            )
        elif column in key_columns:
            problems.append(
                PgstateError(
                    f"{where}: {column!r} is already a key column of this index",
                    location=location,
                    hint="a column is either a key column or an included one: remove it from `include`",
                )
            )
        seen.add(column)
    return problems
