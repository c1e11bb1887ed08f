"""Views: their query and options (``check_option``, ``security_barrier``, ``security_invoker``). CREATE OR
REPLACE VIEW when the live columns stay (same names and types, new ones only at the end), else dropped and
created in the transaction with their owner and privileges given back, and the views and policies that depend on
them moved out of the way. The definition compared is the server's deparse (``pg_get_viewdef``) of the desired
query on a temporary view; ``present: false`` drops one (refused while others depend on it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import psycopg
from psycopg import sql

from ..catalog.reader import Reader
from ..errors import PgstateError, SourceLocation
from ..model.access import Access
from ..model.keys import ObjectKey
from ..model.names import QualifiedName
from ..model.state import Root
from ..planning.diff import Change, Difference
from ..planning.steps import Action, Hazard, Lock, Phase, Step
from ..sandbox.session import Sandbox, located
from ..source.compose import Part
from ..source.documents import Header
from ..units import boolean
from ._access import restore_access_sql
from .base import Desired, Kind, Live, register
from .context import PlanContext

CHECK_OPTIONS = ("local", "cascaded")


@dataclass(frozen=True)
class ViewSpec:
    key: ObjectKey
    location: SourceLocation
    name: QualifiedName
    present: bool
    query: str | None
    check_option: str | None
    security_barrier: bool
    security_invoker: bool
    raw: Any = field(default=None, compare=False)


@dataclass(frozen=True)
class View:
    name: QualifiedName
    definition: str  # pg_get_viewdef(oid, true)
    columns: tuple[tuple[str, str], ...]  # (name, format_type) in order: what CREATE OR REPLACE must keep
    check_option: str | None = None
    security_barrier: bool = False
    security_invoker: bool = False
    # Desired only: the query as written, from which the view is created (read under the types of that moment,
    # as its author meant; the live definition may carry casts that older column types needed).
    source: str | None = field(default=None, compare=False, repr=False)
    # Live only: given back when it is dropped and created.
    owner: str = field(default="", compare=False)
    grants: tuple[str, ...] | None = field(default=None, compare=False)
    oid: int = field(default=0, compare=False)

    @property
    def key(self) -> ObjectKey:
        return key_of(self.name)

    def options(self) -> list[tuple[str, str]]:
        found = []
        if self.check_option is not None:
            found.append(("check_option", self.check_option))
        if self.security_barrier:
            found.append(("security_barrier", "true"))
        if self.security_invoker:
            found.append(("security_invoker", "true"))
        return found


def key_of(name: QualifiedName) -> ObjectKey:
    return ObjectKey("view", (name.schema, name.name), str(name))


class ViewKind(Kind[ViewSpec, View]):
    name = "view"
    document = "view"
    keys = ("present", "query", "check_option", "security_barrier", "security_invoker")
    after = ("function",)
    finding_changed = "view-definition"

    def parse(self, header: Header) -> list[ViewSpec]:
        data = header.data
        return [
            ViewSpec(
                key_of(header.qualified),
                header.location,
                header.qualified,
                data.get("present", True) is not False,
                data.get("query"),
                data.get("check_option"),
                data.get("security_barrier", False),
                data.get("security_invoker", False),
                {key: value for key, value in data.items() if key != "lint"},
            )
        ]

    def check(self, specs: Sequence[ViewSpec]) -> list[PgstateError]:
        return [
            PgstateError(
                "a view declared absent takes only its name",
                location=spec.location,
                hint="remove the query and options, or `present: false` to keep the view",
            )
            for spec in specs
            if not spec.present
            and (spec.query is not None or spec.check_option or spec.security_barrier or spec.security_invoker)
        ]

    def relation_names(self, specs: Sequence[ViewSpec]) -> list[Any]:
        from ..source.meaning import Relation

        return [Relation(spec.name.schema, spec.name.name, "view", spec.location) for spec in specs if spec.present]

    # --- catalog --------------------------------------------------------------------------------------------

    def read(self, reader: Reader, specs: Sequence[ViewSpec]) -> Live[View]:
        names = sorted({spec.name for spec in specs})
        if not names:
            return Live({})
        return Live(read_views(reader.cur, names))

    def read_dependents(self, reader: Reader, live: Live[View], rows: Sequence[Any]) -> Live[View]:
        extra = [row.oid for row in rows if row.key not in live.objects]
        if not extra:
            return live
        return Live({**live.objects, **read_views(reader.cur, (), oids=extra)})

    def roots(self, reader: Reader, specs: Sequence[ViewSpec], live: Live[View]) -> list[Root]:
        return [Root("pg_class", view.oid, 0, key) for key, view in live.objects.items()]

    # --- sandbox --------------------------------------------------------------------------------------------

    def canonicalize(self, sandbox: Sandbox, specs: Sequence[ViewSpec], live: Live[View]) -> Desired[View]:
        objects = {}
        for number, spec in enumerate(specs):
            if not spec.present:
                continue
            current = live.objects.get(spec.key)
            if current is not None and _written_as(spec, current):
                objects[spec.key] = current
                continue
            with sandbox.collect(spec.location):
                view = _deparse(sandbox, spec, number, current)
                if view is not None:
                    objects[spec.key] = view
        return Desired(
            objects,
            {spec.key: spec.location for spec in specs if not spec.present},
            {spec.key: spec.location for spec in specs},
        )

    # --- planning -------------------------------------------------------------------------------------------

    def blocking_changes(self, differences: Sequence[Difference], context: PlanContext) -> dict[ObjectKey, ObjectKey]:
        return {d.key: d.key for d in differences if d.change is Change.CHANGED and not _compatible(d.live, d.desired)}

    def problems(self, differences: Sequence[Difference], context: PlanContext) -> list[PgstateError]:
        problems = []
        for difference in differences:
            if difference.change is not Change.REMOVED:
                continue
            users = [d.description for d in context.live.dependencies if d.parent == difference.key]
            if users:
                problems.append(
                    PgstateError(
                        f"view {difference.key} is declared absent, but others depend on it: {'; '.join(users)}",
                        location=difference.location,
                        hint="drop or change those first (or declare them absent too)",
                    )
                )
        return problems

    def access_of(self, obj: View) -> Access | None:
        return Access(obj.owner, obj.grants) if obj.owner else None

    def plan(self, differences: Sequence[Difference], context: PlanContext) -> list[Step]:
        desired = context.kind_desired(self.name).objects
        live = context.live.of(self.name).objects
        steps: list[Step] = []
        handled = set()
        for key in sorted(k for k in context.in_the_way if k.kind == self.name):
            handled.add(key)
            current = live[key]
            wanted = desired.get(key, current)
            steps += _recreate(
                current, wanted, context.location_of(key), "out of the way of a change", needs=context.parents_of(key)
            )
        for difference in differences:
            if difference.key in handled:
                continue
            location = difference.location
            if difference.change is Change.ADDED:
                access = _given_back(difference.desired, context)
                steps.append(_create(difference.desired, Action.CREATE_VIEW, location, followups=access))
            elif difference.change is Change.REMOVED:
                steps.append(_drop(difference.live, "declared absent (present: false)", location))
            elif _compatible(difference.live, difference.desired):
                steps.append(_create(difference.desired, Action.REPLACE_VIEW, location))
            else:
                steps += _recreate(difference.live, difference.desired, location, "its columns change")
        return steps

    def describe(self, obj: View) -> str:
        options = ", ".join(f"{n}={v}" for n, v in obj.options())
        return obj.definition.strip() + (f" (WITH {options})" if options else "")

    # --- documenting ----------------------------------------------------------------------------------------

    def to_yaml(self, key: ObjectKey, obj: View) -> list[Part]:
        document: dict[str, Any] = {
            "view": obj.name.name,
            "schema": obj.name.schema,
            "query": obj.definition.strip().removesuffix(";"),
        }
        if obj.check_option is not None:
            document["check_option"] = obj.check_option
        if obj.security_barrier:
            document["security_barrier"] = True
        if obj.security_invoker:
            document["security_invoker"] = True
        return [Part("view", key.parts, (), document)]

    def absent_yaml(self, key: ObjectKey, desired: Desired[View]) -> list[Part]:
        return [Part("view", key.parts, (), {"view": key.parts[1], "schema": key.parts[0], "present": False})]


def _compatible(current: View, wanted: View) -> bool:
    """What CREATE OR REPLACE VIEW accepts: the existing columns, in order, then new ones."""
    return wanted.columns[: len(current.columns)] == current.columns


def _written_as(spec: ViewSpec, current: View) -> bool:
    return (
        spec.query is not None
        and spec.query.strip().removesuffix(";").strip() == current.definition.strip().removesuffix(";").strip()
        and (spec.check_option, spec.security_barrier, spec.security_invoker)
        == (current.check_option, current.security_barrier, current.security_invoker)
    )


def view_sql(view: View, *, replace_existing: bool) -> sql.Composed:
    """CREATE [OR REPLACE] VIEW with every option spelled out: CREATE OR REPLACE resets the ones it is not given."""
    query = (view.source if view.source is not None else view.definition).strip().removesuffix(";")
    verb = "CREATE OR REPLACE VIEW" if replace_existing else "CREATE VIEW"
    return sql.SQL("{} {}{} AS {}").format(
        sql.SQL(verb), view.name.identifier(), _options_sql(view.options()), sql.SQL(query)
    )


def _options_sql(options: list[tuple[str, str]]) -> sql.Composable:
    if not options:
        return sql.SQL("")
    return sql.SQL(" WITH ({})").format(
        sql.SQL(", ").join(sql.SQL("{} = {}").format(sql.Identifier(n), sql.Literal(v)) for n, v in options)
    )


def _create(
    view: View,
    action: Action,
    location: SourceLocation | None,
    *,
    after: tuple[Any, ...] = (),
    followups: tuple[sql.SQL | sql.Composed, ...] = (),
    needs: set[ObjectKey] | None = None,
) -> Step:
    return Step(
        action=action,
        subject=view.key,
        statement=view_sql(view, replace_existing=action is Action.REPLACE_VIEW),
        lock=Lock.ACCESS_EXCLUSIVE,
        phase=Phase.TRANSACTION,
        summary=("created again; " if needs else "") + f"columns: {', '.join(name for name, _ in view.columns)}",
        table=view.name,
        location=location,
        hazards=(Hazard.ACCESS_EXCLUSIVE_LOCK,) if action is Action.REPLACE_VIEW else (),
        after=after,
        followups=followups,
        needs_done=frozenset(needs or ()),
    )


def _given_back(view: View, context: PlanContext) -> tuple[sql.Composed, ...]:
    """The owner and privileges a rollback gives back to a view its run dropped."""
    given = context.specs.access.get(view.key)
    return tuple(restore_access_sql("VIEW", view.name.identifier(), given.owner, given.grants)) if given else ()


def _drop(view: View, reason: str, location: SourceLocation | None) -> Step:
    return Step(
        action=Action.DROP_VIEW,
        subject=view.key,
        statement=sql.SQL("DROP VIEW {}").format(view.name.identifier()),
        lock=Lock.ACCESS_EXCLUSIVE,
        phase=Phase.TRANSACTION,
        summary=reason,
        table=view.name,
        location=location,
        hazards=(Hazard.ACCESS_EXCLUSIVE_LOCK,),
    )


def _recreate(
    current: View, wanted: View, location: SourceLocation | None, reason: str, needs: set[ObjectKey] | None = None
) -> list[Step]:
    drop = _drop(current, f"{reason}: dropped and created", location)
    access = (
        restore_access_sql("VIEW", wanted.name.identifier(), current.owner, current.grants) if current.owner else []
    )
    return [drop, _create(wanted, Action.CREATE_VIEW, location, after=(drop.id,), followups=tuple(access), needs=needs)]


def read_views(
    cur: psycopg.Cursor[Any], names: Sequence[QualifiedName], *, oids: Sequence[int] = ()
) -> dict[ObjectKey, View]:
    from ..catalog import query

    cur.execute(
        query("views"),
        {"schemas": [n.schema for n in names], "names": [n.name for n in names], "oids": list(oids)},
    )
    found = {}
    for oid, schema, name, definition, column_names, column_types, options, owner, grants in cur.fetchall():
        settings = dict(option.partition("=")[::2] for option in options)
        view = View(
            QualifiedName(schema, name),
            definition,
            tuple(zip(column_names, column_types, strict=True)),
            check_option=settings.get("check_option"),
            security_barrier=bool(boolean(settings.get("security_barrier", "false"))),
            security_invoker=bool(boolean(settings.get("security_invoker", "false"))),
            owner=owner,
            grants=tuple(grants) if grants is not None else None,
            oid=int(oid),
        )
        found[view.key] = view
    return found


def _deparse(sandbox: Sandbox, spec: ViewSpec, number: int, current: View | None) -> View | None:
    """The desired view as a temporary view, read back; and, where the live one reads otherwise, the live
    definition read back the same way, so both sides are compared in the form the server settles on."""
    desired_view = View(
        spec.name, spec.query or "", (), spec.check_option, spec.security_barrier, spec.security_invoker
    )
    temporary = QualifiedName("pg_temp", f"pgstate_view_{number}")
    try:
        sandbox.execute(
            sql.SQL("CREATE TEMP VIEW {}{} AS {}").format(
                sql.Identifier(temporary.name), _options_sql(desired_view.options()), sql.SQL(spec.query or "")
            )
        )
    except psycopg.Error as error:
        raise located(error, spec.location) from None
    found = _read_temporary(sandbox, temporary)
    view = replace(found, name=spec.name, owner="", grants=None, oid=0, source=spec.query)
    if current is not None and (current.definition != view.definition or current.columns != view.columns):
        settled_name = QualifiedName("pg_temp", f"pgstate_live_view_{number}")
        try:
            with sandbox.cur.connection.transaction():
                sandbox.execute(
                    sql.SQL("CREATE TEMP VIEW {} AS {}").format(
                        sql.Identifier(settled_name.name), sql.SQL(current.definition.strip().removesuffix(";"))
                    )
                )
                settled = _read_temporary(sandbox, settled_name)
            if (settled.definition, settled.columns) == (view.definition, view.columns) and (
                current.options() == view.options()
            ):
                return replace(current, source=spec.query)
        except psycopg.Error:
            pass
    return view


def _read_temporary(sandbox: Sandbox, name: QualifiedName) -> View:
    oid = int(sandbox.rows(sql.SQL("SELECT {}::regclass::oid").format(sql.Literal(f"pg_temp.{name.name}")))[0][0])
    (view,) = read_views(sandbox.cur, (), oids=[oid]).values()
    return view


register(ViewKind())
