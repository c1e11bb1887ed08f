"""Desired documents by kind, and the specs every kind reads from them.

A document's kind is its first key (``table``, ``function``, ``view``, ``database``, ``role``); its header is
what names it. The kinds registered for that document kind each read their own keys (``kinds.base.Kind.keys``);
for a ``database:`` document the keys sit under ``database``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import InvalidDesiredState, PgstateError, SourceLocation
from ..model.access import Access
from ..model.keys import ObjectKey
from ..model.names import QualifiedName
from .nodes import Document, PathKey
from .problems import listed_per_file

# Documents of these kinds hold their kinds' keys under their first key.
NESTED = frozenset({"database"})
# Documents whose objects live in a schema (default public).
SCHEMA_KINDS = frozenset({"table", "function", "view"})


@dataclass(frozen=True)
class Header:
    """One schema-valid document and what names it."""

    document: Document
    kind: str

    @property
    def data(self) -> dict[str, Any]:
        return self.document.data

    @property
    def name(self) -> str:
        value = self.data.get(self.kind)
        return value if isinstance(value, str) else ""

    @property
    def schema(self) -> str:
        return str(self.data.get("schema", "public")) if self.kind in SCHEMA_KINDS else ""

    @property
    def qualified(self) -> QualifiedName:
        found: QualifiedName | None = self.__dict__.get("_qualified")
        if found is None:  # memoised (not a field): every kind of a table document asks for it
            found = QualifiedName(self.schema, self.name)
            object.__setattr__(self, "_qualified", found)
        return found

    @property
    def location(self) -> SourceLocation:
        return self.document.locate((self.kind,))

    @property
    def section(self) -> dict[str, Any]:
        """Where the kinds' keys are: the document itself, or the mapping under ``database:``."""
        if self.kind in NESTED:
            nested = self.data.get(self.kind)
            return nested if isinstance(nested, dict) else {}
        return self.data

    def has(self, key: str) -> bool:
        return key in self.section

    def get(self, key: str, default: Any = None) -> Any:
        return self.section.get(key, default)

    def locate(self, *path: str | int) -> SourceLocation:
        prefix: PathKey = (self.kind,) if self.kind in NESTED else ()
        return self.document.locate((*prefix, *path))

    @property
    def identity(self) -> tuple[str, ...]:
        """What two documents may not share: the kind, the schema and name, and what the kinds of the document
        add (a function's argument list, a role's scope); the database document is one."""
        from ..kinds import all_kinds

        parts: list[str] = [self.kind]
        if self.kind not in NESTED:
            parts += [self.schema, self.name] if self.kind in SCHEMA_KINDS else [self.name]
        for kind in all_kinds():
            if kind.document == self.kind:
                parts += kind.identity(self)
        return tuple(parts)

    @property
    def ignored_rules(self) -> frozenset[str]:
        lint = self.data.get("lint")
        ignore = lint.get("ignore") if isinstance(lint, dict) else None
        return frozenset(rule for rule in ignore or () if isinstance(rule, str))


@dataclass(frozen=True)
class SpecSet:
    """Every spec of every kind, read from the desired documents, in document order."""

    directory: Path | None
    documents: tuple[Document, ...]
    headers: tuple[Header, ...]
    by_kind: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    # Owner and privileges to give an object created again (a rollback re-creates what its run dropped).
    access: Mapping[ObjectKey, Access] = field(default_factory=dict)

    def of(self, kind: str) -> tuple[Any, ...]:
        return self.by_kind.get(kind, ())

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(sorted({doc.file for doc in self.documents}))

    def replace_specs(self, kind: str, specs: Iterable[Any]) -> SpecSet:
        return replace(self, by_kind={**self.by_kind, kind: tuple(specs)})


def read_specs(
    documents: Iterable[Document],
    directory: Path | None,
    *,
    release_positions: bool = False,
    default_schema: str | None = None,
) -> SpecSet:
    """The specs of every kind; raises InvalidDesiredState with every problem (schema and meaning), in file order.

    Document by document: checked, parsed, and with ``release_positions`` its map of positions let go at once (the
    specs keep the locations they report; ``Document.locate`` builds it again if asked). So a large tree never
    holds every document's map at the same time: at 5,000 tables that is some 25 MB of peak memory.

    ``default_schema`` is given to the documents of schema kinds that name no schema, as if they said it: every
    later reader (kinds, lint, export) then sees one answer."""
    from ..kinds import all_kinds
    from .meaning import duplicate_documents, meaning_problems
    from .schema import document_problems, in_file_order

    kinds = all_kinds()
    problems: list[PgstateError] = []
    every: list[Document] = []
    headers: list[Header] = []
    per_file: dict[str, int] = {}
    by_kind: dict[str, list[Any]] = {kind.name: [] for kind in kinds}
    for doc in documents:
        every.append(doc)
        found = document_problems(doc, per_file)
        if found is not None:
            problems += found
            if not found:
                if default_schema is not None and doc.kind in SCHEMA_KINDS:
                    doc.data.setdefault("schema", default_schema)
                header = Header(doc, str(doc.kind))
                headers.append(header)
                for kind in kinds:
                    if kind.document == header.kind:
                        by_kind[kind.name] += kind.parse(header)
        if release_positions:
            doc.release_locations()
    specs = SpecSet(directory, tuple(every), tuple(headers), {name: tuple(found) for name, found in by_kind.items()})
    problems += duplicate_documents(specs.headers) + meaning_problems(specs)
    if problems:
        raise InvalidDesiredState(listed_per_file(in_file_order(problems, every)))
    return specs


def problem(message: str, location: SourceLocation, hint: str | None = None) -> PgstateError:
    return PgstateError(message, location=location, hint=hint)


def validate_documents(documents: Sequence[Document]) -> SpecSet:
    """The specs of valid documents; raises InvalidDesiredState with every problem, in file order."""
    return read_specs(documents, None)
