"""The planner without a database: the keyed diff, typed steps and their checked edges, one graph across kinds,
drift and plan agreeing, the fingerprint. States are built from model objects, as both sides become them."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from psycopg import sql

from pgstate.errors import PgstateError
from pgstate.kinds import all_kinds, kind_named
from pgstate.kinds.base import REGISTRY, Desired, Live, register
from pgstate.kinds.column import Column, ColumnLive
from pgstate.kinds.column import key_of as column_key
from pgstate.kinds.index.canonical import IndexDesired
from pgstate.kinds.index.model import Index, IndexKey
from pgstate.kinds.index.model import key_of as index_key
from pgstate.kinds.policy import Policy
from pgstate.kinds.table import Table, TableLive
from pgstate.kinds.table import key_of as table_key
from pgstate.model.keys import ObjectKey
from pgstate.model.names import QualifiedName
from pgstate.model.state import Dependency, DesiredState, LiveState, ServerFacts
from pgstate.model.tables import ColumnFacts, TableFacts, TableSize
from pgstate.planning.compare import compare
from pgstate.planning.drift import find_drift
from pgstate.planning.graph import PlanGraphError, order_steps
from pgstate.planning.plan import fingerprint, make_plan
from pgstate.planning.steps import Action, Lock, Phase, Step, StepId
from pgstate.source.documents import read_specs
from pgstate.source.loader import load_text

T = QualifiedName("public", "t")
U = QualifiedName("public", "u")


def specs(text: str) -> Any:
    return read_specs(load_text(text, "desired.yaml"), None)


def facts(name: QualifiedName, oid: int, *columns: tuple[str, str]) -> TableFacts:
    by_attnum = {n: ColumnFacts(c, n, t, None, 100 if t == "text" else 0, False) for n, (c, t) in enumerate(columns, 1)}
    return TableFacts(name, oid, TableSize(10, 8192), {c.name: c for c in by_attnum.values()}, by_attnum=by_attnum)


def state(
    tables: list[TableFacts], kinds: dict[str, Any] | None = None, dependencies: tuple[Dependency, ...] = ()
) -> LiveState:
    lives: dict[str, Any] = {kind.name: kind.live_type({}) for kind in all_kinds()}
    lives["table"] = TableLive({table_key(t.name): Table(t.name) for t in tables}, {})
    lives["column"] = ColumnLive(
        {column_key(t.name, c.name): Column(t.name, c.name, c.type) for t in tables for c in t.by_attnum.values()}
    )
    lives.update(kinds or {})
    return LiveState(ServerFacts(180000, "public", "app"), {t.name: t for t in tables}, lives, dependencies)


def desired(live: LiveState, **kinds: Any) -> DesiredState:
    found: dict[str, Any] = {kind.name: kind.desired_type({}) for kind in all_kinds()}
    found.update(kinds)
    return DesiredState(found)


def step(action: Action, subject: ObjectKey, phase: Phase = Phase.TRANSACTION, **fields: Any) -> Step:
    return Step(action, subject, sql.SQL("SELECT 1"), Lock.NONE, phase, "summary", **fields)


# --- one graph -----------------------------------------------------------------------------------------------


def test_an_edge_to_a_step_that_does_not_exist_is_an_error() -> None:
    a = step(Action.CREATE_POLICY, ObjectKey("policy", ("public", "t", "p")))
    missing = StepId(Action.DROP_POLICY, ObjectKey("policy", ("public", "t", "q")))
    with pytest.raises(PlanGraphError, match="which the plan does not have"):
        order_steps([replace(a, after=(missing,))])


def test_an_edge_against_the_phase_order_is_an_error() -> None:
    function = ObjectKey("function", ("public", "f", "integer"))
    made = step(Action.CREATE_FUNCTION, function)
    build = step(Action.BUILD_INDEX, index_key(T, "i"), Phase.BUILD, needs_done=frozenset({function}))
    with pytest.raises(PlanGraphError, match="runs in a later phase"):
        order_steps([made, build])


def test_a_cycle_names_its_steps() -> None:
    a = step(Action.DROP_POLICY, ObjectKey("policy", ("public", "t", "a")))
    b = step(Action.DROP_VIEW, ObjectKey("view", ("public", "v")))
    with pytest.raises(PlanGraphError, match=r"cycle between: drop-policy public\.t\.a, drop-view public\.v"):
        order_steps([replace(a, after=(b.id,)), replace(b, after=(a.id,))])


def test_the_same_step_twice_is_an_error() -> None:
    a = step(Action.DROP_VIEW, ObjectKey("view", ("public", "v")))
    with pytest.raises(PgstateError, match="the same step twice"):
        order_steps([a, a])


def test_edges_override_the_action_order() -> None:
    """A retirement is late in the action order, but a type change that needs its table's policy gone waits."""
    policy = ObjectKey("policy", ("public", "u", "p"))
    retire = step(Action.RETIRE_TABLE, table_key(U), also_drops=frozenset({policy}))
    alter = step(Action.ALTER_COLUMN_TYPE, column_key(T, "a"), needs_gone=frozenset({policy}))
    view = step(Action.CREATE_VIEW, ObjectKey("view", ("public", "v")), needs_done=frozenset({column_key(T, "a")}))
    assert [s.action for s in order_steps([view, alter, retire])] == [
        Action.RETIRE_TABLE,
        Action.ALTER_COLUMN_TYPE,
        Action.CREATE_VIEW,
    ]


