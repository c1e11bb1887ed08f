"""The pipeline every verb shares: load and validate the desired files, introspect, canonicalize, plan."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psycopg

from .canonical import canonicalize
from .desired import (
    FunctionSpec,
    TableSpec,
    ViewSpec,
    database_spec,
    function_specs,
    table_specs,
    view_specs,
)
from .errors import PgstateError
from .introspect import read_live_state, read_relation_owners
from .kinds.indexes import temporary_name
from .loader import Document, load_documents
from .model import DesiredDatabase, DesiredState, LiveState, QualifiedName
from .plan import Plan, make_plan
from .retirement import read_retirement_facts
from .validation import validate_documents


@dataclass(frozen=True)
class DesiredFiles:
    directory: Path
    documents: list[Document]
    tables: list[TableSpec]
    functions: list[FunctionSpec]
    views: list[ViewSpec]
    database: DesiredDatabase | None = None
    # Set only by rollback: what the run being undone created, to be dropped.
    absent_functions: tuple[tuple[QualifiedName, str], ...] = ()  # (name, argument types)
    absent_views: tuple[QualifiedName, ...] = ()
    absent_indexes: tuple[QualifiedName, ...] = ()

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
    return specs_of(directory, documents)


def specs_of(directory: Path, documents: list[Document]) -> DesiredFiles:
    """The specs of every kind the documents declare (documents already validated)."""
    return DesiredFiles(
        directory,
        documents,
        table_specs(documents),
        function_specs(documents),
        view_specs(documents),
        database_spec(documents),
    )


@dataclass(frozen=True)
class Snapshot:
    desired: DesiredState
    live: LiveState


def snapshot(conn: psycopg.Connection[Any], desired: DesiredFiles, *, lock_timeout: str) -> Snapshot:
    """The live state of the managed tables, and the desired state spelled as the server spells it."""
    live = read_live_state(
        conn,
        [spec.name for spec in desired.tables],
        [spec.name for spec in desired.functions] + [name for name, _ in desired.absent_functions],
        [spec.name for spec in desired.views] + list(desired.absent_views),
        database=desired.database is not None,
    )
    canonical = canonicalize(
        conn,
        desired.tables,
        live.tables,
        lock_timeout=lock_timeout,
        files=desired.files,
        functions=desired.functions,
        views=desired.views,
        live_functions=live.functions,
    )
    names = relation_names(canonical, live)
    with conn.cursor() as cur:
        owners = read_relation_owners(cur, names) if names else {}
    live = replace(live, relations=owners)
    canonical = replace(
        canonical,
        database=desired.database,
        absent_functions=tuple(f"{name.schema}.{name.name}({types})" for name, types in desired.absent_functions),
        absent_views=desired.absent_views,
        absent_indexes=desired.absent_indexes,
    )
    return Snapshot(canonical, replace(live, retirements=read_retirement_facts(conn, canonical, live)))


def relation_names(desired: DesiredState, live: LiveState) -> set[QualifiedName]:
    """The relation names applying the desired indexes would newly take: the names of indexes the table does not
    have yet, and the temporary names of replacements. A name the table's own index holds is ours already."""
    names = set()
    for name, table in desired.tables.items():
        current = live.tables[name].indexes if name in live.tables else {}
        for index in table.indexes or ():
            existing = current.get(index.name)
            if existing is None:
                names.add(index.qualified_name)
            elif existing.definition() != index.definition():
                names.add(QualifiedName(index.table.schema, temporary_name(index.name)))
    return names


def plan_for(conn: psycopg.Connection[Any], desired: DesiredFiles, *, lock_timeout: str) -> tuple[Snapshot, Plan]:
    state = snapshot(conn, desired, lock_timeout=lock_timeout)
    return state, make_plan(state.desired, state.live, lock_timeout=lock_timeout)
