"""Helper functions: every attribute declared (strict, parallel, cost, rows, leakproof, settings, an SQL-standard
body), so a replacement never silently resets one; CREATE OR REPLACE when the signature and result stay, else
dropped and created, with its owner and privileges given back and what depends on it moved out of the way.

Overloads are told apart by their argument types. A desired function whose name exists live with exactly one
other signature, where the desired files declare exactly one, is taken as that function changed; otherwise the
desired one is created beside them (undeclared objects are not touched). ``present: false`` drops one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import psycopg
from psycopg import sql

from ...catalog import query
from ...catalog.reader import Reader
from ...catalog.snapshot import Root
from ...errors import PgstateError
from ...model.keys import ObjectKey
from ...model.names import QualifiedName, parse_identifier_list
from ...planning.diff import Change, Difference
from ...planning.steps import Action, Lock, Phase, Step, StepId
from ...sandbox.session import NotASingleExpression, Sandbox, located
from ...source.documents import Header
from ...units import SettingInfo, setting_value
from .._access import restore_access_sql
from ..base import Desired, Disposition, Kind, Live, Part, Unexpressible, register
from ..context import PlanContext
from .ddl import drop_function_sql, function_spec_sql, function_sql, placeholder_sql
from .model import Function, FunctionSpec, key_of

__all__ = ["FunctionKind", "key_of"]


class FunctionKind(Kind[FunctionSpec, Function]):
    name = "function"
    document = "function"
    keys = (
        "present",
        "arguments",
        "returns",
        "language",
        "volatility",
        "security",
        "strict",
        "leakproof",
        "parallel",
        "cost",
        "rows",
        "search_path",
        "set",
        "body",
        "sql_body",
    )
    finding_changed = "function-definition"

    def parse(self, header: Header) -> list[FunctionSpec]:
        data = header.data
        search_path = data.get("search_path")
        arguments = data.get("arguments", "")
        name = header.qualified
        return [
            FunctionSpec(
                key=ObjectKey(
                    "function", (name.schema, name.name, " ".join(arguments.split())), f"{name}({arguments})"
                ),
                location=header.location,
                name=name,
                present=data.get("present", True) is not False,
                arguments=arguments,
                returns=data.get("returns", "void"),
                language=data.get("language", "sql"),
                volatility=data.get("volatility", "volatile"),
                security_definer=data.get("security", "invoker") == "definer",
                strict=data.get("strict", False),
                leakproof=data.get("leakproof", False),
                parallel=data.get("parallel", "unsafe"),
                cost=data.get("cost"),
                rows=data.get("rows"),
                search_path=tuple(search_path) if search_path is not None else None,
                settings=tuple((key, _setting_text(value)) for key, value in (data.get("set") or {}).items()),
                body=data.get("body"),
                sql_body=data.get("sql_body"),
                security_location=header.locate("security") if "security" in data else None,
                given=tuple(data),
                raw={key: value for key, value in data.items() if key != "lint"},
            )
        ]

    def identity(self, header: Header) -> tuple[str, ...]:
        # Functions overload by argument types; comparing the argument text (whitespace-insensitive) catches
        # copies without parsing SQL. Spellings that differ but mean the same are caught against the server.
        return (" ".join(str(header.data.get("arguments", "")).split()),)

    def check(self, specs: Sequence[FunctionSpec]) -> list[PgstateError]:
        problems = []
        for spec in specs:
            if not spec.present:
                extra = [key for key in spec.given if key not in ("function", "schema", "arguments", "present", "lint")]
                if extra:
                    problems.append(
                        PgstateError(
                            f"a function declared absent takes only its name and arguments, not {', '.join(extra)}",
                            location=spec.location,
                            hint="remove those keys, or `present: false` to keep the function",
                        )
                    )
            elif spec.security_definer and spec.search_path is None:
                problems.append(
                    PgstateError(
                        "a `security: definer` function must set `search_path`",
                        location=spec.security_location or spec.location,
                        hint="add e.g. `search_path: [pg_catalog, public]` (or `[]` for an empty path): without it,"
                        " callers can run their own objects with the owner's rights",
                    )
                )
        return problems

    # --- catalog --------------------------------------------------------------------------------------------

    def read(self, reader: Reader, specs: Sequence[FunctionSpec]) -> Live[Function]:
        names = sorted({spec.name for spec in specs})
        if not names:
            return Live({})
        catalog = reader.settings_catalog if any(spec.settings for spec in specs) else {}
        rows = reader.rows(
            "functions", {"schemas": [n.schema for n in names], "names": [n.name for n in names], "oids": []}
        )
        return Live({function.key: function for function in (_from_row(row, catalog) for row in rows)})

    def roots(self, reader: Reader, specs: Sequence[FunctionSpec], live: Live[Function]) -> list[Root]:
        """Every live overload of a declared name may be dropped and created: what depends on it is read."""
        return [Root("pg_proc", function.oid, 0, key) for key, function in live.objects.items()]

    # --- sandbox --------------------------------------------------------------------------------------------

    def canonicalize(self, sandbox: Sandbox, specs: Sequence[FunctionSpec], live: Live[Function]) -> Desired[Function]:
        objects: dict[ObjectKey, Function] = {}
        absent: dict[ObjectKey, Any] = {}
        locations = {}
        pending: list[FunctionSpec] = []
        by_name: dict[QualifiedName, list[Function]] = defaultdict(list)
        for function in live.objects.values():
            by_name[function.qualified_name].append(function)
        for spec in specs:
            local = _written_as(spec, by_name.get(spec.name, []))
            if local is not None and spec.present:
                objects[local.key] = local
                locations[local.key] = spec.location
            else:
                pending.append(spec)
        if pending:
            catalog = _catalog(sandbox, pending)
            created: list[tuple[FunctionSpec, int]] = []
            for spec in pending:
                with sandbox.collect(spec.location):
                    created.append((spec, _create_in_temp(sandbox, spec)))
            rows = (
                sandbox.rows(query("functions"), {"schemas": [], "names": [], "oids": [oid for _, oid in created]})
                if created
                else []
            )
            found = {function.oid: function for function in (_from_row(row, catalog) for row in rows)}
            for spec, oid in created:
                made = found.get(oid)
                if made is None:
                    continue
                function = made
                function = replace(function, schema=spec.name.schema, name=spec.name.name)
                if not spec.present:
                    absent[function.key] = spec.location
                    locations[function.key] = spec.location
                    continue
                try:
                    _check_shape(spec, function)
                except NotASingleExpression as refused:
                    sandbox.problems.add(refused.message, refused.location)
                    continue
                objects[function.key] = replace(function, owner="", grants=None, oid=0)
                locations[function.key] = spec.location
                with sandbox.collect(spec.location):
                    _stand_in(sandbox, spec, function, by_name.get(spec.name, []))
        return Desired(objects, absent, locations)

    # --- comparing ------------------------------------------------------------------------------------------

    def live_only(self, key: ObjectKey, obj: Function, desired: Desired[Function], context: PlanContext) -> Disposition:
        return Disposition.REMOVE if _counterpart_of(obj, desired, context) is not None else Disposition.IGNORE

    def blocking_changes(self, differences: Sequence[Difference], context: PlanContext) -> dict[ObjectKey, ObjectKey]:
        """Functions dropped and created: the old signature -> the new one (policies calling it are in the way)."""
        desired = context.kind_desired(self.name)
        found = {}
        for difference in differences:
            if difference.change is Change.CHANGED and _must_recreate(difference.live, difference.desired):
                found[difference.key] = difference.key
            elif difference.change is Change.REMOVED:
                replacement = _counterpart_of(difference.live, desired, context)
                found[difference.key] = replacement.key if replacement is not None else difference.key
        return found

    def problems(self, differences: Sequence[Difference], context: PlanContext) -> list[PgstateError]:
        return [
            PgstateError(
                f"function {difference.live.describe()} cannot be managed: {difference.live.unsupported}",
                location=difference.location,
                hint="pgstate leaves such routines to migrations: remove the document, or give the new function"
                " another name",
            )
            for difference in differences
            if difference.live is not None and difference.live.unsupported
        ]

    # --- planning -------------------------------------------------------------------------------------------

    def plan(self, differences: Sequence[Difference], context: PlanContext) -> list[Step]:
        desired = context.kind_desired(self.name)
        live = context.live.of(self.name).objects
        replaced = {
            replacement.key: old
            for old in live.values()
            if (replacement := _counterpart_of(old, desired, context)) is not None
        }
        steps: list[Step] = []
        for difference in differences:
            location = difference.location
            if difference.change is Change.ADDED:
                old = replaced.get(difference.key)
                if old is None:
                    steps.append(_create(difference.desired, Action.CREATE_FUNCTION, location))
                else:
                    steps += _recreate(old, difference.desired, location, "its signature changes")
            elif difference.change is Change.CHANGED:
                if _must_recreate(difference.live, difference.desired):
                    steps += _recreate(difference.live, difference.desired, location, "its result or arguments change")
                else:
                    steps.append(_create(difference.desired, Action.REPLACE_FUNCTION, location))
            elif difference.key in desired.absent:
                steps.append(_drop(difference.live, "declared absent (present: false)", location))
        return steps

    def describe(self, obj: Function) -> str:
        return obj.describe()

    # --- documenting ----------------------------------------------------------------------------------------

    def to_yaml(self, key: ObjectKey, obj: Function) -> list[Part] | Unexpressible:
        if obj.unsupported:
            return Unexpressible(key, obj.unsupported)
        return [Part("function", key.parts, (), function_document(obj))]

    def absent_yaml(self, key: ObjectKey, desired: Desired[Function]) -> list[Part]:
        schema, name, types = key.parts
        document = {"function": name, "schema": schema, "arguments": types, "present": False}
        return [Part("function", key.parts, (), document)]


def function_document(function: Function) -> dict[str, Any]:
    document: dict[str, Any] = {
        "function": function.name,
        "schema": function.schema,
        "arguments": function.arguments,
        "returns": function.returns,
        "language": function.language,
        "volatility": function.volatility,
        "security": "definer" if function.security_definer else "invoker",
    }
    if function.strict:
        document["strict"] = True
    if function.leakproof:
        document["leakproof"] = True
    if function.parallel != "unsafe":
        document["parallel"] = function.parallel
    document["cost"] = _number(function.cost)
    if function.returns.startswith(("SETOF ", "TABLE(")):
        document["rows"] = _number(function.rows)
    if function.search_path is not None:
        document["search_path"] = list(function.search_path)
    if function.settings_text:
        document["set"] = dict(function.settings_text)
    if function.sql_body is not None:
        document["sql_body"] = function.sql_body
    else:
        document["body"] = function.body or ""
    return document


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _setting_text(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def _catalog(sandbox: Sandbox, specs: Sequence[FunctionSpec]) -> Mapping[str, SettingInfo]:
    if not any(spec.settings for spec in specs):
        return {}
    rows = sandbox.rows(
        sql.SQL("SELECT name, setting, unit, vartype, context, coalesce(enumvals, '{}') FROM pg_settings")
    )
    return {row[0]: SettingInfo(row[0], row[1], row[2], row[3], row[4], tuple(row[5])) for row in rows}


def _from_row(row: tuple[Any, ...], catalog: Mapping[str, SettingInfo]) -> Function:
    (
        oid,
        schema,
        name,
        argument_types,
        identity,
        arguments,
        returns,
        language,
        volatility,
        definer,
        strict,
        leakproof,
        parallel,
        cost,
        rows,
        _returns_set,
        config,
        body,
        sql_body,
        owner,
        grants,
        unsupported,
    ) = row
    search_path = None
    settings: list[tuple[str, str]] = []
    for entry in config:
        key, _, value = entry.partition("=")
        if key == "search_path":
            search_path = parse_identifier_list(value)
        else:
            settings.append((key, value))
    settings.sort()
    return Function(
        schema=schema,
        name=name,
        argument_types=argument_types,
        arguments=arguments,
        returns=returns,
        language=language,
        volatility=volatility,
        security_definer=definer,
        strict=strict,
        leakproof=leakproof,
        parallel=parallel,
        cost=float(cost),
        rows=float(rows),
        search_path=search_path,
        settings=tuple((key, setting_value(value, catalog.get(key))) for key, value in settings),
        normalized_body=body.strip() if body is not None else None,
        sql_body=sql_body,
        body=body,
        settings_text=tuple(settings),
        identity_arguments=identity,
        owner=owner,
        grants=tuple(grants) if grants is not None else None,
        unsupported=unsupported or "",
        oid=int(oid),
    )


def _written_as(spec: FunctionSpec, overloads: list[Function]) -> Function | None:
    """The live overload the spec describes exactly as the catalog prints it (then no server is needed)."""
    for function in overloads:
        if (
            spec.arguments == function.arguments
            and spec.returns == function.returns
            and spec.language == function.language
            and spec.volatility == function.volatility
            and spec.security_definer == function.security_definer
            and spec.strict == function.strict
            and spec.leakproof == function.leakproof
            and spec.parallel == function.parallel
            and (spec.cost if spec.cost is not None else 100.0) == function.cost
            and (spec.rows if spec.rows is not None else function.rows) == function.rows
            and spec.search_path == function.search_path
            and tuple(sorted(spec.settings)) == function.settings_text
            and (
                (spec.body or "").strip() == (function.body or "").strip()
                if spec.sql_body is None
                else spec.sql_body == function.sql_body
            )
            and not function.unsupported
        ):
            return replace(function, owner="", grants=None, oid=0)
    return None


def _create_in_temp(sandbox: Sandbox, spec: FunctionSpec) -> int:
    """Created in pg_temp under its own name; its oid (the one the server just made)."""
    before = _temporary_oids(sandbox, spec.name.name)
    statement = function_spec_sql if spec.present else placeholder_sql
    try:
        sandbox.execute(statement(spec, sql.Identifier("pg_temp", spec.name.name)))
    except psycopg.Error as error:
        raise located(error, spec.location) from None
    new = sorted(_temporary_oids(sandbox, spec.name.name) - before)
    if len(new) != 1:
        raise NotASingleExpression(
            "the arguments or result of this function are not one argument list and type", spec.location
        )
    return new[0]


def _temporary_oids(sandbox: Sandbox, name: str) -> set[int]:
    rows = sandbox.rows(
        sql.SQL("SELECT oid FROM pg_proc WHERE pronamespace = pg_my_temp_schema() AND proname = %s"), [name]
    )
    return {int(row[0]) for row in rows}


def _check_shape(spec: FunctionSpec, found: Function) -> None:
    """Arguments or a result type that close a parenthesis or comment the rest out could make the server build
    something else than the document says: what was built must carry exactly the document's attributes."""
    if (
        (spec.body is not None and found.body != spec.body)
        or (spec.sql_body is not None and found.sql_body is None)
        or found.language != spec.language
        or found.volatility != spec.volatility
        or found.security_definer != spec.security_definer
        or found.strict != spec.strict
        or found.leakproof != spec.leakproof
        or found.parallel != spec.parallel
        or (found.search_path is None) != (spec.search_path is None)
        or len(found.settings) != len(spec.settings)
    ):
        raise NotASingleExpression(
            "the arguments or result type of this function are not a plain argument list and type", spec.location
        )


