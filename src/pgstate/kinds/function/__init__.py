"""Helper functions: every attribute declared (strict, parallel, cost, rows, leakproof, settings, an SQL-standard
body), so a replacement never silently resets one; CREATE OR REPLACE when the signature and result stay, else
dropped and created, with its owner and privileges given back and what depends on it moved out of the way.

Overloads are told apart by their argument types. A desired function whose name exists live with exactly one
other signature, where the desired files declare exactly one, is taken as that function changed; otherwise the
desired one is created beside them (undeclared objects are not touched). ``present: false`` drops one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ...catalog import query
from ...catalog.reader import Reader
from ...errors import PgstateError
from ...model.access import Access
from ...model.keys import ObjectKey
from ...model.names import QualifiedName
from ...model.state import Root
from ...planning.diff import Change, Difference
from ...planning.steps import Action, Step
from ...sandbox.session import NotASingleExpression, Sandbox
from ...source.compose import Part, Unexpressible
from ...source.documents import Header
from ..base import Desired, Disposition, Kind, Live, register
from ..context import PlanContext
from .canonical import _check_shape, _create_in_temp, _stand_in
from .model import Function, FunctionSpec, key_of
from .read import _catalog, _from_row, _written_as
from .steps import _counterpart_of, _create, _drop, _must_recreate, _recreate, given_back

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

    def access_of(self, obj: Function) -> Access | None:
        return Access(obj.owner, obj.grants) if obj.owner else None

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
                    access = given_back(difference.desired, context)
                    steps.append(_create(difference.desired, Action.CREATE_FUNCTION, location, followups=access))
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

    def record_parts(self, differences: Sequence[Difference], context: PlanContext) -> list[Part | Unexpressible]:
        """Every live overload of a name the plan changes, as it is, and the new ones as absent: rolling back
        must not take the one it declares for a changed version of another (the desired state's rule for a
        name with one overload on each side)."""
        names = {(d.key.parts[0], d.key.parts[1]) for d in differences}
        desired = context.desired.of(self.name)
        parts: list[Part | Unexpressible] = []
        live = context.live.of(self.name).objects
        for key, function in sorted(live.items()):
            if (key.parts[0], key.parts[1]) in names:
                found = self.to_yaml(key, function)
                parts += [found] if isinstance(found, Unexpressible) else found
        for difference in differences:
            if difference.live is None:
                parts += self.absent_yaml(difference.key, desired)
        return parts

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


register(FunctionKind())
