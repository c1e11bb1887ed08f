"""Where each linted object was declared, and which document may silence a finding there.

Locations come from the model when it has them (desired objects carry theirs) and otherwise from the documents
themselves, so that a live object of a declared table, or any object when no desired state could be built, is
still shown at, and silenced by, the document that declares it (or its table).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from ..errors import SourceLocation
from ..model.names import QualifiedName
from ..source.nodes import Document
from .base import LintFinding


def _name(doc: Document) -> QualifiedName | None:
    kind = doc.kind
    if kind not in ("table", "function", "view") or not isinstance(doc.data.get(kind), str):
        return None
    schema = doc.data.get("schema", "public")
    return QualifiedName(schema if isinstance(schema, str) else "public", doc.data[kind])


def _named_items(doc: Document, key: str) -> Iterable[tuple[int, str]]:
    items = doc.data.get(key)
    for position, item in enumerate(items if isinstance(items, list) else []):
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            yield position, item["name"]


class Locator:
    """Finds the declaration of tables, their policies, indexes and columns, functions and views."""

    def __init__(self, documents: list[Document]):
        self.documents: dict[tuple[str, QualifiedName], Document] = {}
        for doc in documents:
            name = _name(doc)
            if name is not None:
                self.documents.setdefault((str(doc.kind), name), doc)

    def _doc(self, kind: str, name: QualifiedName) -> Document | None:
        return self.documents.get((kind, name))

    def table(self, name: QualifiedName) -> SourceLocation | None:
        doc = self._doc("table", name)
        return doc.locate(("table",)) if doc else None

    def policy(self, table: QualifiedName, policy: str) -> SourceLocation | None:
        return self._item(table, "policies", policy) or self.table(table)

    def index(self, table: QualifiedName, index: str) -> SourceLocation | None:
        return self._item(table, "indexes", index) or self.table(table)

    def column(self, table: QualifiedName, column: str) -> SourceLocation | None:
        doc = self._doc("table", table)
        if doc is not None and isinstance(doc.data.get("columns"), dict) and column in doc.data["columns"]:
            return doc.locate(("columns", column))
        return self.table(table)

    def function(self, name: QualifiedName) -> SourceLocation | None:
        doc = self._doc("function", name)
        return doc.locate(("function",)) if doc else None

    def view(self, name: QualifiedName) -> SourceLocation | None:
        doc = self._doc("view", name)
        return doc.locate(("view",)) if doc else None

    def _item(self, table: QualifiedName, key: str, name: str) -> SourceLocation | None:
        doc = self._doc("table", table)
        if doc is None:
            return None
        for position, item_name in _named_items(doc, key):
            if item_name == name:
                return doc.locate((key, position))
        return None


class Silencer:
    """Drops findings whose declaring document lists their rule under ``lint: {ignore: [...]}``."""

    def __init__(self, documents: list[Document]):
        # Per file, documents by the line they start on: the one declaring line L is the last starting at or
        # before L (documents of a file never overlap).
        by_file: dict[str, list[tuple[int, frozenset[str]]]] = defaultdict(list)
        for doc in documents:
            by_file[doc.file].append((doc.locate(()).line, _ignored(doc.data)))
        self.starts = {file: sorted(entries, key=lambda entry: entry[0]) for file, entries in by_file.items()}

    def silenced(self, finding: LintFinding) -> bool:
        if finding.location is None:
            return False
        entries = self.starts.get(finding.location.file, [])
        position = bisect.bisect_right([line for line, _ in entries], finding.location.line) - 1
        return position >= 0 and finding.rule in entries[position][1]


def _ignored(data: dict[str, Any]) -> frozenset[str]:
    lint = data.get("lint")
    ignore = lint.get("ignore") if isinstance(lint, dict) else None
    if not isinstance(ignore, list):
        return frozenset()
    return frozenset(rule for rule in ignore if isinstance(rule, str))
