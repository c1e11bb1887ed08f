"""The workload advisor: from the statements the server spends its time on to proposals for the desired state.

The flow: ``workload`` reads the top statements (pg_stat_statements) and the tables they touch; ``explain`` plans
each one generically, as the serving role when asked, so row-level security is part of the plan; ``candidates``
turns the plans' filters, join keys and sort keys into indexes that could serve them; ``hypothetical`` verifies
them with hypopg (estimated cost before and after, weighted by calls) and chooses greedily; ``findings`` adds what
is not an index (unused and redundant indexes, ``json`` read as JSON, per-row calls in policies, settings);
``report`` words it for people and machines, ``writeback`` writes it into the desired files.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from psycopg import sql


@cache
def query(name: str) -> sql.SQL:
    """The advisor's catalog query in ``advice/<name>.sql``."""
    text = resources.files(__package__).joinpath(f"{name}.sql").read_text(encoding="utf-8")
    return sql.SQL(text)  # trusted: shipped with the package
