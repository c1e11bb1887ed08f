"""Where ``pgstate export`` writes each document, and what the modeline of each file points to.

File names come from the objects' names as the database stores them, case and all:

- a table of the default schema: ``User.yaml``; of another schema: ``<schema>/User.yaml`` (a folder per schema);
- a function or a view: ``function.<name>.yaml``, ``view.<name>.yaml``, beside the tables of its schema (a
  function's overloads share its file); a role: ``role.<name>.yaml``; the database: ``database.yaml``, at the top.

A name gets a digest of the exact names appended (``-`` and 8 hex digits, the rest of it slugged) only where it
cannot be used as it is:

- it is not a portable file name: a ``/``, ``\\``, control character or one of ``<>:"|?*`` (Windows refuses
  them), a leading ``.`` (a hidden file, or ``..``), a trailing ``.`` or space (Windows drops them), a Windows
  device name (``CON``, ``NUL``, ``COM1``...), or a name that looks like another file export writes (a table
  called ``database`` or ``view.x``, a schema called ``desired.schema.json`` or ``x.yaml``);
- another name in the same folder differs from it only in case or Unicode normalisation: case-insensitive file
  systems (macOS, Windows) would make ``User.yaml`` and ``user.yaml`` one file. This is judged over every such
  name in the database, not only the ones exported now, so that exporting ``User`` today and ``user`` tomorrow
  still writes two files; every name of such a group gets its digest.

PostgreSQL identifiers are at most 63 bytes, so no file name comes near the 255 bytes file systems allow.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import PgstateError
from ..model.names import QualifiedName

SCHEMA_NAME = "desired.schema.json"
REPOSITORY_SCHEMA = Path("schemas") / SCHEMA_NAME
_PREFIXED = ("function", "view", "role")  # the kinds whose file names start with the kind
_UNSAFE = re.compile(r'[/\\<>:"|?*\x00-\x1f\x7f]')
_WINDOWS_DEVICES = frozenset(
    ["CON", "PRN", "AUX", "NUL", *(f"COM{n}" for n in range(10)), *(f"LPT{n}" for n in range(10))]
)


def folded(name: str) -> str:
    """The name as a case-insensitive, normalising file system compares it."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).casefold())


@dataclass(frozen=True)
class Owner:
    """The object a file is named after: ``kind`` is table, view, function, role or schema (a folder)."""

    kind: str
    schema: str
    name: str

    def digest(self) -> str:
        return hashlib.sha256("\0".join((self.kind, self.schema, self.name)).encode()).hexdigest()[:8]

    def crowd_key(self) -> tuple[str, str, str]:
        return (self.kind, self.schema, folded(self.name))

    def display(self) -> str:
        if self.kind == "database":
            return "database"
        return f"{self.kind} {QualifiedName(self.schema, self.name)}" if self.schema else f"{self.kind} {self.name}"


def owner_of(document: Mapping[str, Any], default_schema: str = "public") -> Owner:
    """The object a document declares (its kind is its first key; ``default_schema`` when it names none)."""
    kind = next(iter(document))
    if kind == "database":
        return Owner("database", "", "")
    if kind == "role":
        return Owner("role", "", str(document["role"]))
    return Owner(kind, str(document.get("schema", default_schema)), str(document[kind]))


class FileNamer:
    """Paths, relative to the output directory, for the documents of one export.

    ``siblings``: every (kind, schema, name) of the database that could be named (see ``export_names.sql``),
    of which those differing only in case get digests.
    """

    def __init__(self, default_schema: str, siblings: Iterable[tuple[str, str, str]]):
        self.default_schema = default_schema
        counts = Counter(Owner(*sibling).crowd_key() for sibling in siblings)
        self.crowded = frozenset(key for key, count in counts.items() if count > 1)

    def path(self, document: Mapping[str, Any]) -> PurePosixPath:
        owner = owner_of(document)
        if owner.kind == "database":
            return PurePosixPath("database.yaml")
        file = f"{self._stem(owner)}.yaml"
        if owner.kind == "role" or owner.schema == self.default_schema:
            return PurePosixPath(file)
        return PurePosixPath(self._stem(Owner("schema", "", owner.schema)), file)

    def _stem(self, owner: Owner) -> str:
        prefix = f"{owner.kind}." if owner.kind in _PREFIXED else ""
        if _portable(owner) and owner.crowd_key() not in self.crowded:
            return prefix + owner.name
        return f"{prefix}{_slug(owner.name)}-{owner.digest()}"


def _portable(owner: Owner) -> bool:
    name = owner.name
    if _UNSAFE.search(name) or name.startswith(".") or name.endswith((".", " ")):
        return False
    if name.split(".")[0].strip().upper() in _WINDOWS_DEVICES:
        return False
    fold = folded(name)
    if owner.kind == "table" and (fold == "database" or fold.startswith(tuple(f"{k}." for k in _PREFIXED))):
        return False  # it would read as another kind's file
    # a folder with the name of a file export writes, or one the loader would take for a file
    return not (owner.kind == "schema" and (fold == SCHEMA_NAME or fold.endswith((".yaml", ".yml"))))


def _slug(name: str) -> str:
    slug = _UNSAFE.sub("_", name)
    slug = re.sub(r"^\.", "_", slug)
    return re.sub(r"[. ]$", "_", slug)


def check_distinct(paths: Mapping[PurePosixPath, Iterable[Owner]]) -> None:
    """Refuses when two objects would share a file on a case-insensitive file system (digests make it all but
    impossible; writing one over the other would lose it silently)."""
    by_fold: dict[str, set[Owner]] = defaultdict(set)
    for path, owners in paths.items():
        by_fold[folded(path.as_posix())].update(owners)
    for owners in by_fold.values():
        if len(owners) > 1:
            names = ", ".join(sorted(owner.display() for owner in owners))
            raise PgstateError(
                f"export would write {names} into one file", hint="export them one at a time, into separate --out dirs"
            )


@dataclass(frozen=True)
class SchemaReference:
    """What the modeline points to: a fixed text (``--schema-ref``), or a schema file that each file's modeline
    reaches by a relative path; ``write`` when export must put pgstate's schema there."""

    text: str | None
    file: Path | None
    write: bool

    def for_file(self, path: Path) -> str:
        if self.file is None:
            return self.text or ""
        return Path(os.path.relpath(self.file, path.resolve().parent)).as_posix()


def schema_reference(out_dir: Path, explicit: str | None) -> SchemaReference:
    """``explicit`` as it is; else the repository's ``schemas/desired.schema.json`` when the output directory
    is in a git work tree that has one; else a copy of pgstate's schema in the output directory.

    Always a relative path (or the text given): the files are committed, and an absolute path of this machine
    would be wrong on every other clone. The schema has no published URL to point to instead.
    """
    if explicit is not None:
        return SchemaReference(explicit, None, write=False)
    directory = out_dir.resolve()
    for candidate in (directory, *directory.parents):
        if (candidate / ".git").exists():
            schema = candidate / REPOSITORY_SCHEMA
            if schema.is_file():
                return SchemaReference(None, schema, write=False)
            break  # the nearest repository decides; an enclosing one is someone else's
    return SchemaReference(None, directory / SCHEMA_NAME, write=True)


def packaged_schema() -> bytes:
    """The JSON Schema of the desired format that ships with pgstate (the one ``validate`` enforces)."""
    return resources.files("pgstate").joinpath("schema/desired.schema.json").read_bytes()
