"""The one model both sides become: desired YAML and the live catalog turn into these frozen dataclasses.

Comparison is plain equality of these values, so everything that PostgreSQL treats as the same must already be
spelled the same here: types as ``format_type`` prints them, expressions and predicates as the server deparses
them (``pg_get_indexdef``/``pg_get_expr`` with pretty printing), an operator class only when it is not the
default for the column. ``canonical.py`` makes the desired side so; ``introspect.py`` reads the live side so.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg import sql

from .errors import SourceLocation


@dataclass(frozen=True, order=True)
class QualifiedName:
    schema: str
    name: str

    def identifier(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.name)

    def __str__(self) -> str:
        return f"{quote_for_display(self.schema)}.{quote_for_display(self.name)}"


_SIMPLE_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")


@functools.lru_cache(maxsize=65536)
def quote_for_display(identifier: str) -> str:
    """How PostgreSQL would print an identifier: bare when it can be, double-quoted otherwise (display only).

    Cached: plans and drift reports print the same few thousand names over and over.
    """
    if _SIMPLE_IDENTIFIER.fullmatch(identifier):
        return identifier
    return '"' + identifier.replace('"', '""') + '"'


@dataclass(frozen=True)
class IndexKey:
    """One key column of an index: a plain column or an expression, with its sort options."""

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


@dataclass(frozen=True)
class Index:
    """A non-constraint index as desired, or any index as found live."""

    table: QualifiedName
    name: str
    keys: tuple[IndexKey, ...]
    method: str = "btree"
    unique: bool = False
    include: tuple[str, ...] = ()
    predicate: str | None = None  # server-deparsed
    # Facts only the live side has:
    valid: bool = True
    constraint: str | None = None  # the constraint this index backs; pgstate never drops those
    # Where it was declared, for messages (desired side only; not part of the definition).
    location: SourceLocation | None = field(default=None, compare=False)

    @property
    def qualified_name(self) -> QualifiedName:
        return QualifiedName(self.table.schema, self.name)

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


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # as format_type prints it
    using: str | None = None  # desired only: the conversion expression, checked by the server
    # Desired only: converting the live column to this type rewrites the table (measured by the server on an
    # empty temporary copy: its relfilenode changes).
    rewrites: bool = field(default=False, compare=False)
    # Desired only: the live indexes the type change rebuilds even without rewriting the table (measured the
    # same way on a copy that holds them).
    rebuilds: tuple[str, ...] = field(default=(), compare=False)
    # Desired only: converting the live values may lose information (see canonical.lossy), so the table is
    # dumped and the dump verified first, and apply needs --allow-destructive.
    lossy: bool = field(default=False, compare=False)
    location: SourceLocation | None = field(default=None, compare=False)


@dataclass(frozen=True)
class TableSize:
    """What the catalog says of a table's size: for hazards and for people reading a plan."""

    rows: int  # pg_class.reltuples, an estimate; -1 when never analyzed
    bytes: int  # pg_total_relation_size

    def describe(self) -> str:
        rows = "unknown rows" if self.rows < 0 else f"~{self.rows:,} rows"
        return f"{rows}, {human_bytes(self.bytes)}"


def human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class RowSecurity:
    enabled: bool = False
    forced: bool = False


