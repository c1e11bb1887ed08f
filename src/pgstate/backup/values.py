"""Giving converted values back: a lossy type change (``json`` → ``jsonb`` loses key order, duplicate keys and
whitespace) is undone by changing the type back and then setting each row's converted columns to what the run's
verified dump holds, matched by primary key, inside the rollback's transaction.

The rows come from the dump's own COPY block, loaded into a temporary copy of the table with the original types,
so every value comes back byte for byte as the dump wrote it; the table must hold exactly what the run left it
(the run recorded its digest under its lock) and every row must be matched, else the transaction rolls back.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import psycopg
from psycopg import sql

from ..db.sqlexec import execute
from ..errors import PgstateError
from ..model.names import QualifiedName
from .dump import copy_columns
from .files import TableDump, hash_file

SCRATCH_NAME = "pgstate_restore_values"
SCRATCH = sql.Identifier("pg_temp", SCRATCH_NAME)  # qualified: never a table of that name on the search_path
COPY_END = b"\\."


@dataclass(frozen=True)
class ValueRestore:
    """The payload of a rollback's ``restore-values`` step."""

    table: QualifiedName
    columns: tuple[str, ...]  # the converted columns, given back
    key: tuple[str, ...]  # the table's primary key, which matches the dump's rows to the table's
    dump: TableDump
    # The column lists of the dump's COPY blocks, in the file's order: one for a plain table, one per partition
    # (or child) of a partitioned (or inherited) one, which the dump holds with it.
    blocks: tuple[tuple[str, ...], ...]

    @classmethod
    def of(cls, table: QualifiedName, columns: tuple[str, ...], key: tuple[str, ...], dump: TableDump) -> ValueRestore:
        """Read the dump's column lists now, so that the plan shows every COPY and a bad backup is found before
        anything is confirmed."""
        blocks = tuple(tuple(listed) for listed, _rows in _copy_blocks(dump))
        if not blocks:
            raise PgstateError(f"the backup {dump.file.name} holds no rows of {table} that pgstate can read back")
        for listed in blocks:
            missing = [c for c in (*columns, *key) if c not in listed]
            if missing:
                raise PgstateError(f"the backup {dump.file.name} of {table} lacks the columns {', '.join(missing)}")
        return cls(table, columns, key, dump, blocks)

    def statements(self) -> list[sql.Composed]:
        """What the step runs, for the plan (the COPY's rows come from the dump file)."""
        copies = [self._copy(listed) for listed in dict.fromkeys(self.blocks)]
        return [self._create(), *copies, self._update(), self._drop()]

    def _create(self) -> sql.Composed:
        # LIKE the table as the transaction has made it so far: its converted columns have their types back.
        return sql.SQL("CREATE TEMPORARY TABLE {} (LIKE {}) ON COMMIT DROP").format(
            sql.Identifier(SCRATCH_NAME), self.table.identifier()
        )

    def _copy(self, listed: tuple[str, ...]) -> sql.Composed:
        columns = sql.SQL(", ").join(sql.Identifier(c) for c in listed)
        return sql.SQL("COPY {} ({}) FROM STDIN WITH (ENCODING 'UTF8')").format(SCRATCH, columns)

    def _update(self) -> sql.Composed:
        target, source = sql.Identifier("pgstate_target"), sql.Identifier("pgstate_source")
        assignments = sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(c), sql.Identifier("pgstate_source", c)) for c in self.columns
        )
        matches = sql.SQL(" AND ").join(
            sql.SQL("{} = {}").format(sql.Identifier("pgstate_target", c), sql.Identifier("pgstate_source", c))
            for c in self.key
        )
        return sql.SQL("UPDATE {} AS {} SET {} FROM {} AS {} WHERE {}").format(
            self.table.identifier(), target, assignments, SCRATCH, source, matches
        )

    def _drop(self) -> sql.Composed:
        return sql.SQL("DROP TABLE {}").format(SCRATCH)

    def run(self, url: str, cur: psycopg.Cursor[Any] | None, lock_timeout: str) -> None:
        assert cur is not None, "restore-values runs inside the rollback's transaction"
        digest, _size = hash_file(self.dump.file)
        if digest != self.dump.sha256:
            raise PgstateError(f"the backup {self.dump.file} of {self.table} has changed since it was written")
        execute(cur, self._create())
        copied = 0
        for number, (listed, rows) in enumerate(_copy_blocks(self.dump)):
            if number >= len(self.blocks) or tuple(listed) != self.blocks[number]:
                raise PgstateError(f"the backup {self.dump.file.name} of {self.table} has changed since it was read")
            with cur.copy(self._copy(tuple(listed))) as copy:
                for line in rows:
                    copy.write(line)
                    copied += 1
        execute(cur, self._update())
        if cur.rowcount != self.dump.rows or copied != self.dump.rows:
            raise PgstateError(
                f"restore-values {self.table}: {cur.rowcount} of the backup's {self.dump.rows} rows matched a row"
                f" of the table by its primary key ({', '.join(self.key)}); nothing changed"
            )
        execute(cur, self._drop())


def _copy_blocks(dump: TableDump) -> Iterator[tuple[list[str], Iterator[bytes]]]:
    """Each COPY block of the dump (of the table, and of its partitions or children, which a table's dump holds
    and nothing else): its column list and its rows, read lazily. A block's rows must be read before the next."""
    with dump.file.open("rb") as handle:
        header: bytes | None = None
        for line in handle:
            if header is None and not line.startswith(b"COPY "):
                continue
            header = line if header is None else header + line
            if header.count(b'"') % 2:
                continue  # a quoted name with a newline in it: the header goes on
            text, header = header.decode("utf-8", errors="surrogateescape").rstrip("\r\n"), None
            listed = copy_columns(text)
            if listed is None:
                raise PgstateError(f"the backup {dump.file.name} holds a COPY pgstate cannot read: {text[:80]}")
            rows = _rows(handle)
            yield listed, rows
            for _unread in rows:  # the caller did not read them all: skip to the block's end
                pass


def _rows(handle: BinaryIO) -> Iterator[bytes]:
    for line in handle:
        if line.rstrip(b"\r\n") == COPY_END:
            return
        yield line
