"""The database itself: settings (ALTER DATABASE <current> SET/RESET) and extensions (CREATE EXTENSION).

A setting that cannot be set for one database (context postmaster, sighup or internal) is never half-applied:
the plan says what to put in the server's configuration, and drift shows it until the server runs with it.
Only settings pgstate set itself are reset when the desired files stop listing them.
"""

from __future__ import annotations

from psycopg import sql

from ..change import Action, Change, Lock, Phase
from ..errors import PgstateError
from ..findings import Finding, FindingKind
from ..model import DesiredState, LiveDatabase, LiveState, Parameter
from ..parameters import same_setting
from . import GlobalKind, register_global

# Contexts in which ALTER DATABASE ... SET has no effect or is refused (pg_settings.context).
SERVER_CONTEXTS = {
    "postmaster": "a restart",
    "sighup": "a reload (pg_ctl reload, SELECT pg_reload_conf())",
    "internal": "a rebuilt server (it cannot be changed)",
}
# Extensions whose library must be loaded at server start to work (their documentation says so).
NEEDS_PRELOAD = frozenset(
    {
        "pg_stat_statements",
        "pg_cron",
        "timescaledb",
        "pg_stat_kcache",
        "pg_wait_sampling",
        "pgaudit",
        "pg_qualstats",
        "pg_squeeze",
        "pg_partman_bgw",
    }
)


def _live(live: LiveState) -> LiveDatabase:
    assert live.database is not None, "read when a database document is declared"
    return live.database


def _check_known(desired: DesiredState, database: LiveDatabase) -> None:
    assert desired.database is not None
    for setting in desired.database.settings:
        if setting.name not in database.catalog:
            raise PgstateError(
                f"unknown setting {setting.name!r}: this server has no such parameter",
                location=setting.location,
                hint="check the name against SHOW ALL or pg_settings (extensions' settings need their library)",
            )


def plan(desired: DesiredState, live: LiveState) -> list[Change]:
    if desired.database is None:
        return []
    database = _live(live)
    _check_known(desired, database)
    changes: list[Change] = []
    wanted = {setting.name: setting for setting in desired.database.settings}
    for name, setting in sorted(wanted.items()):
        info = database.catalog[name]
        if info.context in SERVER_CONTEXTS:
            continue  # a notice, never a step
        current = database.settings.get(name)
        if current is None or not same_setting(current, setting.value, info):
            changes.append(_set(database.name, setting, current))
    for (scope, obj, name), value in sorted(database.managed.items()):
        if scope == "database" and obj == database.name and name not in wanted and name in database.settings:
            changes.append(_reset(database.name, name, value))
    for extension in desired.database.extensions:
        if extension.name not in database.extensions and extension.name in database.available:
            changes.append(
                Change(
                    action=Action.CREATE_EXTENSION,
                    target=extension.name,
                    table="",
                    statement=sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(extension.name)),
                    lock=Lock.NONE,
                    phase=Phase.TRANSACTION,
                    summary="install the extension in this database",
                )
            )
    return changes


def _set_name(name: str) -> sql.Composable:
    # Custom settings are qualified (pg_stat_statements.track): each part is an identifier.
    return sql.SQL(".").join(sql.Identifier(part) for part in name.split("."))


def _set(database: str, setting: Parameter, current: str | None) -> Change:
    record = sql.SQL(
        "INSERT INTO pgstate.managed_settings (scope, object, name, value) VALUES ('database', {}, {}, {})"
        " ON CONFLICT (scope, object, name) DO UPDATE SET value = excluded.value"
    ).format(sql.Literal(database), sql.Literal(setting.name), sql.Literal(setting.value))
    return Change(
        action=Action.SET_SETTING,
        target=setting.name,
        table="",
        statement=sql.SQL("ALTER DATABASE {} SET {} = {}").format(
            sql.Identifier(database), _set_name(setting.name), sql.Literal(setting.value)
        ),
        lock=Lock.NONE,
        phase=Phase.TRANSACTION,
        summary=f"{current if current is not None else '(not set)'} -> {setting.value} (new sessions)",
        followups=(record,),
    )


def _reset(database: str, name: str, value: str) -> Change:
    record = sql.SQL(
        "DELETE FROM pgstate.managed_settings WHERE scope = 'database' AND object = {} AND name = {}"
    ).format(sql.Literal(database), sql.Literal(name))
    return Change(
        action=Action.RESET_SETTING,
        target=name,
        table="",
        statement=sql.SQL("ALTER DATABASE {} RESET {}").format(sql.Identifier(database), _set_name(name)),
        lock=Lock.NONE,
        phase=Phase.TRANSACTION,
        summary=f"set by pgstate ({value}) and no longer declared",
        followups=(record,),
    )


def notices(desired: DesiredState, live: LiveState) -> list[str]:
    if desired.database is None:
        return []
    database = _live(live)
    found = []
    for setting in desired.database.settings:
        info = database.catalog.get(setting.name)
        if info is not None and info.context in SERVER_CONTEXTS and not same_setting(info.current, setting.value, info):
            found.append(
                f"{setting.name} = {setting.value!r} cannot be set for one database (context {info.context}): put"
                f" `{setting.name} = '{setting.value}'` in postgresql.conf (or ALTER SYSTEM) and do"
                f" {SERVER_CONTEXTS[info.context]}; pgstate does not half-apply it"
            )
    for extension in desired.database.extensions:
        if extension.name not in database.available and extension.name not in database.extensions:
            found.append(f"extension {extension.name} is not available on this server: install its package")
        elif extension.name in NEEDS_PRELOAD and extension.name not in database.preloaded:
            libraries = ", ".join(sorted({*database.preloaded, extension.name}))
            found.append(
                f"extension {extension.name} needs its library loaded at server start: add"
                f" `shared_preload_libraries = '{libraries}'` to postgresql.conf and restart the server"
            )
    return found


def drift(desired: DesiredState, live: LiveState) -> list[Finding]:
    if desired.database is None:
        return []
    database = _live(live)
    findings = []
    for setting in desired.database.settings:
        info = database.catalog.get(setting.name)
        if info is None:
            findings.append(
                Finding(FindingKind.SETTING, "setting", setting.name, "", "unknown setting", desired=setting.value)
            )
            continue
        current = info.current if info.context in SERVER_CONTEXTS else database.settings.get(setting.name)
        if current is None or not same_setting(current, setting.value, info):
            where = "the server runs with" if info.context in SERVER_CONTEXTS else "the database has"
            findings.append(
                Finding(
                    FindingKind.SETTING,
                    "setting",
                    setting.name,
                    "",
                    f"{where} {current if current is not None else '(not set)'}",
                    desired=setting.value,
                    live=current,
                )
            )
    for extension in desired.database.extensions:
        if extension.name not in database.extensions:
            findings.append(Finding(FindingKind.EXTENSION, "extension", extension.name, "", "not installed"))
        elif extension.name in NEEDS_PRELOAD and extension.name not in database.preloaded:
            findings.append(
                Finding(
                    FindingKind.EXTENSION,
                    "extension",
                    extension.name,
                    "",
                    "installed, but its library is not in shared_preload_libraries: it does not work"
                    " until the server is restarted with it",
                )
            )
    return findings


register_global(GlobalKind("database", plan, drift, notices))
