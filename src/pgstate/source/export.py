"""``pgstate export``: desired YAML for existing objects, so that a team can adopt pgstate on a running database.

One file per table, each a complete picture of what pgstate manages on it: the types of all its columns, its
non-constraint valid indexes (``prune_indexes: false``: adopting never drops anything), its RLS flags, all its
policies and all its storage parameters; likewise for functions, views, roles and the database. Every kind writes
its own objects, spelled as the catalog prints them, so planning right after exporting gives no steps. The output
is stable byte for byte (no timestamps, fixed key order, sorted entries): exporting again shows, as a git diff,
what changed on the server.

File names: ``<schema>.<table>.yaml`` when both names are lowercase ASCII identifiers (``public.users.yaml``);
otherwise each part is slugged (lowercase, any other character run -> ``_``) and a short hash of the exact
names is appended (``public.user-3f2a9c1b.yaml`` for ``public."User"``), so that names differing only in case or
punctuation never share a file, even on case-insensitive file systems.

The modeline: each file starts with ``# yaml-language-server: $schema=REF``. By default (``schema_ref=None``)
REF is the relative path from the output directory to ``schemas/desired.schema.json`` of the git repository that
holds it, when that repository has the file (the modeline then works on every clone); otherwise the absolute path
of the schema packaged with pgstate (``pgstate/schema/desired.schema.json``), which works on this machine.

What the format cannot express (an index whose access method is not one of the format's, ``bloom``, ``hnsw``;
a function in C or with a support function) is left out with a warning.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from ..catalog.snapshot import read_live, retrying_reads
from ..db.patience import DEFAULT_RETRIES
from ..errors import PgstateError
from ..kinds import all_kinds
from ..model.names import QualifiedName
from .compose import Part, Unexpressible, compose, dump_document
from .documents import read_specs
from .nodes import Document

SCHEMA_FILE = Path("schemas") / "desired.schema.json"
PACKAGED_SCHEMA = Path(__file__).resolve().parent.parent / "schema" / "desired.schema.json"
HEADER = "# Exported by pgstate from the live database, as it is.\n"
_MAX_IDENTIFIER_BYTES = 63  # NAMEDATALEN - 1
_TABLE_HINT = (
    "write TABLE or SCHEMA.TABLE, names exactly as stored (case-sensitive); double-quote a part that contains a dot"
    ' or a double quote, doubling the quote inside: \'"My Schema"."a.b"\', \'public."we""ird"\''
)


def parse_table_argument(text: str) -> QualifiedName:
    """``table`` (schema public), ``schema.table``; a part may be double-quoted (``"a.b"``, ``"we""ird"``).

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
    return QualifiedName(parts[0], parts[1]) if len(parts) == 2 else QualifiedName("public", parts[0])


def _bad_table(text: str, problem: str) -> PgstateError:
    return PgstateError(f"bad table name {text!r}: {problem}", hint=_TABLE_HINT)


@dataclass(frozen=True)
class ExportTargets:
    """What to export: tables, functions and views by name, roles, and the database's own settings."""

    tables: tuple[QualifiedName, ...] = ()
    functions: tuple[QualifiedName, ...] = ()
    views: tuple[QualifiedName, ...] = ()
    roles: tuple[str, ...] = ()
    database: bool = False

    def documents(self) -> list[Document]:
        """Documents that declare the targets and nothing else: what the snapshot reads everything of."""
        data: list[dict[str, Any]] = [{"table": t.name, "schema": t.schema} for t in sorted(set(self.tables))]
        data += [{"function": f.name, "schema": f.schema, "body": "-"} for f in sorted(set(self.functions))]
        data += [{"view": v.name, "schema": v.schema, "query": "-"} for v in sorted(set(self.views))]
        data += [{"role": role} for role in sorted(set(self.roles))]
        data += [{"database": {}}] if self.database else []
        return [Document("(export)", number, item) for number, item in enumerate(data)]


