"""What the desired files change between a git revision and the working tree, object by object.

``plan --base REF`` shows it above the plan against the live database: the review of a pull request reads what
the author changed in YAML, then what that will do to the database.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .gitinfo import files_at
from .loader import Document, load_documents
from .model import QualifiedName, quote_for_display


@dataclass(frozen=True)
class ObjectChange:
    change: str  # added | changed | removed
    kind: str  # table, column, index, policy, rls, storage, retire, function, view, setting, extension, maintenance
    target: str
    fields: tuple[str, ...] = ()  # for a changed object: which of its keys changed

    def to_json(self) -> dict[str, Any]:
        return {"change": self.change, "kind": self.kind, "target": self.target, "fields": list(self.fields)}


def changes_since(directory: Path, ref: str) -> list[ObjectChange]:
    """Added, changed and removed objects of the desired files between ``ref`` and the working tree."""
    with tempfile.TemporaryDirectory(prefix="pgstate-base-") as scratch:
        old = _objects(load_documents(files_at(directory, ref, Path(scratch))))
    new = _objects(load_documents(directory))
    changes = []
    for key in sorted(set(old) | set(new)):
        kind, target = key
        if key not in old:
            changes.append(ObjectChange("added", kind, target))
        elif key not in new:
            changes.append(ObjectChange("removed", kind, target))
        elif old[key] != new[key]:
            changes.append(ObjectChange("changed", kind, target, _changed_fields(old[key], new[key])))
    return changes


def _changed_fields(old: Any, new: Any) -> tuple[str, ...]:
    if not isinstance(old, dict) or not isinstance(new, dict):
        return ()
    return tuple(sorted(key for key in set(old) | set(new) if old.get(key) != new.get(key)))


def _objects(documents: list[Document]) -> dict[tuple[str, str], Any]:
    """Every object the documents declare, keyed by (kind, name as people read it), with what declares it."""
    found: dict[tuple[str, str], Any] = {}
    for doc in documents:
        data = doc.data
        if doc.kind == "table":
            _table_objects(found, data)
        elif doc.kind == "function":
            name = QualifiedName(data.get("schema", "public"), data["function"])
            found[("function", f"{name}({data.get('arguments', '')})")] = _without(data, "lint")
        elif doc.kind == "view":
            found[("view", str(QualifiedName(data.get("schema", "public"), data["view"])))] = _without(data, "lint")
        elif doc.kind == "database":
            database = data["database"] or {}
            for name, value in (database.get("settings") or {}).items():
                found[("setting", name)] = value
            for name in database.get("extensions") or []:
                found[("extension", name)] = True
            if "maintenance" in database:
                found[("maintenance", "database")] = database["maintenance"]
    return found


def _table_objects(found: dict[tuple[str, str], Any], data: dict[str, Any]) -> None:
    table = QualifiedName(data.get("schema", "public"), data["table"])
    found[("table", str(table))] = {
        key: value for key, value in data.items() if key in ("present", "prune_indexes", "retire")
    }
    for column, spec in (data.get("columns") or {}).items():
        found[("column", f"{table}.{quote_for_display(column)}")] = spec
    for position, index in enumerate(data.get("indexes") or []):
        name = index.get("name") or f"(unnamed #{position + 1})"
        found[("index", f"{table.schema}.{quote_for_display(name)}")] = index
    if "rls" in data:
        found[("rls", str(table))] = data["rls"]
    for policy in data.get("policies") or []:
        found[("policy", f"{table}.{quote_for_display(policy['name'])}")] = policy
    for name, value in (data.get("storage") or {}).items():
        found[("storage", f"{table}.{name}")] = value


def _without(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key not in keys}
