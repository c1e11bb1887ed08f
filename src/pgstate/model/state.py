"""The two states a plan compares: the live one, read in one snapshot, and the desired one, canonicalised by the
server. Each holds, per kind, that kind's container of objects (``kinds.base.Live`` and ``kinds.base.Desired``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .keys import ObjectKey
from .names import QualifiedName
from .tables import TableFacts


@dataclass(frozen=True)
class ServerFacts:
    """Facts about the server and session that every plan depends on."""

    version: int  # server_version_num, e.g. 180001
    search_path: str
    database: str
    user: str = ""
    has_records: bool = False  # pgstate.managed_settings exists (an apply ran here before)
    max_locks_per_transaction: int = 64  # the server's setting (64 by default)
    canonical_generation: str | None = None  # the canonical-form cache's generation; None: there is no cache
    canonical_writable: bool = False  # this session may add to the cache
    parse_settings: str = ""  # DateStyle, IntervalStyle, TimeZone, standard_conforming_strings (server.sql)
    in_recovery: bool = False  # a hot standby: nothing can be created or changed here
    read_only: bool = False  # the session's transactions are read-only (default_transaction_read_only)

    @property
    def writable(self) -> bool:
        """Whether this session can create the sandbox's temporary objects (and apply anything)."""
        return not (self.in_recovery or self.read_only)


@dataclass(frozen=True)
class Dependency:
    """A live object that depends on another (pg_depend), so that the other cannot change while it exists.

    ``parent`` is what it depends on directly; ``root`` the object whose change makes it matter (a column whose
    type changes, a function that is dropped and created): for a view on a view on a column, the outer view's
    parent is the inner view and its root the column.
    """

    key: ObjectKey
    parent: ObjectKey
    root: ObjectKey
    description: str  # as people read it: "policy p on public.t", "trigger t on public.u"
    supported: bool  # a kind pgstate can drop and re-create exactly (policy, view, index)


@dataclass(frozen=True)
class LiveState:
    server: ServerFacts
    tables: Mapping[QualifiedName, TableFacts]
    kinds: Mapping[str, Any]  # kind name -> its kinds.base.Live
    dependencies: tuple[Dependency, ...] = ()
    # What pgstate set and may reset: (kind, object, name) -> value (pgstate.managed_settings).
    managed: Mapping[tuple[str, str, str], str] = field(default_factory=dict)

    @property
    def server_version(self) -> int:
        return self.server.version

    def of(self, kind: str) -> Any:
        return self.kinds[kind]


@dataclass(frozen=True)
class DesiredState:
    kinds: Mapping[str, Any]  # kind name -> its kinds.base.Desired
    files: tuple[str, ...] = ()

    def of(self, kind: str) -> Any:
        return self.kinds[kind]


@dataclass(frozen=True)
class Root:
    """An object whose change its dependents could block: a column (attnum > 0), a function or a view."""

    catalog: str  # pg_class (columns, views) or pg_proc
    oid: int
    attnum: int
    key: ObjectKey
