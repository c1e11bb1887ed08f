"""Values with units as PostgreSQL reads them: the one parser of durations and sizes, and comparisons of setting
and storage-parameter values by meaning (``1s`` = ``1000`` for a setting in milliseconds, ``on`` = ``true``,
``0.050`` = ``0.05``). The units and types of settings come from ``pg_settings``."""

from __future__ import annotations

import re
from dataclasses import dataclass

# PostgreSQL's own unit names (guc.c): memory in bytes, time in seconds.
MEMORY_UNITS = {"B": 1, "kB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
TIME_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_NUMBER = re.compile(r"^\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*([a-zA-Z]*)\s*$")
_TRUE = {"on", "true", "yes", "1", "t", "y"}
_FALSE = {"off", "false", "no", "0", "f", "n"}


class UnitError(ValueError):
    """A value that is not a number with one of the expected units."""


def duration_seconds(text: str) -> float:
    """A duration as PostgreSQL writes them (``500ms``, ``2s``, ``1min``, ``1.5h``, ``1d``) in seconds.

    A number without a unit is refused: ``2`` would mean milliseconds to one setting and seconds to another.
    """
    match = _NUMBER.match(str(text))
    if not match or match.group(2) not in TIME_UNITS:
        units = ", ".join(TIME_UNITS)
        raise UnitError(f"{text!r} is not a duration: write a number and a unit ({units}), e.g. 500ms, 2s, 1min")
    return float(match.group(1)) * TIME_UNITS[match.group(2)]


def _unit_factor(unit: str) -> float | None:
    """Bytes or seconds in one ``unit`` (pg_settings writes e.g. ``8kB`` for the 8 kB blocks of shared_buffers)."""
    match = re.match(r"^(\d*)(B|kB|MB|GB|TB|us|ms|s|min|h|d)$", unit)
    if not match:
        return None
    count = int(match.group(1) or 1)
    base = MEMORY_UNITS.get(match.group(2)) or TIME_UNITS.get(match.group(2))
    return count * base if base is not None else None


def boolean(text: str) -> bool | None:
    lowered = str(text).strip().lower()
    return True if lowered in _TRUE else False if lowered in _FALSE else None


@dataclass(frozen=True)
class SettingInfo:
    """A row of pg_settings: what a setting is and how the server reads its values."""

    name: str
    current: str
    unit: str | None
    vartype: str  # bool | integer | real | string | enum
    context: str  # internal | postmaster | sighup | superuser-backend | backend | superuser | user
    enumvals: tuple[str, ...]


# Settings whose value is a list (GUC_LIST_INPUT in guc_tables.c): SET takes their elements as separate values,
# and a single quoted string would be one element.
LIST_SETTINGS = frozenset(
    {
        "search_path",
        "datestyle",
        "temp_tablespaces",
        "local_preload_libraries",
        "session_preload_libraries",
        "shared_preload_libraries",
        "log_destination",
        "unix_socket_directories",
        "listen_addresses",
        "wal_consistency_checking",
        "debug_io_direct",
    }
)


def is_list_setting(name: str) -> bool:
    return name.lower() in LIST_SETTINGS


def setting_value(text: str, info: SettingInfo | None) -> object:
    """A comparable form of ``text`` for the setting ``info`` describes (the text itself when it cannot tell)."""
    if info is None:
        return text
    if info.vartype == "bool":
        value = boolean(text)
        return text if value is None else value
    if info.vartype in ("integer", "real"):
        match = _NUMBER.match(text)
        if not match:
            return text
        number, unit = float(match.group(1)), match.group(2)
        factor = _unit_factor(unit) if unit else (_unit_factor(info.unit) if info.unit else 1.0)
        return text if factor is None else number * factor
    if info.vartype == "enum":
        return text.strip().lower()
    return text


def same_setting(a: str, b: str, info: SettingInfo) -> bool:
    return setting_value(a, info) == setting_value(b, info)


# Boolean storage parameters (reloptions.c): their values compare as booleans, so `1` = `true` = `on`.
BOOLEAN_RELOPTIONS = frozenset({"autovacuum_enabled", "vacuum_truncate", "user_catalog_table"})


def reloption_value(name: str, text: str) -> object:
    """The comparable form of a storage parameter's value: a boolean for the boolean ones, else a number, else the
    word in lower case (``vacuum_index_cleanup = auto``; its `on`/`off` also read as booleans)."""
    bare = name.removeprefix("toast.")
    flag = boolean(text)
    if bare in BOOLEAN_RELOPTIONS or (bare == "vacuum_index_cleanup" and flag is not None):
        return text.strip().lower() if flag is None else flag
    try:
        return float(text)
    except ValueError:
        return text.strip().lower()
