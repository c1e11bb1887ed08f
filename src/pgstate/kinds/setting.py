"""Database settings: ``ALTER DATABASE <current> SET/RESET``, compared as the server reads them (``1s`` =
``1000`` for a setting in milliseconds; a list setting by its elements).

A setting that cannot be set for one database (context postmaster, sighup or internal) is never half-applied:
the plan says what to put in the server's configuration, and drift shows it until the server runs with it.
Only settings pgstate set itself are reset when the desired files stop listing them; ``null`` resets one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from psycopg import sql

from ..catalog.reader import Reader
from ..model.keys import ObjectKey
from ..planning.diff import Change, Difference
from ..planning.findings import Finding, FindingClass
from ..planning.steps import Action, Step
from ..sandbox.session import Sandbox
from ..source.compose import Part
from ..source.documents import Header
from ..units import SettingInfo, same_setting
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

UNKNOWN_HINT = "check the name against SHOW ALL or pg_settings (extensions' settings need their library)"


@dataclass(frozen=True)
class SettingLive(Live[Parameter]):
    database: str = ""
    catalog: dict[str, SettingInfo] = field(default_factory=dict)


def key_of(name: str) -> ObjectKey:
    return ObjectKey("setting", (name,), name)


class SettingKind(Kind[ParameterSpec, Parameter]):
    live_type = SettingLive
    name = "setting"
    document = "database"
    keys = ("settings",)
    finding_missing = "setting"
    finding_changed = "setting"
    finding_removed = "setting"

    def parse(self, header: Header) -> list[ParameterSpec]:
        return [
            ParameterSpec(
                key_of(name),
                header.locate("settings", name),
                name,
                None if value is None else setting_text(value),
                value,
            )
            for name, value in (header.get("settings") or {}).items()
        ]

    def read(self, reader: Reader, specs: Sequence[ParameterSpec]) -> SettingLive:
        if not specs and not reader.exporting(self.document) and not reader.managed_by(self.name):
            return SettingLive({})
        ((database, settings, _preloaded),) = reader.rows("database")
        catalog = reader.settings_catalog
        objects = {
            key_of(name): Parameter.of(database, name, stored_elements(name, value), catalog)
            for name, value in parse_config(list(settings)).items()
        }
        return SettingLive(objects, database, catalog)

    def canonicalize(
        self, sandbox: Sandbox, specs: Sequence[ParameterSpec], live: Live[Parameter]
    ) -> Desired[Parameter]:
        assert isinstance(live, SettingLive)
        objects = {}
        for spec in specs:
            info = live.catalog.get(spec.name)
            if info is None and is_custom(spec.name):
                # A custom setting (app.settings.jwt_secret): the server takes any value, compared as text.
                if spec.value is not None:
                    objects[spec.key] = Parameter.of(live.database, spec.name, spec.value, live.catalog)
            elif info is None:
                sandbox.problems.add(
                    f"unknown setting {spec.name!r}: this server has no such parameter", spec.location, UNKNOWN_HINT
                )
            elif spec.value is not None and info.context not in SERVER_CONTEXTS:
                objects[spec.key] = Parameter.of(live.database, spec.name, spec.value, live.catalog)
        return Desired(
            objects,
            {spec.key: spec.location for spec in specs if spec.value is None},
            {spec.key: spec.location for spec in specs},
        )

    def live_only(
        self, key: ObjectKey, obj: Parameter, desired: Desired[Parameter], context: PlanContext
    ) -> Disposition:
        if context.managed_value(self.name, obj.owner, obj.name) is None:
            return Disposition.IGNORE
        specs = {spec.key for spec in context.specs.of(self.name)}
        return Disposition.IGNORE if key in specs else Disposition.REMOVE

    def plan(self, differences: Sequence[Difference], context: PlanContext) -> list[Step]:
        live: SettingLive = context.live.of(self.name)
        database = sql.Identifier(live.database)
        steps = []
        for difference in differences:
            name = difference.key.parts[0]
            if difference.change is Change.REMOVED:
                steps.append(
                    parameter_step(
                        difference,
                        Action.RESET_SETTING,
                        sql.SQL("ALTER DATABASE {} RESET {}").format(database, _records.dotted_name(name)),
                        f"{shown(name, difference.live.value)} -> (not set)",
                        _records.record_reset(self.name, live.database, name),
                    )
                )
            else:
                wanted: Parameter = difference.desired
                was = shown(name, difference.live.value) if difference.live is not None else "(not set)"
                statement, printed = set_statements(sql.SQL("ALTER DATABASE {}").format(database), name, wanted.value)
                steps.append(
                    parameter_step(
                        difference,
                        Action.SET_SETTING,
                        statement,
                        f"{was} -> {shown(name, wanted.value)} (new sessions)",
                        _records.record_set(self.name, live.database, name, shown(name, wanted.value)),
                        printed,
                    )
                )
        return steps

    def finding(self, difference: Difference, context: PlanContext) -> Finding:
        found = super().finding(difference, context)
        name = difference.key.parts[0]
        live = shown(name, difference.live.value) if difference.live is not None else "(not set)"
        from dataclasses import replace

        return replace(
            found,
            message=f"the database has {live}",
            fields=shown_fields(name, found.fields),
            desired=shown(name, difference.desired.value) if difference.desired is not None else None,
            live=live if difference.live is not None else None,
        )

    def notes(self, desired: Desired[Parameter], live: Live[Parameter], context: PlanContext) -> list[Finding]:
        """Settings only the server's configuration can set, while the server runs with another value."""
        assert isinstance(live, SettingLive)
        found = []
        for spec in context.specs.of(self.name):
            info = live.catalog.get(spec.name)
            if info is None or info.context not in SERVER_CONTEXTS or spec.value is None:
                continue
            wanted = ", ".join(spec.value) if isinstance(spec.value, tuple) else spec.value
            if not same_setting(info.current, wanted, info):
                found.append(
                    Finding(
                        "setting",
                        self.name,
                        spec.key,
                        "",
                        f"{spec.name} = {wanted!r} cannot be set for one database (context {info.context}): put"
                        f" `{spec.name} = '{wanted}'` in postgresql.conf (or ALTER SYSTEM) and do"
                        f" {SERVER_CONTEXTS[info.context]}; pgstate does not half-apply it",
                        desired=wanted,
                        live=info.current,
                        location=spec.location,
                        cls=FindingClass.ACTION,
                    )
                )
        return found

    def describe(self, obj: Parameter) -> str:
        return shown(obj.name, obj.value)

    def to_yaml(self, key: ObjectKey, obj: Parameter) -> list[Part]:
        return [Part("database", (), ("database", "settings"), yaml_value(obj.name, obj.value), name=obj.name)]

    def absent_yaml(self, key: ObjectKey, desired: Desired[Parameter]) -> list[Part]:
        return [Part("database", (), ("database", "settings"), None, name=key.parts[0])]


register(SettingKind())