def _stand_in(sandbox: Sandbox, spec: FunctionSpec, function: Function, live: list[Function]) -> None:
    """Create the desired function under its real name, inside the sandbox, when no live function has its
    argument types: policies and views that call it can then be deparsed as they will read once it exists.
    PostgreSQL never looks for functions in pg_temp, so the copy there cannot serve."""
    if any(current.argument_types == function.argument_types for current in live):
        return  # calls resolve to the live function, which has the same signature
    try:
        sandbox.execute(function_spec_sql(spec, sql.Identifier(spec.name.schema, spec.name.name)))
    except psycopg.Error as error:
        raise located(error, spec.location) from None


def _counterpart_of(old: Function, desired: Desired[Function], context: PlanContext) -> Function | None:
    """The desired function that replaces a live one of another signature: the only overload of the name on
    both sides."""
    declared = [f for f in desired.objects.values() if f.qualified_name == old.qualified_name]
    live = [f for f in context.live.of("function").objects.values() if f.qualified_name == old.qualified_name]
    if len(declared) == 1 and len(live) == 1 and declared[0].key != old.key and old.key not in desired.absent:
        return declared[0]
    return None


def _must_recreate(current: Function, wanted: Function) -> bool:
    # CREATE OR REPLACE cannot change the result type, argument names, or remove defaults; any change of the
    # argument list (defaults included) is made by dropping and creating.
    return current.returns != wanted.returns or current.arguments != wanted.arguments


