"""What the catalog says of a managed table, shared by every kind of table object (columns, indexes, RLS,
policies, storage, retirement, upkeep)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from .names import QualifiedName


@dataclass(frozen=True)
class TableSize:
    """What the catalog says of a table's size: for hazards and for people reading a plan."""

    rows: int  # pg_class.reltuples, an estimate; -1 when never analyzed
    bytes: int  # relpages of the table, its TOAST table and its indexes, times the block size

    def describe(self) -> str:
        rows = "unknown rows" if self.rows < 0 else f"~{self.rows:,} rows"
        return f"{rows}, {human_bytes(self.bytes)}"


def human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


class ColumnFacts(NamedTuple):
    """A tuple underneath: one is read for every column of every managed table, and a tuple is built in C."""

    name: str
    attnum: int
    type: str  # as format_type prints it
    collation: str | None  # quote_ident'ed, when it is not the type's default collation
    collation_oid: int
    inherited: bool  # inherited from a parent (a partition's column): its type changes with the parent's


@dataclass(frozen=True)
class TableFacts:
    """One managed table as found in the catalog."""

    name: QualifiedName
    oid: int
    size: TableSize
    columns: Mapping[str, ColumnFacts]
    partitioned: bool = False
    partition_of: QualifiedName | None = None
    # Of a partitioned table: its partitions (leaves first-level); sub-partitioned ones are named apart.
    partitions: tuple[QualifiedName, ...] = ()
    subpartitioned: tuple[QualifiedName, ...] = ()
    rls_enabled: bool = False
    rls_forced: bool = False
    owner: str = ""
    by_attnum: Mapping[int, ColumnFacts] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Dependent:
    """An object that depends on a table to be retired (DROP TABLE without CASCADE would refuse)."""

    kind: str  # view | foreign key | function | policy | child table
    name: str  # as people read it
    # What a backup keeps of it: the relation whose definition holds it, or the function.
    relation: QualifiedName | None = None
    function_oid: int | None = None
