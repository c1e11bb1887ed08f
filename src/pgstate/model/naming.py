"""Names PostgreSQL chooses by itself, reproduced so that desired indexes without a name can be compared.

Mirrors ``ChooseIndexColumnNames``, ``ChooseIndexNameAddition`` and ``makeObjectName`` of PostgreSQL's
``src/backend/commands/indexcmds.c``. Lengths are in bytes
(UTF-8, the encoding pgstate supports), never in characters, because that is what ``NAMEDATALEN`` limits.
"""

from __future__ import annotations

NAMEDATALEN = 64  # PostgreSQL's identifier buffer, including the terminating zero byte
MAX_IDENTIFIER_BYTES = NAMEDATALEN - 1


def default_index_name(table: str, column_names: list[str]) -> str:
    """The name ``CREATE INDEX ON table (columns) [INCLUDE (...)]`` gives a plain (non-expression) index.

    ``column_names`` are the key columns followed by the INCLUDE columns, as PostgreSQL names both.
    PostgreSQL appends a number when the name is already taken by another relation; that needs the live
    catalog and is not done here.
    """
    addition = _name_addition(_distinct_column_names(column_names))
    return make_object_name(table, addition, "idx")


def clip_to_bytes(text: str, limit: int) -> str:
    """The longest prefix of ``text`` that fits in ``limit`` UTF-8 bytes without splitting a character."""
    encoded = text.encode()
    if len(encoded) <= limit:
        return text
    # errors="ignore" drops the partial trailing character, like pg_mbcliplen.
    return encoded[:limit].decode(errors="ignore")


def _distinct_column_names(column_names: list[str]) -> list[str]:
    """A column listed twice gets a number, as ChooseIndexColumnNames does: ``(a, a)`` names ``a, a1``."""
    result: list[str] = []
    for name in column_names:
        candidate = name
        suffix = 0
        while candidate in result:
            suffix += 1
            digits = str(suffix)
            candidate = clip_to_bytes(name, MAX_IDENTIFIER_BYTES - len(digits)) + digits
        result.append(candidate)
    return result


def _name_addition(column_names: list[str]) -> str:
    """Column names joined by '_', stopping once the joined text reaches NAMEDATALEN bytes."""
    joined = b""
    for name in column_names:
        if joined:
            joined += b"_"
        joined += name.encode()[:MAX_IDENTIFIER_BYTES]
        if len(joined) >= NAMEDATALEN:
            break
    return joined.decode(errors="ignore")


def make_object_name(name1: str, name2: str, label: str) -> str:
    """``name1_name2_label`` within 63 bytes, shortening the longer part first, one byte at a time."""
    first = name1.encode()
    second = name2.encode()
    available = MAX_IDENTIFIER_BYTES - (len(label) + 2)  # two separating underscores
    first_len, second_len = len(first), len(second)
    while first_len + second_len > available:
        # On a tie PostgreSQL shortens the second part.
        if first_len > second_len:
            first_len -= 1
        else:
            second_len -= 1
    return f"{clip_to_bytes(name1, first_len)}_{clip_to_bytes(name2, second_len)}_{label}"
