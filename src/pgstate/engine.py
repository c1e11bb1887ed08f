"""The pipeline every verb shares: load and validate the desired files, introspect, canonicalize, plan."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from .canonical import canonicalize
from .desired import TableSpec, table_specs
from .errors import PgstateError
from .introspect import read_live_state
from .loader import Document, load_documents
from .model import DesiredState, LiveState
from .plan import Plan, make_plan
from .validation import validate_documents


@dataclass(frozen=True)
class DesiredFiles:
    directory: Path
    documents: list[Document]
    tables: list[TableSpec]

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(sorted({doc.file for doc in self.documents}))


def load_desired(directory: Path) -> DesiredFiles:
    """Read and validate every desired file; raises InvalidDesiredState with all problems, before any database."""
    if not directory.is_dir():
        raise PgstateError(
            f"desired directory {directory} does not exist", hint="pass --desired DIR, or create ./desired"
        )
    documents = load_documents(directory)
    validate_documents(documents)
    return DesiredFiles(directory, documents, table_specs(documents))


@dataclass(frozen=True)
class Snapshot:
    desired: DesiredState
    live: LiveState


def snapshot(conn: psycopg.Connection[Any], desired: DesiredFiles, *, lock_timeout: str) -> Snapshot:
    """The live state of the managed tables, and the desired state spelled as the server spells it."""
    live = read_live_state(conn, [spec.name for spec in desired.tables])
    canonical = canonicalize(conn, desired.tables, live.tables, lock_timeout=lock_timeout, files=desired.files)
    return Snapshot(canonical, live)


def plan_for(conn: psycopg.Connection[Any], desired: DesiredFiles, *, lock_timeout: str) -> tuple[Snapshot, Plan]:
    state = snapshot(conn, desired, lock_timeout=lock_timeout)
    return state, make_plan(state.desired, state.live)
