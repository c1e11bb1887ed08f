"""Storage parameters (reloptions) of managed tables: ALTER TABLE ... SET (...) / RESET (...).

Most take SHARE UPDATE EXCLUSIVE, which ordinary reads and writes do not wait for; the others ACCESS
EXCLUSIVE (PostgreSQL's reloptions.c gives each parameter its lock). Only parameters pgstate set itself are
reset when the desired files stop listing them.
"""

from __future__ import annotations

from psycopg import sql

from ..change import Action, Change, Hazard, Lock, Phase
from ..findings import Finding, FindingKind
from ..parameters import same_reloption
from . import Kind, TableContext, register

# The table and TOAST parameters whose lock is SHARE UPDATE EXCLUSIVE (reloptions.c); all others: ACCESS EXCLUSIVE.
SHARE_UPDATE_EXCLUSIVE = frozenset(
    {
        "fillfactor",
        "toast_tuple_target",
        "parallel_workers",
        "vacuum_index_cleanup",
        "vacuum_truncate",
        "log_autovacuum_min_duration",
        "autovacuum_enabled",
        "autovacuum_vacuum_threshold",
        "autovacuum_vacuum_insert_threshold",
        "autovacuum_vacuum_max_threshold",
        "autovacuum_analyze_threshold",
        "autovacuum_vacuum_cost_delay",
        "autovacuum_vacuum_cost_limit",
        "autovacuum_freeze_min_age",
        "autovacuum_freeze_max_age",
        "autovacuum_freeze_table_age",
        "autovacuum_multixact_freeze_min_age",
        "autovacuum_multixact_freeze_max_age",
        "autovacuum_multixact_freeze_table_age",
        "autovacuum_vacuum_scale_factor",
        "autovacuum_vacuum_insert_scale_factor",
        "autovacuum_analyze_scale_factor",
    }
)


def lock_for(name: str) -> Lock:
    bare = name.removeprefix("toast.")
    return Lock.SHARE_UPDATE_EXCLUSIVE if bare in SHARE_UPDATE_EXCLUSIVE else Lock.ACCESS_EXCLUSIVE


def parameter_sql(name: str) -> sql.Composable:
    return sql.SQL(".").join(sql.Identifier(part) for part in name.split(".", 1))


def plan(ctx: TableContext) -> list[Change]:
    wanted = ctx.desired.storage
    if wanted is None:
        return []
    table = ctx.desired.name
    changes = []
    for parameter in wanted:
        current = ctx.live.storage.get(parameter.name)
        if current is not None and same_reloption(current, parameter.value):
            continue
        record = sql.SQL(
            "INSERT INTO pgstate.managed_settings (scope, object, name, value) VALUES ('table', {}, {}, {})"
            " ON CONFLICT (scope, object, name) DO UPDATE SET value = excluded.value"
        ).format(sql.Literal(str(table)), sql.Literal(parameter.name), sql.Literal(parameter.value))
        changes.append(
            _change(
                ctx,
                Action.SET_STORAGE,
                parameter.name,
                sql.SQL("ALTER TABLE {} SET ({} = {})").format(
                    table.identifier(), parameter_sql(parameter.name), sql.Literal(parameter.value)
                ),
                f"{current if current is not None else '(default)'} -> {parameter.value}",
                record,
            )
        )
    names = {parameter.name for parameter in wanted}
    managed = ctx.managed_storage
    for name in sorted(set(ctx.live.storage) - names):
        if name in managed:
            record = sql.SQL(
                "DELETE FROM pgstate.managed_settings WHERE scope = 'table' AND object = {} AND name = {}"
            ).format(sql.Literal(str(table)), sql.Literal(name))
            changes.append(
                _change(
                    ctx,
                    Action.RESET_STORAGE,
                    name,
                    sql.SQL("ALTER TABLE {} RESET ({})").format(table.identifier(), parameter_sql(name)),
                    f"set by pgstate ({managed[name]}) and no longer declared",
                    record,
                )
            )
    return changes


def _change(
    ctx: TableContext, action: Action, name: str, statement: sql.Composed, summary: str, record: sql.Composed
) -> Change:
    lock = lock_for(name)
    return Change(
        action=action,
        target=f"{ctx.desired.name}.{name}",
        table=str(ctx.desired.name),
        statement=statement,
        lock=lock,
        phase=Phase.TRANSACTION,
        summary=summary,
        hazards=(Hazard.ACCESS_EXCLUSIVE_LOCK,) if lock is Lock.ACCESS_EXCLUSIVE else (),
        followups=(record,),
    )


def drift(ctx: TableContext) -> list[Finding]:
    findings = []
    for parameter in ctx.desired.storage or ():
        current = ctx.live.storage.get(parameter.name)
        if current is None or not same_reloption(current, parameter.value):
            findings.append(
                Finding(
                    FindingKind.STORAGE,
                    "storage parameter",
                    f"{ctx.desired.name}.{parameter.name}",
                    str(ctx.desired.name),
                    f"is {current if current is not None else '(default)'}",
                    desired=parameter.value,
                    live=current,
                )
            )
    return findings


register(Kind("storage", plan, drift))
