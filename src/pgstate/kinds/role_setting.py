"""Settings of a role: ``ALTER ROLE ... [IN DATABASE <current>] SET/RESET``, read from pg_db_role_setting and
compared as the server reads them (``8s`` = ``8000`` for statement_timeout; a list setting by its elements).

Supabase's own advice against 503/504s is a per-role ``statement_timeout`` for its serving roles
(``authenticated``, ``anon``), with ``idle_in_transaction_session_timeout`` and ``lock_timeout``. A ``role:``
document declares them for the current database only (``database_only: true``, the default: nothing outside
this database changes) or for every database. pgstate never creates a role: a declared role that does not exist
is an error for plan and a finding for drift. Only settings pgstate set itself are reset when the desired files
stop listing them; ``null`` resets one. The new values apply to new sessions of the role.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from psycopg import sql

from ..catalog.reader import Reader
from ..errors import PgstateError, SourceLocation
from ..model.keys import ObjectKey
from ..planning.diff import Change, Difference
from ..planning.findings import Finding, FindingClass
from ..planning.steps import Action, Step
from ..sandbox.session import Sandbox
from ..source.compose import Part
from ..source.documents import Header
from ..units import SettingInfo
from . import _records
from ._parameters import (
    SERVER_CONTEXTS,
    Parameter,
    ParameterSpec,
    is_custom,
    parameter_step,
    parse_config,
    set_statements,
    setting_text,
    shown,
    shown_fields,
    stored_elements,
    yaml_value,
)
from .base import Desired, Disposition, Kind, Live, register
from .context import PlanContext

DATABASE, EVERY_DATABASE = "database", "all"  # the scopes: IN DATABASE <current>, or every database
MISSING_ROLE_HINT = "create the role first (pgstate manages a role's settings, never the role itself)"


@dataclass(frozen=True)
class RoleSpec:
    """One ``role:`` document: the role, its scope, and its settings (None: the document lists none, as an
    export asks for a role's settings)."""

    key: ObjectKey
    location: SourceLocation
    role: str
    scope: str
    settings: tuple[ParameterSpec, ...] | None


@dataclass(frozen=True)
class RoleSettingLive(Live[Parameter]):
    roles: frozenset[str] = frozenset()  # the declared roles that exist
    database: str = ""
    catalog: dict[str, SettingInfo] = field(default_factory=dict)


def key_of(role: str, scope: str, name: str) -> ObjectKey:
    where = "" if scope == DATABASE else " (every database)"
    return ObjectKey("role-setting", (role, scope, name), f"{role}.{name}{where}")


def owner_of(role: str, scope: str) -> str:
    """How pgstate's record names the role and scope (the scope first: a role's name may hold any character)."""
    return f"{scope} {role}"


class RoleSettingKind(Kind[RoleSpec, Parameter]):
    live_type = RoleSettingLive
    name = "role-setting"
    document = "role"
    keys = ("database_only", "settings")
    finding_missing = "role-setting"
    finding_changed = "role-setting"
    finding_removed = "role-setting"

    def parse(self, header: Header) -> list[RoleSpec]:
        role, scope = header.name, _scope(header)
        settings = None
        if header.has("settings"):
            settings = tuple(
                ParameterSpec(
                    key_of(role, scope, name),
                    header.locate("settings", name),
                    name,
                    None if value is None else setting_text(value),
                    value,
                )
                for name, value in (header.get("settings") or {}).items()
            )
        return [RoleSpec(key_of(role, scope, "*"), header.location, role, scope, settings)]

    def identity(self, header: Header) -> tuple[str, ...]:
        return (_scope(header),)

    def read(self, reader: Reader, specs: Sequence[RoleSpec]) -> RoleSettingLive:
        if not specs and not reader.managed_by(self.name):
            return RoleSettingLive({})
        roles = sorted({spec.role for spec in specs})
        rows = reader.rows("role_settings", {"roles": roles, "every": reader.managed_by(self.name)})
        catalog = reader.settings_catalog
        objects, existing = {}, set()
        for role, database_only, config in rows:
            existing.add(role)
            scope = DATABASE if database_only else EVERY_DATABASE
            for name, value in parse_config(list(config or ())).items():
                objects[key_of(role, scope, name)] = Parameter.of(
                    owner_of(role, scope), name, stored_elements(name, value), catalog
                )
        return RoleSettingLive(objects, frozenset(existing), reader.server.database, catalog)

    def canonicalize(self, sandbox: Sandbox, specs: Sequence[RoleSpec], live: Live[Parameter]) -> Desired[Parameter]:
        assert isinstance(live, RoleSettingLive)
        objects, absent, locations = {}, {}, {}
        for spec in specs:
            if spec.role not in live.roles:
                continue  # reported once, as the role (plan refuses, drift asks a person to create it)
            for entry in spec.settings or ():
                locations[entry.key] = entry.location
                info = live.catalog.get(entry.name)
                # A custom setting (app.settings.x) is in no catalog: the server takes any value, compared as text.
                if info is None and not is_custom(entry.name):
                    sandbox.problems.add(
                        f"unknown setting {entry.name!r}: this server has no such parameter",
                        entry.location,
                        "check the name against SHOW ALL or pg_settings (extensions' settings need their library)",
                    )
                elif info is not None and info.context in SERVER_CONTEXTS:
                    sandbox.problems.add(
                        f"{entry.name} cannot be set for a role (context {info.context}): it takes"
                        f" {SERVER_CONTEXTS[info.context]} of the server",
                        entry.location,
                        "set it in postgresql.conf (or ALTER SYSTEM), or in a `database:` document to be told so",
                    )
                elif entry.value is None:
                    absent[entry.key] = entry.location
                else:
                    objects[entry.key] = Parameter.of(
                        owner_of(spec.role, spec.scope), entry.name, entry.value, live.catalog
                    )
        return Desired(objects, absent, locations)

    def live_only(
        self, key: ObjectKey, obj: Parameter, desired: Desired[Parameter], context: PlanContext
    ) -> Disposition:
        """Reset only what pgstate set, and only when no document of the role and scope still declares it."""
        if context.managed_value(self.name, obj.owner, obj.name) is None:
            return Disposition.IGNORE
        declared = {entry.key for spec in context.specs.of(self.name) for entry in spec.settings or ()}
        return Disposition.IGNORE if key in declared else Disposition.REMOVE

    # --- checking and planning ------------------------------------------------------------------------------

    def problems(self, differences: Sequence[Difference], context: PlanContext) -> list[PgstateError]:
        live: RoleSettingLive = context.live.of(self.name)
        return [
            PgstateError(f"role {spec.role!r} does not exist", location=spec.location, hint=MISSING_ROLE_HINT)
            for spec in context.specs.of(self.name)
            if spec.role not in live.roles and spec.settings
        ]

    def plan(self, differences: Sequence[Difference], context: PlanContext) -> list[Step]:
        live: RoleSettingLive = context.live.of(self.name)
        steps = []
        for difference in differences:
            role, scope, name = difference.key.parts
            target = sql.SQL("ALTER ROLE {}").format(sql.Identifier(role))
            if scope == DATABASE:
                target = sql.SQL("{} IN DATABASE {}").format(target, sql.Identifier(live.database))
            owner = owner_of(role, scope)
            if difference.change is Change.REMOVED:
                statement = sql.SQL("{} RESET {}").format(target, _records.dotted_name(name))
                summary = f"{shown(name, difference.live.value)} -> (not set)"
                record = _records.record_reset(self.name, owner, name)
                action = Action.RESET_ROLE_SETTING
                printed = None
            else:
                wanted: Parameter = difference.desired
                was = shown(name, difference.live.value) if difference.live is not None else "(not set)"
                statement, printed = set_statements(target, name, wanted.value)
                summary = f"{was} -> {shown(name, wanted.value)} (new sessions of {role})"
                record = _records.record_set(self.name, owner, name, shown(name, wanted.value))
                action = Action.SET_ROLE_SETTING
            steps.append(parameter_step(difference, action, statement, summary, record, printed))
        return steps

    # --- drift --------------------------------------------------------------------------------------------

    def finding(self, difference: Difference, context: PlanContext) -> Finding:
        name = difference.key.parts[-1]
        live = shown(name, difference.live.value) if difference.live is not None else "(not set)"
        found = super().finding(difference, context)
        return replace(
            found,
            message=f"the role has {live}",
            fields=shown_fields(name, found.fields),
            desired=shown(name, difference.desired.value) if difference.desired is not None else None,
            live=live if difference.live is not None else None,
        )

    def notes(self, desired: Desired[Parameter], live: Live[Parameter], context: PlanContext) -> list[Finding]:
        """A declared role that does not exist: a person must create it (pgstate never does)."""
        assert isinstance(live, RoleSettingLive)
        return [
            Finding(
                "missing-role",
                self.name,
                spec.key,
                "",
                f"role {spec.role!r} does not exist; {MISSING_ROLE_HINT}",
                location=spec.location,
                cls=FindingClass.ACTION,
            )
            for spec in context.specs.of(self.name)
            if spec.role not in live.roles and spec.settings
        ]

    def describe(self, obj: Parameter) -> str:
        return shown(obj.name, obj.value)

    # --- documenting ----------------------------------------------------------------------------------------

    def to_yaml(self, key: ObjectKey, obj: Parameter) -> list[Part]:
        role, scope, name = key.parts
        return [
            *_header(role, scope),
            Part("role", (role, scope), ("settings",), yaml_value(name, obj.value), name=name),
        ]

    def absent_yaml(self, key: ObjectKey, desired: Desired[Parameter]) -> list[Part]:
        role, scope, name = key.parts
        return [*_header(role, scope), Part("role", (role, scope), ("settings",), None, name=name)]

    def export_parts(self, specs: Sequence[RoleSpec], live: Live[Parameter], tables: Sequence[Any]) -> list[Any]:
        """Every setting of each exported role, one document per scope that has some (``settings: {}`` for the
        current database when it has none)."""
        parts: list[Any] = super().export_parts(specs, live, tables)
        for role in sorted({spec.role for spec in specs}):
            if not any(key.parts[0] == role for key in live.objects):
                parts += [*_header(role, DATABASE), Part("role", (role, DATABASE), ("settings",), {})]
        return parts

    def items(self, specs: Sequence[RoleSpec]) -> list[tuple[ObjectKey, Any]]:
        return [(entry.key, entry.raw) for spec in specs for entry in spec.settings or ()]


def _scope(header: Header) -> str:
    return DATABASE if header.data.get("database_only", True) else EVERY_DATABASE


def _header(role: str, scope: str) -> list[Part]:
    return [Part("role", (role, scope), (), {"role": role, "database_only": scope == DATABASE})]


register(RoleSettingKind())