def export(
    conn: psycopg.Connection[Any],
    targets: ExportTargets,
    out_dir: Path,
    *,
    schema_ref: str | None,
    warn: Callable[[str], None] | None = None,
    lock_timeout: str | None = None,
    retries: int = DEFAULT_RETRIES,
) -> list[Path]:
    """Write desired files for the targets into ``out_dir`` (created if needed); the paths written, in order.

    Every kind writes its own objects (``Kind.export_parts``). Refuses (PgstateError naming them, nothing
    written) when a table does not exist. ``schema_ref``: what the modeline points to; None for
    :func:`default_schema_ref`. ``warn`` hears of every object left out because the format cannot express it.
    """
    if not (targets.tables or targets.functions or targets.views or targets.roles or targets.database):
        raise PgstateError("nothing to export", hint="name the tables: pgstate export [--out DIR] TABLE...")
    specs = read_specs(targets.documents(), None)
    live = retrying_reads(lambda: read_live(conn, specs, lock_timeout=lock_timeout, everything=True), retries)
    missing = [name for name in sorted(set(targets.tables)) if name not in live.tables]
    if missing:
        raise PgstateError(
            f"table(s) not found: {', '.join(str(name) for name in missing)}",
            hint=_missing_hint(conn, missing),
        )
    say = warn if warn is not None else _stderr
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
    out_dir.mkdir(parents=True, exist_ok=True)
    reference = schema_ref if schema_ref is not None else default_schema_ref(out_dir)
    files: dict[str, list[dict[str, Any]]] = {}
    for document in compose(parts):
        files.setdefault(file_name(document), []).append(document)
    written = []
    for name, documents in files.items():
        path = out_dir / name
        body = "---\n".join(dump_document(document) for document in documents)
        path.write_bytes(f"# yaml-language-server: $schema={reference}\n{HEADER}{body}".encode())
        written.append(path)
    return written


def _stderr(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


_SLUG_OTHER = re.compile(r"[^a-z0-9_]+")


def file_name(document: dict[str, Any]) -> str:
    """``schema.table.yaml`` (``function.schema.name.yaml``, ``view.…``, ``role.name.yaml``, ``database.yaml``),
    with slugged parts and a hash of the exact names when slugging changed them."""
    kind = next(iter(document))
    if kind == "database":
        return "database.yaml"
    if kind == "role":
        return f"role.{_stem((document['role'],))}.yaml"
    stem = _stem((document.get("schema", "public"), document[kind]))
    return f"{stem}.yaml" if kind == "table" else f"{kind}.{stem}.yaml"


def table_file_name(name: QualifiedName) -> str:
    return file_name({"table": name.name, "schema": name.schema})


def _stem(parts: tuple[str, ...]) -> str:
    slugs = tuple(_slug(part) for part in parts)
    stem = ".".join(slugs)
    if slugs != parts:
        digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:8]
        stem += f"-{digest}"
    return stem


def _slug(part: str) -> str:
    return _SLUG_OTHER.sub("_", part.lower()) or "_"


def default_schema_ref(out_dir: Path) -> str:
    """The relative path to the repository's ``schemas/desired.schema.json`` when ``out_dir`` is in a git work
    tree that has it; else the absolute path of the schema packaged with pgstate."""
    directory = out_dir.resolve()
    for candidate in (directory, *directory.parents):
        if (candidate / ".git").exists():
            schema = candidate / SCHEMA_FILE
            if schema.is_file():
                return Path(os.path.relpath(schema, directory)).as_posix()
            break  # the nearest repository decides; an enclosing one is someone else's
    return PACKAGED_SCHEMA.as_posix()


def _missing_hint(conn: psycopg.Connection[Any], missing: Iterable[QualifiedName]) -> str:
    """Tables whose names differ only in case, or relations of another kind with the name: a likely mistake."""
    names = list(missing)
    with conn.cursor() as cur:
        cur.execute(
            "SELECT n.nspname, c.relname, c.relkind::text FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " JOIN unnest(%(schemas)s::text[], %(names)s::text[]) AS w(nsp, rel)"
            "   ON lower(n.nspname) = lower(w.nsp) AND lower(c.relname) = lower(w.rel)"
            " WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')"
            " ORDER BY 1, 2",
            {"schemas": [n.schema for n in names], "names": [n.name for n in names]},
        )
        rows = cur.fetchall()
    kinds = {"r": "table", "p": "table", "v": "view", "m": "materialized view", "f": "foreign table"}
    found = [f"{kinds[kind]} {QualifiedName(schema, rel)}" for schema, rel, kind in rows]
    if found:
        return f"names are case-sensitive, exactly as stored; the database has: {', '.join(found)}"
    return "names are case-sensitive, exactly as stored (`User`, not `user`); see \\dt in psql"
