"""``pgstate export``: desired YAML for existing objects, so that a team can adopt pgstate on a running database.

One file per table, each a complete picture of what pgstate manages on it: the types of all its columns, its
non-constraint valid indexes (``prune_indexes: false``: adopting never drops anything), its RLS flags, all its
policies and all its storage parameters; likewise for functions, views, roles and the database. Every kind writes
its own objects, spelled as the catalog prints them, so planning right after exporting gives no steps. The output
is stable byte for byte (no timestamps, fixed key order, sorted entries): exporting again shows, as a git diff,
what changed on the server.

Where the files go and what their modeline points to: :mod:`pgstate.source.export_files`; which tables
``--all`` takes: :mod:`pgstate.source.export_scope`.

What the format cannot express (an index whose access method is not one of the format's, ``bloom``, ``hnsw``;
a function in C or with a support function) is left out with a warning.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

import psycopg

from ..catalog import query
from ..catalog.snapshot import read_live, retrying_reads
from ..db.patience import DEFAULT_RETRIES
from ..errors import PgstateError
from ..kinds import all_kinds
from ..model.names import QualifiedName
from .compose import Part, Unexpressible, compose, dump_document
from .documents import read_specs
from .export_files import FileNamer, Owner, check_distinct, owner_of, packaged_schema, schema_reference
from .export_scope import Discovered, discover_tables
from .loader import desired_files, load_text
from .nodes import Document

HEADER = "# Exported by pgstate from the live database, as it is.\n"
_MAX_IDENTIFIER_BYTES = 63  # NAMEDATALEN - 1
_TABLE_HINT = (
    "write TABLE or SCHEMA.TABLE, names exactly as stored (case-sensitive); double-quote a part that contains a dot"
    ' or a double quote, doubling the quote inside: \'"My Schema"."a.b"\', \'public."we""ird"\''
)


def parse_table_argument(text: str, default_schema: str = "public") -> QualifiedName:
    """``table`` (in ``default_schema``), ``schema.table``; a part may be double-quoted (``"a.b"``, ``"we""ird"``).

    Parts are taken exactly as the database stores them, as in the desired files: ``User`` and ``"User"`` are
    the same table (no case folding). Quotes are needed only for a part with a dot or a double quote in it.
    """
    parts: list[str] = []
    position = 0
    while True:
        if position < len(text) and text[position] == '"':
            end = position + 1
            chars: list[str] = []
            while True:
                if end >= len(text):
                    raise _bad_table(text, "an unterminated double quote")
                if text[end] == '"':
                    if end + 1 < len(text) and text[end + 1] == '"':
                        chars.append('"')
                        end += 2
                        continue
                    end += 1
                    break
                chars.append(text[end])
                end += 1
            part = "".join(chars)
        else:
            end = position
            while end < len(text) and text[end] not in '."':
                end += 1
            part = text[position:end]
            if end < len(text) and text[end] == '"':
                raise _bad_table(text, "a double quote inside an unquoted name")
        if not part:
            raise _bad_table(text, "an empty name")
        if len(part.encode()) > _MAX_IDENTIFIER_BYTES:
            raise _bad_table(text, f"a name longer than {_MAX_IDENTIFIER_BYTES} bytes")
        parts.append(part)
        if end == len(text):
            break
        if text[end] != ".":
            raise _bad_table(text, "text after a closing double quote")
        position = end + 1
        if position == len(text):
            raise _bad_table(text, "an empty name")
    if len(parts) > 2:
        raise _bad_table(text, "more than two dot-separated parts")
    return QualifiedName(parts[0], parts[1]) if len(parts) == 2 else QualifiedName(default_schema, parts[0])


def _bad_table(text: str, problem: str) -> PgstateError:
    return PgstateError(f"bad table name {text!r}: {problem}", hint=_TABLE_HINT)


@dataclass(frozen=True)
class ExportTargets:
    """What to export: tables, functions and views by name, roles, and the database's own settings; with
    ``all_tables``, every table of ``schemas`` too (of the application's schemas when empty: see export_scope)."""

    tables: tuple[QualifiedName, ...] = ()
    functions: tuple[QualifiedName, ...] = ()
    views: tuple[QualifiedName, ...] = ()
    roles: tuple[str, ...] = ()
    database: bool = False
    all_tables: bool = False
    schemas: tuple[str, ...] = ()

    def documents(self) -> list[Document]:
        """Documents that declare the targets and nothing else: what the snapshot reads everything of."""
        data: list[dict[str, Any]] = [{"table": t.name, "schema": t.schema} for t in sorted(set(self.tables))]
        data += [{"function": f.name, "schema": f.schema, "body": "-"} for f in sorted(set(self.functions))]
        data += [{"view": v.name, "schema": v.schema, "query": "-"} for v in sorted(set(self.views))]
        data += [{"role": role} for role in sorted(set(self.roles))]
        data += [{"database": {}}] if self.database else []
        return [Document("(export)", number, item) for number, item in enumerate(data)]

    def check(self) -> None:
        """Refuses targets that name nothing, and --schema without --all (before any connection)."""
        if self.schemas and not self.all_tables:
            raise PgstateError("--schema goes with --all", hint="pgstate export --all --schema NAME")
        if not (self.tables or self.functions or self.views or self.roles or self.database or self.all_tables):
            raise PgstateError(
                "nothing to export", hint="name the tables, or all of them: pgstate export [--out DIR] --all | TABLE..."
            )


@dataclass(frozen=True)
class WrittenFile:
    """A file export wrote, and the documents in it."""

    path: Path
    documents: tuple[dict[str, Any], ...]

    def summary(self) -> str:
        """What the file declares, for people: ``table public."User": 5 columns, 2 indexes, 1 policy, RLS on``."""
        return "; ".join(_describe(document) for document in _grouped(self.documents))


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote (in order), and what it has to tell."""

    files: list[WrittenFile]
    schema_file: Path | None = None  # the copy of pgstate's schema the modelines point to, when export wrote it
    discovered: Discovered | None = None  # what --all found and left out
    warnings: list[str] = field(default_factory=list)

    @property
    def paths(self) -> list[Path]:
        return [written.path for written in self.files]

    def counts(self) -> str:
        """``12 tables, 1 function, 2 roles``: the objects written, by kind."""
        counts: dict[str, int] = defaultdict(int)
        for written in self.files:
            for document in _grouped(written.documents):
                counts[next(iter(document))] += 1
        order = ("table", "view", "function", "role", "database")
        return ", ".join(_plural(counts[kind], kind) for kind in order if counts[kind])


def export(
    conn: psycopg.Connection[Any],
    targets: ExportTargets,
    out_dir: Path,
    *,
    schema_ref: str | None,
    default_schema: str = "public",
    warn: Callable[[str], None] | None = None,
    lock_timeout: str | None = None,
    retries: int = DEFAULT_RETRIES,
) -> ExportResult:
    """Write desired files for the targets into ``out_dir`` (created if needed); what was written, in order.

    Every kind writes its own objects (``Kind.export_parts``). Refuses (PgstateError naming them, nothing
    written) when a table does not exist. ``schema_ref``: what the modeline points to, as it is; None for the
    default (see :func:`export_files.schema_reference`). Tables of ``default_schema`` go to the top of
    ``out_dir``, others into a folder per schema. ``warn`` hears of every object left out because the format
    cannot express it, and of other files in ``out_dir`` that declare an exported object too.
    """
    targets.check()
    say = warn if warn is not None else _stderr
    discovered = discover_tables(conn, targets.schemas) if targets.all_tables else None
    if discovered is not None:
        targets = replace(targets, tables=tuple(sorted({*targets.tables, *discovered.tables})))
    documents = _documents(conn, targets, say, lock_timeout=lock_timeout, retries=retries)
    namer = FileNamer(default_schema, _siblings(conn, documents, default_schema))
    files: dict[PurePosixPath, list[dict[str, Any]]] = {}
    for document in documents:
        files.setdefault(namer.path(document), []).append(document)
    check_distinct({path: {owner_of(document) for document in found} for path, found in files.items()})

    out_dir.mkdir(parents=True, exist_ok=True)
    reference = schema_reference(out_dir, schema_ref)
    schema_file = None
    if reference.write and reference.file is not None:  # rewritten each time: the schema of this pgstate
        schema_file = out_dir / reference.file.name
        schema_file.write_bytes(packaged_schema())
    written = []
    for relative, found in files.items():
        path = out_dir.joinpath(*relative.parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        body = "---\n".join(dump_document(document) for document in found)
        path.write_bytes(f"# yaml-language-server: $schema={reference.for_file(path)}\n{HEADER}{body}".encode())
        written.append(WrittenFile(path, tuple(found)))
    warnings = _declared_elsewhere(out_dir, written, default_schema)
    for warning in warnings:
        say(warning)
    return ExportResult(written, schema_file, discovered, warnings)


def _documents(
    conn: psycopg.Connection[Any],
    targets: ExportTargets,
    say: Callable[[str], None],
    *,
    lock_timeout: str | None,
    retries: int,
) -> list[dict[str, Any]]:
    """The composed documents of the targets, as the live database has them."""
    specs = read_specs(targets.documents(), None)
    live = retrying_reads(lambda: read_live(conn, specs, lock_timeout=lock_timeout, everything=True), retries)
    missing = [name for name in sorted(set(targets.tables)) if name not in live.tables]
    if missing:
        raise PgstateError(
            f"table(s) not found: {', '.join(str(name) for name in missing)}",
            hint=_missing_hint(conn, missing),
        )
    parts: list[Part] = []
    for kind in all_kinds():
        for part in kind.export_parts(specs.of(kind.name), live.of(kind.name), sorted(live.tables)):
            if isinstance(part, Unexpressible):
                say(
                    f"{kind.name} {part.key} left out of the export: {part.reason}; pgstate leaves it alone and"
                    " drift reports what it must"
                )
            else:
                parts.append(part)
    return compose(parts)


def _siblings(
    conn: psycopg.Connection[Any], documents: Sequence[dict[str, Any]], default_schema: str
) -> list[tuple[str, str, str]]:
    """Every name of the database that could share a folder with the exported ones (see export_names.sql)."""
    schemas = sorted({owner_of(document).schema for document in documents} - {""} | {default_schema})
    with conn.cursor() as cur:
        cur.execute(query("export_names"), {"schemas": schemas})
        return [(str(kind), str(schema), str(name)) for kind, schema, name in cur.fetchall()]


def _declared_elsewhere(out_dir: Path, written: Sequence[WrittenFile], default_schema: str) -> list[str]:
    """Other files under ``out_dir`` that declare an object export just wrote (a file of an earlier export under
    another name, say): two declarations of one object are an error for validate and plan, so each is named."""
    mine = {written_file.path.resolve() for written_file in written}
    owners = {owner_of(document): w.path for w in written for document in w.documents}
    found = []
    for path in desired_files(out_dir):
        if path.resolve() in mine:
            continue
        try:
            documents = load_text(path.read_bytes().decode("utf-8-sig"), str(path))
        except (UnicodeDecodeError, PgstateError):  # not export's to report: validate words it
            continue
        for document in documents:
            owner = owner_of(document.data, default_schema) if document.data else None
            if owner in owners:
                found.append(
                    f"{path} also declares {owner.display()}, written to {owners[owner]}: remove one of them"
                    " (an object declared twice is an error)"
                )
    return sorted(set(found))


def _grouped(documents: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One document per object: a function's overloads and a role's scopes are one object to people."""
    seen: dict[Owner, dict[str, Any]] = {}
    for document in documents:
        seen.setdefault(owner_of(document), document)
    return list(seen.values())


def _describe(document: dict[str, Any]) -> str:
    owner = owner_of(document)
    if owner.kind == "table":
        counts = [
            _plural(len(document.get("columns") or {}), "column"),
            _plural(len(document.get("indexes") or []), "index"),
            _plural(len(document.get("policies") or []), "policy"),
        ]
        rls = document.get("rls") or {}
        if rls.get("enabled"):
            counts.append("RLS forced" if rls.get("forced") else "RLS on")
        return f"{owner.display()}: {', '.join(counts)}"
    if owner.kind == "role":
        return f"{owner.display()}: {_plural(len(document.get('settings') or {}), 'setting')}"
    if owner.kind == "database":
        database = document.get("database") or {}
        counts = [
            _plural(len(database.get("settings") or {}), "setting"),
            _plural(len(database.get("extensions") or []), "extension"),
        ]
        return f"database: {', '.join(counts)}"
    return owner.display()


def _plural(count: int, noun: str) -> str:
    irregular = {"index": "indexes", "policy": "policies"}
    return f"{count} {noun if count == 1 else irregular.get(noun, noun + 's')}"


def _stderr(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _missing_hint(conn: psycopg.Connection[Any], missing: Iterable[QualifiedName]) -> str:
    """Tables whose names differ only in case, or relations of another kind with the name: a likely mistake."""
    names = list(missing)
    with conn.cursor() as cur:
        cur.execute(query("export_missing"), {"schemas": [n.schema for n in names], "names": [n.name for n in names]})
        rows = cur.fetchall()
    kinds = {"r": "table", "p": "table", "v": "view", "m": "materialized view", "f": "foreign table"}
    found = [f"{kinds[kind]} {QualifiedName(schema, rel)}" for schema, rel, kind in rows]
    if found:
        return f"names are case-sensitive, exactly as stored; the database has: {', '.join(found)}"
    return "names are case-sensitive, exactly as stored (`User`, not `user`); see \\dt in psql"