@dataclass(frozen=True)
class Policy:
    """A row-level security policy; expressions as ``pg_get_expr(polqual, polrelid)`` prints them."""

    table: QualifiedName
    name: str
    command: str  # all | select | insert | update | delete
    roles: tuple[str, ...]  # sorted; "public" for PUBLIC
    permissive: bool
    using: str | None
    with_check: str | None
    # Facts for ordering and lint, not part of the definition:
    columns: tuple[str, ...] = field(default=(), compare=False)  # the table's columns it refers to
    functions: tuple[str, ...] = field(default=(), compare=False)  # signatures of functions it calls
    using_tree: str | None = field(default=None, compare=False, repr=False)  # pg_node_tree text
    with_check_tree: str | None = field(default=None, compare=False, repr=False)
    # What CREATE/ALTER POLICY is given: for a desired policy the YAML text, which the server has parsed as one
    # expression in the same context. Its deparsed form is not always parsed back to the same tree (an IN list
    # on a varchar column comes back as a cast array), so creating from it would never converge.
    using_source: str | None = field(default=None, compare=False, repr=False)
    with_check_source: str | None = field(default=None, compare=False, repr=False)
    # Column numbers of the relation the trees were made on -> names (a desired policy's trees come from a
    # temporary copy, numbered without the live table's dropped columns).
    attributes: Mapping[int, str] = field(default_factory=dict, compare=False, repr=False)
    location: SourceLocation | None = field(default=None, compare=False)

    def definition(self) -> tuple[Any, ...]:
        return (self.command, self.roles, self.permissive, self.using, self.with_check)

    @property
    def using_sql(self) -> str | None:
        return self.using_source if self.using_source is not None else self.using

    @property
    def with_check_sql(self) -> str | None:
        return self.with_check_source if self.with_check_source is not None else self.with_check

    def describe(self) -> str:
        text = f"{'PERMISSIVE' if self.permissive else 'RESTRICTIVE'} FOR {self.command.upper()}"
        text += f" TO {', '.join(self.roles)}"
        if self.using is not None:
            text += f" USING {self.using}"
        if self.with_check is not None:
            text += f" WITH CHECK {self.with_check}"
        return text


@dataclass(frozen=True)
class Function:
    """A function, with the fields ``CREATE FUNCTION`` sets, spelled as the catalog gives them back."""

    schema: str
    name: str
    argument_types: str  # oidvectortypes(proargtypes): what tells overloads apart
    identity_arguments: str  # pg_get_function_identity_arguments: with names, for DROP and messages
    arguments: str  # pg_get_function_arguments: with names and defaults, for CREATE
    returns: str  # pg_get_function_result
    language: str
    volatility: str  # volatile | stable | immutable
    security_definer: bool
    search_path: str | None  # the search_path setting in proconfig as the catalog stores it; None: not set
    body: str
    location: SourceLocation | None = field(default=None, compare=False)
    # Live only: given back when the function has to be dropped and created (grants: None = the default).
    owner: str = field(default="", compare=False)
    grants: tuple[str, ...] | None = field(default=None, compare=False)

    @property
    def qualified_name(self) -> QualifiedName:
        return QualifiedName(self.schema, self.name)

    @property
    def key(self) -> str:
        """schema.name(types), as policies.sql names the functions a policy depends on."""
        return f"{self.schema}.{self.name}({self.argument_types})"

    def describe(self) -> str:
        return f"{self.qualified_name}({self.identity_arguments}) RETURNS {self.returns}"

    def definition(self) -> tuple[Any, ...]:
        return (
            self.arguments,
            self.returns,
            self.language,
            self.volatility,
            self.security_definer,
            self.search_path,
            self.body.strip(),
        )


@dataclass(frozen=True)
class View:
    name: QualifiedName
    definition: str  # pg_get_viewdef(oid, true)
    columns: tuple[tuple[str, str], ...]  # (name, format_type) in order: what CREATE OR REPLACE must keep
    location: SourceLocation | None = field(default=None, compare=False)
    # Live only: kept by a replacement (security_invoker, ...) and given back when it is dropped and created.
    options: tuple[str, ...] = field(default=(), compare=False)
    owner: str = field(default="", compare=False)
    grants: tuple[str, ...] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Retirement:
    """How a table declared ``present: false`` is dropped."""

    activity_column: str | None
    quiet_days: int
    backup: bool
    cascade: bool


@dataclass(frozen=True)
class Dependent:
    """An object that depends on a table to be retired (DROP TABLE without CASCADE would refuse)."""

    kind: str  # view | foreign key | function | policy
    name: str  # as people read it
    # What a backup keeps of it: the relation whose definition holds it, or the function.
    relation: QualifiedName | None = None
    function_oid: int | None = None


@dataclass(frozen=True)
class RetirementFacts:
    """What the database says about a table to be retired: the guards' evidence."""

    newest_activity: str | None  # the newest activity_column value within quiet_days, if any (as text)
    last_scan: str | None  # PostgreSQL 16+: the last scan within quiet_days, if any (as text)
    dependents: tuple[Dependent, ...]


