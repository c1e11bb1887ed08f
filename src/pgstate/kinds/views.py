"""Views: CREATE OR REPLACE VIEW when the live columns stay (same names and types, new ones only at the end),
else dropped and created in the transaction. The definition is the server's deparsed text of the desired query."""

from __future__ import annotations

from dataclasses import replace

from ..change import Action, Change, Hazard, Lock, Phase
from ..ddl import drop_view_sql, restore_access_sql, view_sql
from ..fielddiff import field_differences
from ..findings import Finding, FindingKind
from ..model import DesiredState, LiveState, View
from . import GlobalKind, register_global


def _compatible(current: View, wanted: View) -> bool:
    """What CREATE OR REPLACE VIEW accepts: the existing columns, in order, then new ones."""
    return wanted.columns[: len(current.columns)] == current.columns


def plan(desired: DesiredState, live: LiveState) -> list[Change]:
    changes: list[Change] = []
    for name, view in sorted(desired.views.items()):
        current = live.views.get(name)
        if current is None:
            changes.append(_create(view, Action.CREATE_VIEW))
        elif current.definition == view.definition and current.columns == view.columns:
            continue
        elif _compatible(current, view):
            changes.append(_create(view, Action.REPLACE_VIEW, options=current.options))
        else:
            drop = _drop(current, "its columns change: dropped and created")
            access = (
                restore_access_sql("VIEW", name.identifier(), current.owner, current.grants) if current.owner else []
            )
            created = _create(view, Action.CREATE_VIEW, after=(drop.key,), options=current.options)
            changes += [drop, replace(created, followups=tuple(access))]
    for name in desired.absent_views:
        if name in live.views:
            changes.append(_drop(live.views[name], "created by the run rolled back"))
    return changes


def _drop(view: View, reason: str) -> Change:
    return Change(
        action=Action.DROP_VIEW,
        target=str(view.name),
        table=str(view.name),
        statement=drop_view_sql(view),
        lock=Lock.ACCESS_EXCLUSIVE,
        phase=Phase.TRANSACTION,
        summary=reason,
        hazards=(Hazard.ACCESS_EXCLUSIVE_LOCK,),
    )


def _create(view: View, action: Action, *, after: tuple[str, ...] = (), options: tuple[str, ...] = ()) -> Change:
    return Change(
        action=action,
        target=str(view.name),
        table=str(view.name),
        statement=view_sql(
            view.name.identifier(), view.definition, replace_existing=action is Action.REPLACE_VIEW, options=options
        ),
        lock=Lock.ACCESS_EXCLUSIVE,
        phase=Phase.TRANSACTION,
        summary=f"columns: {', '.join(name for name, _ in view.columns)}",
        hazards=(Hazard.ACCESS_EXCLUSIVE_LOCK,) if action is Action.REPLACE_VIEW else (),
        after=after,
    )


def drift(desired: DesiredState, live: LiveState) -> list[Finding]:
    findings = []
    for name, view in sorted(desired.views.items()):
        current = live.views.get(name)
        if current is None:
            findings.append(
                Finding(
                    FindingKind.MISSING_VIEW,
                    "view",
                    str(name),
                    str(name),
                    "declared view does not exist",
                    desired=view.definition.strip(),
                )
            )
        elif current.definition != view.definition or current.columns != view.columns:
            findings.append(
                Finding(
                    FindingKind.VIEW_DEFINITION,
                    "view",
                    str(name),
                    str(name),
                    "definition differs",
                    desired=view.definition.strip(),
                    live=current.definition.strip(),
                    fields=field_differences(view, current),
                )
            )
    return findings


register_global(GlobalKind("views", plan, drift))
