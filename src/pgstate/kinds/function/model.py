"""Functions as specs (what the YAML says) and as the model both sides become (as the catalog spells them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...errors import SourceLocation
from ...model.keys import ObjectKey
from ...model.names import QualifiedName

PARALLEL = ("unsafe", "restricted", "safe")


def key_of(name: QualifiedName, argument_types: str) -> ObjectKey:
    """Overloads are told apart by their argument types, as ``oidvectortypes(proargtypes)`` prints them."""
    return ObjectKey("function", (name.schema, name.name, argument_types), f"{name}({argument_types})")


@dataclass(frozen=True)
class FunctionSpec:
    key: ObjectKey  # before the server has spelled the argument types: the arguments as written
    location: SourceLocation
    name: QualifiedName
    present: bool
    arguments: str
    returns: str
    language: str
    volatility: str
    security_definer: bool
    strict: bool
    leakproof: bool
    parallel: str
    cost: float | None  # None: PostgreSQL's default
    rows: float | None
    search_path: tuple[str, ...] | None
    settings: tuple[tuple[str, str], ...]  # `set:` (name, value as written), in order
    body: str | None  # the body as a string literal (AS '...')
    sql_body: str | None  # a SQL-standard body (RETURN ... or BEGIN ATOMIC ... END)
    security_location: SourceLocation | None = None
    given: tuple[str, ...] = ()  # the keys the document writes (an absent function takes only its arguments)
    raw: Any = field(default=None, compare=False)


@dataclass(frozen=True)
class Function:
    """A function, with every attribute ``CREATE FUNCTION`` sets, spelled as the catalog gives them back."""

    schema: str
    name: str
    argument_types: str  # oidvectortypes(proargtypes): what tells overloads apart
    arguments: str  # pg_get_function_arguments: with names and defaults, for CREATE
    returns: str  # pg_get_function_result
    language: str
    volatility: str  # volatile | stable | immutable
    security_definer: bool
    strict: bool = False
    leakproof: bool = False
    parallel: str = "unsafe"
    cost: float = 100.0
    rows: float = 0.0
    search_path: tuple[str, ...] | None = None  # the search_path setting's schemas; None: not set
    # Other settings (`SET name = value`): name and the value in its comparable form (units as the server reads
    # them), in order of name; the text as stored, in its order, is kept apart for the SQL.
    settings: tuple[tuple[str, Any], ...] = ()
    normalized_body: str | None = None  # the body without surrounding whitespace: what compares
    sql_body: str | None = None  # pg_get_function_sqlbody
    body: str | None = field(default=None, compare=False)  # exactly as written or stored
    settings_text: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    identity_arguments: str = field(default="", compare=False)  # with names, for DROP and messages
    # Live only: given back when the function has to be dropped and created (grants: None = the default), and
    # what the format cannot express (then pgstate never replaces it).
    owner: str = field(default="", compare=False)
    grants: tuple[str, ...] | None = field(default=None, compare=False)
    unsupported: str = field(default="", compare=False)
    oid: int = field(default=0, compare=False)

    @property
    def qualified_name(self) -> QualifiedName:
        return QualifiedName(self.schema, self.name)

    @property
    def key(self) -> ObjectKey:
        return key_of(self.qualified_name, self.argument_types)

    def describe(self) -> str:
        text = f"{self.qualified_name}({self.identity_arguments}) RETURNS {self.returns}"
        return text + (" SECURITY DEFINER" if self.security_definer else "")
