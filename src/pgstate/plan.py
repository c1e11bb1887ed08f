"""The plan: changes from every kind, ordered by one dependency graph, with a fingerprint of the live state."""

from __future__ import annotations

import hashlib
import heapq
import json
from dataclasses import dataclass, replace
from typing import Any

import psycopg

from .change import Action, Change, Phase
from .errors import PgstateError
from .kinds import TableContext, all_kinds, global_kinds
from .kinds.functions import recreated as recreated_functions
from .model import DesiredState, LiveState, LiveTable

# The order of the Action enum (see its docstring for why).
ACTION_ORDER = list(Action)


@dataclass(frozen=True)
class Plan:
    changes: tuple[Change, ...]
    fingerprint: str
    server_version: int
    lock_timeout: str = "2s"  # what each locking statement runs under
    notices: tuple[str, ...] = ()  # what pgstate cannot do and a person must (a restart, a preload line)

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    def in_phase(self, phase: Phase) -> list[Change]:
        return [c for c in self.changes if c.phase is phase]

    def to_json(self, conn: psycopg.Connection[Any] | None) -> dict[str, Any]:
        return {
            "format": "pgstate-plan/1",
            "fingerprint": self.fingerprint,
            "server_version": self.server_version,
            "lock_timeout": self.lock_timeout,
            "notices": list(self.notices),
            "steps": [step_json(change, conn) for change in self.changes],
        }


def step_json(change: Change, conn: psycopg.Connection[Any] | None) -> dict[str, Any]:
    return {
        "action": str(change.action),
        "target": change.target,
        "table": change.table,
        "summary": change.summary,
        "sql": change.statement.as_string(conn),
        "lock": str(change.lock),
        "transactional": change.transactional,
        "phase": change.phase.name.lower(),
        "rewrites": None if change.rewrites is None else {"rows": change.rewrites.rows, "bytes": change.rewrites.bytes},
        "hazards": [str(h) for h in change.hazards],
    }


def make_plan(desired: DesiredState, live: LiveState, *, lock_timeout: str = "2s") -> Plan:
    """Every change that makes the live state the desired one; refuses declared tables or columns that are missing."""
    check_declared_objects_exist(desired, live)
    changes: list[Change] = []
    notices: list[str] = []
    for global_kind in global_kinds():
        changes.extend(global_kind.plan(desired, live))
        if global_kind.notices is not None:
            notices.extend(global_kind.notices(desired, live))
    for context in table_contexts(desired, live):
        for kind in all_kinds():
            changes.extend(kind.plan(context))
    return Plan(
        tuple(order_changes(link_across_kinds(changes))),
        fingerprint(desired, live),
        live.server_version,
        lock_timeout,
        tuple(notices),
    )


def link_across_kinds(changes: list[Change]) -> list[Change]:
    """Edges between kinds, which no kind can see alone.

    * Indexes and policies dropped from a table whose column types change are dropped before the change: it
      would otherwise rebuild an index for nothing, or fail on it (``lower(a)`` when ``a`` becomes an integer),
      and PostgreSQL refuses to change the type of a column a policy uses.
    * Indexes created inside the transaction are created after the table's type changes, on the new types.
    * Views and policies are created after every type change and function they could read or call: which
      ones they use is not known before they exist, so they wait for all of them.
    """
    drops: dict[str, list[str]] = {}
    type_changes: dict[str, list[str]] = {}
    definitions: list[str] = []  # what views and policies may depend on
    for change in changes:
        if change.action in (Action.DROP_INDEX, Action.DROP_POLICY):
            drops.setdefault(change.table, []).append(change.key)
        elif change.action is Action.ALTER_COLUMN_TYPE:
            type_changes.setdefault(change.table, []).append(change.key)
        if change.action in (
            Action.ALTER_COLUMN_TYPE,
            Action.CREATE_FUNCTION,
            Action.REPLACE_FUNCTION,
            Action.CREATE_EXTENSION,
        ):
            definitions.append(change.key)
    linked = []
    for change in changes:
        if change.action is Action.ALTER_COLUMN_TYPE:
            change = replace(change, after=(*change.after, *drops.get(change.table, ())))
        elif change.action is Action.CREATE_INDEX:
            change = replace(change, after=(*change.after, *type_changes.get(change.table, ())))
        elif change.action in DEPENDENT_DEFINITIONS:
            change = replace(change, after=(*change.after, *definitions))
        linked.append(change)
    return linked


