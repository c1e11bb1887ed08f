"""What database settings and role settings share: values compared as the server reads them (the unit and type
of each setting from pg_settings; a list setting as its elements), what cannot be set below the server, and how
a value is written in SQL and YAML."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from ..errors import SourceLocation
from ..model.keys import ObjectKey
from ..model.names import parse_identifier_list
from ..planning.diff import Difference, FieldChange
from ..planning.steps import Action, Lock, Phase, Step
from ..units import SettingInfo, is_list_setting, setting_value
from . import _records

# Contexts in which ALTER DATABASE/ROLE ... SET has no effect or is refused (pg_settings.context).
SERVER_CONTEXTS = {
    "postmaster": "a restart",
    "sighup": "a reload (pg_ctl reload, SELECT pg_reload_conf())",
    "internal": "a rebuilt server (it cannot be changed)",
}


def setting_text(value: Any) -> str | tuple[str, ...]:
    """A YAML value as PostgreSQL reads the setting: booleans as on/off; a list as its elements."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return tuple(str(item) for item in value)
    return str(value)


def elements(name: str, value: str | tuple[str, ...]) -> tuple[str, ...] | None:
    """The elements of a list setting (``search_path: "public, extensions"`` has two); None for other settings."""
    if not is_list_setting(name):
        return None
    if isinstance(value, tuple):
        return value
    # Written as SHOW prints it: identifiers, quoted where they need it (``"$user", public``).
    return parse_identifier_list(value)


def stored_elements(name: str, stored: str) -> str | tuple[str, ...]:
    """A value as pg_db_role_setting stores it; a list setting's as its elements (``"$user", public``)."""
    return parse_identifier_list(stored) if is_list_setting(name) else stored


def comparable(name: str, value: str | tuple[str, ...], info: SettingInfo | None) -> object:
    """What two values of a setting compare as: the elements of a list, else the value in the setting's unit."""
    listed = elements(name, value)
    if listed is not None:
        return listed
    return setting_value(str(value), info)


def value_sql(name: str, value: str | tuple[str, ...]) -> sql.Composable:
    """``SET name = value``'s value: one literal, or for a list setting one literal per element."""
    listed = elements(name, value)
    if listed is not None:
        return sql.SQL(", ").join(sql.Literal(item) for item in listed) if listed else sql.Literal("")
    return sql.Literal(str(value))


def yaml_value(name: str, value: str | tuple[str, ...]) -> Any:
    """A stored value for a desired document: a list setting as a list, others as text."""
    return list(value) if isinstance(value, tuple) else value


# Names of settings whose values are secrets (Supabase keeps ``app.settings.jwt_secret`` as a database setting):
# their values are never shown in a plan, a drift report or pgstate's record. A plan posted as a pull-request
# comment must not publish them.
SECRET_NAME = re.compile(r"secret|passw|pwd|token|credential|private.?key|api.?key|jwt|auth.?key", re.IGNORECASE)
REDACTED = "(secret: not shown)"


def is_custom(name: str) -> bool:
    """A custom (placeholder) setting: ``prefix.name``, which the server accepts unless an extension that is
    loaded reserves the prefix (then ALTER ... SET refuses it, and the apply rolls back saying so)."""
    return "." in name


def looks_secret(name: str) -> bool:
    return SECRET_NAME.search(name) is not None


def shown(name: str, value: str | tuple[str, ...]) -> str:
    """A value for people: a list's elements joined; a secret's withheld."""
    if looks_secret(name):
        return REDACTED
    return ", ".join(value) if isinstance(value, tuple) else value


def shown_fields(name: str, fields: tuple[FieldChange, ...]) -> tuple[FieldChange, ...]:
    """A finding's differing fields, for people: a secret's values withheld."""
    if not looks_secret(name):
        return fields
    return tuple(FieldChange(change.field, REDACTED, REDACTED) for change in fields)


def set_statements(
    target: sql.Composable, name: str, value: str | tuple[str, ...]
) -> tuple[sql.Composed, sql.Composed | None]:
    """``<target> SET name = value``, and for a secret the same with its value withheld, for what plans print
    (None otherwise: plans print the statement itself)."""
    statement = sql.SQL("{} SET {} = {}")
    dotted = _records.dotted_name(name)
    shown_statement = statement.format(target, dotted, sql.Literal(REDACTED)) if looks_secret(name) else None
    return statement.format(target, dotted, value_sql(name, value)), shown_statement


@dataclass(frozen=True)
class ParameterSpec:
    """A declared setting of the database or of a role."""

    key: ObjectKey
    location: SourceLocation
    name: str
    value: str | tuple[str, ...] | None  # None: must not be set (reset)
    raw: Any = field(default=None, compare=False)


@dataclass(frozen=True)
class Parameter:
    """A setting as desired or as stored: its value as text (a list setting's as elements), and its comparable
    form, which alone decides equality."""

    owner: str  # the database's name, or the role and its scope
    name: str
    value: str | tuple[str, ...] = field(compare=False)
    canonical: object = None

    @staticmethod
    def of(owner: str, name: str, value: str | tuple[str, ...], catalog: Mapping[str, SettingInfo]) -> Parameter:
        return Parameter(owner, name, value, comparable(name, value, catalog.get(name)))


def parse_config(entries: list[str]) -> dict[str, str]:
    """setconfig / proconfig entries ``name=value`` as a dict (the value may itself contain '=')."""
    return {name: value for name, _, value in (entry.partition("=") for entry in entries)}


def parameter_step(
    difference: Difference,
    action: Action,
    statement: sql.SQL | sql.Composed,
    summary: str,
    record: sql.Composed,
    shown_statement: sql.SQL | sql.Composed | None = None,
) -> Step:
    """SET or RESET of a database or role setting: in the transaction, no lock, and pgstate's record of it."""
    return Step(
        action=action,
        subject=difference.key,
        statement=statement,
        shown=shown_statement,
        lock=Lock.NONE,
        phase=Phase.TRANSACTION,
        summary=summary,
        location=difference.location,
        followups=(record,),
    )
