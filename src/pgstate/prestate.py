"""The state of the managed objects before a run, recorded so that ``rollback`` can apply it again."""

from __future__ import annotations

from typing import Any

from .engine import Snapshot
from .export import function_document, table_document, view_document

STATE_FORMAT = "pgstate-state/1"


def record_pre_state(before: Snapshot) -> dict[str, Any]:
    """What the desired files manage, as it was before the run, in a form rollback can apply again."""
    documents: list[dict[str, Any]] = []
    for name, desired in sorted(before.desired.tables.items()):
        live = before.live.tables.get(name)
        if live is None or desired.retire is not None:
            continue  # a retired table comes back from its dump, with everything it had
        documents.append(
            table_document(
                live,
                columns=[column.name for column in desired.columns],
                indexes=desired.indexes is not None,
                rls=desired.rls is not None,
                policies=desired.policies is not None,
            )
        )
    absent_functions = []
    for function in before.desired.functions.values():
        overloads = before.live.functions.get(function.qualified_name, ())
        if overloads:
            documents += [function_document(f) for f in overloads]
        else:
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
    }
