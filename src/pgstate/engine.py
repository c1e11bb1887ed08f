"""The pipeline every verb shares: load and validate the desired files, introspect, canonicalize, plan."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psycopg

from .canonical import canonicalize
from .desired import FunctionSpec, TableSpec, ViewSpec, function_specs, table_specs, view_specs
from .errors import InvalidDesiredState, PgstateError
from .introspect import read_live_state, read_relation_owners
from .kinds.indexes import temporary_name
from .loader import Document, load_documents
from .model import DesiredState, LiveState, QualifiedName
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
    # Set only by rollback: what the run being undone created, to be dropped.
    absent_functions: tuple[tuple[QualifiedName, str], ...] = ()  # (name, argument types)
    absent_views: tuple[QualifiedName, ...] = ()

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(sorted({doc.file for doc in self.documents}))


def load_desired(directory: Path, *, for_planning: bool = True) -> DesiredFiles:
    """Read and validate every desired file; raises InvalidDesiredState with all problems, before any database.

    ``for_planning``: also refuse what the format allows but this version cannot plan yet.
    """
    if not directory.is_dir():
        raise PgstateError(
            f"desired directory {directory} does not exist", hint="pass --desired DIR, or create ./desired"
        )
    documents = load_documents(directory)
    validate_documents(documents)
    if for_planning:
        refuse_unsupported(documents)
    return DesiredFiles(directory, documents, table_specs(documents), function_specs(documents), view_specs(documents))


# Parts of the format that validate (the schema describes all of it) but that this version cannot plan yet.
# Planning around them would report "no changes" for a policy or a retirement nobody applied: refuse instead.
UNSUPPORTED_KINDS = ("database",)
UNSUPPORTED_TABLE_KEYS = ("storage",)


def refuse_unsupported(documents: list[Document]) -> None:
    problems: list[PgstateError] = []
    hint = (
        "this version of pgstate plans indexes, column types, RLS, policies, functions, views and retirements;"
        " move the document out of the desired directory"
    )
    for doc in documents:
        if doc.kind in UNSUPPORTED_KINDS:
            problems.append(
                PgstateError(f"`{doc.kind}` documents are not supported yet", location=doc.locate(()), hint=hint)
            )
            continue
        for key in UNSUPPORTED_TABLE_KEYS:
            if key in doc.data:
                problems.append(PgstateError(f"`{key}` is not supported yet", location=doc.locate((key,)), hint=hint))
    if problems:
        raise InvalidDesiredState(problems)


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
    with conn.cursor() as cur:
        owners = read_relation_owners(cur, relation_names(canonical))
    live = replace(live, relations=owners)
    canonical = replace(
        canonical,
        absent_functions=tuple(f"{name.schema}.{name.name}({types})" for name, types in desired.absent_functions),
        absent_views=desired.absent_views,
    )
    return Snapshot(canonical, replace(live, retirements=read_retirement_facts(conn, canonical, live)))


def relation_names(desired: DesiredState) -> set[QualifiedName]:
    """The relation names applying the desired indexes would take: their names and replacements' names."""
    names = set()
    for table in desired.tables.values():
        for index in table.indexes or ():
            names.add(index.qualified_name)
            names.add(QualifiedName(index.table.schema, temporary_name(index.name)))
    return names


def plan_for(conn: psycopg.Connection[Any], desired: DesiredFiles, *, lock_timeout: str) -> tuple[Snapshot, Plan]:
    state = snapshot(conn, desired, lock_timeout=lock_timeout)
    return state, make_plan(state.desired, state.live, lock_timeout=lock_timeout)
