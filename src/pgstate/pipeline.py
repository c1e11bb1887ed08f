"""The flow every verb shares: read the desired files into specs, read the live state in one snapshot, have the
server canonicalise the specs, compare once; plan and drift both start from that comparison."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from .catalog.snapshot import read_blocked, read_live, retrying_reads
from .db.patience import DEFAULT_RETRIES
from .errors import InvalidDesiredState, PgstateError
from .kinds import all_kinds
from .kinds.context import PlanContext
from .model.names import QualifiedName
from .model.state import DesiredState, LiveState
from .planning.compare import compare
from .planning.plan import Plan, make_plan
from .planning.refusals import raise_first
from .sandbox.copies import RETYPED_IN_BATCH, RETYPED_TABLES, ROUND_TABLES
from .sandbox.locks import LOCKS_PER_COPY, round_budget
from .sandbox.session import Sandbox
from .source.documents import SpecSet, read_specs
from .source.loader import iter_documents


def load_desired(directory: Path, *, default_schema: str | None = None, overlay: Path | None = None) -> SpecSet:
    """Read and validate every desired file; raises InvalidDesiredState with all problems, before any database.
    ``default_schema`` (pgstate.toml's ``schema``) is the schema of documents that name none; else public.
    ``overlay``: a target's directory merged over ``directory`` (source.overlay), validated the same way."""
    if not directory.is_dir():
        raise PgstateError(
            f"desired directory {directory} does not exist", hint="pass --desired DIR, or create ./desired"
        )
    syntax: list[PgstateError] = []
    documents = iter_documents(directory, syntax)
    if overlay is not None:
        from .source.overlay import check_overlay, overlaid

        check_overlay(directory, overlay)
        documents = overlaid(documents, list(iter_documents(overlay, syntax)), default_schema)
    try:
        specs = read_specs(documents, directory, release_positions=True, default_schema=default_schema)
    except InvalidDesiredState:
        if not syntax:
            raise
    if syntax:  # a file YAML could not read: its problems alone, as load_documents reports them
        raise InvalidDesiredState(syntax)
    return specs


@dataclass(frozen=True)
class State:
    """Both states of one command, and their comparison."""

    specs: SpecSet
    desired: DesiredState
    live: LiveState
    context: PlanContext


def read_state(
    conn: psycopg.Connection[Any],
    specs: SpecSet,
    *,
    lock_timeout: str,
    retries: int = DEFAULT_RETRIES,
    keep_refusals: bool = False,
    canonicalize_on: psycopg.Connection[Any] | None = None,
) -> State:
    """Both states and their comparison; a read that meets a table held exclusively is tried again, at most
    ``retries`` more times, each attempt waiting at most ``lock_timeout``. A refused change raises Refused
    unless ``keep_refusals`` (planning.refusals). ``canonicalize_on``: the primary of a hot standby ``conn`` is,
    where the server parses the desired fragments (a standby cannot create the objects that takes)."""

    def attempt() -> tuple[LiveState, DesiredState]:
        live = read_live(conn, specs, lock_timeout=lock_timeout)
        return live, canonicalize(conn, specs, live, lock_timeout=lock_timeout, on=canonicalize_on)

    live, desired = retrying_reads(attempt, retries)
    return State(specs, desired, live, compare(desired, live, specs, keep_refusals=keep_refusals))


def plan_for(
    conn: psycopg.Connection[Any],
    specs: SpecSet,
    *,
    lock_timeout: str,
    retries: int = DEFAULT_RETRIES,
    keep_refusals: bool = False,
    canonicalize_on: psycopg.Connection[Any] | None = None,
) -> tuple[State, Plan]:
    """The state and the plan; raises InvalidDesiredState naming every declared thing the catalog contradicts,
    and Refused (exit 3) for a step the planner will not let run, unless ``keep_refusals``: then the plan
    carries them (``plan`` shows them beside the steps that would run)."""
    state = read_state(
        conn,
        specs,
        lock_timeout=lock_timeout,
        retries=retries,
        keep_refusals=keep_refusals,
        canonicalize_on=canonicalize_on,
    )
    problems = [
        problem
        for kind in all_kinds()
        for problem in kind.problems(state.context.differences_of(kind.name), state.context)
    ]
    if problems:
        raise InvalidDesiredState(problems)
    plan = make_plan(state.context, lock_timeout=lock_timeout)
    if not keep_refusals:
        raise_first(plan.refusals)
    return state, plan


def canonicalize(
    conn: psycopg.Connection[Any],
    specs: SpecSet,
    live: LiveState,
    *,
    lock_timeout: str,
    on: psycopg.Connection[Any] | None = None,
) -> DesiredState:
    """Every kind's desired objects as the server spells them. Kinds of functions, views, the database and roles
    first (policies may call a new function), then the kinds of table objects, table by table in rounds (a
    table's temporary copy is named as the table, so two tables of one name go to different rounds)."""
    try:
        return _canonicalize(on or conn, specs, live, lock_timeout=lock_timeout, elsewhere=on is not None)
    except psycopg.errors.LockNotAvailable:
        raise read_blocked(on or conn, lock_timeout, "copying the managed tables to parse the desired state") from None


def _canonicalize(
    conn: psycopg.Connection[Any], specs: SpecSet, live: LiveState, *, lock_timeout: str, elsewhere: bool
) -> DesiredState:
    # The documents of the kinds canonicalised before the tables' (functions a policy may call): part of what a
    # cached canonical form rests on.
    sources = [header.data for header in specs.headers if header.kind != "table"]
    sandbox = Sandbox(conn, live, lock_timeout, sources=sources, elsewhere=elsewhere)
    results: dict[str, Any] = {}
    try:
        for kind in all_kinds():
            if kind.document != "table":
                results[kind.name] = kind.canonicalize(sandbox, specs.of(kind.name), live.of(kind.name))
                sandbox.desired[kind.name] = results[kind.name]
        parts: dict[str, list[Any]] = defaultdict(list)
        budget = round_budget(live.server.max_locks_per_transaction)
        rounds = [frozenset(tables) for tables in table_rounds(specs, budget)]
        for kind in all_kinds():
            if kind.document == "table":
                kind.prefetch(sandbox, specs.of(kind.name), live.of(kind.name), rounds)
        # The tables the batch could not take go first, together: few rounds open a savepoint and read back.
        first = frozenset(sandbox.facts.get(ROUND_TABLES, ()))
        if first:
            # The retyped tables the batch made the type changes of need no second copy in the rounds.
            retyped = frozenset(sandbox.facts.get(RETYPED_TABLES, ())) - set(sandbox.facts.get(RETYPED_IN_BATCH, ()))
            rounds = [frozenset(tables) for tables in table_rounds(specs, budget, first=first, retyped=retyped)]
        round_of = {table: number for number, tables in enumerate(rounds) for table in tables}
        in_round: dict[tuple[str, int], list[Any]] = defaultdict(list)  # (kind, round) -> specs, in file order
        for kind in all_kinds():
            if kind.document == "table":
                for spec in specs.of(kind.name):
                    if spec.key.table in round_of:
                        in_round[kind.name, round_of[spec.key.table]].append(spec)
        for number in range(len(rounds)):
            with sandbox.in_round(number):
                for kind in all_kinds():
                    if kind.document == "table":
                        found = kind.canonicalize(sandbox, in_round[kind.name, number], live.of(kind.name))
                        parts[kind.name].append(found)
                        sandbox.desired[kind.name] = found
        for kind in all_kinds():
            if kind.document == "table":
                joined = (
                    merge(parts[kind.name]) if parts[kind.name] else kind.canonicalize(sandbox, (), live.of(kind.name))
                )
                results[kind.name] = kind.finish(sandbox, joined, live.of(kind.name))
    finally:
        sandbox.close()
    sandbox.problems.raise_if_any()
    sandbox.cache.flush()
    return DesiredState(results, specs.files)


def table_rounds(
    specs: SpecSet,
    budget: int | None = None,
    *,
    first: frozenset[QualifiedName] = frozenset(),
    retyped: frozenset[QualifiedName] = frozenset(),
) -> list[set[QualifiedName]]:
    """The managed tables in rounds where no two share a name (in different schemas), each round's copies taking
    at most ``budget`` locks (None: no bound). A plan of thousands of tables must not run a default server out of
    lock slots (``out of shared memory``): pg_dump, which locks every table, copes with the same catalog.

    ``first``: tables placed before the others, so that they share as few rounds as the budget allows;
    ``retyped``: tables whose column types change in the rounds, whose locks count four times: a second copy
    projects their live indexes, and a type change that rewrites a copy or rebuilds its indexes locks the new
    relations beside the old (measured: 35 locks for such a table with two indexes and a policy, 9 counted
    once)."""
    weight = _locks_per_table(specs)
    for table in retyped:
        weight[table] = 4 * weight.get(table, LOCKS_PER_COPY)
    rounds: list[set[QualifiedName]] = []
    names: list[set[str]] = []
    locks: list[int] = []
    placed: set[QualifiedName] = set()
    first_open = 0  # the rounds before it cannot take another table: every table costs LOCKS_PER_COPY at least
    for header in sorted(specs.headers, key=lambda header: header.qualified not in first):  # stable: file order
        table = header.qualified
        if header.kind != "table" or table in placed:
            continue
        placed.add(table)
        cost = weight.get(table, LOCKS_PER_COPY)
        for number in range(first_open, len(rounds)):
            fits = budget is None or locks[number] + cost <= budget
            if table.name not in names[number] and fits:
                rounds[number].add(table)
                names[number].add(table.name)
                locks[number] += cost
                break
        else:
            rounds.append({table})
            names.append({table.name})
            locks.append(cost)
        while budget is not None and first_open < len(rounds) and locks[first_open] + LOCKS_PER_COPY > budget:
            first_open += 1
    return rounds or [set()]


def _locks_per_table(specs: SpecSet) -> dict[QualifiedName, int]:
    weight: dict[QualifiedName, int] = defaultdict(lambda: LOCKS_PER_COPY)
    for spec in specs.of("index"):
        weight[spec.table] += len(spec.entries or ())
    return dict(weight)


def merge(parts: Sequence[Any]) -> Any:
    """One kind's Desired from its rounds: the same type, every mapping and set joined."""
    import dataclasses

    first = parts[0]
    if len(parts) == 1:
        return first
    values: dict[str, Any] = {}
    for field in dataclasses.fields(first):
        items = [getattr(part, field.name) for part in parts]
        if isinstance(items[0], frozenset):
            values[field.name] = frozenset().union(*items)
        else:
            joined: dict[Any, Any] = {}
            for item in items:
                joined.update(item)
            values[field.name] = joined
    return type(first)(**values)


__all__ = [
    "LOCKS_PER_COPY",
    "InvalidDesiredState",
    "State",
    "canonicalize",
    "load_desired",
    "plan_for",
    "read_state",
    "round_budget",
]
