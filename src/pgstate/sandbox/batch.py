"""The sandbox's batch: the copies and fragments of many tables worked on in one call of a function that lives in
the rolled-back transaction (``batch.sql``), instead of a dozen statements per table.

A kind describes each table's work as steps (statements built with ``psycopg.sql``); the batch runs them in
chunks sized against the server's lock slots and returns, per chunk, the tables that went through with the oids of
their copies, and the rows of the catalog queries (readbacks) over those copies. A table whose work the server
refused is left out: the kind takes it statement by statement, where the refusal is located in its file.

Inside a function, ``EXECUTE`` runs every statement of its text: only fragments without a ``;`` come here (with
none, the text cannot hold a second statement); the others take the statement-by-statement path, where the
extended protocol accepts exactly one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal

from psycopg import sql
from psycopg.types.json import Jsonb

from ..model.names import QualifiedName
from .session import STATEMENT_TIMEOUT, Sandbox

Action = Literal["check", "run", "try", "note"]

# The batch's own statement timeout grows with its work: the sandbox's for a table, and this for every table.
PER_TABLE_TIMEOUT_MS = 200


@dataclass
class TableWork:
    """What one table needs done on its copy (``pg_temp.<its name>``, or ``copy``), in order; the first step
    creates it.

    ``check``: a SELECT of one fragment, which must have exactly one column; ``run``: a statement; ``try``: a
    statement whose refusal is no refusal of the table; ``note``: a query whose rows come back with the table
    (``ChunkResult.notes``), what the catalog said at that point of its work."""

    table: QualifiedName
    copy: str = ""  # the copy's name in pg_temp, when not the table's
    steps: list[tuple[Action, sql.Composable]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.copy = self.copy or self.table.name

    def check(self, statement: sql.Composable) -> None:
        self.steps.append(("check", statement))

    def run(self, statement: sql.Composable) -> None:
        self.steps.append(("run", statement))

    def attempt(self, statement: sql.Composable) -> None:
        self.steps.append(("try", statement))

    def note(self, query: sql.Composable) -> None:
        self.steps.append(("note", query))


@dataclass(frozen=True)
class ChunkResult:
    """The tables of one chunk that went through (copy oid -> table), each one's notes (the rows of each of its
    ``note`` steps, in order) and each readback's rows over their copies."""

    copies: dict[int, QualifiedName]
    readbacks: list[list[tuple[Any, ...]]]
    notes: dict[QualifiedName, list[list[tuple[Any, ...]]]] = field(default_factory=dict)


def batchable(fragment: str | None) -> bool:
    """A fragment the batch may take: without a ``;``, it cannot end one statement and start another."""
    return fragment is None or ";" not in fragment


def positional(query: sql.SQL, *names: str) -> str:
    """A shipped catalog query with its named parameters as ``$1``, ``$2``...; names left out become empty oid
    arrays (a readback gets one parameter, the copies' oids)."""
    text = query.as_string(None)
    for number, name in enumerate(names, start=1):
        text = text.replace(f"%({name})s", f"${number}")
    return text.replace("%(policies)s", "'{}'").replace("%%", "%")


def run_batch(sandbox: Sandbox, chunks: Sequence[Iterable[TableWork]], readbacks: Sequence[str]) -> list[ChunkResult]:
    """Run every chunk's work in one call; each chunk is rolled back at its end, with its locks."""
    assert sandbox.round is None, "a batch runs outside the rounds: its chunks are its rounds"
    works = [list(chunk) for chunk in chunks if chunk]
    if not works:
        return []
    cur = sandbox.cur
    if not sandbox.facts.get("batch function"):
        sandbox.execute(sql.SQL(resources.files(__package__).joinpath("batch.sql").read_text(encoding="utf-8")))
        sandbox.facts["batch function"] = True  # until the sandbox's transaction is rolled back
    payload = [
        [
            {"copy": work.copy, "steps": [{action: statement.as_string(cur)} for action, statement in work.steps]}
            for work in chunk
        ]
        for chunk in works
    ]
    tables = sum(len(chunk) for chunk in works)
    timeout = f"{_milliseconds(STATEMENT_TIMEOUT) + PER_TABLE_TIMEOUT_MS * tables}ms"
    sandbox.execute(sql.SQL("SELECT set_config('statement_timeout', %s, true)"), [timeout])
    rows = sandbox.rows(sql.SQL("SELECT pg_temp.pgstate_batch(%s, %s)"), [Jsonb(payload), list(readbacks)])
    sandbox.execute(sql.SQL("SELECT set_config('statement_timeout', %s, true)"), [STATEMENT_TIMEOUT])
    results = []
    for (found,) in rows:
        chunk = works[found["chunk"]]
        went = [chunk[number].table for number in found["tables"]]
        copies = {int(oid): table for table, oid in zip(went, found["oids"], strict=True)}
        notes = {
            table: [[tuple(row.values()) for row in noted] for noted in table_notes]
            for table, table_notes in zip(went, found["notes"], strict=True)
        }
        read = [[tuple(row.values()) for row in part] for part in found["readbacks"]]
        results.append(ChunkResult(copies, read, notes))
    return results


def _milliseconds(setting: str) -> int:
    assert setting.endswith("s") and setting[:-1].isdigit(), "the sandbox's timeout is in whole seconds"
    return int(setting[:-1]) * 1000
