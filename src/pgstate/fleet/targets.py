"""The targets of a fleet (``[targets.NAME]`` in pgstate.toml): which one a command is about, in which order the
waves go, and where each one's URL and desired state come from.

pgstate schedules nothing: a CI matrix or a Kubernetes Indexed Job runs one process per target, and each process
picks its target by name (``--target NAME``) or by its position (``--target-index N``, a job's completion index).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..config import Config
from ..errors import PgstateError

ROLES = ("primary", "standby", "subscriber")
CANARY = "canary"


@dataclass(frozen=True)
class Target:
    name: str
    url_env: str  # the environment variable that holds its URL, never the URL
    wave: str
    role: str = "primary"
    overlay: Path | None = None  # merged over the desired directory: the documents it declares replace desired/'s
    desired: Path | None = None  # its own desired directory instead (a logical subscriber's indexes are its own)
    primary: str | None = None  # of a standby: the target it replicates, where its plans parse the desired state

    @property
    def is_standby(self) -> bool:
        return self.role == "standby"

    def url(self, config: Config) -> str:
        """Its URL, from the variable it names; one that is not set is an error, not another database."""
        value = os.environ.get(self.url_env)
        if not value:
            raise PgstateError(
                f"target {self.name!r} has its URL in ${self.url_env}, which is not set",
                location=config.line_of(self.name),
                hint=f"export {self.url_env}=postgresql://... (in CI: a secret of that name)",
            )
        return value

    def matrix_entry(self) -> dict[str, str]:
        """What a CI job needs to know of it: names only, never a URL."""
        return {"target": self.name, "url_env": self.url_env, "wave": self.wave, "role": self.role}


def targets_of(config: Config) -> list[Target]:
    """Every configured target, wave after wave (canary first, then numbered waves in order, then named ones),
    and within a wave in the file's order."""
    base = config.path.parent if config.path is not None else Path.cwd()
    found = []
    for name, entry in config.targets.items():
        found.append(
            Target(
                name=name,
                url_env=str(entry["url_env"]),
                wave=str(entry.get("wave", "1")),
                role=str(entry.get("role", "primary")),
                overlay=base / os.path.expanduser(entry["overlay"]) if entry.get("overlay") else None,
                desired=base / os.path.expanduser(entry["desired"]) if entry.get("desired") else None,
                primary=entry.get("primary"),
            )
        )
    waves = wave_order([target.wave for target in found])
    return sorted(found, key=lambda target: waves.index(target.wave))  # sorted() is stable: file order within


def wave_order(waves: list[str]) -> list[str]:
    """The waves in the order they run: canary, then numbers ascending, then other names alphabetically."""
    unique = set(waves)

    def key(wave: str) -> tuple[int, float, str]:
        if wave == CANARY:
            return (0, 0, "")
        if wave.isdigit():
            return (1, int(wave), "")
        return (2, 0, wave)

    return sorted(unique, key=key)


def in_wave(config: Config, wave: str | None, *, may_be_empty: bool = False) -> list[Target]:
    """The targets of ``wave`` (all without one). A wave no target is in is an error, unless ``may_be_empty``:
    a workflow has a job per wave whether the fleet uses every wave or not."""
    targets = targets_of(config)
    if wave is None:
        return targets
    chosen = [target for target in targets if target.wave == wave]
    if not chosen and not may_be_empty:
        known = ", ".join(wave_order([target.wave for target in targets])) or "none"
        raise PgstateError(f"no target is in wave {wave!r}", hint=f"the waves are: {known}")
    return chosen


def chosen_target(config: Config, name: str | None, index: int | None, wave: str | None) -> Target | None:
    """The target of ``--target NAME`` or ``--target-index N`` (the N-th of ``--wave``'s targets, else of all,
    in the order ``pgstate targets`` lists them); None when neither is given."""
    if name is None and index is None:
        return None
    if not config.targets:
        raise PgstateError(
            "no targets are configured",
            hint="add [targets.NAME] tables with url_env to pgstate.toml (see README, Fleets and replicas)",
        )
    if name is not None:
        for target in targets_of(config):
            if target.name == name:
                return target
        raise PgstateError(f"there is no target {name!r}", hint=f"the targets are: {', '.join(config.targets)}")
    assert index is not None
    candidates = in_wave(config, wave)
    if index >= len(candidates):
        where = f"wave {wave!r}" if wave is not None else "the fleet"
        raise PgstateError(
            f"target index {index} is out of range: {where} has {len(candidates)} target(s), 0 to"
            f" {len(candidates) - 1}",
            hint="a Kubernetes Indexed Job's completions must equal the number of targets"
            " (`pgstate targets --format json`)",
        )
    return candidates[index]


def primary_of(config: Config, target: Target) -> Target | None:
    if target.primary is None:
        return None
    return next(candidate for candidate in targets_of(config) if candidate.name == target.primary)
