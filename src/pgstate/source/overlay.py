"""A target's overlay: a directory of desired documents merged over the desired directory.

A document of the overlay that declares the same object as one of desired/ (the same kind, schema and name, the
same function signature, the one database document) takes its place whole; the overlay's other documents are
added. Whole documents, not a deep merge of their keys: what a tenant's database gets is then always one document
someone wrote, reviewed and can read in one place, and the overlay says it in the files it names in messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import suppress
from pathlib import Path

from ..errors import PgstateError
from .documents import SCHEMA_KINDS, Header
from .nodes import Document


def check_overlay(desired: Path, overlay: Path) -> None:
    if not overlay.is_dir():
        raise PgstateError(f"overlay directory {overlay} does not exist", hint="check the target's overlay")
    if overlay.resolve().is_relative_to(desired.resolve()):
        raise PgstateError(
            f"overlay {overlay} is inside the desired directory {desired}: its documents would be read twice",
            hint="keep overlays beside desired/, e.g. overlays/tenant-a",
        )


def overlaid(base: Iterable[Document], overlay: list[Document], default_schema: str | None) -> Iterator[Document]:
    """desired/'s documents in their order, each replaced by the overlay's document of the same object, then the
    overlay's others in theirs."""
    replacing: dict[tuple[str, ...], Document] = {}
    for doc in overlay:
        identity = _identity(doc, default_schema)
        if identity is not None:
            replacing.setdefault(identity, doc)
    used: set[int] = set()
    for doc in base:
        replacement = replacing.get(_identity(doc, default_schema) or ("",))
        if replacement is None:
            yield doc
        elif id(replacement) not in used:
            used.add(id(replacement))
            yield replacement
    yield from (doc for doc in overlay if id(doc) not in used)


def _identity(doc: Document, default_schema: str | None) -> tuple[str, ...] | None:
    """What the document declares; None for one too malformed to say (validation reports it)."""
    kind = doc.kind
    if kind is None:
        return None
    if default_schema is not None and kind in SCHEMA_KINDS and isinstance(doc.data, dict):
        doc.data.setdefault("schema", default_schema)  # as read_specs does: the same answer for both
    with suppress(Exception):
        return Header(doc, str(kind)).identity
    return None
