"""The state of the managed objects before a run, recorded so that ``rollback`` can apply it again."""

from __future__ import annotations

from typing import Any

from .engine import Snapshot
from .export import function_document, table_document, view_document

STATE_FORMAT = "pgstate-state/1"


def record_pre_state(before: Snapshot) -> dict[str, Any]:
    """What the desired files manage, as it was before the run, in a form rollback can apply again."""
    documents: list[dict[str, Any]] = []
    absent_indexes: list[list[str]] = []
    for name, desired in sorted(before.desired.tables.items()):
        live = before.live.tables.get(name)
        if live is None or desired.retire is not None:
            continue  # a retired table comes back from its dump, with everything it had
        document = table_document(
            live,
            columns=[column.name for column in desired.columns],
            indexes=desired.indexes is not None,
            rls=desired.rls is not None,
            policies=desired.policies is not None,
        )
        if desired.indexes is not None:
            # Rolling back drops what the run created, not what others created since: no pruning beyond the
            # user's own choice, and the run's new indexes listed to be dropped.
            document["prune_indexes"] = desired.prune_indexes
            absent_indexes += [[name.schema, index.name] for index in desired.indexes if index.name not in live.indexes]
        documents.append(document)
    absent_functions = []
    recorded: set[str] = set()
    for function in before.desired.functions.values():
        overloads = before.live.functions.get(function.qualified_name, ())
        for overload in overloads:
            if overload.key not in recorded:
                recorded.add(overload.key)
                documents.append(function_document(overload))
        if not any(overload.argument_types == function.argument_types for overload in overloads):
            # The run creates this signature (beside the others, or in place of the only one): undone by a drop.
            absent_functions.append([function.schema, function.name, function.argument_types])
    absent_views = []
    for name in sorted(before.desired.views):
        current = before.live.views.get(name)
        if current is not None:
            documents.append(view_document(current))
        else:
            absent_views.append([name.schema, name.name])
    return {
        "format": STATE_FORMAT,
        "documents": documents,
        "absent_functions": absent_functions,
        "absent_views": absent_views,
        "absent_indexes": absent_indexes,
    }
