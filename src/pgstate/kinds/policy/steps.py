"""The statements and steps of the policy kind."""

from __future__ import annotations

from psycopg import sql

from ...errors import SourceLocation
from ...model.keys import ObjectKey
from ...planning.steps import Action, Hazard, Lock, Phase, Step, StepId
from .model import COMMANDS, Policy, PolicySpec


def roles_sql(roles: tuple[str, ...]) -> sql.Composable:
    return sql.SQL(", ").join(sql.SQL("PUBLIC") if role == "public" else sql.Identifier(role) for role in roles)


def create_policy_sql(policy: PolicySpec | Policy, table: sql.Composable, *, name: str | None = None) -> sql.Composed:
    """CREATE POLICY from a spec (fragments as written: only on a temporary copy) or a model."""
    using, with_check = (
        (policy.using, policy.with_check)
        if isinstance(policy, PolicySpec)
        else (policy.using_sql, policy.with_check_sql)
    )
    parts: list[sql.Composable] = [
        sql.SQL("CREATE POLICY {} ON {} AS {} FOR {} TO {}").format(
            sql.Identifier(name or policy.name),
            table,
            sql.SQL("PERMISSIVE" if policy.permissive else "RESTRICTIVE"),
            sql.SQL(COMMANDS[policy.command]),
            roles_sql(policy.roles),
        )
    ]
    parts += _expressions(using, with_check)
    return sql.SQL(" ").join(parts)


def _expressions(using: str | None, with_check: str | None) -> list[sql.Composable]:
    parts: list[sql.Composable] = []
    if using is not None:
        parts.append(sql.SQL("USING ({})").format(sql.SQL(using)))
    if with_check is not None:
        parts.append(sql.SQL("WITH CHECK ({})").format(sql.SQL(with_check)))
    return parts


def _create(
    policy: Policy,
    location: SourceLocation | None,
    *,
    again: bool = False,
    needs: set[ObjectKey] | None = None,
    authz: tuple[Hazard, ...] = (),
) -> Step:

    return Step(
        action=Action.CREATE_POLICY,
        subject=policy.key,
        statement=create_policy_sql(policy, policy.table.identifier()),
        lock=Lock.ACCESS_EXCLUSIVE,
        phase=Phase.TRANSACTION,
        summary=("created again: " if needs else "") + policy.describe(),
        table=policy.table,
        location=location,
        hazards=(Hazard.ACCESS_EXCLUSIVE_LOCK, *authz),
        after=(StepId(Action.DROP_POLICY, policy.key),) if again else (),
        needs_done=frozenset(needs or ()) | policy.depends_on | _own_columns(policy),
    )


def _own_columns(policy: Policy) -> frozenset[ObjectKey]:
    from ..column import key_of as column_key

    return frozenset(column_key(policy.table, column) for column in policy.columns)


def _alter(current: Policy, policy: Policy, location: SourceLocation | None, *, authz: tuple[Hazard, ...] = ()) -> Step:
    parts: list[sql.Composable] = [
        sql.SQL("ALTER POLICY {} ON {} TO {}").format(
            sql.Identifier(policy.name), policy.table.identifier(), roles_sql(policy.roles)
        )
    ]
    parts += _expressions(policy.using_sql, policy.with_check_sql)
    return Step(
        action=Action.ALTER_POLICY,
        subject=policy.key,
        statement=sql.SQL(" ").join(parts),
        lock=Lock.ACCESS_EXCLUSIVE,
        phase=Phase.TRANSACTION,
        summary=f"{current.describe()} -> {policy.describe()}",
        table=policy.table,
        location=location,
        hazards=(Hazard.ACCESS_EXCLUSIVE_LOCK, *authz),
        needs_done=policy.depends_on | _own_columns(policy),
    )


def _drop(policy: Policy, reason: str, location: SourceLocation | None, *, authz: tuple[Hazard, ...] = ()) -> Step:
    return Step(
        action=Action.DROP_POLICY,
        subject=policy.key,
        statement=sql.SQL("DROP POLICY {} ON {}").format(sql.Identifier(policy.name), policy.table.identifier()),
        lock=Lock.ACCESS_EXCLUSIVE,
        phase=Phase.TRANSACTION,
        summary=f"{reason}: {policy.describe()}",
        table=policy.table,
        location=location,
        hazards=(Hazard.ACCESS_EXCLUSIVE_LOCK, *authz),
    )
