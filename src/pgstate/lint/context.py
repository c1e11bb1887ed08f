"""What the rules look at: each managed object once, desired where declared and live otherwise.

Rules never choose between the desired and the live side themselves; they ask here, so every rule on policies
sees the same policies (the helper the rules share is :meth:`LintContext.tables`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from ..errors import SourceLocation
from ..model import (
    DesiredTable,
    Function,
    Index,
    LiveTable,
    Policy,
    QualifiedName,
    RowSecurity,
    View,
    quote_for_display,
)
from .base import LintInput
from .facts import LintFacts
from .locate import Locator


@dataclass(frozen=True)
class TableSubject:
    name: QualifiedName
    desired: DesiredTable | None
    live: LiveTable | None
    location: SourceLocation | None

    @property
    def rls(self) -> RowSecurity | None:
        """The flags the table has after apply: declared ones, else the live ones; None when neither is known."""
        if self.desired is not None and self.desired.rls is not None:
            return self.desired.rls
        return self.live.rls if self.live is not None else None

    @property
    def policies(self) -> tuple[Policy, ...] | None:
        """The table's policies after apply: the declared set when `policies:` is given, else the live ones."""
        if self.desired is not None and self.desired.policies is not None:
            return self.desired.policies
        return tuple(self.live.policies.values()) if self.live is not None else None

    @property
    def indexes(self) -> dict[str, Index]:
        """The indexes it has after apply: the live ones (less those pruned), joined or replaced by declared ones."""
        live = dict(self.live.indexes) if self.live is not None else {}
        declared = self.desired.indexes if self.desired is not None else None
        if declared is None:
            return live
        if self.desired is not None and self.desired.prune_indexes:
            live = {name: index for name, index in live.items() if index.constraint is not None}
        live.update({index.name: index for index in declared})
        return live


@dataclass(frozen=True)
class LintContext:
    input: LintInput
    facts: LintFacts | None
    locator: Locator

    @cached_property
    def tables(self) -> list[TableSubject]:
        """Every managed table that exists or will: declared present ones and the live ones read, by name."""
        desired = self.input.desired.tables if self.input.desired else {}
        live = self.input.live.tables if self.input.live else {}
        names = {name for name, table in desired.items() if table.present} | (set(live) - set(desired))
        return [
            TableSubject(name, desired.get(name), live.get(name), self.locator.table(name)) for name in sorted(names)
        ]

    @cached_property
    def functions(self) -> list[Function]:
        """Declared functions, and every live overload of a managed name that the desired state does not declare."""
        desired = self.input.desired.functions if self.input.desired else {}
        live = self.input.live.functions if self.input.live else {}
        found = [desired[key] for key in sorted(desired)]
        declared = {function.qualified_name for function in found}
        found += [f for name in sorted(set(live) - declared) for f in live[name]]
        return found

    @cached_property
    def views(self) -> list[View]:
        desired = self.input.desired.views if self.input.desired else {}
        live = self.input.live.views if self.input.live else {}
        return [desired.get(name) or live[name] for name in sorted(set(desired) | set(live))]

    def location(self, obj: Function | View | Policy) -> SourceLocation | None:
        """The object's own location when the desired side gave one, else its document's (or table's)."""
        if obj.location is not None:
            return obj.location
        if isinstance(obj, Policy):
            return self.locator.policy(obj.table, obj.name)
        if isinstance(obj, View):
            return self.locator.view(obj.name)
        return self.locator.function(obj.qualified_name)

    @property
    def server_version(self) -> int | None:
        if self.facts is not None:
            return self.facts.server_version
        return self.input.live.server_version if self.input.live else None

    def plan_location(self, table: str, target: str) -> SourceLocation | None:
        """Where the object a plan step touches was declared, from the step's display names (steps carry no
        locations): the column for a column step, else the function, view or table."""
        desired = self.input.desired
        for name, declared in desired.tables.items() if desired else ():
            if str(name) == table and not declared.present:
                return self.locator.table(name)  # a table being retired
        for subject in self.tables:
            if str(subject.name) != table:
                continue
            for column in subject.desired.columns if subject.desired else ():
                if target == f"{subject.name}.{quote_for_display(column.name)}":
                    return column.location or self.locator.column(subject.name, column.name)
            return subject.location
        for function in desired.functions.values() if desired else ():
            if target in (
                str(function.qualified_name),
                f"{function.qualified_name}({function.identity_arguments})",
                f"{function.qualified_name}({function.argument_types})",
            ):
                return self.location(function)
        for view in desired.views.values() if desired else ():
            if target == str(view.name):
                return self.location(view)
        return None


def policy_target(policy: Policy) -> str:
    return f"{quote_for_display(policy.name)} on {policy.table}"


def each_policy(ctx: LintContext) -> list[tuple[TableSubject, Policy]]:
    """Every policy of every managed table, from the source :attr:`TableSubject.policies` picks."""
    return [(subject, policy) for subject in ctx.tables for policy in subject.policies or ()]
