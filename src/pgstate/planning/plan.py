"""The plan: every kind's steps, ordered by one dependency graph, with a fingerprint of the live state."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

import psycopg

from .. import __version__
from ..db.patience import DEFAULT_LOCK_TIMEOUT
from ..kinds import all_kinds
from ..kinds.context import PlanContext
from ..model.keys import ObjectKey
from ..model.state import LiveState
from ..model.tables import TableSize
from .diff import plain
from .graph import order_steps
from .refusals import Refusal, without_refused
from .steps import Action, Phase, Step

PLAN_FORMAT = "pgstate-plan/1"  # later versions only add keys


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    live: LiveState = field(compare=False, repr=False)  # what the plan was made against
    server_version: int
    lock_timeout: str = DEFAULT_LOCK_TIMEOUT  # what each locking statement runs under
    notices: tuple[str, ...] = ()  # what pgstate cannot do and a person must (a restart, a preload line)
    # Steps the planner will not let run, each with why: shown by plan, refused by apply (planning.refusals).
    refusals: tuple[Refusal, ...] = ()

    @functools.cached_property
    def fingerprint(self) -> str:
        """Of the live state the plan was made against: worked out only when asked for (a saved plan, a run's
        record, a check of one), since it reads every managed object."""
        return fingerprint(self.live)

    @property
    def has_changes(self) -> bool:
        return bool(self.steps)

    @property
    def differs(self) -> bool:
        """Whether anything differs from the desired state: steps to run, or steps refused (plan exits 2)."""
        return bool(self.steps or self.refusals)

    def in_phase(self, phase: Phase) -> list[Step]:
        return [step for step in self.steps if step.phase is phase]

    def to_json(self, conn: psycopg.Connection[Any] | None) -> dict[str, Any]:
        return {
            "format": PLAN_FORMAT,
            "pgstate_version": __version__,
            "fingerprint": self.fingerprint,
            "server_version": self.server_version,
            "lock_timeout": self.lock_timeout,
            "notices": list(self.notices),
            "steps": [step_json(step, conn) for step in self.steps],
            "refusals": [refusal.to_json() for refusal in self.refusals],
        }


def step_json(step: Step, conn: psycopg.Connection[Any] | None) -> dict[str, Any]:
    return {
        "action": str(step.action),
        "kind": step.kind,
        "subject": step.subject.to_json(),
        "target": step.target,
        "table": step.table_label,
        "location": str(step.location) if step.location else None,
        "summary": step.summary,
        "sql": step.printed.as_string(conn),
        "lock": str(step.lock),
        "transactional": step.transactional,
        "phase": step.phase.name.lower(),
        "rewrites": _size(step.rewrites),
        "destroys": _size(step.destroys),
        "hazards": [str(h) for h in step.hazards],
    }


def _size(size: TableSize | None) -> dict[str, int] | None:
    return None if size is None else {"rows": size.rows, "bytes": size.bytes}


def make_plan(context: PlanContext, *, lock_timeout: str = DEFAULT_LOCK_TIMEOUT) -> Plan:
    """Every step that makes the live state the desired one, in one order, and the ones refused beside them."""
    for kind in all_kinds():
        context.steps += kind.plan(context.differences_of(kind.name), context)
    refusals = list(context.refusals)
    steps = order_steps(link_dependents(context, without_refused(context.steps, refusals)))
    notices = [
        finding.message for kind in all_kinds() for finding in kind_notes(kind, context) if finding.cls == "action"
    ]
    return Plan(
        tuple(steps),
        context.live,
        context.live.server_version,
        lock_timeout,
        tuple(dict.fromkeys(notices)),
        tuple(refusals),
    )


def kind_notes(kind: Any, context: PlanContext) -> list[Any]:
    found: list[Any] = kind.notes(context.desired.of(kind.name), context.live.of(kind.name), context)
    return found


# What views and policies may use without the catalog saying so before they exist: every type change, function
# and extension of the plan comes first.
DEFINITIONS_FIRST = frozenset(
    {
        Action.ALTER_COLUMN_TYPE,
        Action.CREATE_FUNCTION,
        Action.REPLACE_FUNCTION,
        Action.CREATE_EXTENSION,
        Action.ALTER_EXTENSION,
    }
)
DEPENDENT_DEFINITIONS = frozenset({Action.CREATE_VIEW, Action.REPLACE_VIEW, Action.CREATE_POLICY, Action.ALTER_POLICY})
# Turning RLS on uses no definition, but it runs right before the table's policies (failing closed, see
# steps.Action) and waits with them: else its ACCESS EXCLUSIVE lock, held until commit, could be taken before the
# type changes of other tables and held through their rewrites.
WAITS_WITH_POLICIES = frozenset({Action.ENABLE_RLS, Action.FORCE_RLS})


def link_dependents(context: PlanContext, steps: list[Step]) -> list[Step]:
    """Edges that come from the live dependencies and from what a new definition may use.

    * A step that drops or changes an object waits for the drops of the live objects in the way of it, and a
      type change for the drops of its table's indexes.
    * Views and policies are created after every type change, function and extension of the plan: which ones
      they use is not always known before they exist. RLS is turned on with them.
    """
    definitions = frozenset(key for step in steps if step.action in DEFINITIONS_FIRST for key in step.makes)
    dropped_indexes: dict[Any, set[ObjectKey]] = {}
    for step in steps:
        if step.action is Action.DROP_INDEX:
            dropped_indexes.setdefault(step.subject.table, set()).add(step.subject)
    linked = []
    for step in steps:
        gone: set[ObjectKey] = set()
        for key in step.drops | (step.makes if step.action in BLOCKED_CHANGES else frozenset()):
            gone.update(dependency.key for dependency in context.dependents_of(key))
        if step.action is Action.ALTER_COLUMN_TYPE:
            # The table's indexes that go anyway go first: the type change would rebuild them for nothing, or
            # fail on one that cannot survive it (lower(a) when a becomes an integer).
            gone.update(dropped_indexes.get(step.subject.table, ()))
        needs = definitions if step.action in DEPENDENT_DEFINITIONS | WAITS_WITH_POLICIES else frozenset()
        if gone or needs:
            step = replace(step, needs_gone=step.needs_gone | gone, needs_done=step.needs_done | (needs - step.makes))
        linked.append(step)
    return linked


# Changes of an object in place that its dependents block (PostgreSQL refuses the type change of a column a view
# or policy uses); drops are blocked by every dependent.
BLOCKED_CHANGES = frozenset({Action.ALTER_COLUMN_TYPE})


def fingerprint(live: LiveState) -> str:
    """A digest of the live definitions of every managed object of every kind (not of sizes or statistics, which
    change all the time), of the dependents in the way, and of the session's search_path (expressions are
    deparsed under it)."""
    state: dict[str, Any] = {
        "search_path": live.server.search_path,
        "server_version": live.server.version,
        "tables": sorted(str(name) for name in live.tables),
        "dependencies": [[str(d.key), str(d.parent), str(d.root)] for d in live.dependencies],
    }
    for kind in all_kinds():
        objects = live.of(kind.name).objects
        state[kind.name] = {repr(key.parts): plain(obj) for key, obj in sorted(objects.items())}
    # repr of plain data (dicts in a fixed order, strings, numbers, lists) is as stable as JSON, and faster.
    return hashlib.sha256(repr(state).encode()).hexdigest()
