"""Indexes: built CONCURRENTLY before the transaction when the table is not rewritten anyway.

A changed index is never dropped before its replacement exists: the new definition is built under a temporary
name, then, inside the transaction, the old one is dropped and the new one renamed. Constraint-backed indexes
are never touched.
"""

from __future__ import annotations

from psycopg import sql

from ..change import Action, Change, Hazard, Lock, Phase
from ..ddl import create_index_sql
from ..errors import PgstateError
from ..fielddiff import field_differences
from ..findings import Finding, FindingKind
from ..model import Index, QualifiedName
from ..naming import MAX_IDENTIFIER_BYTES, clip_to_bytes
from . import Kind, TableContext, register

TEMPORARY_SUFFIX = "_pgstate"


def temporary_name(name: str) -> str:
    """Where a replacement is built: the name plus a suffix, clipped to 63 bytes on a character boundary."""
    return clip_to_bytes(name, MAX_IDENTIFIER_BYTES - len(TEMPORARY_SUFFIX)) + TEMPORARY_SUFFIX


def plan(ctx: TableContext) -> list[Change]:
    desired = ctx.desired
    live = ctx.live
    if desired.indexes is None:
        return []
    changes: list[Change] = []
    wanted = {index.name: index for index in desired.indexes}
    for index in desired.indexes:
        _check_name_is_free(ctx, index.qualified_name, index)
    leftovers = _leftovers(ctx, wanted)
    for name in sorted(leftovers):
        changes.append(_drop_concurrently(live.indexes[name], "leftover of an interrupted run"))
    for name, index in wanted.items():
        current = live.indexes.get(name)
        if current is None:
            changes.append(_create(ctx, index))
        elif current.constraint is not None:
            if current.definition() != index.definition():
                raise PgstateError(
                    f"index {index.qualified_name} backs the constraint {current.constraint!r} and is defined"
                    f" as {current.describe()}; pgstate does not change constraint indexes",
                    location=index.location,
                    hint="give the desired index another name, or declare it as the constraint defines it",
                )
        elif not current.valid:
            changes.append(_drop_concurrently(current, "INVALID: rebuilt"))
            changes.append(_create(ctx, index, after=(f"{Action.DROP_INVALID_INDEX} {index.qualified_name}",)))
        elif current.definition() != index.definition():
            changes.extend(_replace(ctx, current, index))
    for name, current in sorted(live.indexes.items()):
        if name in wanted or name in leftovers or current.constraint is not None:
            continue
        if desired.prune_indexes or current.qualified_name in ctx.absent_indexes:
            changes.append(_drop(current, replaced=False))
    return changes


def _check_name_is_free(ctx: TableContext, name: QualifiedName, index: Index) -> None:
    """Index names are unique per schema: one held by another table's index or by a table is refused, else a
    build would fail on it and its undo would drop what is not ours."""
    temporary = QualifiedName(name.schema, temporary_name(name.name))
    ours = f"index on {ctx.desired.name}"
    for candidate in (name, temporary):
        owner = ctx.relations.get(candidate)
        if owner is not None and owner != ours:
            raise PgstateError(
                f"the index name {candidate} is taken (by the {owner})",
                location=index.location,
                hint="index names are unique per schema: choose another `name:`",
            )


def _leftovers(ctx: TableContext, wanted: dict[str, Index]) -> set[str]:
    """Replacements an interrupted run built under a temporary name: INVALID ones, or ones exactly as desired.

    Anything else under such a name is somebody's index: refused rather than dropped.
    """
    leftovers = set()
    for name, index in wanted.items():
        found = ctx.live.indexes.get(temporary_name(name))
        if found is None or found.name in wanted:
            continue
        if found.valid and found.definition() != index.definition():
            raise PgstateError(
                f"index {found.qualified_name} is in the way: pgstate builds the replacement of {name} under"
                " that name, and it is not a leftover of pgstate's",
                location=index.location,
                hint=f"rename or drop {found.qualified_name}",
            )
        leftovers.add(found.name)
    return leftovers


