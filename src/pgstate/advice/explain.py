"""Generic plans of normalised statements, as the serving role when asked, in a transaction that is rolled back.

A normalised statement has ``$1``, ``$2`` where its constants were. PostgreSQL 16+ plans it as it stands
(``EXPLAIN (GENERIC_PLAN)``); on 14 and 15 it is prepared and its generic plan explained
(``plan_cache_mode = force_generic_plan``, every parameter NULL: a generic plan does not look at them). Nothing is
run: EXPLAIN without ANALYZE only plans. The statement text is the server's own (pg_stat_statements), so it goes to
the server as it is, the one place pgstate sends SQL it did not compose: in a savepoint of a transaction that is
never committed, and read-only whenever nothing has to be created (hypopg).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

GENERIC_PLAN_SINCE = 160000


@dataclass(frozen=True)
class Planned:
    """A statement's generic plan: the root node (EXPLAIN's JSON), its estimated total cost."""

    root: dict[str, Any]

    @property
    def cost(self) -> float:
        return float(self.root["Total Cost"])


class NotPlannable(Exception):
    """The server would not plan the statement (as this role, or at all): its message says why."""


@dataclass(frozen=True)
class Persona:
    """Who the statements are planned as: a role and its JWT claims (Supabase's ``request.jwt.claims``)."""

    role: str | None = None
    claims: str | None = None  # JSON text

    def set_claims(self, conn: psycopg.Connection[Any]) -> None:
        """The claims for this transaction both ways Supabase has set them: the JSON in ``request.jwt.claims``
        (PostgREST 9+) and each top-level claim in ``request.jwt.claim.<name>`` (older projects' ``auth.uid()``
        reads ``request.jwt.claim.sub``). One statement."""
        if self.claims is None:
            return
        names, values = ["request.jwt.claims"], [self.claims]
        parsed = json.loads(self.claims)
        if isinstance(parsed, dict):
            for key, value in parsed.items():
                if not isinstance(value, dict | list):
                    names.append(f"request.jwt.claim.{key}")
                    values.append("" if value is None else value if isinstance(value, str) else json.dumps(value))
        conn.execute(
            "SELECT set_config(name, value, true) FROM unnest(%s::text[], %s::text[]) AS claim(name, value)",
            [names, values],
        )


class Planner:
    """Plans statements on one connection, inside the advisor's transaction."""

    def __init__(self, conn: psycopg.Connection[Any], persona: Persona):
        self.conn = conn
        self.persona = persona
        self.generic = conn.info.server_version >= GENERIC_PLAN_SINCE
        self.count = 0

    def plan(self, text: str) -> Planned:
        self.count += 1
        try:
            with self.conn.transaction(), self._as_persona():
                if self.generic:
                    found = self._explain(sql.SQL("EXPLAIN (GENERIC_PLAN, VERBOSE, FORMAT JSON) ") + sql.SQL(text))
                else:
                    found = self._prepared(text)
        except psycopg.Error as error:
            raise NotPlannable(" ".join(str(error).split())) from error
        return Planned(found)

    def _prepared(self, text: str) -> dict[str, Any]:
        name = sql.Identifier(f"pgstate_advise_{self.count}")
        self.conn.execute(sql.SQL("PREPARE {} AS ").format(name) + sql.SQL(text))
        try:
            (types,) = self.conn.execute(
                "SELECT cardinality(parameter_types) FROM pg_prepared_statements WHERE name = %s",
                [f"pgstate_advise_{self.count}"],
            ).fetchone() or (0,)
            self.conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            nulls = sql.SQL(", ").join([sql.NULL] * int(types))
            arguments = sql.SQL("({})").format(nulls) if types else sql.SQL("")
            return self._explain(sql.SQL("EXPLAIN (VERBOSE, FORMAT JSON) EXECUTE {}{}").format(name, arguments))
        finally:
            self.conn.execute(sql.SQL("DEALLOCATE {}").format(name))

    def _explain(self, statement: sql.Composed) -> dict[str, Any]:
        row = self.conn.execute(statement).fetchone()
        assert row is not None  # EXPLAIN returns one row
        found = row[0]
        document = json.loads(found) if isinstance(found, str) else found
        return dict(document[0]["Plan"])

    @contextmanager
    def _as_persona(self) -> Iterator[None]:
        self.persona.set_claims(self.conn)
        if self.persona.role is None:
            yield
            return
        self.conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(self.persona.role)))
        try:
            yield
        finally:
            if self.conn.info.transaction_status != psycopg.pq.TransactionStatus.INERROR:
                self.conn.execute("RESET ROLE")


def nodes(root: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every node of a plan, the root first, InitPlans and SubPlans included."""
    yield root
    for child in root.get("Plans", ()):
        yield from nodes(child)
