"""Policies as specs (what the YAML says) and as the model both sides become (as the catalog prints them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ...errors import SourceLocation
from ...model.keys import ObjectKey, table_key
from ...model.names import QualifiedName
from ..base import Desired

COMMANDS = {"all": "ALL", "select": "SELECT", "insert": "INSERT", "update": "UPDATE", "delete": "DELETE"}


@dataclass(frozen=True, slots=True)
class PolicySpec:
    key: ObjectKey
    location: SourceLocation
    table: QualifiedName
    name: str
    command: str
    roles: tuple[str, ...]  # sorted, as the catalog query returns them
    permissive: bool
    using: str | None
    with_check: str | None
    using_location: SourceLocation
    with_check_location: SourceLocation
    raw: Any = field(default=None, compare=False)


@dataclass(frozen=True)
class PoliciesSpec:
    """A table document's ``policies:``: the complete set of the table's policies."""

    key: ObjectKey
    location: SourceLocation
    table: QualifiedName
    entries: tuple[PolicySpec, ...]

    def check_key(self) -> ObjectKey:
        return self.key


@dataclass(frozen=True, slots=True)
class Policy:
    """A row-level security policy; expressions as ``pg_get_expr(polqual, polrelid)`` prints them."""

    table: QualifiedName
    name: str
    command: str  # all | select | insert | update | delete
    roles: tuple[str, ...]  # sorted; "public" for PUBLIC
    permissive: bool
    using: str | None
    with_check: str | None
    # What CREATE/ALTER POLICY is given: for a desired policy the YAML text, which the server has parsed as one
    # expression in the same context; its deparsed form does not always parse back to the same tree.
    using_source: str | None = field(default=None, compare=False, repr=False)
    with_check_source: str | None = field(default=None, compare=False, repr=False)
    # Facts for ordering and lint, not part of the definition:
    columns: tuple[str, ...] = field(default=(), compare=False)  # the table's own columns it refers to
    depends_on: frozenset[ObjectKey] = field(default=frozenset(), compare=False)  # other columns, views, functions
    using_tree: str | None = field(default=None, compare=False, repr=False)  # pg_node_tree text
    with_check_tree: str | None = field(default=None, compare=False, repr=False)
    # Column numbers of the relation the trees were made on -> names (a desired policy's trees come from a
    # temporary copy, numbered without the live table's dropped columns).
    attributes: Mapping[int, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def key(self) -> ObjectKey:
        return key_of(self.table, self.name)

    @property
    def using_sql(self) -> str | None:
        return self.using_source if self.using_source is not None else self.using

    @property
    def with_check_sql(self) -> str | None:
        return self.with_check_source if self.with_check_source is not None else self.with_check

    @property
    def functions(self) -> tuple[str, ...]:
        """Signatures (schema.name(types)) of the functions it calls, for lint."""
        return tuple(
            sorted(f"{k.parts[0]}.{k.parts[1]}({k.parts[2]})" for k in self.depends_on if k.kind == "function")
        )

    def describe(self) -> str:
        text = f"{'PERMISSIVE' if self.permissive else 'RESTRICTIVE'} FOR {self.command.upper()}"
        text += f" TO {', '.join(self.roles)}"
        if self.using is not None:
            text += f" USING {self.using}"
        if self.with_check is not None:
            text += f" WITH CHECK {self.with_check}"
        return text


def key_of(table: QualifiedName, name: str) -> ObjectKey:
    return table_key("policy", table, name)


@dataclass(frozen=True)
class PolicyDesired(Desired[Policy]):
    tables: frozenset[QualifiedName] = frozenset()  # tables whose `policies:` is declared: the complete set
    # Oids of the functions called in these tables' policies (live and desired) inside subqueries that are not
    # volatile: a call of one wrapped in a scalar subquery is the same value as the bare call (authz hazards).
    stable_functions: frozenset[int] = frozenset()
