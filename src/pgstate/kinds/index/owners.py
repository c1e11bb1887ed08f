"""Who holds the relation names that the desired indexes would newly take (another table's index, a view, a
sequence...): found once for all the rounds, so that the plan can refuse a name that is taken."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from ...catalog import query
from ...model.keys import ObjectKey
from ...model.names import QualifiedName
from ...sandbox.session import Sandbox
from .canonical import IndexDesired
from .model import Index, temporary_name


def with_owners(sandbox: Sandbox, desired: IndexDesired, live: Mapping[ObjectKey, Index]) -> IndexDesired:
    """The rounds' joined outcome with the owners of the names it would take: one query for all tables."""
    return replace(desired, owners=name_holders(sandbox, desired.objects, live))


def name_holders(
    sandbox: Sandbox, desired: Mapping[ObjectKey, Index], live: Mapping[ObjectKey, Index]
) -> dict[QualifiedName, str]:
    """Who holds the relation names applying the desired indexes would newly take: the names of indexes the table
    does not have yet, and the temporary names of replacements. A name the table's own index holds is ours."""
    names = set()
    for key, index in desired.items():
        existing = live.get(key)
        if existing is None:
            names.add(index.qualified_name)
        elif existing.definition() != index.definition():
            names.add(QualifiedName(index.table.schema, temporary_name(index.name)))
    if not names:
        return {}
    wanted = sorted(names)
    rows = sandbox.catalog_rows(
        query("relations"), {"schemas": [n.schema for n in wanted], "names": [n.name for n in wanted]}
    )
    owners = {}
    for schema, name, relkind, table_schema, table_name in rows:
        if relkind in ("i", "I"):
            owners[QualifiedName(schema, name)] = f"index on {QualifiedName(table_schema, table_name)}"
        else:
            owners[QualifiedName(schema, name)] = RELKINDS.get(relkind, "relation")
    return owners


RELKINDS = {
    "r": "table",
    "p": "partitioned table",
    "v": "view",
    "m": "materialized view",
    "S": "sequence",
    "f": "foreign table",
    "c": "type",
    "t": "TOAST table",
}
