"""What the desired files change between a git revision and the working tree, object by object.

``plan --base REF`` shows it above the plan against the live database: the review of a pull request reads what
the author changed in YAML, then what that will do to the database. Both revisions are read by the kinds' own
parsers and compared with one keyed diff, object by object.
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import PgstateError, SourceLocation
from ..kinds import all_kinds
from ..model.keys import ObjectKey
from .documents import SpecSet, read_specs
from .git import files_at, git_facts
from .loader import load_documents


@dataclass(frozen=True)
class ObjectChange:
    change: str  # added | changed | removed
    kind: str  # the kind: table, column, index, policy, rls, storage, function, view, setting, ...
    target: str
    fields: tuple[str, ...] = ()  # for a changed object: which of its keys changed
    key: ObjectKey | None = None  # the object's key, as the plan's steps name their subjects

    def to_json(self) -> dict[str, Any]:
        return {"change": self.change, "kind": self.kind, "target": self.target, "fields": list(self.fields)}


def changes_since(directory: Path, ref: str, *, default_schema: str | None = None) -> list[ObjectChange]:
    """Added, changed and removed objects of the desired files between ``ref`` and the working tree."""
    with tempfile.TemporaryDirectory(prefix="pgstate-base-") as scratch:
        base = _files_at(directory, ref, Path(scratch))
        old = _items(read_specs(load_documents(base), base, default_schema=default_schema))
    new = _items(read_specs(load_documents(directory), directory, default_schema=default_schema))
    changes = []
    for key in sorted(set(old) | set(new)):
        if key not in old:
            changes.append(ObjectChange("added", key.kind, str(key), key=key))
        elif key not in new:
            changes.append(ObjectChange("removed", key.kind, str(key), key=key))
        elif old[key] != new[key]:
            changes.append(ObjectChange("changed", key.kind, str(key), _changed_fields(old[key], new[key]), key))
    return changes


def _files_at(directory: Path, ref: str, into: Path) -> Path:
    """The desired files at ``ref``; in a shallow clone that lacks it (CI checks out one commit by default), an
    error that says so and how to fetch it, instead of an unknown revision alone."""
    try:
        return files_at(directory, ref, into)
    except PgstateError as error:
        depth = shallow_depth(directory)
        if depth is None:
            raise
        commit = ref if re.fullmatch(r"[0-9a-fA-F]{7,40}", ref) else "COMMIT"
        raise PgstateError(
            f"{error.message}: this clone is shallow ({depth} commit{'s' if depth != 1 else ''} of history) and"
            " does not hold it",
            hint="fetch the history (`git fetch --unshallow`), or the one commit (`git fetch --depth=1 origin"
            f" {commit}`); in GitHub Actions: actions/checkout with `fetch-depth: 0`, or fetch the pull request's"
            " base commit as pgstate's plan.yml does",
        ) from None


def shallow_depth(directory: Path) -> int | None:
    """How many commits a shallow clone holding ``directory`` has, or None when it is not shallow (or not a
    repository at all)."""
    facts = git_facts(directory)
    if facts is None:
        return None
    try:
        if facts.repo.git.rev_parse("--is-shallow-repository").strip() != "true":
            return None
        return int(facts.repo.git.rev_list("--count", "--all").strip() or 0)
    except Exception:  # git's own refusals (dubious ownership, ...): the plain error stands
        return None
    finally:
        facts.close()


def _items(specs: SpecSet) -> dict[ObjectKey, Any]:
    """Every object the specs declare, by key, as plain data without where it was written."""
    return {key: _without_locations(item) for kind in all_kinds() for key, item in kind.items(specs.of(kind.name))}


def _without_locations(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: _without_locations(getattr(value, field.name))
            for field in dataclasses.fields(value)
            if not isinstance(getattr(value, field.name), SourceLocation)
            and field.name not in ("key", "_key", "position")
            and not (
                isinstance(getattr(value, field.name), tuple)
                and getattr(value, field.name)
                and all(isinstance(item, SourceLocation) for item in getattr(value, field.name))
            )
        }
    if isinstance(value, tuple | list):
        return [_without_locations(item) for item in value]
    return value


def _changed_fields(old: Any, new: Any) -> tuple[str, ...]:
    if not isinstance(old, dict) or not isinstance(new, dict):
        return ()
    return tuple(sorted(key for key in set(old) | set(new) if old.get(key) != new.get(key)))
