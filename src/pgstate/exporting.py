"""``pgstate export``: desired YAML for existing tables, so that a team can adopt pgstate on a running database.

One file per table, each a complete picture of what pgstate manages on it: the types of all its columns, its
non-constraint valid indexes (``prune_indexes: false``: adopting never drops anything), its RLS flags, all its
policies and all its storage parameters. Values are spelled as the catalog prints them (``export.py``), so
planning right after exporting gives no steps. The output is stable byte for byte (no timestamps, fixed key
order, sorted entries): exporting again shows, as a git diff, what changed on the server.

File names: ``<schema>.<table>.yaml`` when both names are lowercase ASCII identifiers (``public.users.yaml``);
otherwise each part is slugged (lowercase, any other character run -> ``_``) and a short hash of the exact
names is appended (``public.user-3f2a9c1b.yaml`` for ``public."User"``), so that names differing only in case or
punctuation never share a file, even on case-insensitive file systems.

The modeline: each file starts with ``# yaml-language-server: $schema=REF``. By default (``schema_ref=None``)
REF is the relative path from the output directory to ``schemas/desired.schema.json`` of the git repository that
holds it, when that repository has the file (the modeline then works on every clone); otherwise the absolute path
of the schema packaged with pgstate (``pgstate/schema/desired.schema.json``), which works on this machine.

What the format cannot express: an index key with an explicit collation (``COLLATE "C"``), or an index whose
access method is not one of the format's (``bloom``, ``hnsw``, ...). Such an index is left out of the file
with a warning; with ``prune_indexes: false`` planning leaves it alone, and ``drift`` reports it as an
unmanaged index of a managed table.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import psycopg
import yaml

from .errors import PgstateError
from .export import table_document
from .introspect import read_live_state
from .model import Index, LiveTable, QualifiedName

SCHEMA_FILE = Path("schemas") / "desired.schema.json"
PACKAGED_SCHEMA = Path(__file__).resolve().parent / "schema" / "desired.schema.json"
HEADER = "# Exported by pgstate from the live database: the types, indexes, RLS, policies and storage as they are.\n"
METHODS = frozenset({"btree", "hash", "gin", "gist", "brin", "spgist"})  # the format's `method` values
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


def export_tables(
    conn: psycopg.Connection[Any],
    tables: list[QualifiedName],
    out_dir: Path,
    *,
    schema_ref: str | None,
    warn: Callable[[str], None] | None = None,
) -> list[Path]:
    """Write one desired file per table into ``out_dir`` (created if needed); the paths written, in order.

    Refuses (PgstateError naming them, nothing written) when any table does not exist. ``schema_ref``: what the
    modeline points to; None for :func:`default_schema_ref`. ``warn`` hears of every index left out because
    the format cannot express it (default: a line on stderr).
    """
    if not tables:
        raise PgstateError("no table to export", hint="name the tables: pgstate export [--out DIR] TABLE...")
    wanted = sorted(set(tables))
    live = read_live_state(conn, wanted).tables
    missing = [name for name in wanted if name not in live]
    if missing:
        raise PgstateError(
            f"table(s) not found: {', '.join(str(name) for name in missing)}",
            hint=_missing_hint(conn, missing),
        )
    say = warn if warn is not None else _stderr
    out_dir.mkdir(parents=True, exist_ok=True)
    reference = schema_ref if schema_ref is not None else default_schema_ref(out_dir)
    written = []
    for name in wanted:
        path = out_dir / file_name(name)
        path.write_bytes(render_table(live[name], reference, say).encode())
        written.append(path)
    return written


def _stderr(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def render_table(table: LiveTable, schema_ref: str, warn: Callable[[str], None]) -> str:
    """The whole file for one table: modeline, header, one YAML document."""
    document = table_document(table, storage=True, prune_indexes=False)
    skipped = {index.name: reason for index in table.indexes.values() if (reason := unexpressible(index))}
    if skipped:
        document["indexes"] = [entry for entry in document["indexes"] if entry["name"] not in skipped]
        for index_name, reason in sorted(skipped.items()):
            warn(
                f"index {QualifiedName(table.name.schema, index_name)} on {table.name} left out of the export:"
                f" {reason}; pgstate leaves it alone (prune_indexes: false) and drift reports it as unmanaged"
            )
    body = yaml.safe_dump(
        document,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=1_000_000_000,  # never fold an expression over lines
    )
    return f"# yaml-language-server: $schema={schema_ref}\n{HEADER}{body}"


def unexpressible(index: Index) -> str | None:
    """Why the desired format cannot describe this live index (None: it can)."""
    if index.method not in METHODS:
        return f"its access method {index.method} is not one of {', '.join(sorted(METHODS))}"
    collated = [key.describe() for key in index.keys if key.collation]
    if collated:
        return f"the format has no collation for an index key ({', '.join(collated)})"
    return None


_SLUG_OTHER = re.compile(r"[^a-z0-9_]+")


def file_name(name: QualifiedName) -> str:
    """``schema.table.yaml``, or with slugged parts and a hash of the exact names when slugging changed them."""
    schema, table = _slug(name.schema), _slug(name.name)
    stem = f"{schema}.{table}"
    if (schema, table) != (name.schema, name.name):
        digest = hashlib.sha256(f"{name.schema}\0{name.name}".encode()).hexdigest()[:8]
        stem += f"-{digest}"
    return f"{stem}.yaml"


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
