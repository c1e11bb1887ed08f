"""Indexes as specs (what the YAML says) and as the model both sides become (spelled as the catalog spells it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ...errors import SourceLocation
from ...model.keys import ObjectKey, table_key
from ...model.names import QualifiedName, quote_for_display
from ...model.naming import MAX_IDENTIFIER_BYTES, clip_to_bytes, default_index_name

TEMPORARY_SUFFIX = "_pgstate"
METHODS = frozenset({"btree", "hash", "gin", "gist", "brin", "spgist"})  # the format's `method` values


def temporary_name(name: str) -> str:
    """Where a replacement is built: the name plus a suffix, clipped to 63 bytes on a character boundary."""
    return clip_to_bytes(name, MAX_IDENTIFIER_BYTES - len(TEMPORARY_SUFFIX)) + TEMPORARY_SUFFIX


def key_of(table: QualifiedName, name: str) -> ObjectKey:
    """Indexes are named uniquely per schema; the key also names the table, as every table object's does."""
    return table_key("index", table, name)  # printed as schema.name (model.keys.SHOWN_PARTS)


class KeySpec(NamedTuple):
    """One key of a declared index. Specs of indexes are tuples underneath (immutable, built in C): a desired
    tree declares thousands."""

    column: str | None
    expression: str | None
    descending: bool
    nulls_first: bool
    opclass: str | None
    collation: str | None
    location: SourceLocation


class IndexSpec(NamedTuple):
    table: QualifiedName
    position: int
    name: str | None
    keys: tuple[KeySpec, ...]
    method: str
    unique: bool
    where: str | None
    include: tuple[str, ...]
    present: bool
    location: SourceLocation
    where_location: SourceLocation
    include_locations: tuple[SourceLocation, ...] = ()
    given: tuple[str, ...] = ()  # the keys the entry writes (an absent index takes only its name)
    raw: Any = None

    @property
    def is_plain(self) -> bool:
        """Only plain columns with default operator classes and collations, no predicate: no server needed."""
        return self.where is None and all(
            k.column is not None and k.opclass is None and k.collation is None for k in self.keys
        )

    @property
    def known_name(self) -> str | None:
        """The declared name, or PostgreSQL's default when it can be known without the server."""
        if self.name is not None:
            return self.name
        if all(k.column is not None for k in self.keys):
            return default_index_name(self.table.name, [k.column or "" for k in self.keys] + list(self.include))
        return None


@dataclass(frozen=True)
class IndexesSpec:
    """A table document's ``indexes:`` (the complete list of its non-constraint indexes) and ``prune_indexes``."""

    key: ObjectKey
    location: SourceLocation
    table: QualifiedName
    entries: tuple[IndexSpec, ...] | None  # None: the key is absent, indexes are not managed
    prune: bool


class IndexKey(NamedTuple):
    """One key column of an index: a plain column or an expression, with its sort options. A tuple underneath
    (immutable, built in C): every index of every managed table has one per key."""

    column: str | None = None
    expression: str | None = None  # server-deparsed, never the raw YAML text
    descending: bool = False
    nulls_first: bool = False  # PostgreSQL's default: NULLS LAST for ASC, NULLS FIRST for DESC
    opclass: str | None = None  # None: the default operator class of the column's type
    collation: str | None = None  # None: the column's own collation

    def describe(self) -> str:
        text = quote_for_display(self.column) if self.column is not None else f"({self.expression})"
        if self.collation:
            text += f" COLLATE {self.collation}"
        if self.opclass:
            text += f" {self.opclass}"
        if self.descending:
            text += " DESC"
        if self.nulls_first != self.descending:
            text += " NULLS FIRST" if self.nulls_first else " NULLS LAST"
        return text


@dataclass(frozen=True, slots=True)
class Index:
    """A non-constraint index as desired, or any index as found live."""

    table: QualifiedName
    name: str
    keys: tuple[IndexKey, ...]
    method: str = "btree"
    unique: bool = False
    include: tuple[str, ...] = ()
    predicate: str | None = None  # server-deparsed
    valid: bool = True  # an INVALID index differs from its desired (valid) self: it is rebuilt
    # Facts only the live side has, not part of the definition:
    constraint: str | None = field(default=None, compare=False)  # the constraint it backs: never dropped
    inherited: bool = field(default=False, compare=False)  # a partition's index attached to its parent's
    partitioned: bool = field(default=False, compare=False)  # the index of a partitioned table
    foreign_keys: tuple[str, ...] = field(default=(), compare=False)  # foreign keys that reference through it
    # Functions its expressions or predicate call (function keys' parts), from pg_depend.
    functions: tuple[tuple[str, ...], ...] = field(default=(), compare=False)
    # The key, memoised (plans look it up for every index, several times); a slot, as the instances are many.
    _key: ObjectKey | None = field(default=None, init=False, compare=False, repr=False)

    @property
    def qualified_name(self) -> QualifiedName:
        return QualifiedName(self.table.schema, self.name)

    @property
    def key(self) -> ObjectKey:
        found = self._key
        if found is None:
            found = key_of(self.table, self.name)
            object.__setattr__(self, "_key", found)
        return found

    def definition(self) -> tuple[Any, ...]:
        """What makes two indexes the same index, whatever their names and states."""
        return (self.method, self.unique, self.keys, self.include, self.predicate)

    def describe(self) -> str:
        text = f"{'UNIQUE ' if self.unique else ''}{self.method} ({', '.join(k.describe() for k in self.keys)})"
        if self.include:
            text += f" INCLUDE ({', '.join(quote_for_display(c) for c in self.include)})"
        if self.predicate:
            text += f" WHERE {self.predicate}"
        return text
