"""Read replicas as targets, on real streaming standbys (pg_basebackup -R of a PostgreSQL 18 and a 15 primary):
plan and drift on a standby (the desired state parsed on its primary, or from what needs no parsing), apply and
rollback refused there (exit 3), the standbys' replay waited for and reported after an apply on the primary, a
lagging standby reported as such, advise joining a standby's workload, and a read-only role planning."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from pgharness import PG15_MISSING, SUPABASE_EMULATION, CompletedRun, run_pgstate_inprocess, server_bin_dir
from pgstate.servers.local import LocalServer, ensure_server, stop_server
from pgstate.servers.standby import ensure_standby, wait_for_replay

TEMPLATE = "standby_template"

DESIRED = (
    """table: accounts
indexes:
  - columns: [owner, created_at]
columns:
  note: {type: text}
rls: {enabled: true}
policies:
  - name: own rows
    command: select
    roles: [authenticated]
    using: owner = (SELECT auth.uid())
""",
    """function: is_owner
schema: public
arguments: who uuid
returns: boolean
language: sql
volatility: stable
body: SELECT who = auth.uid()
""",
    """view: account_counts
schema: public
query: SELECT owner, count(*) AS n FROM accounts GROUP BY owner
""",
)
# What needs no parsing by the server: a plain index, compared with the live one as read.
PLAIN_ONLY = ("table: accounts\nindexes:\n  - columns: [owner, created_at]\n",)


@dataclass(frozen=True)
class Pair:
    primary: LocalServer
    standby: LocalServer


@pytest.fixture(scope="module", params=["pg18", "pg15"])
def pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    bin_dir = server_bin_dir(request.param)
    if bin_dir is None:
        pytest.skip(PG15_MISSING)
    base = tmp_path_factory.mktemp(f"replicas-{request.param}")
    primary = ensure_server(bin_dir, base / "primary", fast=True, preload=("pg_stat_statements",))
    standby = None
    try:
        with psycopg.connect(primary.url(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE)))
        with psycopg.connect(primary.url(TEMPLATE), autocommit=True) as conn:
            conn.execute(SUPABASE_EMULATION.encode())
            conn.execute("CREATE EXTENSION pg_stat_statements")
        standby = ensure_standby(primary, base / "standby", fast=True, preload=("pg_stat_statements",))
        yield Pair(primary, standby)
    finally:
        if standby is not None:
            stop_server(standby)
        stop_server(primary)


@dataclass(frozen=True)
class Fleet:
    pair: Pair
    name: str  # the database, on both
    config: Path
    desired: Path

    def primary_url(self) -> str:
        return self.pair.primary.url(self.name)

    def standby_url(self) -> str:
        return self.pair.standby.url(self.name)

    def run(self, *args: str) -> CompletedRun:
        return run_pgstate_inprocess([*args, "--config", str(self.config), "--desired", str(self.desired)])

    def on_standby(self, query: str) -> list[tuple[object, ...]]:
        wait_for_replay(self.pair.primary, self.pair.standby)
        with psycopg.connect(self.standby_url()) as conn:
            return conn.execute(query.encode()).fetchall()


@pytest.fixture
def fleet(pair: Pair, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fleet]:
    """A database on the primary (so on the standby) with a table, and a pgstate.toml naming both."""
    name = f"r_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pair.primary.url(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(TEMPLATE)))
    with psycopg.connect(pair.primary.url(name), autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE accounts (id bigint PRIMARY KEY, owner uuid NOT NULL, created_at timestamptz NOT NULL"
            " DEFAULT now(), note varchar(200))"
        )
        conn.execute("INSERT INTO accounts SELECT g, gen_random_uuid(), now(), 'n' FROM generate_series(1, 2000) g")
    config = tmp_path / "pgstate.toml"
    config.write_text(
        '[targets.main]\nurl_env = "MAIN_URL"\nwave = "canary"\n'
        '[targets.replica]\nurl_env = "REPLICA_URL"\nrole = "standby"\nprimary = "main"\nwave = "1"\n'
        '[targets.lonely-replica]\nurl_env = "LONELY_URL"\nrole = "standby"\nwave = "1"\n'
    )
    desired = tmp_path / "desired"
    desired.mkdir()
    for number, text in enumerate(DESIRED):
        (desired / f"d{number}.yaml").write_text(text)
    wait_for_replay(pair.primary, pair.standby)  # the database exists on the standby too
    monkeypatch.setenv("MAIN_URL", pair.primary.url(name))
    monkeypatch.setenv("REPLICA_URL", pair.standby.url(name))
    monkeypatch.setenv("LONELY_URL", pair.standby.url(name))
    try:
        yield Fleet(pair, name, config, desired)
    finally:
        with psycopg.connect(pair.primary.url(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def _indexes(rows: list[tuple[object, ...]]) -> set[str]:
    return {str(row[0]) for row in rows}


INDEXES = "SELECT indexname FROM pg_indexes WHERE tablename = 'accounts'"


def test_plan_and_drift_on_a_standby_parse_on_its_primary(fleet: Fleet) -> None:
    assert fleet.on_standby("SELECT pg_is_in_recovery()") == [(True,)]
    plan = fleet.run("plan", "--target", "replica", "--format", "json")
    assert plan.exit_code == 2, plan.stderr
    steps = {step["action"] for step in json.loads(plan.stdout)["steps"]}
    assert {"build-index", "alter-column-type", "enable-rls", "create-policy", "create-function"} <= steps
    applied = fleet.run("apply", "--target", "main", "--yes")
    assert applied.exit_code == 0, applied.stderr
    assert "replayed the run's last commit" in applied.stderr
    # The standby has what the primary applied, and plans nothing, with the desired state parsed on the primary.
    assert "accounts_owner_created_at_idx" in _indexes(fleet.on_standby(INDEXES))
    again = fleet.run(
        "plan", "--target", "replica", "--format", "json", "--result", str(fleet.config.parent / "r.json")
    )
    assert again.exit_code == 0, again.stdout + again.stderr
    assert json.loads((fleet.config.parent / "r.json").read_text())["status"] == "in-sync"
    drift = fleet.run("drift", "--target", "replica")
    assert drift.exit_code == 0, drift.stdout + drift.stderr
    # Drift on the primary shows on the standby once replayed.
    with psycopg.connect(fleet.primary_url(), autocommit=True) as conn:
        conn.execute("DROP INDEX accounts_owner_created_at_idx")
    assert "accounts_owner_created_at_idx" not in _indexes(fleet.on_standby(INDEXES))
    drifted = fleet.run("drift", "--target", "replica", "--format", "json")
    assert drifted.exit_code == 2
    found = json.loads(drifted.stdout)["findings"]
    assert [(f["object_kind"], f["finding"]) for f in found] == [("index", "missing-index")]


def test_a_standby_without_its_primary_plans_what_needs_no_parsing_and_says_why_not_the_rest(fleet: Fleet) -> None:
    refused = fleet.run("plan", "--target", "lonely-replica")
    assert refused.exit_code == 1
    assert "hot standby" in refused.stderr and 'primary = "NAME"' in refused.stderr
    assert "Traceback" not in refused.stderr
    for number, text in enumerate(PLAIN_ONLY):
        for old in fleet.desired.glob("*.yaml"):
            old.unlink()
        (fleet.desired / f"p{number}.yaml").write_text(text)
    plain = fleet.run("plan", "--target", "lonely-replica", "--format", "json")
    assert plain.exit_code == 2, plain.stderr
    assert [step["action"] for step in json.loads(plain.stdout)["steps"]] == ["build-index"]


def test_apply_and_rollback_on_a_standby_are_refused(fleet: Fleet, tmp_path: Path) -> None:
    # Named a standby in pgstate.toml: refused before connecting.
    by_config = fleet.run("apply", "--target", "replica", "--yes", "--result", str(tmp_path / "a.json"))
    assert by_config.exit_code == 3
    assert "standby" in by_config.stderr and "--target main" in by_config.stderr
    assert json.loads((tmp_path / "a.json").read_text())["status"] == "refused"
    # A URL that points at a standby whatever the file says: the server is asked.
    by_server = run_pgstate_inprocess(
        ["apply", "--yes", "--desired", str(fleet.desired), "--database-url", fleet.standby_url()]
    )
    assert by_server.exit_code == 3, by_server.stderr
    assert "hot standby" in by_server.stderr and "apply on its primary" in by_server.stderr
    rollback = run_pgstate_inprocess(["rollback", "1", "--yes", "--database-url", fleet.standby_url()])
    assert rollback.exit_code == 3, rollback.stderr
    # Nothing changed anywhere.
    assert _indexes(fleet.on_standby(INDEXES)) == {"accounts_pkey"}
    with psycopg.connect(fleet.primary_url()) as conn:
        assert conn.execute("SELECT to_regnamespace('pgstate')").fetchone() == (None,)


def test_a_standby_that_does_not_replay_is_reported_behind(fleet: Fleet, tmp_path: Path) -> None:
    standby = fleet.pair.standby
    with psycopg.connect(standby.url(), autocommit=True) as conn:
        conn.execute("SELECT pg_wal_replay_pause()")
    try:
        applied = fleet.run(
            "apply", "--target", "main", "--yes", "--replica-lag-budget", "1s", "--result", str(tmp_path / "main.json")
        )
    finally:
        with psycopg.connect(standby.url(), autocommit=True) as conn:
            conn.execute("SELECT pg_wal_replay_resume()")
    assert applied.exit_code == 0, applied.stderr
    replicas = json.loads((tmp_path / "main.json").read_text())["replicas"]
    assert len(replicas) == 1 and replicas[0]["caught_up"] is False and replicas[0]["behind_bytes"] > 0
    assert replicas[0]["waited_s"] >= 1.0
    # The build itself waited first (the index build is throttled while the standby replays nothing), then went.
    assert "have not replayed within --replica-lag-budget 1s; building anyway" in applied.stderr
    assert "warning: standby" in applied.stderr and "still" in applied.stderr
    # Once resumed, the standby has it all.
    assert "accounts_owner_created_at_idx" in _indexes(fleet.on_standby(INDEXES))


def test_plan_as_a_role_that_may_create_nothing_but_temporary_objects(fleet: Fleet) -> None:
    """A pull request's plan needs no write credentials: a role that may read (pg_read_all_data) and nothing
    more, except the temporary objects every role may make by default, plans the same steps as the owner. (Not
    a function the database does not have yet: policies that call it are parsed with a stand-in of it created
    under its real name, which needs CREATE on its schema.)"""
    assert fleet.run("apply", "--target", "main", "--yes").exit_code == 0
    role = f"reader_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(fleet.primary_url(), autocommit=True) as conn:
        conn.execute("DROP INDEX accounts_owner_created_at_idx")
        conn.execute("ALTER TABLE accounts DISABLE ROW LEVEL SECURITY")
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE pg_read_all_data").format(sql.Identifier(role)))
    try:
        as_owner = fleet.run("plan", "--target", "main", "--format", "sql")
        url = fleet.primary_url().replace("postgres@", f"{role}@")
        as_reader = run_pgstate_inprocess(
            ["plan", "--database-url", url, "--desired", str(fleet.desired), "--format", "sql"]
        )
        assert as_reader.exit_code == 2, as_reader.stderr
        assert as_reader.stdout == as_owner.stdout
    finally:
        with psycopg.connect(fleet.primary_url(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_advise_joins_the_workload_of_the_standbys(fleet: Fleet) -> None:
    """Reads served by the standby alone still make the advisor propose their index."""
    with psycopg.connect(fleet.primary_url(), autocommit=True) as conn:
        conn.execute("CREATE TABLE events (id bigint PRIMARY KEY, kind int NOT NULL, at timestamptz NOT NULL)")
        conn.execute("INSERT INTO events SELECT g, g % 500, now() FROM generate_series(1, 50000) g")
        conn.execute("ANALYZE events")
    fleet.on_standby("SELECT 1")  # replayed
    with psycopg.connect(fleet.standby_url(), autocommit=True) as conn:
        for kind in range(30):
            conn.execute("SELECT id FROM events WHERE kind = %s", [kind]).fetchall()
    alone = run_pgstate_inprocess(["advise", "--database-url", fleet.primary_url(), "--format", "json"])
    joined = fleet.run("advise", "--target", "main", "--format", "json")
    assert joined.exit_code == 2, joined.stderr
    assert "joined the workload of standby replica" in joined.stderr

    def indexes_on_events(run: CompletedRun) -> list[object]:
        proposals = json.loads(run.stdout)["proposals"] if run.stdout.strip() else []
        return [p for p in proposals if p["kind"] == "index" and (p["table"] or {}).get("name") == "events"]

    assert indexes_on_events(joined), joined.stdout
    assert not indexes_on_events(alone)
