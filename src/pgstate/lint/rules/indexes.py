"""Rules on the indexes of managed tables: missing, duplicated, or left INVALID."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from ...kinds.index.model import Index
from ...model.names import quote_for_display
from ..base import Hit, Severity
from ..context import LintContext
from ..registry import rule


@rule(
    "duplicate-index",
    Severity.WARNING,
    "two valid indexes of a table have identical definitions (an index that is a prefix of another is not reported)",
)
def duplicate_index(ctx: LintContext) -> Iterator[Hit]:
    # Identical definitions only: a prefix index can still be worth keeping (smaller, or UNIQUE), which a linter
    # cannot know.
    for subject in ctx.tables:
        groups: dict[tuple[Any, ...], list[Index]] = defaultdict(list)
        for index in subject.indexes.values():
            if index.valid:
                groups[index.definition()].append(index)
        for group in groups.values():
            if len(group) < 2:
                continue
            names = sorted(index.name for index in group)
            yield Hit(
                str(subject.name),
                f"indexes {', '.join(quote_for_display(n) for n in names)} are the same index: {group[0].describe()}",
                "keep one (the one backing a constraint, if any) and drop the others: each slows every write",
                ctx.locator.index(subject.name, names[-1]),
            )


@rule(
    "unindexed-foreign-key",
    Severity.WARNING,
    "no valid btree index starts with a foreign key's columns: deleting or updating referenced rows scans the table",
)
def unindexed_foreign_key(ctx: LintContext) -> Iterator[Hit]:
    if ctx.facts is None:
        return
    subjects = {subject.name: subject for subject in ctx.tables}
    for key in ctx.facts.foreign_keys:
        subject = subjects.get(key.table)
        if subject is None or any(_covers(index, key.columns) for index in subject.indexes.values()):
            continue
        columns = ", ".join(quote_for_display(c) for c in key.columns)
        yield Hit(
            f"{quote_for_display(key.name)} on {key.table}",
            f"foreign key ({columns}) -> {key.referenced} has no index starting with its columns: each delete or"
            f" key update on {key.referenced} scans {key.table}",
            f"add an index: `indexes: [{{columns: [{', '.join(key.columns)}]}}]`",
            subject.location,
        )


def _covers(index: Index, columns: tuple[str, ...]) -> bool:
    """The index's leading keys are exactly the key's columns, in any order (what the referential checks need)."""
    leading = index.keys[: len(columns)]
    return (
        index.valid
        and index.method == "btree"
        and index.predicate is None
        and len(leading) == len(columns)
        and {key.column for key in leading} == set(columns)
    )


@rule("invalid-index", Severity.ERROR, "a managed table has an INVALID index: maintained on writes, used by no query")
def invalid_index(ctx: LintContext) -> Iterator[Hit]:
    for subject in ctx.tables:
        for index in subject.live_indexes.values():
            if not index.valid:
                yield Hit(
                    str(index.qualified_name),
                    f"index on {subject.name} is INVALID (a failed concurrent build): writes maintain it, no"
                    " query uses it",
                    f"rebuild it (REINDEX INDEX CONCURRENTLY {index.qualified_name}) or drop it (DROP INDEX"
                    " CONCURRENTLY); `maintenance: {reindex_invalid: true}` rebuilds such indexes on apply",
                    ctx.locator.index(subject.name, index.name),
                )
