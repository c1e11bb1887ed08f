"""Row-level security policies: when ``policies:`` is given, the complete set of the table's policies.

Expressions are compared as the server deparses them: a desired policy written exactly as the live one prints is
the same; any other is created on the round's empty copy of its table (named as the table, with the desired
column types, under the session's search_path) and read back with the query that reads live ones. Where the
deparsed text does not parse back to the same tree (an ``IN`` list on a ``varchar`` column), the live policy is
read back the same way, so both sides are compared in the form the server settles on. A changed policy is altered
in place where PostgreSQL allows (roles, USING, WITH CHECK), else dropped and created; one that is in the way of a
change (a column's type, a function dropped and created, on any table) is dropped before it and created after.
Each step carries the hazards of what it does to who can see or change the table's rows (``authz``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ...catalog import query
from ...catalog.reader import Reader, read_columns
from ...errors import PgstateError, SourceLocation
from ...model.keys import ObjectKey, table_key
from ...model.names import QualifiedName
from ...planning.diff import Change, Difference
from ...planning.steps import Step
from ...sandbox.session import Sandbox
from ...source.compose import Part, Unexpressible
from ...source.documents import Header
from ..base import Desired, Disposition, Kind, Live, register
from ..context import PlanContext
from . import canonical
from .model import PoliciesSpec, Policy, PolicyDesired, PolicySpec, key_of
from .read import read_policies
from .steps import _alter, _create, _drop

if TYPE_CHECKING:
    from .authz import TableAccess

__all__ = ["Policy", "PolicyKind", "key_of", "read_policies"]


class PolicyKind(Kind[PoliciesSpec, Policy]):
    desired_type = PolicyDesired
    name = "policy"
    document = "table"
    keys = ("policies",)
    after = ("column", "function")
    finding_missing = "missing-policy"
    finding_changed = "policy-definition"
    finding_removed = "undeclared-policy"

    def parse(self, header: Header) -> list[PoliciesSpec]:
        if not header.has("policies"):
            return []
        table = header.qualified
        entries = []
        for position, raw in enumerate(header.get("policies") or []):
            path = ("policies", position)
            entries.append(
                PolicySpec(
                    key_of(table, raw["name"]),
                    header.locate(*path),
                    table,
                    raw["name"],
                    raw.get("command", "all"),
                    tuple(sorted(raw.get("roles") or ["public"])),
                    raw.get("permissive", True),
                    raw.get("using"),
                    raw.get("with_check"),
                    header.locate(*path, "using"),
                    header.locate(*path, "with_check"),
                    raw,
                )
            )
        return [PoliciesSpec(table_key("policy", table, "*"), header.locate("policies"), table, tuple(entries))]

    def check(self, specs: Sequence[PoliciesSpec]) -> list[PgstateError]:
        problems = []
        for spec in specs:
            first: dict[str, SourceLocation] = {}
            for entry in spec.entries:
                seen = first.setdefault(entry.name, entry.location)
                if seen is not entry.location:
                    problems.append(
                        PgstateError(
                            f"policy {entry.name!r} is declared twice on table {spec.table} (first at {seen})",
                            location=entry.location,
                            hint="policy names are unique per table: rename or merge one of them",
                        )
                    )
        return problems

    # --- catalog --------------------------------------------------------------------------------------------

    def read(self, reader: Reader, specs: Sequence[PoliciesSpec]) -> Live[Policy]:
        """Every policy of every managed table (lint looks at all of them)."""
        columns = {table.oid: table.by_attnum for table in reader.tables.values()}
        return Live(read_policies(reader.cur, reader.oids, columns))

    def read_dependents(self, reader: Reader, live: Live[Policy], rows: Sequence[Any]) -> Live[Policy]:
        """Policies of any table that stand in the way of a change, read by oid."""
        extra = [row for row in rows if row.key not in live.objects]
        if not extra:
            return live
        tables = {int(row.table_oid): QualifiedName(row.key.parts[0], row.key.parts[1]) for row in extra}
        found = read_policies(
            reader.cur, tables, read_columns(reader.cur, list(tables)), policies=[row.oid for row in extra]
        )
        return Live({**live.objects, **found})

    # --- sandbox --------------------------------------------------------------------------------------------

    def prefetch(
        self,
        sandbox: Sandbox,
        specs: Sequence[PoliciesSpec],
        live: Live[Policy],
        rounds: Sequence[frozenset[QualifiedName]],
    ) -> None:
        prefetched = canonical.prefetch(sandbox, specs, live.objects, rounds)
        sandbox.facts[canonical.PREFETCHED] = prefetched
        tables = frozenset(spec.table for spec in specs)
        _not_volatile(
            sandbox, _called(sandbox, tables, [p for found in prefetched.values() for p in found.values()], live)
        )

    def canonicalize(self, sandbox: Sandbox, specs: Sequence[PoliciesSpec], live: Live[Policy]) -> PolicyDesired:
        objects: dict[ObjectKey, Policy] = {}
        locations: dict[ObjectKey, SourceLocation] = {}
        work: list[tuple[PoliciesSpec, list[PolicySpec]]] = []
        prefetched: Mapping[QualifiedName, Mapping[ObjectKey, Policy]] = sandbox.facts.get(canonical.PREFETCHED, {})
        for spec in specs:
            if spec.table not in sandbox.live.tables:
                continue
            server = canonical.server_entries(spec, live.objects)
            needs_server = {entry.key for entry in server}
            for entry in spec.entries:
                locations[entry.key] = entry.location
                if entry.key not in needs_server:
                    objects[entry.key] = live.objects[entry.key]  # written exactly as the server prints it
            if spec.table in prefetched:
                objects.update(prefetched[spec.table])
            elif server:
                work.append((spec, server))
        objects.update(canonical.deparse(sandbox, work, live.objects))
        tables = frozenset(spec.table for spec in specs)
        not_volatile = _not_volatile(sandbox, _called(sandbox, tables, objects.values(), live))
        return PolicyDesired(objects, {}, locations, tables, not_volatile)

    # --- comparing ------------------------------------------------------------------------------------------

    def live_only(self, key: ObjectKey, obj: Policy, desired: Desired[Policy], context: PlanContext) -> Disposition:
        assert isinstance(desired, PolicyDesired)
        return Disposition.REMOVE if obj.table in desired.tables else Disposition.IGNORE

    # --- planning -------------------------------------------------------------------------------------------

    def plan(self, differences: Sequence[Difference], context: PlanContext) -> list[Step]:
        """The steps, each with the authz hazards its change of the table's access has (``authz``): a changed
        policy's on the step that makes its new form (the create after its drop), a removed one's on the drop."""
        from . import authz  # not at the top: lint, whose node-tree reader it uses, imports this kind

        declared: PolicyDesired = context.kind_desired(self.name)
        desired = declared.objects
        live = context.live.of(self.name).objects
        accesses: dict[QualifiedName, TableAccess] = {}
        grouped: list[dict[QualifiedName, tuple[Policy, ...]]] = []  # live, declared: once, when first asked

        def access(policy: Policy) -> TableAccess:
            if policy.table not in accesses:
                if not grouped:
                    grouped.extend([authz.by_table(live.values()), authz.by_table(desired.values())])
                accesses[policy.table] = authz.table_access(context, declared, policy.table, *grouped)
            return accesses[policy.table]

        steps: list[Step] = []
        handled = set()
        for key in sorted(k for k in context.in_the_way if k.kind == self.name):
            if context.dropped_by_retirement(key):
                continue  # goes with its table, which is retired first
            handled.add(key)
            current = live[key]
            declared_table = key.table in declared.tables
            if key in desired or not declared_table:
                wanted = desired.get(key, current)
                steps.append(_drop(current, "out of the way of a change", context.location_of(key)))
                steps.append(
                    _create(
                        wanted,
                        context.location_of(key),
                        again=True,
                        needs=context.parents_of(key),
                        authz=authz.changed(access(current), current, wanted),
                    )
                )
            else:
                steps.append(
                    _drop(
                        current,
                        "out of the way of a change",
                        context.location_of(key),
                        authz=authz.removed(access(current), current),
                    )
                )
        for difference in differences:
            if difference.key in handled:
                continue
            location = difference.location
            if difference.change is Change.ADDED:
                wanted = difference.desired
                steps.append(_create(wanted, location, authz=authz.added(access(wanted), wanted)))
            elif difference.change is Change.REMOVED:
                current = difference.live
                steps.append(
                    _drop(
                        current,
                        "not declared (policies: is the complete set)",
                        location,
                        authz=authz.removed(access(current), current),
                    )
                )
            else:
                current, wanted = difference.live, difference.desired
                hazards = authz.changed(access(current), current, wanted)
                if _alterable(current, wanted):
                    steps.append(_alter(current, wanted, location, authz=hazards))
                else:
                    steps += [
                        _drop(current, "changed", location),
                        _create(wanted, location, again=True, authz=hazards),
                    ]
        return steps

    def removed_message(self, difference: Difference) -> str:
        return "policy exists but is not declared (apply drops it)"

    def describe(self, obj: Policy) -> str:
        return obj.describe()

    # --- documenting ----------------------------------------------------------------------------------------

    def to_yaml(self, key: ObjectKey, obj: Policy) -> list[Part]:
        return [Part("table", (obj.table.schema, obj.table.name), ("policies",), policy_entry(obj), append=True)]

    def export_parts(
        self, specs: Sequence[PoliciesSpec], live: Live[Policy], tables: Sequence[QualifiedName]
    ) -> list[Part | Unexpressible]:
        """Every policy of each exported table: ``policies:`` is the complete set (``[]`` means none)."""
        return self._sets(sorted(tables), live.objects)

    def record_parts(self, differences: Sequence[Difference], context: PlanContext) -> list[Part | Unexpressible]:
        """``policies:`` is the complete set: a table whose policies the plan changes is recorded with all of them.
        So is a table the plan retires: its dump gives its policies back, but read under the column types of
        the moment of the restore, which may not be those of before the run."""
        live = context.live.of(self.name).objects
        tables = {d.key.table for d in differences if d.key.table is not None}
        tables |= {key.table for key in live if key.table in context.retiring_tables}
        return self._sets(sorted(t for t in tables if t is not None), live)

    def _sets(self, tables: Sequence[QualifiedName], live: Mapping[ObjectKey, Policy]) -> list[Part | Unexpressible]:
        parts: list[Part | Unexpressible] = [Part("table", (t.schema, t.name), ("policies",), []) for t in tables]
        for key, policy in sorted(live.items()):
            if key.table in tables:
                parts += self.to_yaml(key, policy)
        return parts

    def items(self, specs: Sequence[PoliciesSpec]) -> list[tuple[ObjectKey, Any]]:
        return [(entry.key, entry.raw) for spec in specs for entry in spec.entries]


def policy_entry(policy: Policy) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": policy.name,
        "command": policy.command,
        "roles": list(policy.roles),
        "permissive": policy.permissive,
    }
    if policy.using is not None:
        entry["using"] = policy.using
    if policy.with_check is not None:
        entry["with_check"] = policy.with_check
    return entry


# The fact the rounds share: the live policies by table, grouped once (a round looks up its own tables; filtering
# every live policy in each of 800 rounds was a second of a 5,000-table plan).
LIVE_BY_TABLE = "live policies by table"


def _called(
    sandbox: Sandbox, tables: frozenset[QualifiedName], desired: Iterable[Policy], live: Live[Policy]
) -> frozenset[int]:
    """The functions the desired policies and the live ones of their tables call."""
    from .authz import called_functions  # not at the top: lint, whose node-tree reader it uses, imports this

    grouped: tuple[object, dict[QualifiedName, list[Policy]]] | None = sandbox.facts.get(LIVE_BY_TABLE)
    if grouped is None or grouped[0] is not live.objects:  # grouped for this read of the live catalog only
        by_table: dict[QualifiedName, list[Policy]] = {}
        for policy in live.objects.values():
            by_table.setdefault(policy.table, []).append(policy)
        grouped = sandbox.facts[LIVE_BY_TABLE] = (live.objects, by_table)
    by_table = grouped[1]
    return called_functions([*desired, *(policy for table in tables for policy in by_table.get(table, ()))])


# The fact the rounds share: function oid -> whether it is not volatile, for each function asked about.
VOLATILITY = "function volatility"


def _not_volatile(sandbox: Sandbox, functions: frozenset[int]) -> frozenset[int]:
    """Those of the functions that are not volatile; asked once per function and plan, not once per round."""
    known: dict[int, bool] = sandbox.facts.setdefault(VOLATILITY, {})
    unknown = sorted(functions - known.keys())
    if unknown:
        sandbox.cur.execute(query("stable_functions"), {"oids": unknown})
        stable = {int(row[0]) for row in sandbox.cur.fetchall()}
        known.update((oid, oid in stable) for oid in unknown)
    return frozenset(oid for oid in functions if known[oid])


def _alterable(current: Policy, wanted: Policy) -> bool:
    """ALTER POLICY changes roles and expressions, but cannot change the command or permissiveness, nor remove
    an expression."""
    return (
        current.command == wanted.command
        and current.permissive == wanted.permissive
        and (wanted.using is not None or current.using is None)
        and (wanted.with_check is not None or current.with_check is None)
    )


register(PolicyKind())
