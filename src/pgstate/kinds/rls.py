"""Row-level security flags: ENABLE/DISABLE and FORCE/NO FORCE, inside the transaction (ACCESS EXCLUSIVE).

RLS fails closed (see ``steps.Action``): it is enabled or forced before the table's policies are created or
altered (the action order), and unforced or disabled only after every step on them (an edge). Turning it off is an
``authz-widening`` hazard when it opens the table to someone: disabling always does; unforcing does for the owner
when the table had RLS on (on a table with RLS off, FORCE did nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from ..catalog.reader import Reader
from ..errors import SourceLocation
from ..model.keys import ObjectKey, table_key
from ..model.names import QualifiedName
from ..planning.diff import Difference
from ..planning.steps import Action, Hazard, Lock, Phase, Step
from ..sandbox.session import Sandbox
from ..source.compose import Part
from ..source.documents import Header
from .base import Desired, Kind, Live, register
from .context import PlanContext

STATEMENTS = {
    Action.ENABLE_RLS: "ENABLE ROW LEVEL SECURITY",
    Action.DISABLE_RLS: "DISABLE ROW LEVEL SECURITY",
    Action.FORCE_RLS: "FORCE ROW LEVEL SECURITY",
    Action.UNFORCE_RLS: "NO FORCE ROW LEVEL SECURITY",
}


@dataclass(frozen=True)
class RlsSpec:
    key: ObjectKey
    location: SourceLocation
    table: QualifiedName
    enabled: bool
    forced: bool
    raw: Any = field(default=None, compare=False)


@dataclass(frozen=True)
class RowSecurity:
    table: QualifiedName
    enabled: bool = False
    forced: bool = False


def key_of(table: QualifiedName) -> ObjectKey:
    return table_key("rls", table, label=str(table))


class RlsKind(Kind[RlsSpec, RowSecurity]):
    name = "rls"
    document = "table"
    keys = ("rls",)
    finding_changed = "rls-flags"

    def parse(self, header: Header) -> list[RlsSpec]:
        if not header.has("rls"):
            return []
        raw = header.get("rls") or {}
        table = header.qualified
        return [
            RlsSpec(
                key_of(table), header.locate("rls"), table, raw.get("enabled", False), raw.get("forced", False), raw
            )
        ]

    def read(self, reader: Reader, specs: Sequence[RlsSpec]) -> Live[RowSecurity]:
        """Every managed table's flags (lint asks of all of them), from the shared table facts."""
        return Live(
            {
                key_of(name): RowSecurity(name, table.rls_enabled, table.rls_forced)
                for name, table in reader.tables.items()
            }
        )

    def canonicalize(self, sandbox: Sandbox, specs: Sequence[RlsSpec], live: Live[RowSecurity]) -> Desired[RowSecurity]:
        return Desired(
            {spec.key: RowSecurity(spec.table, spec.enabled, spec.forced) for spec in specs},
            {},
            {spec.key: spec.location for spec in specs},
        )

    def plan(self, differences: Sequence[Difference], context: PlanContext) -> list[Step]:
        desired = context.kind_desired("policy")
        live = context.live.of("policy").objects
        steps = []
        for difference in differences:
            wanted: RowSecurity = difference.desired
            current: RowSecurity = difference.live
            # Every policy of the table, as it is and as it will be: turning RLS off waits for all their steps.
            policies = frozenset(
                key for key in [*(desired.objects if desired is not None else ()), *live] if key.table == wanted.table
            )
            if wanted.enabled != current.enabled:
                action = Action.ENABLE_RLS if wanted.enabled else Action.DISABLE_RLS
                steps.append(_step(wanted.table, action, difference, policies, widens=not wanted.enabled))
            if wanted.forced != current.forced:
                action = Action.FORCE_RLS if wanted.forced else Action.UNFORCE_RLS
                # NO FORCE lets the owner past the policies, which held the owner only while RLS was on.
                widens = not wanted.forced and current.enabled
                steps.append(_step(wanted.table, action, difference, policies, widens=widens))
        return steps

    def finding(self, difference: Difference, context: PlanContext):  # type: ignore[no-untyped-def]
        from dataclasses import replace

        found = super().finding(difference, context)
        return replace(
            found,
            message="row-level security flags differ",
            desired=_flags(difference.desired),
            live=_flags(difference.live),
        )

    def describe(self, obj: RowSecurity) -> str:
        return f"enabled: {str(obj.enabled).lower()}, forced: {str(obj.forced).lower()}"

    def to_yaml(self, key: ObjectKey, obj: RowSecurity) -> list[Part]:
        return [Part("table", (obj.table.schema, obj.table.name), ("rls",), _flags(obj))]


def _flags(obj: RowSecurity) -> dict[str, bool]:
    return {"enabled": obj.enabled, "forced": obj.forced}


def _step(
    table: QualifiedName, action: Action, difference: Difference, policies: frozenset[ObjectKey], *, widens: bool
) -> Step:
    closing = action in (Action.DISABLE_RLS, Action.UNFORCE_RLS)
    return Step(
        action=action,
        subject=difference.key,
        statement=sql.SQL("ALTER TABLE {} {}").format(table.identifier(), sql.SQL(STATEMENTS[action])),
        lock=Lock.ACCESS_EXCLUSIVE,
        phase=Phase.TRANSACTION,
        summary=STATEMENTS[action].lower(),
        table=table,
        location=difference.location,
        hazards=(Hazard.ACCESS_EXCLUSIVE_LOCK, *((Hazard.AUTHZ_WIDENING,) if widens else ())),
        # Fail closed: RLS turns off only once the table's policies have their final form (or are gone).
        needs_done=policies if closing else frozenset(),
        needs_gone=policies if closing else frozenset(),
        makes_subject=False,
    )


register(RlsKind())
