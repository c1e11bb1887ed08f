"""Qualified names and how PostgreSQL would print an identifier."""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

from psycopg import sql


class QualifiedName(NamedTuple):
    """A schema and a name. A tuple underneath: names key most of a plan's lookups, and a tuple hashes, compares
    and sorts in C (as schema, then name)."""

    schema: str
    name: str

    def identifier(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.name)

    def __str__(self) -> str:
        return f"{quote_for_display(self.schema)}.{quote_for_display(self.name)}"


_SIMPLE_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")


@functools.lru_cache(maxsize=65536)
def quote_for_display(identifier: str) -> str:
    """How PostgreSQL would print an identifier: bare when it can be, double-quoted otherwise (display only).

    Cached: plans and drift reports print the same few thousand names over and over.
    """
    if _SIMPLE_IDENTIFIER.fullmatch(identifier):
        return identifier
    return '"' + identifier.replace('"', '""') + '"'


def parse_identifier_list(text: str) -> tuple[str, ...]:
    """A comma-separated list of identifiers as PostgreSQL stores a list setting (``"$user", public``), unquoted.

    An empty list is stored as ``""`` (one empty quoted identifier), which reads back as no element at all.
    """
    items: list[str] = []
    position, length = 0, len(text)
    while position < length:
        while position < length and text[position] in " \t\n":
            position += 1
        if position >= length:
            break
        if text[position] == '"':
            position += 1
            chars: list[str] = []
            while position < length:
                if text[position] == '"':
                    if position + 1 < length and text[position + 1] == '"':
                        chars.append('"')
                        position += 2
                        continue
                    position += 1
                    break
                chars.append(text[position])
                position += 1
            item = "".join(chars)
        else:
            end = text.find(",", position)
            end = length if end < 0 else end
            item = text[position:end].strip()
            position = end
        if item:
            items.append(item)
        while position < length and text[position] in " \t\n":
            position += 1
        if position < length and text[position] == ",":
            position += 1
    return tuple(items)
