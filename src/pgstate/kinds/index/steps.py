"""The steps of the index kind: concurrent builds before the transaction, drops and renames inside it."""

from __future__ import annotations

from psycopg import sql

from ...errors import SourceLocation
from ...model.keys import ObjectKey
from ...model.names import QualifiedName
from ...model.naming import make_object_name
from ...planning.steps import Action, Hazard, Lock, Phase, Step, StepId
from ..context import PlanContext
from .ddl import attach_index_sql, create_index_sql, drop_index_sql, rename_index_sql
from .model import Index, key_of, temporary_name


def function_keys(index: Index) -> frozenset[ObjectKey]:
    from ..function import key_of as function_key

    return frozenset(function_key(QualifiedName(schema, name), types) for schema, name, types in index.functions)


def _in_transaction(index: Index, context: PlanContext) -> bool:
    """Built inside the transaction when the table is rewritten anyway, or when a function it calls is created
    there (a build before the transaction would not find it)."""
    return context.rewritten(index.table) or context.made_in_transaction(function_keys(index))


def create(
    index: Index,
    context: PlanContext,
    location: SourceLocation | None,
    *,
    name: str | None = None,
    after: tuple[StepId, ...] = (),
) -> list[Step]:
    """The new index: concurrently before the transaction, or inside it when it must be."""
    table = context.live.tables[index.table]
    if table.partitioned:
        return _create_partitioned(index, context, location, name=name, after=after)
    built = name or index.name
    hazards: list[Hazard] = [Hazard.UNIQUE_MAY_FAIL] if index.unique else []
    statement_table = index.table.identifier()
    if _in_transaction(index, context):
        return [
            Step(
                action=Action.CREATE_INDEX,
                subject=index.key,
                statement=create_index_sql(index, statement_table, name=built),
                lock=Lock.SHARE,
                phase=Phase.TRANSACTION,
                summary=index.describe(),
                table=index.table,
                location=location,
                hazards=(Hazard.BLOCKS_WRITES, *hazards),
                after=after,
                needs_done=function_keys(index),
                makes_subject=name is None,
            )
        ]
    return [
        Step(
            action=Action.BUILD_INDEX,
            subject=index.key,
            statement=create_index_sql(index, statement_table, name=built, concurrently=True),
            lock=Lock.SHARE_UPDATE_EXCLUSIVE,
            phase=Phase.BUILD,
            summary=index.describe(),
            table=index.table,
            location=location,
            hazards=tuple(hazards),
            after=after,
            undo=sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(
                QualifiedName(index.table.schema, built).identifier()
            ),
            makes_subject=name is None,
        )
    ]


def child_name(parent_table: QualifiedName, partition: QualifiedName, parent_index: str) -> str:
    """The name of a partition's index attached to ``parent_index``: the parent's index name with the partition's
    name in place of the table's (``events_kind_idx`` -> ``events_2025_kind_idx``), as PostgreSQL would name it,
    else the partition's name and the parent index's, clipped to 63 bytes like PostgreSQL's own names."""
    prefix = parent_table.name + "_"
    rest = parent_index[len(prefix) :] if parent_index.startswith(prefix) else parent_index
    return make_object_name(partition.name, rest.removesuffix("_idx"), "idx")


def _create_partitioned(
    index: Index,
    context: PlanContext,
    location: SourceLocation | None,
    *,
    name: str | None,
    after: tuple[StepId, ...],
    replacing: bool = False,
) -> list[Step]:
    """``ON ONLY`` the parent inside the transaction, each partition's index concurrently before it, attached.

    ``replacing``: the old parent index (and with it its partitions' indexes) is dropped in the transaction, so
    the new partitions' indexes are built under temporary names and renamed once the old ones are gone."""
    table = context.live.tables[index.table]
    parent_name = name or index.name
    parent = Step(
        action=Action.CREATE_INDEX,
        subject=index.key,
        statement=create_index_sql(index, index.table.identifier(), name=parent_name, only=True),
        lock=Lock.SHARE,
        phase=Phase.TRANSACTION,
        summary=f"{index.describe()} on the partitioned table only (its partitions' indexes are attached)",
        table=index.table,
        location=location,
        hazards=(Hazard.BLOCKS_WRITES,),
        after=after,
        makes_subject=name is None,
    )
    steps = [parent]
    for partition in table.partitions:
        final = child_name(index.table, partition, parent_name)
        child = temporary_name(final) if replacing else final
        child_index = Index(partition, child, index.keys, index.method, index.unique, index.include, index.predicate)
        build = Step(
            action=Action.BUILD_INDEX,
            subject=child_index.key,
            statement=create_index_sql(child_index, partition.identifier(), name=child, concurrently=True),
            lock=Lock.SHARE_UPDATE_EXCLUSIVE,
            phase=Phase.BUILD,
            summary=f"{index.describe()} on partition {partition}, to attach to {parent_name}",
            table=partition,
            location=location,
            hazards=(Hazard.UNIQUE_MAY_FAIL,) if index.unique else (),
            undo=sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(
                QualifiedName(partition.schema, child).identifier()
            ),
        )
        attach = Step(
            action=Action.ATTACH_INDEX,
            subject=child_index.key,
            statement=attach_index_sql(index.table.schema, parent_name, partition.schema, child),
            lock=Lock.SHARE_UPDATE_EXCLUSIVE,
            phase=Phase.TRANSACTION,
            summary=f"attach the index of partition {partition} to {parent_name}",
            table=index.table,
            location=location,
            after=(parent.id, build.id),
        )
        steps += [build, attach]
        if replacing:
            steps.append(
                Step(
                    action=Action.RENAME_INDEX,
                    subject=key_of(partition, final),
                    statement=rename_index_sql(partition.schema, child, final),
                    lock=Lock.SHARE_UPDATE_EXCLUSIVE,
                    phase=Phase.TRANSACTION,
                    summary=f"rename the replacement {child} to {final}",
                    table=partition,
                    location=location,
                    after=(*after, attach.id),
                )
            )
    return steps


