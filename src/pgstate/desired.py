"""The desired documents, read into specs: what the YAML says, defaults filled in, nothing canonical yet.

``canonical.py`` turns specs into the model, with the server's help where spelling matters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import SourceLocation
from .loader import Document
from .model import QualifiedName


@dataclass(frozen=True)
class KeySpec:
    column: str | None
    expression: str | None
    descending: bool
    nulls_first: bool
    opclass: str | None
    location: SourceLocation


@dataclass(frozen=True)
class IndexSpec:
    name: str | None
    keys: tuple[KeySpec, ...]
    method: str
    unique: bool
    where: str | None
    include: tuple[str, ...]
    location: SourceLocation
    where_location: SourceLocation

    @property
    def is_plain(self) -> bool:
        """Only plain columns with default operator classes and no predicate: no server needed."""
        return self.where is None and all(k.column is not None and k.opclass is None for k in self.keys)


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: str
    using: str | None
    location: SourceLocation


@dataclass(frozen=True)
class TableSpec:
    name: QualifiedName
    present: bool
    columns: tuple[ColumnSpec, ...]
    indexes: tuple[IndexSpec, ...] | None
    prune_indexes: bool
    location: SourceLocation


def table_specs(documents: list[Document]) -> list[TableSpec]:
    """The table documents as specs, in file order. The documents must already be valid."""
    return [table_spec(doc) for doc in documents if doc.kind == "table"]


def table_spec(doc: Document) -> TableSpec:
    data = doc.data
    name = QualifiedName(data.get("schema", "public"), data["table"])
    columns = tuple(
        ColumnSpec(column, spec["type"], spec.get("using"), doc.locate(("columns", column)))
        for column, spec in (data.get("columns") or {}).items()
    )
    indexes = None
    if "indexes" in data:
        indexes = tuple(index_spec(doc, position, raw) for position, raw in enumerate(data["indexes"] or []))
    return TableSpec(
        name=name,
        present=data.get("present", True),
        columns=columns,
        indexes=indexes,
        prune_indexes=data.get("prune_indexes", False),
        location=doc.locate(("table",)),
    )


def index_spec(doc: Document, position: int, raw: dict[str, Any]) -> IndexSpec:
    path: tuple[str | int, ...] = ("indexes", position)
    keys = tuple(key_spec(doc, (*path, "columns", i), key) for i, key in enumerate(raw["columns"]))
    return IndexSpec(
        name=raw.get("name"),
        keys=keys,
        method=raw.get("method", "btree"),
        unique=raw.get("unique", False),
        where=raw.get("where"),
        include=tuple(raw.get("include") or ()),
        location=doc.locate(path),
        where_location=doc.locate((*path, "where")),
    )


def key_spec(doc: Document, path: tuple[str | int, ...], raw: str | dict[str, Any]) -> KeySpec:
    if isinstance(raw, str):
        return KeySpec(raw, None, False, False, None, doc.locate(path))
    descending = raw.get("order", "asc") == "desc"
    nulls = raw.get("nulls")
    return KeySpec(
        column=raw.get("column"),
        expression=raw.get("expression"),
        descending=descending,
        # PostgreSQL's default puts NULLs last ascending and first descending.
        nulls_first=descending if nulls is None else nulls == "first",
        opclass=raw.get("opclass"),
        location=doc.locate(path),
    )
