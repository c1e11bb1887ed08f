"""Catalog queries, one ``.sql`` file each, loaded once."""

from __future__ import annotations

from functools import cache
from importlib import resources

from psycopg import sql


@cache
def query(name: str) -> sql.SQL:
    """The catalog query stored in ``catalog/<name>.sql``."""
    text = resources.files(__package__).joinpath(f"{name}.sql").read_text(encoding="utf-8")
    return sql.SQL(text)  # trusted: shipped with the package
