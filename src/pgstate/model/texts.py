"""One string for each short text that recurs: the same keys, names and types appear in every table's file and in
every table's catalog rows (`id`, `bigint`, `owner_id`, `select`), and the YAML parser and the driver make a new
string for each occurrence. Sharing them saves some 57 bytes an occurrence: about 40 MB of a 5,000-table plan.

Bounded, like the other caches of the load: input of many unique texts must not grow it without end, and a long
text (an expression, a definition) rarely recurs, so it is kept as it came.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

_TEXTS: dict[str, str] = {}
_TEXTS_LIMIT = 200_000
SHARED_UP_TO = 64  # characters


def shared_text(text: str) -> str:
    if len(text) > SHARED_UP_TO or len(_TEXTS) >= _TEXTS_LIMIT:
        return text
    return _TEXTS.setdefault(text, text)


def shared_rows(rows: Iterable[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Catalog rows with their short text values shared."""
    return [tuple(shared_text(value) if type(value) is str else value for value in row) for row in rows]