def _name(function: Function) -> sql.Composable:
    return sql.SQL("{}({})").format(
        sql.Identifier(function.schema, function.name), sql.SQL(function.identity_arguments)
    )


def _create(
    function: Function,
    action: Action,
    location: Any,
    *,
    after: tuple[StepId, ...] = (),
    followups: tuple[sql.SQL | sql.Composed, ...] = (),
) -> Step:
    return Step(
        action=action,
        subject=function.key,
        statement=function_sql(function, replace_existing=action is Action.REPLACE_FUNCTION),
        lock=Lock.NONE,
        phase=Phase.TRANSACTION,
        summary=function.describe(),
        location=location,
        after=after,
        followups=followups,
    )


def _drop(function: Function, reason: str, location: Any) -> Step:
    return Step(
        action=Action.DROP_FUNCTION,
        subject=function.key,
        statement=drop_function_sql(function),
        lock=Lock.NONE,
        phase=Phase.TRANSACTION,
        summary=f"{reason}: {function.describe()}",
        location=location,
    )


def _recreate(old: Function, new: Function, location: Any, reason: str) -> list[Step]:
    drop = _drop(old, reason, location)
    # Dropping loses the owner and privileges (a REVOKE FROM PUBLIC among them): given back.
    access = restore_access_sql(
        "FUNCTION",
        _name(replace(new, identity_arguments=new.identity_arguments or old.identity_arguments)),
        old.owner,
        old.grants,
    )
    return [drop, _create(new, Action.CREATE_FUNCTION, location, after=(drop.id,), followups=tuple(access))]


register(FunctionKind())
