"""A plan sends a fixed number of statements whatever the number of tables and policies, counted by the server
itself (pg_stat_statements, on a server started with it and otherwise default settings: max_locks_per_transaction
64). The catalog has the shape of a Supabase project: per table ten columns, three indexes, RLS and two policies
written as people write them (each needs the server to be read as it prints)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from pgharness import PG15_MISSING, server_bin_dir
from pgstate.history import runs
from pgstate.pipeline import load_desired, plan_for
from pgstate.servers.local import LocalServer, ensure_server, stop_server

COLUMNS = "id bigint primary key, owner_id int, account_id int, created_at timestamptz, name text, active boolean"


def _ddl(name: str) -> str:
    return (
        f"CREATE TABLE public.{name} ({COLUMNS});"
        f"CREATE INDEX {name}_owner_idx ON public.{name} (owner_id);"
        f"CREATE INDEX {name}_account_idx ON public.{name} (account_id, created_at DESC);"
        f"CREATE INDEX {name}_name_idx ON public.{name} (lower(name)) WHERE active;"
        f"ALTER TABLE public.{name} ENABLE ROW LEVEL SECURITY;"
        f"CREATE POLICY p_read ON public.{name} FOR SELECT USING (owner_id = 1);"
        f"CREATE POLICY p_write ON public.{name} FOR UPDATE USING (owner_id = 1 AND active);"
    )


def _yaml(name: str) -> str:
    return (
        f"table: {name}\n"
        "indexes:\n"
        f"  - {{name: {name}_owner_idx, columns: [owner_id]}}\n"
        f"  - {{name: {name}_account_idx, columns: [account_id, {{column: created_at, order: desc}}]}}\n"
        f"  - {{name: {name}_name_idx, columns: [{{expression: 'lower(name)'}}], where: active}}\n"
        "prune_indexes: true\n"
        "rls: {enabled: true}\n"
        "policies:\n"
        "  - {name: p_read, command: select, using: 'owner_id = 1'}\n"
        "  - {name: p_write, command: update, using: 'owner_id = 1 and active'}\n"
    )


@pytest.fixture(scope="module", params=["pg18", "pg15"])
def counted_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    bin_dir = server_bin_dir(request.param)
    if bin_dir is None:
        pytest.skip(PG15_MISSING)
    server = ensure_server(
        bin_dir,
        tmp_path_factory.mktemp(f"counted-{request.param}") / "data",
        fast=True,
        preload=("pg_stat_statements",),
    )
    try:
        with psycopg.connect(server.url(), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        yield server
    finally:
        stop_server(server)


def _database(server: LocalServer, tables: int, tmp_path: Path, prefix: str = "tables") -> tuple[str, Path]:
    name = f"{prefix}_{tables}"  # one server for the module: each test its own databases
    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    with psycopg.connect(server.url(name), autocommit=True) as conn:
        for start in range(0, tables, 100):  # one transaction per 100 tables: within a default lock table
            numbers = range(start, min(start + 100, tables))
            conn.execute(("BEGIN;" + "".join(_ddl(f"t{n:05d}") for n in numbers) + "COMMIT;").encode())
    desired = tmp_path / f"desired-{name}"
    desired.mkdir()
    for number in range(tables):
        (desired / f"t{number:05d}.yaml").write_text(_yaml(f"t{number:05d}"))
    return name, desired


def _statements_of_a_plan(server: LocalServer, database: str, desired: Path, *, changed: int = 0) -> int:
    specs = load_desired(desired)
    with psycopg.connect(server.url()) as reader:  # another database: its own statements are not counted
        (oid,) = reader.execute("SELECT oid FROM pg_database WHERE datname = %s", [database]).fetchone() or (0,)
        reader.execute("SELECT pg_stat_statements_reset(0, %s, 0)", [oid])
        with psycopg.connect(server.url(database)) as conn:
            _, plan = plan_for(conn, specs, lock_timeout="2s")
        # per changed table: the policy changed, an index added and one dropped, a column retyped
        assert len(plan.steps) == CHANGED_STEPS * changed, [step.id for step in plan.steps][: CHANGED_STEPS + 1]
        (calls,) = reader.execute(
            "SELECT coalesce(sum(calls), 0)::int FROM pg_stat_statements WHERE dbid = %s", [oid]
        ).fetchone() or (0,)
    return int(calls)


def test_a_plan_of_10_and_of_1000_tables_sends_the_same_statements(counted_server: LocalServer, tmp_path: Path) -> None:
    counts = [_statements_of_a_plan(counted_server, *_database(counted_server, n, tmp_path)) for n in (10, 1000)]
    assert counts[0] == counts[1], counts
    assert counts[0] < 40, counts  # the catalog read, the sandbox's settings and its one batch


CHANGED_STEPS = 0  # set below, once measured on the 10-table plan


def _change_every_tenth(server: LocalServer, database: str, desired: Path, tables: int) -> int:
    """Every tenth table changed as in ``make bench``'s P1b: live, ``name`` becomes varchar(100) and its policy
    reads ``owner_id = 2``; desired, ``name`` is text, an index is added and one pruned, the policy as it was."""
    numbers = range(0, tables, 10)
    with psycopg.connect(server.url(database), autocommit=True) as conn:
        conn.execute(
            (
                "BEGIN;"
                + "".join(
                    f"ALTER TABLE public.t{n:05d} ALTER COLUMN name TYPE varchar(100);"
                    f"ALTER POLICY p_read ON public.t{n:05d} USING (owner_id = 2);"
                    for n in numbers
                )
                + "COMMIT;"
            ).encode()
        )
    for n in numbers:
        path = desired / f"t{n:05d}.yaml"
        text = path.read_text().replace(
            f"  - {{name: t{n:05d}_owner_idx, columns: [owner_id]}}\n",
            f"  - {{name: t{n:05d}_active_idx, columns: [active]}}\n",
        )
        path.write_text(text + "columns:\n  name: {type: text}\n")
    return len(numbers)


def test_a_plan_of_changes_sends_as_many_statements_for_10_as_for_1000_tables(
    counted_server: LocalServer, tmp_path: Path
) -> None:
    """A tenth of the tables changed (P1b's shape, a column type among the changes): the batch takes the type
    changes too, so the statements do not grow with the changed tables (before: some 33 per changed table)."""
    global CHANGED_STEPS
    counts = []
    for tables in (10, 1000):
        name, desired = _database(counted_server, tables, tmp_path, prefix="changed")
        changed = _change_every_tenth(counted_server, name, desired, tables)
        if not CHANGED_STEPS:
            with psycopg.connect(counted_server.url(name)) as conn:
                _, plan = plan_for(conn, load_desired(desired), lock_timeout="2s")
            CHANGED_STEPS = len(plan.steps)
            actions = sorted(step.id.action.value for step in plan.steps)
            assert actions == ["alter-column-type", "alter-policy", "build-index", "drop-index"], actions
        counts.append(_statements_of_a_plan(counted_server, name, desired, changed=changed))
    assert counts[0] == counts[1], counts
    assert counts[0] < 60, counts


def test_a_plan_of_5000_tables_with_policies_on_a_default_server(counted_server: LocalServer, tmp_path: Path) -> None:
    """Between 1,000 and 3,000 such tables the one sandbox transaction used to run a default server out of lock
    slots (``out of shared memory``); the batch's chunks each take at most one transaction's share."""
    with psycopg.connect(counted_server.url()) as conn:
        (locks,) = conn.execute("SELECT current_setting('max_locks_per_transaction')::int").fetchone() or (0,)
    assert locks == 64  # the default
    name, desired = _database(counted_server, 5000, tmp_path)
    assert _statements_of_a_plan(counted_server, name, desired) < 40


def _plan_counting_batches(server: LocalServer, database: str, desired: Path, **connect: str) -> tuple[list[str], int]:
    """A plan's steps, and how many statements of it called the sandbox's batch (as the server counted them)."""
    with psycopg.connect(server.url()) as reader:
        (oid,) = reader.execute("SELECT oid FROM pg_database WHERE datname = %s", [database]).fetchone() or (0,)
        reader.execute("SELECT pg_stat_statements_reset(0, %s, 0)", [oid])
        with psycopg.connect(server.url(database), **connect) as conn:
            _, plan = plan_for(conn, load_desired(desired), lock_timeout="2s")
        (calls,) = reader.execute(
            "SELECT coalesce(sum(calls), 0)::int FROM pg_stat_statements WHERE dbid = %s AND query LIKE %s",
            [oid, "SELECT pg_temp.pgstate_batch(%"],
        ).fetchone() or (0,)
    return [str(step.id) for step in plan.steps], int(calls)


def _cache_rows(server: LocalServer, database: str) -> list[tuple[int, int]]:
    with psycopg.connect(server.url(database)) as conn:
        return conn.execute("SELECT count(*), count(DISTINCT generation) FROM pgstate.canonical_forms").fetchall()


def test_a_repeated_plan_canonicalises_nothing(counted_server: LocalServer, tmp_path: Path) -> None:
    """The canonical-form cache (created by apply, here by the same schema script): a plan proves each policy
    the same as the live one once and writes it down; the next plan sends no batch. Any DDL starts a new
    generation; a policy changed out of band is planned whatever the cache holds."""
    name, desired = _database(counted_server, 20, tmp_path, "repeated")
    assert _plan_counting_batches(counted_server, name, desired) == ([], 1)  # no cache yet: nothing written
    with psycopg.connect(counted_server.url(name)) as conn:
        runs.ensure_schema(conn)
        conn.commit()
    assert _plan_counting_batches(counted_server, name, desired) == ([], 1)
    assert _cache_rows(counted_server, name) == [(40, 1)]  # two policies per table
    assert _plan_counting_batches(counted_server, name, desired) == ([], 0)

    with psycopg.connect(counted_server.url(name), autocommit=True) as conn:
        conn.execute("ALTER POLICY p_read ON t00003 USING (owner_id = 2)")  # not DDL the generation sees
    steps, batches = _plan_counting_batches(counted_server, name, desired)
    assert steps == ["alter-policy public.t00003.p_read"] and batches == 1

    with psycopg.connect(counted_server.url(name), autocommit=True) as conn:
        conn.execute("ALTER POLICY p_read ON t00003 USING (owner_id = 1)")
        conn.execute("CREATE FUNCTION public.owner_of(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1'")
    assert _plan_counting_batches(counted_server, name, desired) == ([], 1)  # a new generation
    assert _cache_rows(counted_server, name) == [(40, 1)]  # the old generation's rows gone


def test_a_session_that_may_not_write_reads_the_cache_and_writes_nothing(
    counted_server: LocalServer, tmp_path: Path
) -> None:
    """A read-only role (a PR workflow's credentials) plans with what the cache holds and adds nothing to it;
    where the cache misses, the sandbox answers, as without a cache."""
    name, desired = _database(counted_server, 10, tmp_path, "read_only")
    with psycopg.connect(counted_server.url(name), autocommit=True) as conn:
        runs.ensure_schema(conn)
        conn.execute("DROP ROLE IF EXISTS reader_only")
        conn.execute("CREATE ROLE reader_only LOGIN")
        conn.execute("GRANT USAGE ON SCHEMA pgstate TO reader_only")
        conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA pgstate TO reader_only")
        conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader_only")
    try:
        assert _plan_counting_batches(counted_server, name, desired, user="reader_only") == ([], 1)
        assert _cache_rows(counted_server, name) == [(0, 0)]
        assert _plan_counting_batches(counted_server, name, desired) == ([], 1)  # the owner writes it
        assert _plan_counting_batches(counted_server, name, desired, user="reader_only") == ([], 0)
    finally:
        with psycopg.connect(counted_server.url(name), autocommit=True) as conn:
            conn.execute("DROP OWNED BY reader_only")
            conn.execute("DROP ROLE reader_only")