def replace_index(current: Index, index: Index, context: PlanContext, location: SourceLocation | None) -> list[Step]:
    if context.live.tables[index.table].partitioned:
        dropped = drop(current, replaced=True, location=location)
        return [dropped, *_create_partitioned(index, context, location, name=None, after=(dropped.id,), replacing=True)]
    if context.rewritten(index.table):
        # Inside the transaction anyway: drop, then create under the real name.
        dropped = drop(current, replaced=True, location=location)
        return [dropped, *create(index, context, location, after=(dropped.id,))]
    temporary = temporary_name(index.name)
    built = create(index, context, location, name=temporary)
    dropped = drop(current, replaced=True, location=location, after=tuple(step.id for step in built))
    rename = Step(
        action=Action.RENAME_INDEX,
        subject=index.key,
        statement=rename_index_sql(index.table.schema, temporary, index.name),
        lock=Lock.SHARE_UPDATE_EXCLUSIVE,
        phase=Phase.TRANSACTION,
        summary=f"rename the replacement {temporary} to {index.name}",
        table=index.table,
        location=location,
        after=(dropped.id,),
    )
    return [*built, dropped, rename]


def rebuild(current: Index, index: Index, context: PlanContext, location: SourceLocation | None) -> list[Step]:
    """An INVALID index: dropped concurrently, then built again."""
    dropped = drop_concurrently(current, "INVALID: rebuilt", location)
    return [dropped, *create(index, context, location, after=(dropped.id,))]


def drop(
    index: Index,
    *,
    replaced: bool,
    location: SourceLocation | None,
    pruned: bool = True,
    after: tuple[StepId, ...] = (),
) -> Step:
    hazards = [Hazard.ACCESS_EXCLUSIVE_LOCK]
    if not replaced and index.valid:
        hazards.append(Hazard.INDEX_DROPPED)
    reason = "replaced: " if replaced else ("not listed (prune_indexes): " if pruned else "declared absent: ")
    return Step(
        action=Action.DROP_INDEX,
        subject=index.key,
        statement=drop_index_sql(index),
        lock=Lock.ACCESS_EXCLUSIVE,
        phase=Phase.TRANSACTION,
        summary=reason + index.describe(),
        table=index.table,
        location=location,
        hazards=tuple(hazards),
        after=after,
    )


def drop_concurrently(index: Index, reason: str, location: SourceLocation | None) -> Step:
    return Step(
        action=Action.DROP_INVALID_INDEX,
        subject=index.key,
        statement=drop_index_sql(index, concurrently=True),
        lock=Lock.SHARE_UPDATE_EXCLUSIVE,
        phase=Phase.PREPARE,
        summary=f"{reason}: {index.describe()}",
        table=index.table,
        location=location,
    )


def out_of_the_way(current: Index, wanted: Index, context: PlanContext, location: SourceLocation | None) -> list[Step]:
    """An index that uses a function the plan drops and creates: dropped before it, created inside the
    transaction after it (it cannot be built before the function exists again)."""
    dropped = drop(current, replaced=True, location=location)
    dropped = Step(**{**dropped.__dict__, "summary": f"out of the way of a change: {current.describe()}"})
    needs = frozenset(context.parents_of(current.key))
    created = Step(
        action=Action.CREATE_INDEX,
        subject=wanted.key,
        statement=create_index_sql(wanted, wanted.table.identifier(), name=wanted.name),
        lock=Lock.SHARE,
        phase=Phase.TRANSACTION,
        summary=f"created again: {wanted.describe()}",
        table=wanted.table,
        location=location,
        hazards=(Hazard.BLOCKS_WRITES,) + ((Hazard.UNIQUE_MAY_FAIL,) if wanted.unique else ()),
        after=(dropped.id,),
        needs_done=needs | function_keys(wanted),
    )
    return [dropped, created]


def key_for(table: QualifiedName, name: str) -> ObjectKey:
    return key_of(table, name)