@dataclass(frozen=True)
class Parameter:
    """A database setting or a table storage parameter as desired: its value as text, where it was written."""

    name: str
    value: str
    location: SourceLocation | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Maintenance:
    analyze_max_age: float | None  # seconds
    vacuum_dead_ratio: float | None
    reindex_invalid: bool


@dataclass(frozen=True)
class DesiredDatabase:
    settings: tuple[Parameter, ...]
    extensions: tuple[Parameter, ...]  # value unused; the location is what matters
    maintenance: Maintenance | None
    location: SourceLocation | None = field(default=None, compare=False)


@dataclass(frozen=True)
class SettingInfo:
    """A row of pg_settings: what a setting is and how the server reads its values."""

    name: str
    current: str
    unit: str | None
    vartype: str  # bool | integer | real | string | enum
    context: str  # internal | postmaster | sighup | superuser-backend | backend | superuser | user
    enumvals: tuple[str, ...]


@dataclass(frozen=True)
class LiveDatabase:
    name: str
    settings: dict[str, str]  # ALTER DATABASE ... SET, as stored
    catalog: dict[str, SettingInfo]  # pg_settings, every setting
    extensions: dict[str, str]  # installed: name -> version
    available: frozenset[str]
    preloaded: frozenset[str]  # shared_preload_libraries
    # What pgstate set (scope, object, name) -> value: only those are reset when no longer declared.
    managed: dict[tuple[str, str, str], str]


@dataclass(frozen=True)
class Upkeep:
    """What pg_stat_user_tables says of a table's statistics and dead tuples."""

    last_analyzed: datetime | None  # the later of the last ANALYZE and autoanalyze
    live_tuples: int
    dead_tuples: int


@dataclass(frozen=True)
class LiveTable:
    name: QualifiedName
    oid: int
    columns: dict[str, Column]
    indexes: dict[str, Index]
    size: TableSize
    rls: RowSecurity = RowSecurity()
    policies: dict[str, Policy] = field(default_factory=dict)
    partitioned: bool = False
    storage: dict[str, str] = field(default_factory=dict)  # reloptions, toast.* for the TOAST table's
    upkeep: Upkeep | None = None


@dataclass(frozen=True)
class DesiredTable:
    name: QualifiedName
    present: bool
    columns: tuple[Column, ...]
    indexes: tuple[Index, ...] | None  # None: the key is absent, indexes are not managed
    prune_indexes: bool
    location: SourceLocation | None = field(default=None, compare=False)
    rls: RowSecurity | None = None  # None: not managed
    policies: tuple[Policy, ...] | None = None  # None: not managed; else the complete set
    retire: Retirement | None = None  # set when present is false
    storage: tuple[Parameter, ...] | None = None  # the listed storage parameters


@dataclass(frozen=True)
class LiveState:
    server_version: int  # server_version_num, e.g. 180001
    search_path: str
    tables: dict[QualifiedName, LiveTable]
    functions: dict[QualifiedName, tuple[Function, ...]] = field(default_factory=dict)  # every overload
    views: dict[QualifiedName, View] = field(default_factory=dict)
    # Relation names the desired state uses (index names, the temporary names of replacements) -> which
    # relation owns each now: "index on <table>" or its kind. Filled after canonicalization.
    relations: dict[QualifiedName, str] = field(default_factory=dict)
    # Tables to be retired that exist: the evidence their guards look at. Filled after canonicalization.
    retirements: dict[QualifiedName, RetirementFacts] = field(default_factory=dict)
    database: LiveDatabase | None = None
    # What pgstate set (scope, object, name) -> value: settings and storage parameters it may reset.
    managed_settings: dict[tuple[str, str, str], str] = field(default_factory=dict)


@dataclass(frozen=True)
class DesiredState:
    tables: dict[QualifiedName, DesiredTable]
    files: tuple[str, ...]  # the desired files read, relative to the desired directory
    functions: dict[str, Function] = field(default_factory=dict)  # by Function.key: overloads apart
    views: dict[QualifiedName, View] = field(default_factory=dict)
    database: DesiredDatabase | None = None
    # Objects that must not exist: only a rollback says so (they were created by the run it undoes).
    absent_functions: tuple[str, ...] = ()  # Function.key
    absent_views: tuple[QualifiedName, ...] = ()
    absent_indexes: tuple[QualifiedName, ...] = ()
