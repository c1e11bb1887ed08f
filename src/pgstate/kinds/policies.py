"""Row-level security policies: when ``policies:`` is given, the complete set of the table's policies.

A changed policy is altered in place where PostgreSQL allows (roles, USING, WITH CHECK), else dropped and
created in the same transaction. A policy that refers to a column whose type changes, or calls a function this
plan drops and creates again, is dropped before that change and created after it (PostgreSQL refuses the change
otherwise); an undeclared one is created again exactly as it was.
"""

from __future__ import annotations

from ..change import Action, Change, Hazard, Lock, Phase
from ..ddl import alter_policy_sql, create_policy_sql, drop_policy_sql
from ..fielddiff import field_differences
from ..findings import Finding, FindingKind
from ..model import Policy, QualifiedName, quote_for_display
from . import Kind, TableContext, register
from .columns import column_target


def policy_target(table: QualifiedName, name: str) -> str:
    return f"{table}.{quote_for_display(name)}"


def plan(ctx: TableContext) -> list[Change]:
    live = ctx.live.policies
    changing = ctx.changing_columns
    # Type changes of this table wait for the drops of the policies on their columns; re-creations wait for them.
    type_changes = tuple(f"{Action.ALTER_COLUMN_TYPE} {column_target(ctx, c)}" for c in sorted(changing))

    def in_the_way(policy: Policy) -> bool:
        return bool(set(policy.columns) & changing or set(policy.functions) & ctx.recreated_functions)

    changes: list[Change] = []
    if ctx.desired.policies is None:
        # Not managed: touched only when a type or function change needs it out of the way for a moment.
        for policy in live.values():
            if in_the_way(policy):
                changes += [_drop(policy, "out of the way of a change"), _create(policy, type_changes, again=True)]
        return changes
    wanted = {policy.name: policy for policy in ctx.desired.policies}
    for name, policy in sorted(live.items()):
        if name not in wanted:
            changes.append(_drop(policy, "not declared (policies: is the complete set)"))
    for name, policy in wanted.items():
        current = live.get(name)
        if current is None:
            changes.append(_create(policy, type_changes))
        elif in_the_way(current):
            changes += [_drop(current, "out of the way of a change"), _create(policy, type_changes, again=True)]
        elif current.definition() != policy.definition():
            if _alterable(current, policy):
                changes.append(_alter(current, policy))
            else:
                changes += [_drop(current, "changed"), _create(policy, type_changes, again=True)]
    return changes


def _alterable(current: Policy, wanted: Policy) -> bool:
    """ALTER POLICY changes roles and expressions, but cannot change the command or permissiveness, nor remove
    an expression."""
    return (
        current.command == wanted.command
        and current.permissive == wanted.permissive
        and (wanted.using is not None or current.using is None)
        and (wanted.with_check is not None or current.with_check is None)
    )


def _create(policy: Policy, type_changes: tuple[str, ...], *, again: bool = False) -> Change:
    target = policy_target(policy.table, policy.name)
    after = (*type_changes, f"{Action.DROP_POLICY} {target}") if again else type_changes
    return Change(
        action=Action.CREATE_POLICY,
        target=target,
        table=str(policy.table),
        statement=create_policy_sql(policy, policy.table.identifier()),
        lock=Lock.ACCESS_EXCLUSIVE,
        phase=Phase.TRANSACTION,
        summary=policy.describe(),
        hazards=(Hazard.ACCESS_EXCLUSIVE_LOCK,),
        after=after,
    )


def _alter(current: Policy, policy: Policy) -> Change:
    return Change(
        action=Action.ALTER_POLICY,
        target=policy_target(policy.table, policy.name),
        table=str(policy.table),
        statement=alter_policy_sql(policy, policy.table.identifier()),
        lock=Lock.ACCESS_EXCLUSIVE,
        phase=Phase.TRANSACTION,
        summary=f"{current.describe()} -> {policy.describe()}",
        hazards=(Hazard.ACCESS_EXCLUSIVE_LOCK,),
    )


def _drop(policy: Policy, reason: str) -> Change:
    return Change(
        action=Action.DROP_POLICY,
        target=policy_target(policy.table, policy.name),
        table=str(policy.table),
        statement=drop_policy_sql(policy, policy.table.identifier()),
        lock=Lock.ACCESS_EXCLUSIVE,
        phase=Phase.TRANSACTION,
        summary=f"{reason}: {policy.describe()}",
        hazards=(Hazard.ACCESS_EXCLUSIVE_LOCK,),
    )


def drift(ctx: TableContext) -> list[Finding]:
    if ctx.desired.policies is None:
        return []
    findings = []
    table = str(ctx.desired.name)
    wanted = {policy.name: policy for policy in ctx.desired.policies}
    for name, policy in wanted.items():
        current = ctx.live.policies.get(name)
        target = policy_target(ctx.desired.name, name)
        if current is None:
            findings.append(
                Finding(
                    FindingKind.MISSING_POLICY,
                    "policy",
                    target,
                    table,
                    "declared policy does not exist",
                    desired=policy.describe(),
                )
            )
        elif current.definition() != policy.definition():
            findings.append(
                Finding(
                    FindingKind.POLICY_DEFINITION,
                    "policy",
                    target,
                    table,
                    "definition differs",
                    desired=policy.describe(),
                    live=current.describe(),
                    fields=field_differences(policy, current),
                )
            )
    for name, current in sorted(ctx.live.policies.items()):
        if name not in wanted:
            findings.append(
                Finding(
                    FindingKind.UNDECLARED_POLICY,
                    "policy",
                    policy_target(ctx.desired.name, name),
                    table,
                    "policy exists but is not declared (apply drops it)",
                    live=current.describe(),
                )
            )
    return findings


register(Kind("policies", plan, drift))
