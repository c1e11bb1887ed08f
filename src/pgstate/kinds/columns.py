"""Column types: ``ALTER TABLE ... ALTER COLUMN ... TYPE ... USING ...`` inside the transaction."""

from __future__ import annotations

from ..change import Action, Change, Hazard, Lock, Phase
from ..ddl import alter_type_sql
from ..findings import Finding, FindingKind
from ..model import Column, quote_for_display
from . import Kind, TableContext, register


def column_target(ctx: TableContext, column: str) -> str:
    return f"{ctx.desired.name}.{quote_for_display(column)}"


def plan(ctx: TableContext) -> list[Change]:
    changes = []
    for column in ctx.desired.columns:
        live = ctx.live.columns.get(column.name)
        if live is None or live.type == column.type:
            continue  # a missing column is refused before planning
        hazards = [Hazard.ACCESS_EXCLUSIVE_LOCK]
        if column.rewrites:
            hazards.insert(0, Hazard.TABLE_REWRITE)
        elif column.rebuilds:
            hazards.append(Hazard.INDEX_REBUILD)
        if column.lossy:
            hazards.append(Hazard.DATA_LOSS)
        changes.append(
            Change(
                action=Action.ALTER_COLUMN_TYPE,
                target=column_target(ctx, column.name),
                table=str(ctx.desired.name),
                statement=alter_type_sql(ctx.desired.name.identifier(), column.name, column.type, column.using),
                lock=Lock.ACCESS_EXCLUSIVE,
                phase=Phase.TRANSACTION,
                summary=f"change type {live.type} -> {column.type}" + _cost(column),
                rewrites=ctx.live.size if column.rewrites else None,
                hazards=tuple(hazards),
                dump=ctx.desired.name if column.lossy else None,
            )
        )
    return changes


def _cost(column: Column) -> str:
    if column.rewrites:
        return " (rewrites the table)"
    if column.rebuilds:
        return f" (no table rewrite; rebuilds {', '.join(column.rebuilds)})"
    return " (no rewrite)"


def drift(ctx: TableContext) -> list[Finding]:
    findings = []
    for column in ctx.desired.columns:
        live = ctx.live.columns.get(column.name)
        target = column_target(ctx, column.name)
        if live is None:
            findings.append(
                Finding(
                    FindingKind.MISSING_COLUMN,
                    "column",
                    target,
                    str(ctx.desired.name),
                    "declared column does not exist",
                    desired=column.type,
                )
            )
        elif live.type != column.type:
            findings.append(
                Finding(
                    FindingKind.COLUMN_TYPE,
                    "column",
                    target,
                    str(ctx.desired.name),
                    f"type is {live.type}, desired {column.type}",
                    desired=column.type,
                    live=live.type,
                )
            )
    return findings


register(Kind("columns", plan, drift))
