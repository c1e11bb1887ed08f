"""Row-level security policies: when ``policies:`` is given, the complete set of the table's policies.

Expressions are compared as the server deparses them: a desired policy written exactly as the live one prints is
the same; any other is created on the round's empty copy of its table (named as the table, with the desired
column types, under the session's search_path) and read back with the query that reads live ones. Where the
deparsed text does not parse back to the same tree (an ``IN`` list on a ``varchar`` column), the live policy is
read back the same way, so both sides are compared in the form the server settles on. A changed policy is altered
in place where PostgreSQL allows (roles, USING, WITH CHECK), else dropped and created; one that is in the way of a
change (a column's type, a function dropped and created, on any table) is dropped before it and created after.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import psycopg
from psycopg import sql

from ..catalog.reader import Reader, read_columns
from ..errors import SourceLocation
from ..model.keys import ObjectKey, table_key
from ..model.names import QualifiedName
from ..planning.diff import Change, Difference
from ..planning.steps import Action, Hazard, Lock, Phase, Step
from ..sandbox.copies import Copy, copy_columns, copy_of
from ..sandbox.session import Sandbox, located
from ..source.documents import Header
from .base import Desired, Disposition, Kind, Live, Part, Unexpressible, register
from .context import PlanContext

COMMANDS = {"all": "ALL", "select": "SELECT", "insert": "INSERT", "update": "UPDATE", "delete": "DELETE"}


@dataclass(frozen=True)
class PolicySpec:
    key: ObjectKey
    location: SourceLocation
    table: QualifiedName
    name: str
    command: str
    roles: tuple[str, ...]  # sorted, as the catalog query returns them
    permissive: bool
    using: str | None
    with_check: str | None
    using_location: SourceLocation
    with_check_location: SourceLocation
    raw: Any = field(default=None, compare=False)


@dataclass(frozen=True)
class PoliciesSpec:
    """A table document's ``policies:``: the complete set of the table's policies."""

    key: ObjectKey
    location: SourceLocation
    table: QualifiedName
    entries: tuple[PolicySpec, ...]

    def check_key(self) -> ObjectKey:
        return self.key


@dataclass(frozen=True)
class Policy:
    """A row-level security policy; expressions as ``pg_get_expr(polqual, polrelid)`` prints them."""

    table: QualifiedName
    name: str
    command: str  # all | select | insert | update | delete
    roles: tuple[str, ...]  # sorted; "public" for PUBLIC
    permissive: bool
    using: str | None
    with_check: str | None
    # What CREATE/ALTER POLICY is given: for a desired policy the YAML text, which the server has parsed as one
    # expression in the same context; its deparsed form does not always parse back to the same tree.
    using_source: str | None = field(default=None, compare=False, repr=False)
    with_check_source: str | None = field(default=None, compare=False, repr=False)
    # Facts for ordering and lint, not part of the definition:
    columns: tuple[str, ...] = field(default=(), compare=False)  # the table's own columns it refers to
    depends_on: frozenset[ObjectKey] = field(default=frozenset(), compare=False)  # other columns, views, functions
    using_tree: str | None = field(default=None, compare=False, repr=False)  # pg_node_tree text
    with_check_tree: str | None = field(default=None, compare=False, repr=False)
    # Column numbers of the relation the trees were made on -> names (a desired policy's trees come from a
    # temporary copy, numbered without the live table's dropped columns).
    attributes: Mapping[int, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def key(self) -> ObjectKey:
        return key_of(self.table, self.name)

    @property
    def using_sql(self) -> str | None:
        return self.using_source if self.using_source is not None else self.using

    @property
    def with_check_sql(self) -> str | None:
        return self.with_check_source if self.with_check_source is not None else self.with_check

    @property
    def functions(self) -> tuple[str, ...]:
        """Signatures (schema.name(types)) of the functions it calls, for lint."""
        return tuple(
            sorted(f"{k.parts[0]}.{k.parts[1]}({k.parts[2]})" for k in self.depends_on if k.kind == "function")
        )

    def describe(self) -> str:
        text = f"{'PERMISSIVE' if self.permissive else 'RESTRICTIVE'} FOR {self.command.upper()}"
        text += f" TO {', '.join(self.roles)}"
        if self.using is not None:
            text += f" USING {self.using}"
        if self.with_check is not None:
            text += f" WITH CHECK {self.with_check}"
        return text


def key_of(table: QualifiedName, name: str) -> ObjectKey:
    return table_key("policy", table, name)


@dataclass(frozen=True)
class PolicyDesired(Desired[Policy]):
    tables: frozenset[QualifiedName] = frozenset()  # tables whose `policies:` is declared: the complete set


class PolicyKind(Kind[PoliciesSpec, Policy]):
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

    def check(self, specs: Sequence[PoliciesSpec]) -> list[Any]:
        from ..errors import PgstateError

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

    def canonicalize(self, sandbox: Sandbox, specs: Sequence[PoliciesSpec], live: Live[Policy]) -> PolicyDesired:
        objects: dict[ObjectKey, Policy] = {}
        locations: dict[ObjectKey, SourceLocation] = {}
        work: list[tuple[PoliciesSpec, list[PolicySpec]]] = []
        for spec in specs:
            if spec.table not in sandbox.live.tables:
                continue
            server = []
            for entry in spec.entries:
                locations[entry.key] = entry.location
                current = live.objects.get(entry.key)
                if current is not None and _written_as(entry, current):
                    objects[entry.key] = current  # written exactly as the server prints it: the same
                else:
                    server.append(entry)
            if server:
                work.append((spec, server))
        objects.update(_deparse(sandbox, work, live.objects))
        return PolicyDesired(objects, {}, locations, frozenset(spec.table for spec in specs))

    # --- comparing ------------------------------------------------------------------------------------------

    def live_only(self, key: ObjectKey, obj: Policy, desired: Desired[Policy], context: PlanContext) -> Disposition:
        assert isinstance(desired, PolicyDesired)
        return Disposition.REMOVE if obj.table in desired.tables else Disposition.IGNORE

    # --- planning -------------------------------------------------------------------------------------------

    def plan(self, differences: Sequence[Difference], context: PlanContext) -> list[Step]:
        desired = context.kind_desired(self.name).objects
        live = context.live.of(self.name).objects
        steps: list[Step] = []
        handled = set()
        for key in sorted(k for k in context.in_the_way if k.kind == self.name):
            if context.dropped_by_retirement(key):
                continue  # goes with its table, which is retired first
            handled.add(key)
            current = live[key]
            steps.append(_drop(current, "out of the way of a change", context.location_of(key)))
            declared_table = key.table in context.kind_desired(self.name).tables
            if key in desired or not declared_table:
                wanted = desired.get(key, current)
                steps.append(_create(wanted, context.location_of(key), again=True, needs=context.parents_of(key)))
        for difference in differences:
            if difference.key in handled:
                continue
            location = difference.location
            if difference.change is Change.ADDED:
                steps.append(_create(difference.desired, location))
            elif difference.change is Change.REMOVED:
                steps.append(_drop(difference.live, "not declared (policies: is the complete set)", location))
            elif _alterable(difference.live, difference.desired):
                steps.append(_alter(difference.live, difference.desired, location))
            else:
                steps += [
                    _drop(difference.live, "changed", location),
                    _create(difference.desired, location, again=True),
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
        """``policies:`` is the complete set: a table whose policies the plan changes is recorded with all of them."""
        tables = sorted({d.key.table for d in differences if d.key.table is not None})
        return self._sets(tables, context.live.of(self.name).objects)

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


def _written_as(spec: PolicySpec, current: Policy) -> bool:
    return (
        spec.command == current.command
        and spec.roles == current.roles
        and spec.permissive == current.permissive
        and _same_text(spec.using, current.using)
        and _same_text(spec.with_check, current.with_check)
    )


def _same_text(written: str | None, printed: str | None) -> bool:
    return (written is None and printed is None) or (
        written is not None and printed is not None and written.strip() == printed.strip()
    )


def _alterable(current: Policy, wanted: Policy) -> bool:
    """ALTER POLICY changes roles and expressions, but cannot change the command or permissiveness, nor remove
    an expression."""
    return (
        current.command == wanted.command
        and current.permissive == wanted.permissive
        and (wanted.using is not None or current.using is None)
        and (wanted.with_check is not None or current.with_check is None)
    )


# --- statements ---------------------------------------------------------------------------------------------------


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
    policy: Policy, location: SourceLocation | None, *, again: bool = False, needs: set[ObjectKey] | None = None
) -> Step:
    from ..planning.steps import StepId

    return Step(
        action=Action.CREATE_POLICY,
        subject=policy.key,
        statement=create_policy_sql(policy, policy.table.identifier()),
        lock=Lock.ACCESS_EXCLUSIVE,
        phase=Phase.TRANSACTION,
        summary=("created again: " if needs else "") + policy.describe(),
        table=policy.table,
        location=location,
        hazards=(Hazard.ACCESS_EXCLUSIVE_LOCK,),
        after=(StepId(Action.DROP_POLICY, policy.key),) if again else (),
        needs_done=frozenset(needs or ()) | policy.depends_on | _own_columns(policy),
    )


def _own_columns(policy: Policy) -> frozenset[ObjectKey]:
    from .column import key_of as column_key

    return frozenset(column_key(policy.table, column) for column in policy.columns)


def _alter(current: Policy, policy: Policy, location: SourceLocation | None) -> Step:
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
        hazards=(Hazard.ACCESS_EXCLUSIVE_LOCK,),
        needs_done=policy.depends_on | _own_columns(policy),
    )


def _drop(policy: Policy, reason: str, location: SourceLocation | None) -> Step:
    return Step(
        action=Action.DROP_POLICY,
        subject=policy.key,
        statement=sql.SQL("DROP POLICY {} ON {}").format(sql.Identifier(policy.name), policy.table.identifier()),
        lock=Lock.ACCESS_EXCLUSIVE,
        phase=Phase.TRANSACTION,
        summary=f"{reason}: {policy.describe()}",
        table=policy.table,
        location=location,
        hazards=(Hazard.ACCESS_EXCLUSIVE_LOCK,),
    )


# --- reading ------------------------------------------------------------------------------------------------------


def read_policies(
    cur: psycopg.Cursor[Any],
    tables: Mapping[int, QualifiedName],
    columns: Mapping[int, Mapping[int, Any]],
    *,
    policies: Sequence[int] = (),
) -> dict[ObjectKey, Policy]:
    """Policies of the tables with the given oids (or the policies with the given oids), by key."""
    from ..catalog import query

    cur.execute(query("policies"), {"oids": [] if policies else list(tables), "policies": list(policies)})
    found = {}
    for row in cur.fetchall():
        (
            table_oid,
            name,
            command,
            permissive,
            roles,
            using,
            with_check,
            using_tree,
            with_check_tree,
            own,
            dependencies,
            _oid,
        ) = row
        table = tables[table_oid]
        policy = Policy(
            table=table,
            name=name,
            command=command,
            roles=tuple(roles),
            permissive=permissive,
            using=using,
            with_check=with_check,
            columns=tuple(own),
            depends_on=frozenset(_dependency_key(parts) for parts in dependencies or ()),
            using_tree=using_tree,
            with_check_tree=with_check_tree,
            attributes={attnum: column.name for attnum, column in columns.get(table_oid, {}).items()},
        )
        found[policy.key] = policy
    return found


def _dependency_key(parts: Sequence[str]) -> ObjectKey:
    kind, *rest = parts
    if kind == "function":
        from .function import key_of as function_key

        return function_key(QualifiedName(rest[0], rest[1]), rest[2])
    if kind == "column":
        from .column import key_of as column_key

        return column_key(QualifiedName(rest[0], rest[1]), rest[2])
    if kind == "view":
        return ObjectKey("view", (rest[0], rest[1]), str(QualifiedName(rest[0], rest[1])))
    return table_key("table", QualifiedName(rest[0], rest[1]), label=str(QualifiedName(rest[0], rest[1])))


# --- deparsing ----------------------------------------------------------------------------------------------------


def _deparse(
    sandbox: Sandbox, work: list[tuple[PoliciesSpec, list[PolicySpec]]], live: Mapping[ObjectKey, Policy]
) -> dict[ObjectKey, Policy]:
    """Create the policies that need the server on their tables' copies (and, beside each changed one, the live
    policy it would replace, to read both in the form the server settles on); read them all back at once."""
    built: list[tuple[PolicySpec, Copy]] = []
    reparsed: dict[ObjectKey, str] = {}
    for spec, entries in work:
        with sandbox.collect(spec.location):
            copy = copy_of(sandbox, spec.table)
            for entry in entries:
                _check_fragments(sandbox, entry, copy.identifier)
                try:
                    sandbox.execute(create_policy_sql(entry, copy.identifier))
                except psycopg.Error as error:
                    raise located(error, entry.location) from None
                built.append((entry, copy))
                current = live.get(entry.key)
                if current is not None:
                    scratch = f"pgstate live {len(reparsed)}"
                    try:
                        with sandbox.cur.connection.transaction():
                            sandbox.execute(create_policy_sql(current, copy.identifier, name=scratch))
                        reparsed[entry.key] = scratch
                    except psycopg.Error:
                        pass  # the live policy does not survive the desired types: it differs anyway
    if not built:
        return {}
    copies = {copy.oid: copy for _, copy in built}
    found = read_policies(
        sandbox.cur, {oid: copy.table for oid, copy in copies.items()}, copy_columns(sandbox, copies.values())
    )
    result = {}
    for entry, _copy in built:
        policy = found.get(entry.key)
        if (
            policy is None
            or (policy.using is None) != (entry.using is None)
            or (policy.with_check is None) != (entry.with_check is None)
        ):
            sandbox.problems.add("an expression of this policy is not a single expression", entry.location)
            continue
        policy = replace(policy, using_source=entry.using, with_check_source=entry.with_check)
        current = live.get(entry.key)
        beside = reparsed.get(entry.key)
        if current is not None and beside is not None:
            settled = found.get(key_of(entry.table, beside))
            if settled is not None and replace(settled, name=entry.name) == policy:
                policy = current  # the same policy, once both sides are in the form the server settles on
        result[entry.key] = policy
    return result


def _check_fragments(sandbox: Sandbox, policy: PolicySpec, copy: sql.Composable) -> None:
    if policy.using is not None:
        sandbox.check_single_expression(policy.using, copy, policy.using_location)
    if policy.with_check is not None:
        sandbox.check_single_expression(policy.with_check, copy, policy.with_check_location)


register(PolicyKind())