DEPENDENT_DEFINITIONS = (Action.CREATE_VIEW, Action.REPLACE_VIEW, Action.CREATE_POLICY, Action.ALTER_POLICY)


def table_contexts(desired: DesiredState, live: LiveState) -> list[TableContext]:
    recreated = recreated_functions(desired, live)
    managed = live.managed_settings
    return [
        TableContext(
            table,
            live.tables[name],
            live.relations,
            recreated,
            {
                setting: value
                for (scope, obj, setting), value in managed.items()
                if scope == "table" and obj == str(name)
            },
            frozenset(desired.absent_indexes),
        )
        for name, table in sorted(desired.tables.items())
        if table.present and name in live.tables
    ]


def check_declared_objects_exist(desired: DesiredState, live: LiveState) -> None:
    for name, table in sorted(desired.tables.items()):
        if not table.present:
            continue
        found = live.tables.get(name)
        if found is None:
            raise PgstateError(
                f"table {name} is declared but does not exist",
                location=table.location,
                hint="pgstate never creates tables: create it with the application's migrations, or remove the file",
            )
        if found.partitioned and table.indexes is not None:
            raise PgstateError(
                f"table {name} is partitioned: its indexes cannot be built CONCURRENTLY, and pgstate does not"
                " manage them yet",
                location=table.location,
                hint="remove `indexes:` for this table (its column types can still be managed)",
            )
        for column in table.columns:
            if column.name not in found.columns:
                raise PgstateError(
                    f"column {column.name!r} of table {name} is declared but does not exist",
                    location=column.location,
                    hint="pgstate never creates columns: add it with the application's migrations",
                )


def order_changes(changes: list[Change]) -> list[Change]:
    """Topological order over the ``after`` edges; among ready steps, phase, then action, then target first.

    Raises if two steps depend on each other, naming them.
    """
    by_key = {change.key: change for change in changes}
    if len(by_key) != len(changes):
        twice = sorted(key for key in by_key if sum(c.key == key for c in changes) > 1)
        raise PgstateError(
            f"the plan has the same step twice: {', '.join(twice)}",
            hint="two desired objects map to the same live object; rename one",
        )
    waiting_on = {key: {dep for dep in change.after if dep in by_key} for key, change in by_key.items()}
    dependents: dict[str, list[str]] = {key: [] for key in by_key}
    for key, deps in waiting_on.items():
        for dep in deps:
            dependents[dep].append(key)

    def priority(key: str) -> tuple[int, int, str]:
        change = by_key[key]
        return (change.phase.value, ACTION_ORDER.index(change.action), change.target)

    ready = [(priority(key), key) for key, deps in waiting_on.items() if not deps]
    heapq.heapify(ready)
    ordered: list[Change] = []
    while ready:
        _, key = heapq.heappop(ready)
        ordered.append(by_key[key])
        for dependent in dependents[key]:
            waiting_on[dependent].discard(key)
            if not waiting_on[dependent]:
                heapq.heappush(ready, (priority(dependent), dependent))
    if len(ordered) != len(changes):
        stuck = sorted(key for key, deps in waiting_on.items() if deps)
        raise PgstateError(f"the plan has a dependency cycle between: {', '.join(stuck)}")
    return ordered


def fingerprint(desired: DesiredState, live: LiveState) -> str:
    """A digest of the live definitions of the managed objects (not their sizes, which change all the time)."""
    state: dict[str, Any] = {
        str(name): live_table_digest(live.tables[name]) if name in live.tables else None
        for name in sorted(desired.tables)
    }
    # Expressions are deparsed under the session's search_path: a different one may spell them differently.
    state["search_path"] = live.search_path
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()


def live_table_digest(table: LiveTable) -> dict[str, Any]:
    return {
        "columns": {name: column.type for name, column in sorted(table.columns.items())},
        "indexes": {
            name: [index.describe(), index.valid, index.constraint] for name, index in sorted(table.indexes.items())
        },
    }
