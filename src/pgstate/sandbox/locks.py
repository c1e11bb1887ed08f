"""How many locks the sandbox's work may hold at once.

The shared lock table holds ``max_locks_per_transaction`` times the number of connections; one session that
took far more than its share (a copy of every table of a large database at once) runs the server out of it
(``out of shared memory``), where pg_dump, which locks every table, copes with the same catalog. So the work is
cut into rounds, or a batch's chunks, each taking at most what the server sets aside for one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

# The locks one table's copy takes, which the rollback of its round or chunk gives back: the ACCESS SHARE on the
# table that LIKE takes and the copy with its TOAST table and index (6 measured with two policies, on PostgreSQL
# 15), and one per index created on the copy. Beside them the sandbox's transaction holds some 36 locks of its
# own (catalogs and their indexes, functions), whatever the number of tables.
LOCKS_PER_COPY = 7

Item = TypeVar("Item")


def round_budget(max_locks_per_transaction: int) -> int:
    """How many locks a round or a chunk may take: what the server sets aside for each transaction."""
    return max(LOCKS_PER_COPY, max_locks_per_transaction)


def packed(items: Iterable[Item], locks: Callable[[Item], int], budget: int) -> list[list[Item]]:
    """The items in order, in as few consecutive groups as keep each group's locks within the budget (an item
    that alone exceeds it gets a group of its own)."""
    groups: list[list[Item]] = []
    held = budget
    for item in items:
        cost = locks(item)
        if held + cost > budget:
            groups.append([])
            held = 0
        groups[-1].append(item)
        held += cost
    return groups