def _create(ctx: TableContext, index: Index, *, name: str | None = None, after: tuple[str, ...] = ()) -> Change:
    """The new index: concurrently before the transaction, or inside it when the table is rewritten anyway."""
    hazards: list[Hazard] = []
    table = index.table.identifier()
    if ctx.rewritten:
        action, lock, phase = Action.CREATE_INDEX, Lock.SHARE, Phase.TRANSACTION
        hazards.append(Hazard.BLOCKS_WRITES)
    else:
        action, lock, phase = Action.BUILD_INDEX, Lock.SHARE_UPDATE_EXCLUSIVE, Phase.BUILD
    if index.unique:
        hazards.append(Hazard.UNIQUE_MAY_FAIL)
    built_name = name or index.name
    statement = create_index_sql(index, table, name=built_name, concurrently=phase is Phase.BUILD)
    undo = None
    if phase is Phase.BUILD:
        undo = sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(
            QualifiedName(index.table.schema, built_name).identifier()
        )
    return Change(
        action=action,
        target=str(index.qualified_name),
        table=str(index.table),
        statement=statement,
        lock=lock,
        phase=phase,
        summary=index.describe(),
        hazards=tuple(hazards),
        after=after,
        undo=undo,
    )


def _replace(ctx: TableContext, current: Index, index: Index) -> list[Change]:
    target = str(index.qualified_name)
    if ctx.rewritten:
        # Inside the transaction anyway: drop, then create under the real name.
        drop = _drop(current, replaced=True)
        return [drop, _create(ctx, index, after=(drop.key,))]
    build = _create(ctx, index, name=temporary_name(index.name))
    drop = _drop(current, replaced=True, after=(build.key,))
    rename = Change(
        action=Action.RENAME_INDEX,
        target=target,
        table=str(index.table),
        statement=sql.SQL("ALTER INDEX {} RENAME TO {}").format(
            QualifiedName(index.table.schema, temporary_name(index.name)).identifier(), sql.Identifier(index.name)
        ),
        lock=Lock.SHARE_UPDATE_EXCLUSIVE,
        phase=Phase.TRANSACTION,
        summary=f"rename the replacement {temporary_name(index.name)} to {index.name}",
        after=(drop.key,),
    )
    return [build, drop, rename]


def _drop(index: Index, *, replaced: bool, after: tuple[str, ...] = ()) -> Change:
    hazards = [Hazard.ACCESS_EXCLUSIVE_LOCK]
    if not replaced and index.valid:
        hazards.append(Hazard.INDEX_DROPPED)
    return Change(
        action=Action.DROP_INDEX,
        target=str(index.qualified_name),
        table=str(index.table),
        statement=sql.SQL("DROP INDEX {}").format(index.qualified_name.identifier()),
        lock=Lock.ACCESS_EXCLUSIVE,
        phase=Phase.TRANSACTION,
        summary=("replaced: " if replaced else "not listed (prune_indexes): ") + index.describe(),
        hazards=tuple(hazards),
        after=after,
    )


def _drop_concurrently(index: Index, reason: str) -> Change:
    return Change(
        action=Action.DROP_INVALID_INDEX,
        target=str(index.qualified_name),
        table=str(index.table),
        statement=sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(index.qualified_name.identifier()),
        lock=Lock.SHARE_UPDATE_EXCLUSIVE,
        phase=Phase.PREPARE,
        summary=f"{reason}: {index.describe()}",
    )


def drift(ctx: TableContext) -> list[Finding]:
    findings: list[Finding] = []
    table = str(ctx.desired.name)
    wanted = {index.name: index for index in ctx.desired.indexes or ()}
    for name, index in wanted.items():
        current = ctx.live.indexes.get(name)
        target = str(index.qualified_name)
        if current is None:
            findings.append(
                Finding(
                    FindingKind.MISSING_INDEX,
                    "index",
                    target,
                    table,
                    "declared index does not exist",
                    desired=index.describe(),
                )
            )
        elif current.definition() != index.definition() and current.constraint is None:
            findings.append(
                Finding(
                    FindingKind.INDEX_DEFINITION,
                    "index",
                    target,
                    table,
                    "definition differs",
                    desired=index.describe(),
                    live=current.describe(),
                    fields=field_differences(index, current),
                )
            )
    for name, current in sorted(ctx.live.indexes.items()):
        target = str(current.qualified_name)
        if not current.valid:
            findings.append(
                Finding(
                    FindingKind.INVALID_INDEX,
                    "index",
                    target,
                    table,
                    "index is INVALID (a failed or interrupted concurrent build)",
                    live=current.describe(),
                )
            )
        elif ctx.desired.indexes is not None and name not in wanted and current.constraint is None:
            findings.append(
                Finding(
                    FindingKind.UNMANAGED_INDEX,
                    "index",
                    target,
                    table,
                    "index exists but is not declared"
                    + (" (prune_indexes will drop it)" if ctx.desired.prune_indexes else ""),
                    live=current.describe(),
                )
            )
    return findings


register(Kind("indexes", plan, drift))
