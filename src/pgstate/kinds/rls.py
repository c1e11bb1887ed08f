"""Row-level security flags: ENABLE/DISABLE and FORCE/NO FORCE, inside the transaction (ACCESS EXCLUSIVE)."""

from __future__ import annotations

from psycopg import sql

from ..change import Action, Change, Hazard, Lock, Phase
from ..findings import Finding, FindingKind
from . import Kind, TableContext, register
from .policies import policy_target

STATEMENTS = {
    Action.ENABLE_RLS: "ENABLE ROW LEVEL SECURITY",
    Action.DISABLE_RLS: "DISABLE ROW LEVEL SECURITY",
    Action.FORCE_RLS: "FORCE ROW LEVEL SECURITY",
    Action.UNFORCE_RLS: "NO FORCE ROW LEVEL SECURITY",
}


def plan(ctx: TableContext) -> list[Change]:
    wanted, current = ctx.desired.rls, ctx.live.rls
    if wanted is None:
        return []
    actions = []
    if wanted.enabled != current.enabled:
        actions.append(Action.ENABLE_RLS if wanted.enabled else Action.DISABLE_RLS)
    if wanted.forced != current.forced:
        actions.append(Action.FORCE_RLS if wanted.forced else Action.UNFORCE_RLS)
    return [_change(ctx, action) for action in actions]


def _change(ctx: TableContext, action: Action) -> Change:
    table = ctx.desired.name
    # Policies first, RLS last: enabling is the moment the policies start to apply, and they must all be there.
    after = tuple(f"{Action.CREATE_POLICY} {policy_target(table, p.name)}" for p in ctx.desired.policies or ())
    return Change(
        action=action,
        target=str(table),
        table=str(table),
        statement=sql.SQL("ALTER TABLE {} {}").format(table.identifier(), sql.SQL(STATEMENTS[action])),
        lock=Lock.ACCESS_EXCLUSIVE,
        phase=Phase.TRANSACTION,
        summary=STATEMENTS[action].lower(),
        hazards=(Hazard.ACCESS_EXCLUSIVE_LOCK,),
        after=after if action in (Action.ENABLE_RLS, Action.FORCE_RLS) else (),
    )


def drift(ctx: TableContext) -> list[Finding]:
    wanted, current = ctx.desired.rls, ctx.live.rls
    if wanted is None or wanted == current:
        return []
    return [
        Finding(
            FindingKind.RLS_FLAGS,
            "rls",
            str(ctx.desired.name),
            str(ctx.desired.name),
            "row-level security flags differ",
            desired={"enabled": wanted.enabled, "forced": wanted.forced},
            live={"enabled": current.enabled, "forced": current.forced},
        )
    ]


register(Kind("rls", plan, drift))