def test_the_registry_refuses_a_kind_registered_twice() -> None:
    with pytest.raises(RuntimeError, match="registered twice"):
        register(REGISTRY["index"])


# --- the keyed diff, plan and drift ------------------------------------------------------------------------------


def _index(name: str, *columns: str, table: QualifiedName = T) -> Index:
    return Index(table, name, tuple(IndexKey(column=c) for c in columns))


def test_prune_removes_and_without_it_an_undeclared_index_is_information() -> None:
    live = state(
        [facts(T, 1, ("a", "integer"), ("b", "integer"))],
        {"index": Live({index_key(T, "t_a"): _index("t_a", "a"), index_key(T, "t_b"): _index("t_b", "b")})},
    )
    for prune, steps in ((True, ["drop-index public.t_b"]), (False, [])):
        found = specs(f"table: t\nindexes:\n  - {{name: t_a, columns: [a]}}\nprune_indexes: {str(prune).lower()}\n")
        wanted = desired(live, index=IndexDesired({index_key(T, "t_a"): _index("t_a", "a")}, {}, {}, {T: prune}))
        context = compare(wanted, live, found)
        plan = make_plan(context)
        assert [f"{s.action} {s.target}" for s in plan.steps] == steps
        findings = find_drift(context)
        # Plan and drift start from the same differences: drift counts exactly what the plan changes.
        assert bool([f for f in findings if f.counts]) == plan.has_changes
        assert [f.finding for f in findings if not f.counts] == ([] if prune else ["unmanaged-index"])


def test_a_changed_index_is_one_difference_with_its_fields() -> None:
    live = state([facts(T, 1, ("a", "integer"))], {"index": Live({index_key(T, "t_a"): _index("t_a", "a")})})
    changed = replace(_index("t_a", "a"), keys=(IndexKey(column="a", descending=True, nulls_first=True),))
    context = compare(
        desired(live, index=IndexDesired({index_key(T, "t_a"): changed}, {}, {}, {T: False})), live, specs("table: t\n")
    )
    [difference] = context.differences["index"]
    assert [f.field for f in difference.fields] == ["keys[0].descending", "keys[0].nulls_first"]
    plan = make_plan(context)
    assert [s.action for s in plan.steps] == [Action.BUILD_INDEX, Action.DROP_INDEX, Action.RENAME_INDEX]


def test_a_policy_of_another_table_in_the_way_of_a_type_change_is_dropped_and_created_around_it() -> None:
    policy_key = ObjectKey("policy", ("public", "u", "p"), "public.u.p")
    policy = Policy(U, "p", "all", ("public",), True, "(a = 1)", None)
    live = state(
        [facts(T, 1, ("a", "integer"))],
        {"policy": Live({policy_key: policy})},
        (Dependency(policy_key, column_key(T, "a"), column_key(T, "a"), "policy p on table u", True),),
    )
    wanted = desired(live, column=Desired({column_key(T, "a"): Column(T, "a", "bigint")}, {}, {}))
    plan = make_plan(compare(wanted, live, specs("table: t\ncolumns:\n  a: {type: bigint}\n")))
    assert [f"{s.action} {s.target}" for s in plan.steps] == [
        "drop-policy public.u.p",
        "alter-column-type public.t.a",
        "create-policy public.u.p",
    ]


def test_a_dependent_pgstate_cannot_recreate_refuses_the_plan() -> None:
    trigger = ObjectKey("object", ("pg_trigger", "1"), "trigger tg on table u")
    live = state(
        [facts(T, 1, ("a", "integer"))],
        dependencies=(Dependency(trigger, column_key(T, "a"), column_key(T, "a"), "trigger tg on table u", False),),
    )
    wanted = desired(live, column=Desired({column_key(T, "a"): Column(T, "a", "bigint")}, {}, {}))
    with pytest.raises(PgstateError, match="trigger tg on table u"):
        compare(wanted, live, specs("table: t\ncolumns:\n  a: {type: bigint}\n"))


def test_the_fingerprint_covers_every_kind() -> None:
    live = state([facts(T, 1, ("a", "integer"))])
    base = fingerprint(live)
    for name in ("function", "view", "setting", "extension", "policy"):
        key = ObjectKey(name, ("x",), "x")
        changed = replace(live, kinds={**live.kinds, name: Live({key: (name, 1)})})
        assert fingerprint(changed) != base, name
    assert kind_named("upkeep").name == "upkeep"
