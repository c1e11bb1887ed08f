"""``advise --write``: the proposals written into the desired files, their comments and layout kept.

Each table's proposals go into the document that declares the table (found by the same loader ``plan`` reads
with); a table no document declares gets a new file ``<table>.yaml``. Every entry written carries a comment that
says why. What the desired state cannot say (a server setting such as ``shared_preload_libraries``), and a policy
rewrite for a table whose policies are not declared (declaring some of them would drop the rest), is left out
and reported, never half-written.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from ..model.names import QualifiedName
from ..source.loader import desired_files
from .proposals import Proposal


@dataclass
class Written:
    files: list[Path] = field(default_factory=list)
    left_out: list[tuple[Proposal, str]] = field(default_factory=list)


@dataclass
class _File:
    path: Path
    documents: list[Any]
    changed: bool = False


def _yaml() -> YAML:
    yaml = YAML()  # round-trip: comments, key order, quoting and flow style survive
    yaml.preserve_quotes = True
    yaml.width = 120
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def write_proposals(desired_dir: Path, proposals: list[Proposal], default_schema: str = "public") -> Written:
    yaml = _yaml()
    files = [_File(path, list(yaml.load_all(path.read_text(encoding="utf-8")))) for path in desired_files(desired_dir)]
    written = Written()
    for proposal in proposals:
        why = _comment(proposal)
        if proposal.kind in ("index", "jsonb", "rls", "drop-index") and proposal.table is not None:
            document = _table_document(files, desired_dir, proposal.table, default_schema)
            problem = _write_table(document, proposal, why)
        else:
            problem = _write_database(files, desired_dir, proposal, why)
        if problem is not None:
            written.left_out.append((proposal, problem))
    for file in files:
        if file.changed:
            stream = io.StringIO()
            yaml.dump_all(file.documents, stream)
            file.path.write_text(stream.getvalue(), encoding="utf-8")
            written.files.append(file.path)
    return written


def _comment(proposal: Proposal) -> str:
    calls = sum(item.calls for item in proposal.evidence)
    served = f" ({len(proposal.evidence)} statement(s), {calls:,} calls)" if proposal.evidence else ""
    return f"advise: {proposal.reason}{served}"


def _table_document(files: list[_File], desired_dir: Path, table: QualifiedName, default_schema: str) -> CommentedMap:
    for file in files:
        for document in file.documents:
            declared = isinstance(document, dict) and document.get("table") == table.name
            if declared and document.get("schema", default_schema) == table.schema:
                file.changed = True
                return document  # type: ignore[no-any-return]
    document = CommentedMap()
    document["table"] = table.name
    if table.schema != default_schema:
        document["schema"] = table.schema
    name = re.sub(
        r"[^A-Za-z0-9_.-]", "_", table.name if table.schema == default_schema else f"{table.schema}.{table.name}"
    )
    path = desired_dir / f"{name}.yaml"
    files.append(_File(path, [document], changed=True))
    document.yaml_set_start_comment("yaml-language-server: $schema=../schemas/desired.schema.json")
    return document


def _list(document: CommentedMap, key: str) -> CommentedSeq:
    if key not in document:
        document[key] = CommentedSeq()
    found = document[key]
    assert isinstance(found, list)
    return found  # type: ignore[return-value]


def _append(items: CommentedSeq, item: Any, why: str) -> None:
    items.append(item)
    items.yaml_set_comment_before_after_key(len(items) - 1, before=why, indent=4)


def _write_table(document: CommentedMap, proposal: Proposal, why: str) -> str | None:
    change = proposal.change
    if proposal.kind == "index":
        _append(_list(document, "indexes"), _flow(change["index"]), why)
    elif proposal.kind == "jsonb":
        columns = document.get("columns")
        if columns is None:
            columns = document["columns"] = CommentedMap()
        columns[change["column"]] = _flow({"type": "jsonb"})
        columns.yaml_add_eol_comment(why, change["column"])
        if "index" in change:
            _append(_list(document, "indexes"), _flow(change["index"]), "advise: containment (@>) served by GIN")
    elif proposal.kind == "rls":
        policies = document.get("policies")
        if not isinstance(policies, list):
            return "the table's policies are not declared: `pgstate export` the table, then advise again"
        for policy in policies:
            if policy.get("name") == change["policy"]:
                for clause in ("using", "with_check"):
                    if clause in change:
                        policy[clause] = change[clause]
                        policy.yaml_add_eol_comment("advise: once per statement, not per row", clause)
                return None
        return f"policy {change['policy']!r} is not declared in the table's document"
    elif proposal.kind == "drop-index":
        indexes = document.get("indexes")
        if not document.get("prune_indexes"):
            return "prune_indexes is not set for the table: declare its indexes and set it, then advise again"
        if isinstance(indexes, list):
            kept = [i for i in indexes if not (isinstance(i, dict) and i.get("name") == change["drop_index"])]
            if len(kept) == len(indexes):
                return None  # not declared: prune drops it already
            for index in list(indexes):
                if index not in kept:
                    indexes.remove(index)
    return None


def _flow(value: dict[str, Any]) -> CommentedMap:
    """A short mapping on one line, as the hand-written files have them."""
    mapping = CommentedMap(value)
    mapping.fa.set_flow_style()
    for key, item in mapping.items():
        if isinstance(item, list):
            seq = CommentedSeq(CommentedMap(x) if isinstance(x, dict) else x for x in item)
            seq.fa.set_flow_style()
            mapping[key] = seq
    return mapping


def _write_database(files: list[_File], desired_dir: Path, proposal: Proposal, why: str) -> str | None:
    change = proposal.change
    if "database_setting" in change or "extension" in change:
        document = _kind_document(files, desired_dir, "database", None, "database.yaml")
        body = document["database"]
        if "database_setting" in change:
            if "settings" not in body:
                body["settings"] = CommentedMap()
            for key, value in change["database_setting"].items():
                body["settings"][key] = value
                body["settings"].yaml_add_eol_comment(why, key)
        else:
            extensions = body.get("extensions")
            if extensions is None:
                extensions = body["extensions"] = CommentedSeq()
            if change["extension"] not in extensions:
                _append(extensions, change["extension"], why)
        return None
    if "role_setting" in change:
        setting = change["role_setting"]
        document = _kind_document(files, desired_dir, "role", setting["role"], "roles.yaml")
        if "settings" not in document:
            document["settings"] = CommentedMap()
        document["settings"]["statement_timeout"] = setting["statement_timeout"]
        document["settings"].yaml_add_eol_comment(why, "statement_timeout")
        return None
    return "a server setting, outside the desired state: set it in postgresql.conf (or the provider's settings)"


def _kind_document(files: list[_File], desired_dir: Path, kind: str, name: str | None, file_name: str) -> CommentedMap:
    for file in files:
        for document in file.documents:
            if isinstance(document, dict) and kind in document and (name is None or document[kind] == name):
                file.changed = True
                return document  # type: ignore[return-value]
    document = CommentedMap()
    document[kind] = CommentedMap() if name is None else name
    for file in files:
        if file.path.name == file_name:
            file.documents.append(document)
            file.changed = True
            return document
    files.append(_File(desired_dir / file_name, [document], changed=True))
    return document
