"""The steps of the function kind: CREATE OR REPLACE, or drop and create with owner and privileges given back."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from psycopg import sql

from ...planning.steps import Action, Lock, Phase, Step, StepId
from .._access import restore_access_sql
from ..base import Desired
from ..context import PlanContext
from .ddl import drop_function_sql, function_sql
from .model import Function


def _counterpart_of(old: Function, desired: Desired[Function], context: PlanContext) -> Function | None:
    """The desired function that replaces a live one of another signature: the only overload of the name on
    both sides."""
    declared = [f for f in desired.objects.values() if f.qualified_name == old.qualified_name]
    live = [f for f in context.live.of("function").objects.values() if f.qualified_name == old.qualified_name]
    if len(declared) == 1 and len(live) == 1 and declared[0].key != old.key and old.key not in desired.absent:
        return declared[0]
    return None


def _must_recreate(current: Function, wanted: Function) -> bool:
    # CREATE OR REPLACE cannot change the result type, argument names, or remove defaults; any change of the
    # argument list (defaults included) is made by dropping and creating.
    return current.returns != wanted.returns or current.arguments != wanted.arguments


def _name(function: Function) -> sql.Composable:
    return sql.SQL("{}({})").format(
        sql.Identifier(function.schema, function.name), sql.SQL(function.identity_arguments)
    )


def _create(
    function: Function,
    action: Action,
    location: Any,
    *,
    after: tuple[StepId, ...] = (),
    followups: tuple[sql.SQL | sql.Composed, ...] = (),
) -> Step:
    return Step(
        action=action,
        subject=function.key,
        statement=function_sql(function, replace_existing=action is Action.REPLACE_FUNCTION),
        lock=Lock.NONE,
        phase=Phase.TRANSACTION,
        summary=function.describe(),
        location=location,
        after=after,
        followups=followups,
    )


def given_back(function: Function, context: PlanContext) -> tuple[sql.Composed, ...]:
    """The owner and privileges a rollback gives back to a function its run dropped."""
    given = context.specs.access.get(function.key)
    return tuple(restore_access_sql("FUNCTION", _name(function), given.owner, given.grants)) if given else ()


def _drop(function: Function, reason: str, location: Any) -> Step:
    return Step(
        action=Action.DROP_FUNCTION,
        subject=function.key,
        statement=drop_function_sql(function),
        lock=Lock.NONE,
        phase=Phase.TRANSACTION,
        summary=f"{reason}: {function.describe()}",
        location=location,
    )


def _recreate(old: Function, new: Function, location: Any, reason: str) -> list[Step]:
    drop = _drop(old, reason, location)
    # Dropping loses the owner and privileges (a REVOKE FROM PUBLIC among them): given back.
    access = restore_access_sql(
        "FUNCTION",
        _name(replace(new, identity_arguments=new.identity_arguments or old.identity_arguments)),
        old.owner,
        old.grants,
    )
    return [drop, _create(new, Action.CREATE_FUNCTION, location, after=(drop.id,), followups=tuple(access))]
