"""Catalog facts only lint needs, read with a fixed number of queries whatever the number of objects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg

from ..catalog import query
from ..catalog.reader import read_columns
from ..model.names import QualifiedName
from ..model.state import LiveState


@dataclass(frozen=True)
class ForeignKey:
    table: QualifiedName
    name: str
    columns: tuple[str, ...]  # referencing columns, in key order
    referenced: QualifiedName


@dataclass(frozen=True)
class LintFacts:
    server_version: int
    # Functions a policy should call once per statement: oid -> signature as regprocedure prints it.
    initplan_functions: Mapping[int, str] = field(default_factory=dict)
    equality_operators: frozenset[int] = frozenset()  # oids of every operator named `=`
    # Node trees name columns by attribute number; LiveTable keeps names only: table -> attnum -> name.
    attributes: Mapping[QualifiedName, Mapping[int, str]] = field(default_factory=dict)
    foreign_keys: tuple[ForeignKey, ...] = ()
    view_security_invoker: Mapping[QualifiedName, bool] = field(default_factory=dict)


def read_lint_facts(conn: psycopg.Connection[Any], live: LiveState) -> LintFacts:
    """Five queries: InitPlan-worthy functions, `=` operators, attribute numbers, foreign keys, view options."""
    tables = {table.oid: name for name, table in live.tables.items()}
    views = sorted(view.name for view in live.of("view").objects.values())
    with conn.cursor() as cur:
        cur.execute(query("lint_initplan_functions"))
        initplan = {int(oid): str(signature) for oid, signature in cur.fetchall()}
        cur.execute(query("lint_equality_operators"))
        equality = frozenset(int(oid) for (oid,) in cur.fetchall())
        attributes = {
            tables[oid]: {attnum: column.name for attnum, column in numbered.items()}
            for oid, numbered in read_columns(cur, list(tables)).items()
        }
        cur.execute(query("foreign_keys"), {"oids": list(tables)})
        foreign_keys = tuple(
            ForeignKey(tables[oid], name, tuple(columns), QualifiedName(ref_schema, ref_table))
            for oid, name, columns, ref_schema, ref_table in cur.fetchall()
        )
        cur.execute(query("lint_views"), {"schemas": [v.schema for v in views], "names": [v.name for v in views]})
        invoker = {QualifiedName(schema, name): bool(flag) for schema, name, flag in cur.fetchall()}
    return LintFacts(
        server_version=live.server_version,
        initplan_functions=initplan,
        equality_operators=equality,
        attributes=attributes,
        foreign_keys=foreign_keys,
        view_security_invoker=invoker,
    )
