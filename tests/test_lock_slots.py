"""The sandbox is frugal with lock slots: each round of temporary copies takes at most what the server sets aside
for one transaction (max_locks_per_transaction), so a plan of thousands of tables cannot run a default server out
of its shared lock table (``out of shared memory``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from psycopg import sql

from pgharness import TestDatabase, run_pgstate_inprocess, write_desired
from pgstate.kinds.index import canonical as index_canonical
from pgstate.kinds.policy import canonical
from pgstate.model.names import QualifiedName
from pgstate.pipeline import LOCKS_PER_COPY, round_budget, table_rounds
from pgstate.sandbox import batch, copies, session
from pgstate.source.documents import read_specs
from pgstate.source.loader import load_documents

TABLES = 40


def _table(number: int) -> str:
    # Written as people write it, not as the server prints it: each policy needs the sandbox.
    return (
        f"table: t{number:02d}\nrls: {{enabled: true}}\npolicies:\n"
        "  - {name: own, command: select, using: 'owner=1'}\n"
        "  - {name: add, command: insert, with_check: 'owner=1'}\n"
    )


def test_rounds_fit_the_budget_and_keep_names_apart(tmp_path: Path) -> None:
    documents = [_table(n) for n in range(TABLES)] + ["table: t00\nschema: other\n", "table: t01\nschema: other\n"]
    specs = read_specs(load_documents(write_desired(tmp_path, *documents)), tmp_path / "desired")
    rounds = table_rounds(specs, round_budget(64))
    assert all(len(tables) * LOCKS_PER_COPY <= 64 for tables in rounds)
    assert all(len({table.name for table in tables}) == len(tables) for tables in rounds)
    placed = [table for tables in rounds for table in tables]
    assert len(placed) == len(set(placed)) == TABLES + 2
    assert QualifiedName("other", "t00") in placed
    assert len(table_rounds(specs)) == 2  # without a budget: only the names apart


LOCKS_HELD = "SELECT count(*) AS locks FROM pg_locks WHERE pid = pg_backend_pid() AND $1 IS NOT NULL"


def _tables(database: TestDatabase) -> None:
    database.execute(
        "".join(
            f"CREATE TABLE t{n:02d} (owner int, note text); ALTER TABLE t{n:02d} ENABLE ROW LEVEL SECURITY;"
            f" CREATE POLICY own ON t{n:02d} FOR SELECT USING (owner = 1);"
            f" CREATE POLICY add ON t{n:02d} FOR INSERT WITH CHECK (owner = 1);"
            for n in range(TABLES)
        )
    )


def test_a_plan_holds_no_more_locks_than_the_server_sets_aside(
    database: TestDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Measured in the server: the locks the sandbox's session holds at the end of each of the batch's chunks,
    before the chunk's rollback gives them back. One chunk for all 40 tables took 6 per table on top of the
    transaction's own."""
    _tables(database)
    desired = write_desired(tmp_path, *(_table(n) for n in range(TABLES)))
    (setting,) = database.query("SELECT current_setting('max_locks_per_transaction')::int")[0]
    held: list[int] = []
    run_batch = canonical.run_batch

    def measured(sandbox: session.Sandbox, chunks: Any, readbacks: Any) -> Any:
        results = run_batch(sandbox, chunks, [*readbacks, LOCKS_HELD])
        held.extend(int(result.readbacks[-1][0][0]) for result in results)
        return [replace(result, readbacks=result.readbacks[:-1]) for result in results]

    monkeypatch.setattr(canonical, "run_batch", measured)
    run = run_pgstate_inprocess(["plan", "--desired", str(desired), "--database-url", database.url])
    assert run.exit_code == 0, run.stderr
    assert "No changes" in run.stdout
    assert len(held) > 1
    # The chunk's own budget, beside what the transaction holds whatever the number of tables (catalogs).
    assert max(held) <= setting + 40, held


