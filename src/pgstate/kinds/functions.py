"""Helper functions: CREATE OR REPLACE when the signature and result stay, else dropped and created.

Overloads are told apart by their argument types. A desired function whose name exists live with exactly one
other signature is taken as that function changed; with several, the desired one is created beside them (which
one was meant cannot be known, and undeclared objects are not touched).
"""

from __future__ import annotations

from dataclasses import replace

from psycopg import sql

from ..change import Action, Change, Lock, Phase
from ..ddl import drop_function_sql, function_sql, restore_access_sql
from ..fielddiff import field_differences
from ..findings import Finding, FindingKind
from ..model import DesiredState, Function, LiveState
from . import GlobalKind, register_global


def _live_counterpart(function: Function, live: LiveState) -> Function | None:
    overloads = live.functions.get(function.qualified_name, ())
    same = [f for f in overloads if f.argument_types == function.argument_types]
    if same:
        return same[0]
    return overloads[0] if len(overloads) == 1 else None


def recreated(desired: DesiredState, live: LiveState) -> frozenset[str]:
    """Keys of the live functions this plan drops and creates again."""
    keys = set()
    for function in desired.functions.values():
        current = _live_counterpart(function, live)
        if current is not None and _must_recreate(current, function):
            keys.add(current.key)
    return frozenset(keys)


def _must_recreate(current: Function, wanted: Function) -> bool:
    # CREATE OR REPLACE cannot change the argument types, the result type, argument names, or remove defaults;
    # any change of the argument list (defaults included) is made by dropping and creating.
    return (
        current.argument_types != wanted.argument_types
        or current.returns != wanted.returns
        or current.arguments != wanted.arguments
    )


def plan(desired: DesiredState, live: LiveState) -> list[Change]:
    changes: list[Change] = []
    for _, function in sorted(desired.functions.items()):
        current = _live_counterpart(function, live)
        if current is None:
            changes.append(_create(function, Action.CREATE_FUNCTION))
        elif _must_recreate(current, function):
            drop = _drop(current)
            created = _create(function, Action.CREATE_FUNCTION, after=(drop.key,))
            # Dropping loses the owner and privileges (a REVOKE FROM PUBLIC among them): given back.
            name = sql.SQL("{}({})").format(
                sql.Identifier(function.schema, function.name), sql.SQL(function.identity_arguments)
            )
            access = restore_access_sql("FUNCTION", name, current.owner, current.grants) if current.owner else []
            changes += [drop, replace(created, followups=tuple(access))]
        elif current.definition() != function.definition():
            changes.append(_create(function, Action.REPLACE_FUNCTION))
    for key in desired.absent_functions:
        for overloads in live.functions.values():
            changes += [
                _drop(function, "created by the run rolled back") for function in overloads if function.key == key
            ]
    return changes


def _target(function: Function) -> str:
    return f"{function.qualified_name}({function.argument_types})"


def _create(function: Function, action: Action, *, after: tuple[str, ...] = ()) -> Change:
    return Change(
        action=action,
        target=_target(function),
        table="",
        statement=function_sql(
            function, replace_existing=action is Action.REPLACE_FUNCTION, search_path=function.search_path
        ),
        lock=Lock.NONE,
        phase=Phase.TRANSACTION,
        summary=function.describe() + (" SECURITY DEFINER" if function.security_definer else ""),
        after=after,
    )


def _drop(function: Function, reason: str = "signature or result changes") -> Change:
    return Change(
        action=Action.DROP_FUNCTION,
        target=_target(function),
        table="",
        statement=drop_function_sql(function),
        lock=Lock.NONE,
        phase=Phase.TRANSACTION,
        summary=f"{reason}: {function.describe()}",
    )


def drift(desired: DesiredState, live: LiveState) -> list[Finding]:
    findings = []
    for _, function in sorted(desired.functions.items()):
        current = _live_counterpart(function, live)
        if current is None:
            findings.append(
                Finding(
                    FindingKind.MISSING_FUNCTION,
                    "function",
                    _target(function),
                    "",
                    "declared function does not exist",
                    desired=function.describe(),
                )
            )
        elif current.definition() != function.definition() or _must_recreate(current, function):
            findings.append(
                Finding(
                    FindingKind.FUNCTION_DEFINITION,
                    "function",
                    _target(function),
                    "",
                    "definition differs",
                    desired=function.describe(),
                    live=current.describe(),
                    fields=field_differences(function, current),
                )
            )
    return findings


register_global(GlobalKind("functions", plan, drift))
