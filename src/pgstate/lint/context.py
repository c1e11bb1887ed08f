"""What the rules look at: each managed object once, desired where declared and live otherwise.

Rules never choose between the desired and the live side themselves; they ask here, so every rule on policies
sees the same policies (the helper the rules share is :meth:`LintContext.tables`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ..errors import SourceLocation
from ..kinds.function.model import Function
from ..kinds.index.model import Index
from ..kinds.policy import Policy
from ..kinds.rls import RowSecurity
from ..kinds.view import View
from ..model.names import QualifiedName, quote_for_display
from .base import LintInput
from .facts import LintFacts
from .locate import Locator


@dataclass(frozen=True)
class TableSubject:
    name: QualifiedName
    location: SourceLocation | None
    rls: RowSecurity | None  # after apply: the declared flags, else the live ones; None when neither is known
    policies: tuple[Policy, ...] | None  # after apply: the declared set when `policies:` is given, else the live
    indexes: dict[str, Index] = field(default_factory=dict)  # after apply: live ones (less pruned) and declared
    live_indexes: dict[str, Index] = field(default_factory=dict)


@dataclass(frozen=True)
class LintContext:
    input: LintInput
    facts: LintFacts | None
    locator: Locator

    def _kind(self, side: str, kind: str) -> Any:
        state = self.input.state
        if state is None:
            return None
        return getattr(state, side).of(kind)

    @cached_property
    def tables(self) -> list[TableSubject]:
        """Every managed table that exists or will: the declared present ones that exist."""
        state = self.input.state
        if state is None:
            return []
        context = state.context
        rls_desired, rls_live = self._kind("desired", "rls"), self._kind("live", "rls")
        policy_desired, policy_live = self._kind("desired", "policy"), self._kind("live", "policy")
        index_desired, index_live = self._kind("desired", "index"), self._kind("live", "index")
        subjects = []
        for name in sorted(context.present_tables):
            rls = next((v for k, v in rls_desired.objects.items() if k.table == name), None) or next(
                (v for k, v in rls_live.objects.items() if k.table == name), None
            )
            if name in policy_desired.tables:
                policies = tuple(v for k, v in sorted(policy_desired.objects.items()) if k.table == name)
            else:
                policies = tuple(v for k, v in sorted(policy_live.objects.items()) if k.table == name)
            live_indexes = {v.name: v for k, v in index_live.objects.items() if k.table == name}
            indexes = dict(live_indexes)
            if name in index_desired.tables:
                if index_desired.tables[name]:  # prune_indexes: what is not declared goes
                    indexes = {n: i for n, i in indexes.items() if i.constraint is not None}
                for key in index_desired.absent:
                    if key.table == name:
                        indexes.pop(key.parts[2], None)
                indexes.update({v.name: v for k, v in index_desired.objects.items() if k.table == name})
            subjects.append(TableSubject(name, self.locator.table(name), rls, policies, indexes, live_indexes))
        return subjects

    @cached_property
    def functions(self) -> list[Function]:
        """Declared functions, and every live overload of a managed name that the desired state does not declare."""
        desired, live = self._kind("desired", "function"), self._kind("live", "function")
        if desired is None:
            return []
        found = [desired.objects[key] for key in sorted(desired.objects)]
        declared = {function.qualified_name for function in found}
        found += [f for key, f in sorted(live.objects.items()) if f.qualified_name not in declared]
        return found

    @cached_property
    def views(self) -> list[View]:
        desired, live = self._kind("desired", "view"), self._kind("live", "view")
        if desired is None:
            return []
        keys = sorted(set(desired.objects) | set(live.objects))
        return [desired.objects.get(key) or live.objects[key] for key in keys]

    def location(self, obj: Function | View | Policy) -> SourceLocation | None:
        """Where the desired files declare the object, else its document's (or table's)."""
        state = self.input.state
        if state is not None:
            key = _key(obj)
            found = state.desired.of(key.kind).locations.get(key)
            if found is not None:
                return found  # type: ignore[no-any-return]
        if isinstance(obj, Policy):
            return self.locator.policy(obj.table, obj.name)
        if isinstance(obj, View):
            return self.locator.view(obj.name)
        return self.locator.function(obj.qualified_name)

    @property
    def server_version(self) -> int | None:
        if self.facts is not None:
            return self.facts.server_version
        return self.input.state.live.server_version if self.input.state else None


def _key(obj: Function | View | Policy) -> Any:
    return obj.key


def policy_target(policy: Policy) -> str:
    return f"{quote_for_display(policy.name)} on {policy.table}"


def each_policy(ctx: LintContext) -> list[tuple[TableSubject, Policy]]:
    """Every policy of every managed table, from the source :attr:`TableSubject.policies` picks."""
    return [(subject, policy) for subject in ctx.tables for policy in subject.policies or ()]