def test_statement_by_statement_too(database: TestDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tables the batch cannot take (here a fragment with a ``;``) go round by round, each round rolled back
    with its locks: the same bound."""
    _tables(database)
    semicolon = "  - {name: own, command: select, using: \"owner=1 or note = ';'\"}\n"
    documents = [
        _table(n).replace("  - {name: own, command: select, using: 'owner=1'}\n", semicolon) for n in range(TABLES)
    ]
    desired = write_desired(tmp_path, *documents)
    (setting,) = database.query("SELECT current_setting('max_locks_per_transaction')::int")[0]
    held: list[int] = []
    in_round = session.Sandbox.in_round

    @contextmanager
    def measured(self: session.Sandbox, number: int) -> Iterator[Any]:
        with in_round(self, number) as current:
            yield current
            if current.savepoint is not None:
                count = sql.SQL("SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid()")
                held.append(int(self.rows(count)[0][0]))

    monkeypatch.setattr(session.Sandbox, "in_round", measured)
    run = run_pgstate_inprocess(["plan", "--desired", str(desired), "--database-url", database.url])
    assert run.exit_code == 2, run.stderr  # changes planned: the widened policies
    assert "alter-policy public.t39.own" in run.stdout
    assert len(held) > 1
    assert max(held) <= setting + 40, held


def test_the_tables_for_the_rounds_go_first_and_together(tmp_path: Path) -> None:
    """The tables the batch could not take share as few rounds as the budget allows, wherever their files sort;
    a table whose column types change in the rounds counts four times (its indexes are projected on a second
    copy, and the change locks new relations beside the old)."""
    specs = read_specs(load_documents(write_desired(tmp_path, *(_table(n) for n in range(TABLES)))), tmp_path / "d")
    heavy = frozenset(QualifiedName("public", f"t{n:02d}") for n in range(3, TABLES, 8))  # 5, one every 8th
    rounds = table_rounds(specs, round_budget(64), first=heavy)
    assert heavy <= rounds[0]  # 5 x 7 locks: one round, filled up with others (spread, they took five)
    retyped = table_rounds(specs, round_budget(64), first=heavy, retyped=heavy)
    assert [len(tables & heavy) for tables in retyped[:3]] == [2, 2, 1]  # 28 locks each: 2 fit in 64
    assert all(not (tables & heavy) for tables in retyped[3:])
    assert sorted(t for tables in retyped for t in tables) == sorted(t for tables in rounds for t in tables)


def _retyped_tables(database: TestDatabase, tmp_path: Path, using: str = "") -> Path:
    """40 tables with two indexes and a policy each; every fourth one's ``note`` becomes text."""
    database.execute(
        "".join(
            f"CREATE TABLE t{n:02d} (owner int, note varchar(50)); CREATE INDEX t{n:02d}_note ON t{n:02d} (note);"
            f" CREATE INDEX t{n:02d}_owner ON t{n:02d} (owner); ALTER TABLE t{n:02d} ENABLE ROW LEVEL SECURITY;"
            f" CREATE POLICY own ON t{n:02d} FOR SELECT USING (note = 'x');"
            for n in range(TABLES)
        )
    )
    documents = [
        f"table: t{n:02d}\ncolumns:\n  note: {{type: {'text' if n % 4 == 0 else 'character varying(50)'}{using}}}\n"
        f"indexes:\n  - {{name: t{n:02d}_note, columns: [note]}}\n  - {{name: t{n:02d}_owner, columns: [owner]}}\n"
        f"rls: {{enabled: true}}\npolicies:\n  - {{name: own, command: select, using: \"note = 'x'\"}}\n"
        for n in range(TABLES)
    ]
    return write_desired(tmp_path, *documents)


def test_type_changes_go_to_the_batch(database: TestDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables whose column types change are worked on in the batch (their copies get the types, the live indexes
    are projected on copies of their own, the policies are read under the new types): no round opens a
    savepoint, and each chunk of each batch holds no more than the server sets aside."""
    desired = _retyped_tables(database, tmp_path)
    (setting,) = database.query("SELECT current_setting('max_locks_per_transaction')::int")[0]
    held: list[int] = []
    rounds: list[int] = []
    in_round = session.Sandbox.in_round

    @contextmanager
    def counted(self: session.Sandbox, number: int) -> Iterator[Any]:
        with in_round(self, number) as current:
            yield current
            if current.savepoint is not None:
                rounds.append(number)

    def measured(sandbox: session.Sandbox, chunks: Any, readbacks: Any) -> Any:
        results = batch.run_batch(sandbox, chunks, [*readbacks, LOCKS_HELD])
        held.extend(int(result.readbacks[-1][0][0]) for result in results)
        return [replace(result, readbacks=result.readbacks[:-1]) for result in results]

    monkeypatch.setattr(session.Sandbox, "in_round", counted)
    for module in (copies, index_canonical, canonical):
        monkeypatch.setattr(module, "run_batch", measured)
    run = run_pgstate_inprocess(["plan", "--desired", str(desired), "--database-url", database.url])
    assert run.exit_code == 2, run.stderr
    assert run.stdout.count("alter-column-type") == TABLES // 4, run.stdout
    assert run.stdout.count("-> text (no rewrite)") == TABLES // 4, run.stdout  # measured in the column batch
    assert rounds == [], rounds
    assert len(held) >= 3  # the column kind's, the projection's and the policies' batches
    assert max(held) <= setting + 50, held


def test_type_changes_the_batch_cannot_take_go_round_by_round(
    database: TestDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A USING with a ``;`` (a string here) takes the rounds: each table's indexes projected on a second copy,
    the same bound, and the rounds are few (those tables are put together)."""
    desired = _retyped_tables(database, tmp_path, using=", using: \"replace(note, ';', ',')\"")
    (setting,) = database.query("SELECT current_setting('max_locks_per_transaction')::int")[0]
    held: list[int] = []
    in_round = session.Sandbox.in_round

    @contextmanager
    def measured(self: session.Sandbox, number: int) -> Iterator[Any]:
        with in_round(self, number) as current:
            yield current
            if current.savepoint is not None:
                count = sql.SQL("SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid()")
                held.append(int(self.rows(count)[0][0]))

    monkeypatch.setattr(session.Sandbox, "in_round", measured)
    run = run_pgstate_inprocess(["plan", "--desired", str(desired), "--database-url", database.url])
    assert run.exit_code == 2, run.stderr
    assert run.stdout.count("alter-column-type") == TABLES // 4, run.stdout
    # 10 tables of (7 + 2 indexes) x 4 locks, one in a round: ten rounds open a savepoint, and no other
    assert len(held) == TABLES // 4, held
    # Measured: some 35 locks per such table; the transaction's own are some 60 here (ALTER ... TYPE and the
    # readbacks touch more catalogs than CREATE POLICY)
    assert max(held) <= setting + 64, held
