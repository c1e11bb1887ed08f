"""The configuration file, ``pgstate.toml``: found upward from the working directory, checked whole, and the
defaults it gives the options (an option on the command line always wins).

Paths in it are relative to the file's own directory, so the same file works from any subdirectory of the
repository. It never holds a URL or a password: ``url_env`` names the environment variable that holds the URL.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import PgstateError, SourceLocation

FILE_NAME = "pgstate.toml"
LINT_LEVELS = ("error", "warning", "off")
# A name as the environment takes it: what `url_env` may hold (never a URL: a URL there is a secret in git).
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Config:
    """What pgstate.toml says; None where it says nothing (the built-in default then applies)."""

    path: Path | None = None
    desired: Path | None = None
    schema: str | None = None
    lock_timeout: str | None = None
    retries: int | None = None
    backup_dir: Path | None = None
    url_env: str | None = None
    lint_levels: Mapping[str, str] = field(default_factory=dict)  # rule id -> error | warning | off
    # Fleets (issue 14): each target's table as written, checked for shape here, used by the fleet verbs.
    targets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def line_of(self, key: str) -> SourceLocation | None:
        """Where ``key = ...`` stands in the file, for messages about its value."""
        if self.path is None:
            return None
        return _locate(self.path, self.path.read_text(encoding="utf-8"), key)


def find_config(start: Path) -> Path | None:
    """The nearest pgstate.toml in ``start`` or a directory above it."""
    for directory in (start, *start.parents):
        candidate = directory / FILE_NAME
        if candidate.is_file():
            return candidate
    return None


def load_config(explicit: Path | None, start: Path) -> Config:
    """``--config FILE`` (which must exist), else the nearest pgstate.toml, else an empty Config."""
    if explicit is not None:
        if not explicit.is_file():
            raise PgstateError(f"configuration file {explicit} does not exist", hint="check --config")
        return read_config(explicit)
    found = find_config(start.resolve())
    return read_config(found) if found is not None else Config()


def read_config(path: Path) -> Config:
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        # tomllib words it "... (at line 3, column 7)": moved to the front, as every other file:line message
        message = str(error)
        match = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
        line, column = (int(match[1]), int(match[2])) if match else (1, 1)
        message = message[: match.start()] if match else message
        raise PgstateError(
            f"not valid TOML: {message}",
            location=SourceLocation(str(path), line, column),
            hint="see https://toml.io for the syntax",
        ) from None
    return _checked(path, text, data)


_KEYS = {
    "desired": "the desired directory",
    "schema": "the schema of documents that name none (public)",
    "lock_timeout": "the longest wait of one lock attempt, e.g. 100ms",
    "retries": "attempts after a lock timeout",
    "backup_dir": "where apply writes its dumps",
    "url_env": "the environment variable that holds the database URL",
    "lint": "[lint.rules]: a level per rule",
    "targets": "[targets.NAME]: the databases of a fleet",
}
_TARGET_KEYS = ("url_env", "overlay", "desired", "wave", "role", "primary")
_TARGET_ROLES = ("primary", "standby", "subscriber")


def _checked(path: Path, text: str, data: dict[str, Any]) -> Config:
    def fail(key: str, message: str, hint: str | None = None) -> PgstateError:
        return PgstateError(message, location=_locate(path, text, key), hint=hint)

    for key in data:
        if key not in _KEYS:
            known = ", ".join(_KEYS)
            raise fail(key, f"unknown setting {key!r}", hint=f"the settings are: {known}")

    def string(key: str) -> str | None:
        value = data.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise fail(key, f"{key} must be a non-empty string ({_KEYS[key]})")
        return value

    def directory(key: str) -> Path | None:
        value = string(key)
        return None if value is None else (path.parent / os.path.expanduser(value))

    lock_timeout = string("lock_timeout")
    if lock_timeout is not None:
        from .units import UnitError, duration_seconds

        try:
            duration_seconds(lock_timeout)
        except UnitError as error:
            raise fail("lock_timeout", f"lock_timeout: {error}") from None
        lock_timeout = "".join(lock_timeout.split())
    retries = data.get("retries")
    if retries is not None and (not isinstance(retries, int) or isinstance(retries, bool) or retries < 0):
        raise fail("retries", "retries must be a whole number >= 0")
    url_env = string("url_env")
    if url_env is not None and not ENV_NAME.fullmatch(url_env):
        raise fail(
            "url_env",
            "url_env must be the name of an environment variable, not a URL",
            hint='e.g. url_env = "DATABASE_URL"; a URL in this file would put its password in git',
        )
    return Config(
        path=path,
        desired=directory("desired"),
        schema=string("schema"),
        lock_timeout=lock_timeout,
        retries=retries,
        backup_dir=directory("backup_dir"),
        url_env=url_env,
        lint_levels=_lint_levels(data.get("lint"), fail),
        targets=_targets(data.get("targets"), fail),
    )


def _lint_levels(section: Any, fail: Any) -> dict[str, str]:
    if section is None:
        return {}
    if not isinstance(section, dict) or set(section) - {"rules"}:
        raise fail("lint", "[lint] takes one table, [lint.rules]", hint='e.g. [lint.rules] then rls-initplan = "off"')
    rules = section.get("rules", {})
    if not isinstance(rules, dict):
        raise fail("rules", "[lint.rules] must be a table of rule = level")
    from .lint import RULES

    levels: dict[str, str] = {}
    for rule_id, level in rules.items():
        if rule_id not in RULES:
            raise fail(rule_id, f"unknown lint rule {rule_id!r}", hint=f"the rules are: {', '.join(sorted(RULES))}")
        if level not in LINT_LEVELS:
            raise fail(rule_id, f"lint rule {rule_id}: level must be one of {', '.join(LINT_LEVELS)}, not {level!r}")
        levels[rule_id] = level
    return levels


def _targets(section: Any, fail: Any) -> dict[str, dict[str, Any]]:
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise fail("targets", "targets must be tables: [targets.NAME]")
    found: dict[str, dict[str, Any]] = {}
    for name, target in section.items():
        if not isinstance(target, dict):
            raise fail(name, f"target {name!r} must be a table: [targets.{name}]")
        unknown = set(target) - set(_TARGET_KEYS)
        if unknown:
            raise fail(name, f"target {name!r}: unknown setting {sorted(unknown)[0]!r}", hint=", ".join(_TARGET_KEYS))
        url_env = target.get("url_env")
        if not isinstance(url_env, str) or not ENV_NAME.fullmatch(url_env):
            raise fail(name, f"target {name!r} needs url_env, the name of the variable that holds its URL")
        if target.get("role", "primary") not in _TARGET_ROLES:
            raise fail(name, f"target {name!r}: role must be one of {', '.join(_TARGET_ROLES)}")
        for key in ("overlay", "desired", "primary"):
            if key in target and (not isinstance(target[key], str) or not target[key].strip()):
                raise fail(name, f"target {name!r}: {key} must be a non-empty string")
        wave = target.get("wave", "1")
        if isinstance(wave, bool) or not isinstance(wave, str | int) or not str(wave).strip():
            raise fail(name, f'target {name!r}: wave must be a name or a number, e.g. "canary" or 1')
        if "overlay" in target and "desired" in target:
            raise fail(
                name,
                f"target {name!r}: give overlay (merged over desired/) or desired (its own), not both",
            )
        found[name] = {**target, "wave": str(wave)}
    for name, target in found.items():
        primary = target.get("primary")
        if primary is None:
            continue
        if target.get("role") != "standby":
            raise fail(name, f'target {name!r}: only a standby names its primary (role = "standby")')
        if primary not in found or found[primary].get("role", "primary") != "primary":
            raise fail(name, f"target {name!r}: primary {primary!r} is not a target with role primary")
    return found


def _locate(path: Path, text: str, key: str) -> SourceLocation:
    """The first line that sets ``key`` (bare, quoted, or as a table header's last part); else line 1."""
    name = re.escape(key)
    pattern = re.compile(rf"^\s*(?:{name}|\"{name}\"|'{name}')\s*=|^\s*\[[^\]]*\b{name}\b[\"']?\]")
    for number, line in enumerate(text.splitlines(), start=1):
        if pattern.search(line):
            return SourceLocation(str(path), number, len(line) - len(line.lstrip()) + 1)
    return SourceLocation(str(path), 1, 1)


def url_from_environment(config: Config) -> tuple[str | None, str]:
    """The URL from the environment, and where it came from: $PGSTATE_DATABASE_URL, else the variable that
    pgstate.toml names (else $DATABASE_URL). A variable the file names but the environment lacks is an error: it
    would otherwise fall through to another database."""
    if os.environ.get("PGSTATE_DATABASE_URL"):
        return os.environ["PGSTATE_DATABASE_URL"], "$PGSTATE_DATABASE_URL"
    if config.url_env is not None:
        value = os.environ.get(config.url_env)
        if not value:
            raise PgstateError(
                f"pgstate.toml says the database URL is in ${config.url_env}, which is not set",
                location=config.line_of("url_env"),
                hint=f"export {config.url_env}=postgresql://..., or pass --database-url",
            )
        return value, f"${config.url_env}"
    return os.environ.get("DATABASE_URL") or None, "$DATABASE_URL"
