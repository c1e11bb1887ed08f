"""The desired documents, read into specs: what the YAML says, defaults filled in, nothing canonical yet.

``canonical.py`` turns specs into the model, with the server's help where spelling matters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import SourceLocation
from .loader import Document
from .model import DesiredDatabase, Maintenance, Parameter, QualifiedName, Retirement, RowSecurity


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
class PolicySpec:
    name: str
    command: str
    roles: tuple[str, ...]  # sorted, as the catalog query returns them
    permissive: bool
    using: str | None
    with_check: str | None
    location: SourceLocation
    using_location: SourceLocation
    with_check_location: SourceLocation


@dataclass(frozen=True)
class TableSpec:
    name: QualifiedName
    present: bool
    columns: tuple[ColumnSpec, ...]
    indexes: tuple[IndexSpec, ...] | None
    prune_indexes: bool
    location: SourceLocation
    rls: RowSecurity | None = None
    policies: tuple[PolicySpec, ...] | None = None
    retire: Retirement | None = None
    storage: tuple[Parameter, ...] | None = None


@dataclass(frozen=True)
class FunctionSpec:
    name: QualifiedName
    arguments: str
    returns: str
    language: str
    volatility: str
    security_definer: bool
    search_path: tuple[str, ...] | None
    body: str
    location: SourceLocation


@dataclass(frozen=True)
class ViewSpec:
    name: QualifiedName
    query: str
    location: SourceLocation


def table_specs(documents: list[Document]) -> list[TableSpec]:
    """The table documents as specs, in file order. The documents must already be valid."""
    return [table_spec(doc) for doc in documents if doc.kind == "table"]


def function_specs(documents: list[Document]) -> list[FunctionSpec]:
    specs = []
    for doc in documents:
        if doc.kind != "function":
            continue
        data = doc.data
        search_path = data.get("search_path")
        specs.append(
            FunctionSpec(
                name=QualifiedName(data.get("schema", "public"), data["function"]),
                arguments=data.get("arguments", ""),
                returns=data.get("returns", "void"),
                language=data.get("language", "sql"),
                volatility=data.get("volatility", "volatile"),
                security_definer=data.get("security", "invoker") == "definer",
                search_path=tuple(search_path) if search_path is not None else None,
                body=data["body"],
                location=doc.locate(("function",)),
            )
        )
    return specs


def view_specs(documents: list[Document]) -> list[ViewSpec]:
    return [
        ViewSpec(
            QualifiedName(doc.data.get("schema", "public"), doc.data["view"]), doc.data["query"], doc.locate(("view",))
        )
        for doc in documents
        if doc.kind == "view"
    ]


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
    rls = None
    if "rls" in data:
        raw_rls = data["rls"] or {}
        rls = RowSecurity(raw_rls.get("enabled", False), raw_rls.get("forced", False))
    policies = None
    if "policies" in data:
        policies = tuple(policy_spec(doc, position, raw) for position, raw in enumerate(data["policies"] or []))
    return TableSpec(
        name=name,
        present=data.get("present", True),
        columns=columns,
        indexes=indexes,
        prune_indexes=data.get("prune_indexes", False),
        location=doc.locate(("table",)),
        rls=rls,
        policies=policies,
        retire=_retirement(data) if data.get("present", True) is False else None,
        storage=_parameters(doc, "storage", data["storage"], reloption=True) if "storage" in data else None,
    )


def parameter_text(value: Any, *, reloption: bool = False) -> str:
    """A YAML scalar as PostgreSQL reads the setting: booleans as on/off (settings) or true/false (reloptions)."""
    if isinstance(value, bool):
        return ("true" if value else "false") if reloption else ("on" if value else "off")
    return str(value)


def _parameters(doc: Document, key: str, raw: dict[str, Any] | None, *, reloption: bool) -> tuple[Parameter, ...]:
    return tuple(
        Parameter(name, parameter_text(value, reloption=reloption), doc.locate((key, name)))
        for name, value in (raw or {}).items()
    )


DURATION_SECONDS = {"us": 1e-6, "ms": 1e-3, "s": 1, "min": 60, "h": 3600, "d": 86400}


def database_spec(documents: list[Document]) -> DesiredDatabase | None:
    """The ``database:`` document (validation allows one at most), or None."""
    for doc in documents:
        if doc.kind != "database":
            continue
        data = doc.data["database"] or {}
        settings = tuple(
            Parameter(name, parameter_text(value), doc.locate(("database", "settings", name)))
            for name, value in (data.get("settings") or {}).items()
        )
        extensions = tuple(
            Parameter(name, "", doc.locate(("database", "extensions", position)))
            for position, name in enumerate(data.get("extensions") or [])
        )
        maintenance = None
        if "maintenance" in data:
            raw = data["maintenance"] or {}
            age = raw.get("analyze_max_age")
            seconds = None
            if age is not None:
                number, unit = age.replace(" ", "").rstrip("usminhd"), age.replace(" ", "").lstrip("0123456789")
                seconds = float(number) * DURATION_SECONDS[unit]
            maintenance = Maintenance(seconds, raw.get("vacuum_dead_ratio"), raw.get("reindex_invalid", False))
        return DesiredDatabase(settings, extensions, maintenance, doc.locate(("database",)))
    return None


def _retirement(data: dict[str, Any]) -> Retirement:
    raw = data.get("retire") or {}
    return Retirement(
        activity_column=raw.get("activity_column"),
        quiet_days=raw.get("quiet_days", 7),
        backup=raw.get("backup", True),
        cascade=raw.get("cascade", False),
    )


def policy_spec(doc: Document, position: int, raw: dict[str, Any]) -> PolicySpec:
    path: tuple[str | int, ...] = ("policies", position)
    return PolicySpec(
        name=raw["name"],
        command=raw.get("command", "all"),
        roles=tuple(sorted(raw.get("roles") or ["public"])),
        permissive=raw.get("permissive", True),
        using=raw.get("using"),
        with_check=raw.get("with_check"),
        location=doc.locate(path),
        using_location=doc.locate((*path, "using")),
        with_check_location=doc.locate((*path, "with_check")),
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
