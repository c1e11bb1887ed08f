"""Verifying candidates with hypopg: each one's estimated effect on the statements that read its table, weighted
by their calls, and a greedy choice under a budget. Hypothetical indexes live in this session's memory only (and
hypopg itself, when it was not created here, only in the advisor's transaction, which is rolled back)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from .candidates import Candidate
from .explain import NotPlannable, Planned, Planner, nodes
from .workload import ExistingIndex, Statement

MIN_GAIN = 0.10  # a proposal must save at least a tenth of the estimated cost of the statements it serves


def index_statement(candidate: Candidate, name: str | None = None) -> sql.Composed:
    """CREATE INDEX for a candidate, every identifier quoted by psycopg."""
    keys = sql.SQL(", ").join(
        sql.SQL("{}{}{}").format(
            sql.Identifier(key.column),
            sql.SQL(" DESC") if key.descending else sql.SQL(""),
            sql.SQL("") if key.nulls_first is None else sql.SQL(" NULLS FIRST" if key.nulls_first else " NULLS LAST"),
        )
        for key in candidate.keys
    )
    statement = sql.SQL("CREATE INDEX {name}ON {table} USING {method} ({keys})").format(
        name=sql.SQL("{} ").format(sql.Identifier(name)) if name else sql.SQL(""),
        table=candidate.table.identifier(),
        method=sql.Identifier(candidate.method),
        keys=keys,
    )
    if candidate.include:
        statement += sql.SQL(" INCLUDE ({})").format(sql.SQL(", ").join(map(sql.Identifier, candidate.include)))
    if candidate.where:
        statement += sql.SQL(" WHERE ") + predicate(candidate.where)
    return statement


def predicate(terms: Sequence[tuple[str, str]]) -> sql.Composed:
    forms = {"IS NULL": "{} IS NULL", "IS NOT NULL": "{} IS NOT NULL", "true": "{}", "false": "NOT {}"}
    return sql.SQL(" AND ").join(sql.SQL(forms[form]).format(sql.Identifier(column)) for column, form in terms)


@dataclass
class Costs:
    """The estimated cost of each statement that could be planned, now (with what is chosen so far)."""

    planned: dict[Statement, Planned] = field(default_factory=dict)

    def weighted(self, statements: Sequence[Statement]) -> float:
        return sum(self.planned[s].cost * s.calls for s in statements if s in self.planned)


@dataclass(frozen=True)
class Verified:
    candidate: Candidate
    before: dict[Statement, float]  # estimated cost of each statement it serves, before and after
    after: dict[Statement, float]
    uses: tuple[Statement, ...]  # the statements whose plan uses it

    @property
    def gain(self) -> float:
        before = sum(cost * s.calls for s, cost in self.before.items())
        after = sum(cost * s.calls for s, cost in self.after.items())
        return 0.0 if before == 0 else (before - after) / before


class Hypothetical:
    def __init__(self, conn: psycopg.Connection[Any], planner: Planner):
        self.conn = conn
        self.planner = planner

    def create(self, candidate: Candidate) -> tuple[int, str]:
        text = index_statement(candidate).as_string(self.conn)
        row = self.conn.execute("SELECT indexrelid, indexname FROM hypopg_create_index(%s)", [text]).fetchone()
        assert row is not None
        return int(row[0]), str(row[1])

    def drop(self, oid: int) -> None:
        self.conn.execute("SELECT hypopg_drop_index(%s::oid)", [oid])

    def hide(self, index: ExistingIndex) -> None:
        self.conn.execute("SELECT hypopg_hide_index(%s::oid)", [index.oid])

    def unhide(self, index: ExistingIndex) -> None:
        self.conn.execute("SELECT hypopg_unhide_index(%s::oid)", [index.oid])

    def replan(self, statements: Sequence[Statement]) -> dict[Statement, Planned]:
        planned = {}
        for statement in statements:
            try:
                planned[statement] = self.planner.plan(statement.text)
            except NotPlannable:
                continue
        return planned

    def choose(
        self,
        found: dict[Candidate, list[Statement]],
        costs: Costs,
        budget: int,
        progress: Callable[[], None] = lambda: None,
    ) -> list[Verified]:
        """Greedily, the candidate that saves most of the weighted cost of the statements it serves, kept as a
        hypothetical index while the next is chosen, until the budget or until none saves ``MIN_GAIN``."""
        chosen: list[Verified] = []
        remaining = dict(found)
        while remaining and len(chosen) < budget:
            best: tuple[float, Verified, dict[Statement, Planned]] | None = None
            for candidate, statements in remaining.items():
                progress()
                oid, name = self.create(candidate)
                try:
                    after = self.replan(statements)
                finally:
                    self.drop(oid)
                users = tuple(s for s, plan in after.items() if _uses(plan, name))
                if not users:
                    continue
                verified = Verified(
                    candidate,
                    {s: costs.planned[s].cost for s in statements if s in costs.planned and s in after},
                    {s: plan.cost for s, plan in after.items() if s in costs.planned},
                    users,
                )
                saved = costs.weighted(statements) - sum(plan.cost * s.calls for s, plan in after.items())
                if verified.gain >= MIN_GAIN and (best is None or saved > best[0]):
                    best = (saved, verified, after)
            if best is None:
                break
            _, verified, after = best
            self.create(verified.candidate)  # kept: the next choice is made with it in place
            costs.planned.update(after)
            chosen.append(verified)
            del remaining[verified.candidate]
            remaining = {
                c: s
                for c, s in remaining.items()
                if c.table != verified.candidate.table or not _covered(c, verified.candidate)
            }
        return chosen


def _uses(plan: Planned, index_name: str) -> bool:
    return any(node.get("Index Name") == index_name for node in nodes(plan.root))


def _covered(candidate: Candidate, chosen: Candidate) -> bool:
    """A candidate whose keys the chosen one starts with serves nothing more."""
    return chosen.columns[: len(candidate.columns)] == candidate.columns and candidate.where == chosen.where
