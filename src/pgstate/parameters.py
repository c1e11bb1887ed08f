"""Setting and storage-parameter values compared as the server reads them: ``1s`` = ``1000`` for a setting in
milliseconds, ``on`` = ``true``, ``0.050`` = ``0.05``. The units and types come from pg_settings."""

from __future__ import annotations

import re

from .model import SettingInfo

_NUMBER = re.compile(r"^\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*([a-zA-Z]*)\s*$")
_MEMORY = {"B": 1, "kB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
_TIME = {"us": 1e-6, "ms": 1e-3, "s": 1, "min": 60, "h": 3600, "d": 86400}
_TRUE = {"on", "true", "yes", "1", "t", "y"}
_FALSE = {"off", "false", "no", "0", "f", "n"}


def _unit_factor(unit: str) -> float | None:
    """Bytes or seconds in one ``unit`` (pg_settings writes e.g. ``8kB`` for the 8 kB blocks of shared_buffers)."""
    match = re.match(r"^(\d*)(B|kB|MB|GB|TB|us|ms|s|min|h|d)$", unit)
    if not match:
        return None
    count = int(match.group(1) or 1)
    base = _MEMORY.get(match.group(2)) or _TIME.get(match.group(2))
    return count * base if base is not None else None


def _boolean(text: str) -> bool | None:
    lowered = text.strip().lower()
    return True if lowered in _TRUE else False if lowered in _FALSE else None


def setting_value(text: str, info: SettingInfo) -> object:
    """A comparable form of ``text`` for the setting ``info`` describes (the text itself when it cannot tell)."""
    if info.vartype == "bool":
        value = _boolean(text)
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


def same_reloption(a: str, b: str) -> bool:
    """Storage parameters are numbers, booleans or enum words; compared as such."""
    if a == b:
        return True
    for parse in (_boolean, _float):
        left, right = parse(a), parse(b)
        if left is not None and right is not None:
            return left == right
    return a.strip().lower() == b.strip().lower()


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
