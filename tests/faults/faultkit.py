"""Fault injection into pgstate's apply and rollback of the seed app: the servers, the copies of the seed
database, the ways a run is made to fail, what is checked afterwards, and the tally.

Everything the checks compare is read with plain SQL (tests/catalog.py, and row digests the server computes), never
with pgstate's own readers.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from catalog import differences, snapshot
from pgharness import FORGET_LEGACY_READS, SUPABASE_EMULATION, TestDatabase, _cli_env
from pgstate.servers.local import LocalServer, ensure_server

ROOT = Path(__file__).resolve().parents[2]
DESIRED = ROOT / "desired"
HARNESS_APP = "pgstate-faults"  # the harness's own sessions: the event trigger ignores them
PGBENCH_APP = "pgbench"
RUN_TIMEOUT_S = 120.0  # a run that takes longer hangs: it is killed, and that is a failure
MECHANISM_ORDER = ("event-trigger", "terminate", "lock", "commit", "kill9", "cut", "restart")
PRELOAD = ("pg_stat_statements",)  # so that the desired extension works and drift can end at exit 0
BUILD_LIKE = ("build", "prepare", "restore")  # phases outside the transaction, before it
SEED_TABLE_COUNTS = (5000, 20000, 60000, 100000, 200000)  # the seed's row counts (and the ids they index)


# --- servers ---


@dataclass
class FaultServer:
    """A server of the harness's own, in a private data dir: restarts hurt no other test."""

    server_id: str
    bin_dir: Path
    data_dir: Path
    local: LocalServer
    restarts: int = 0

    @classmethod
    def start(cls, server_id: str, bin_dir: Path, data_dir: Path) -> FaultServer:
        local = ensure_server(bin_dir, data_dir, fast=True, preload=PRELOAD)
        with psycopg.connect(local.url(), autocommit=True, application_name=HARNESS_APP) as conn:
            # fast=True turns synchronous_commit off: a commit acknowledged before an immediate restart could then
            # be lost, which is the server's trade, not pgstate's. Durable commits, as in production.
            conn.execute("ALTER SYSTEM SET synchronous_commit = on")
            conn.execute("SELECT pg_reload_conf()")
        return cls(server_id, bin_dir, data_dir, local)

    @property
    def major(self) -> int:
        return self.local.major

    @property
    def socket_path(self) -> str:
        return f"{self.local.socket_dir}/.s.PGSQL.{self.local.port}"

    def url(self, dbname: str = "postgres") -> str:
        return self.local.url(dbname)

    def connect(self, dbname: str = "postgres") -> psycopg.Connection[Any]:
        return psycopg.connect(self.url(dbname), autocommit=True, application_name=HARNESS_APP)

    def postmaster_pid(self) -> int | None:
        try:
            first = (self.data_dir / "postmaster.pid").read_text().splitlines()[0]
        except (OSError, IndexError):
            return None
        return int(first) if first.strip().isdigit() else None

    def restart_immediate(self) -> None:
        """What ``pg_ctl restart -m immediate`` does: SIGQUIT to the postmaster (no checkpoint, every session
        gone at once), then a start, which runs crash recovery."""
        pid = self.postmaster_pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGQUIT)
            deadline = time.monotonic() + 60
            while _alive(pid) and (self.data_dir / "postmaster.pid").exists():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the server in {self.data_dir} did not stop after SIGQUIT")
                time.sleep(0.02)
        self.local = ensure_server(self.bin_dir, self.data_dir, fast=True, preload=PRELOAD)
        self.restarts += 1

    def stop(self) -> None:
        from pgstate.servers.local import stop_server

        stop_server(self.local)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie nobody reaps still exists for kill()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


# --- databases ---


def scaled_seed(divisor: int) -> str:
    """seed/app.sql with its row counts divided by ``divisor`` (the schema, and so the plan, unchanged). Every
    count is also the modulus that derives child rows' parents, so the data stays consistent."""
    text = (ROOT / "seed" / "app.sql").read_text()
    if divisor == 1:
        return text
    counts = "|".join(str(n) for n in SEED_TABLE_COUNTS)
    return re.sub(rf"\b({counts})\b", lambda m: str(max(1, int(m.group(1)) // divisor)), text)


def create_seed_template(server: FaultServer, name: str, divisor: int) -> None:
    """A database holding the Supabase emulation and the seed app (its legacy table then unread), made once per
    server: every injection starts from a copy of it."""
    with server.connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"'.encode())
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    with server.connect(name) as conn:
        conn.execute(SUPABASE_EMULATION.encode())
        conn.execute("SET max_parallel_workers_per_gather = 0")
        conn.execute(scaled_seed(divisor).encode())
        conn.execute("SELECT pg_stat_force_next_flush()")
        conn.execute("SELECT 1")
        conn.execute(FORGET_LEGACY_READS.encode())


def copy_database(server: FaultServer, template: str, label: str) -> TestDatabase:
    """A copy of ``template``, with its database and role settings (they live in a shared catalog, keyed by the
    database, so CREATE DATABASE does not copy them)."""
    name = f"f_{re.sub(r'[^a-z0-9]+', '_', label.lower())[:30]}_{uuid.uuid4().hex[:6]}"
    with server.connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'.encode())
        rows = conn.execute(
            "SELECT r.rolname, s.setconfig FROM pg_db_role_setting s LEFT JOIN pg_roles r ON r.oid = s.setrole"
            " WHERE s.setdatabase = (SELECT oid FROM pg_database WHERE datname = %s)",
            [template],
        ).fetchall()
        # A copied sequence page keeps the template's count of values logged ahead (log_cnt) without the WAL record
        # that covered them, so after a crash (restart -m immediate) nextval would hand out values again: setval
        # logs each sequence's state in the copy. (PostgreSQL's copy, not pgstate: pgstate.runs's ids collided.)
        with psycopg.connect(server.url(name), autocommit=True, application_name=HARNESS_APP) as copy:
            copy.execute(
                "SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, last_value, true)"
                " FROM pg_sequences WHERE last_value IS NOT NULL"
            )
        for role, config in rows:
            for entry in config:
                key, _, value = entry.partition("=")
                target = f'ROLE "{role}" IN DATABASE "{name}"' if role else f'DATABASE "{name}"'
                conn.execute(f"ALTER {target} SET {key} = '{value}'".encode())
    return TestDatabase(url=server.url(name), name=name, server=server.local, major=server.major)


def drop_database(server: FaultServer, db: TestDatabase) -> None:
    with server.connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)'.encode())


# --- running pgstate ---


@functools.cache
def verb_help(verb: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "pgstate", verb, "--help"],
        capture_output=True,
        text=True,
        env=_cli_env(None),
        timeout=60,
        check=False,
    )
    return result.stdout


def pgstate_argv(
    op: str, url: str, backup_dir: Path, *, lock_timeout: str | None = None, retries: int | None = None
) -> list[str]:
    """The command line of the run under test, in one place: ``apply`` of desired/ or ``rollback 1`` (the seed's
    apply in the applied template). Options pgstate has only lately are added once its --help lists them:
    --allow-authz-widening (the seed's policies widen access), and --build-wait with ``lock_timeout`` (the
    concurrent builds' own lock budget, so that a competing lock fails them as fast as the other steps)."""
    verb = "apply" if op == "apply" else "rollback"
    known = verb_help(verb)
    if op == "apply":
        argv = ["apply", "--yes", "--allow-destructive"]
        if "--allow-authz-widening" in known:
            argv.append("--allow-authz-widening")
    else:
        argv = ["rollback", "1", "--yes", "--force"]
    argv += ["--backup-dir", str(backup_dir), "--desired", str(DESIRED), "--database-url", url]
    if lock_timeout is not None:
        argv += ["--lock-timeout", lock_timeout]
        if "--build-wait" in known:
            argv += ["--build-wait", lock_timeout]
    if retries is not None:
        argv += ["--retries", str(retries)]
    return [sys.executable, "-m", "pgstate", *argv]


@dataclass
class Finished:
    exit_code: int | None  # None: killed by the harness
    stdout: str
    stderr: str
    seconds: float
    killed: bool = False
    hung: bool = False


class PgstateProcess:
    """pgstate as a subprocess in a session (process group) of its own: a kill -9 takes it alone, as the OOM
    killer would, and the harness waits until its children (pg_dump, psql) are gone too before it looks."""

    def __init__(self, argv: list[str], out_dir: Path):
        out_dir.mkdir(parents=True, exist_ok=True)
        self._out = (out_dir / "stdout.txt").open("w+")
        self._err = (out_dir / "stderr.txt").open("w+")
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=self._err,
            env=_cli_env(None),
            cwd=ROOT,
            start_new_session=True,
        )
        self.killed = False
        self.ended: float | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill9(self) -> None:
        if self.process.poll() is None:
            self.killed = True
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGKILL)

    def wait(self, timeout: float = RUN_TIMEOUT_S) -> Finished:
        hung = False
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            hung = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.ended = time.monotonic()
        seconds = self.ended - self.started
        self._wait_for_children()
        self._out.seek(0)
        self._err.seek(0)
        out, err = self._out.read(), self._err.read()
        self._out.close()
        self._err.close()
        code = None if self.killed else self.process.returncode
        return Finished(code, out, err, seconds, killed=self.killed, hung=hung)

    def _wait_for_children(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                os.killpg(self.process.pid, 0)
            except ProcessLookupError:
                return
            except PermissionError:
                return
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


def run_cli(argv: list[str], timeout: float = RUN_TIMEOUT_S) -> tuple[int, str, str]:
    result = subprocess.run(
        [sys.executable, "-m", "pgstate", *argv],
        capture_output=True,
        text=True,
        env=_cli_env(None),
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        check=False,
    )
    return result.returncode, result.stdout, result.stderr


# --- objects the injections put in the database (schema faults, ignored by the checks) ---

EVENT_TRIGGER_SQL = """
CREATE SCHEMA IF NOT EXISTS faults;
CREATE SEQUENCE IF NOT EXISTS faults.ddl_seen;
CREATE TABLE IF NOT EXISTS faults.ddl_log (n bigint, tag text, app text, query text);
CREATE OR REPLACE FUNCTION faults.on_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $body$
DECLARE
    n bigint;
BEGIN
    -- Only the statements of pgstate's plan: those of the session that holds pgstate's advisory lock, and of
    -- the tools it runs (psql restoring a table). Not the harness, not pgbench, not the planner's sandbox (a
    -- rolled-back transaction on another session), not pgstate's record of its runs (pgstate.runs ...), not
    -- temporary objects, and a CREATE EXTENSION once, not every command of the extension's script.
    IF current_setting('application_name') IN ('{harness}', '{pgbench}')
       OR (current_setting('application_name') = 'pgstate' AND NOT EXISTS (
           SELECT FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted))
       OR current_query() ~ 'pgstate\\.' OR current_query() ~ 'pg_temp'
       OR (current_query() ~* '^\\s*(create|alter|drop)\\s+extension'
           AND tg_tag <> upper(substring(current_query() from '^\\s*(\\w+\\s+\\w+)')))
       OR EXISTS (SELECT FROM pg_event_trigger_ddl_commands() c
                  WHERE c.schema_name LIKE 'pg\\_temp%' OR c.schema_name IN ('pgstate', 'faults')) THEN
        RETURN;
    END IF;
    n := nextval('faults.ddl_seen');  -- a sequence: counted even by a transaction that rolls back
    IF n = {k} THEN
        RAISE EXCEPTION 'pgstate-faults: injected failure at DDL command % (%)', n, tg_tag;
    END IF;
    IF {log} THEN
        INSERT INTO faults.ddl_log VALUES (n, tg_tag, current_setting('application_name'), left(current_query(), 200));
    END IF;
END
$body$;
DROP EVENT TRIGGER IF EXISTS faults_ddl;
CREATE EVENT TRIGGER faults_ddl ON ddl_command_end EXECUTE FUNCTION faults.on_ddl();
"""

COMMIT_TRIGGER_SQL = """
CREATE SCHEMA IF NOT EXISTS faults;
CREATE OR REPLACE FUNCTION faults.fail_at_commit() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    RAISE EXCEPTION 'pgstate-faults: injected failure at commit (deferred constraint trigger on %)', tg_table_name;
END
$body$;
DROP TRIGGER IF EXISTS faults_commit ON pgstate.managed_settings;
CREATE CONSTRAINT TRIGGER faults_commit AFTER INSERT OR UPDATE OR DELETE ON pgstate.managed_settings
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION faults.fail_at_commit();
"""

REMOVE_FAULT_OBJECTS_SQL = """
DROP EVENT TRIGGER IF EXISTS faults_ddl;
DO $$ BEGIN
    IF to_regclass('pgstate.managed_settings') IS NOT NULL THEN
        DROP TRIGGER IF EXISTS faults_commit ON pgstate.managed_settings;
    END IF;
END $$;
DROP SCHEMA IF EXISTS faults CASCADE;
"""


def install_event_trigger(db: TestDatabase, k: int, *, log: bool = False) -> None:
    """Counts pgstate's DDL commands; raises on the k-th (k = 0: never)."""
    text = EVENT_TRIGGER_SQL.format(harness=HARNESS_APP, pgbench=PGBENCH_APP, k=k, log="true" if log else "false")
    with harness_connect(db) as conn:
        conn.execute(text.encode())


def ddl_seen(db: TestDatabase) -> tuple[int, list[tuple[Any, ...]]]:
    with harness_connect(db) as conn:
        row = conn.execute("SELECT last_value, is_called FROM faults.ddl_seen").fetchone()
        log = conn.execute("SELECT n, tag, app, query FROM faults.ddl_log ORDER BY n").fetchall()
    assert row is not None
    return (int(row[0]) if row[1] else 0), log


def install_commit_trigger(db: TestDatabase) -> None:
    """A deferred constraint trigger on a table pgstate writes inside its transaction (the record of the
    settings it set): it raises at COMMIT. pgstate's schema is made first, as pgstate itself makes it."""
    with harness_connect(db) as conn:
        conn.execute((ROOT / "src" / "pgstate" / "catalog" / "runs_schema.sql").read_bytes())
        conn.execute(COMMIT_TRIGGER_SQL.encode())


def remove_fault_objects(db: TestDatabase) -> None:
    with harness_connect(db) as conn:
        conn.execute(REMOVE_FAULT_OBJECTS_SQL.encode())


def harness_connect(db: TestDatabase) -> psycopg.Connection[Any]:
    return psycopg.connect(db.url, autocommit=True, application_name=HARNESS_APP, connect_timeout=30)


# --- pgbench ---

PGBENCH_SCRIPT = """\\set n random(1, 1000000000)
BEGIN;
INSERT INTO "Transcript" ("id", "sessionId", "speaker", "content", "createdAt")
  VALUES (gen_random_uuid(), md5('session:' || (:n % {sessions} + 1))::uuid, 'candidate', 'pgbench ' || :n, now());
UPDATE "Transcript" SET content = left(content, 500) || ' +'
  WHERE id = md5('transcript:' || (:n % {transcripts} + 1))::uuid;
SELECT count(*) FROM "User" WHERE "isPremium" AND credits > :n % 100;
END;
"""
# What pgbench writes: its rows are not compared (the other tables' are). Only "Transcript": the tables the plan
# dumps (a json -> jsonb conversion, the retired table) are checked unchanged against their verified dump under
# the transaction's lock, so a writer there makes every apply refuse (correctly) before any fault could act.
PGBENCH_TABLES = ('public."Transcript"',)


class Pgbench:
    """pgbench writing to the seed tables (custom script, rate-limited: the machine's two cores are shared)."""

    def __init__(self, server: FaultServer, db: TestDatabase, work_dir: Path, divisor: int):
        work_dir.mkdir(parents=True, exist_ok=True)
        script = work_dir / "pgbench.sql"
        script.write_text(PGBENCH_SCRIPT.format(sessions=60000 // divisor, transcripts=100000 // divisor))
        self.log = (work_dir / "pgbench.log").open("w+")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["PGAPPNAME"] = PGBENCH_APP
        self.process = subprocess.Popen(
            [
                str(server.bin_dir / "pgbench"),
                "-n",
                "-f",
                str(script),
                "-c",
                "2",
                "-j",
                "1",
                "-T",
                "600",
                "-R",
                "60",
                "--progress=0",
                db.url,
            ],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        self.db = db

    def wait_started(self, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            with harness_connect(self.db) as conn:
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
                    " AND datname = current_database()",
                    [PGBENCH_APP],
                ).fetchone()
            if row and row[0] >= 2:
                time.sleep(0.2)
                return
            time.sleep(0.05)

    def stop(self) -> str:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.seek(0)
        text = self.log.read()
        self.log.close()
        return text


# --- what is there after a run ---

ROWS_SQL = """
SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgstate', 'pg_toast', 'faults')
  AND n.nspname NOT LIKE 'pg\\_temp%' ORDER BY 1
"""
# INVALID indexes anywhere (toast included), pgstate's replacement builds (<name>_pgstate), the leftovers of a
# failed REINDEX CONCURRENTLY (<name>_ccnew, _ccold); temporary schemas are the server's to clean.
LEFTOVERS_SQL = """
SELECT format('%I.%I', n.nspname, c.relname), CASE WHEN i.indexrelid IS NOT NULL AND NOT i.indisvalid
       THEN 'INVALID index' ELSE 'temporary ' || c.relkind::text END
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_index i ON i.indexrelid = c.oid
WHERE n.nspname NOT LIKE 'pg\\_temp%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp%'
  AND ((i.indexrelid IS NOT NULL AND NOT i.indisvalid)
       OR c.relname ~ '_pgstate$' OR c.relname ~ '_cc(new|old)[0-9]*$')
ORDER BY 1
"""


@dataclass
class Observed:
    catalog: dict[str, dict[str, Any]]
    rows: dict[str, list[Any]]
    leftovers: list[tuple[str, str]]
    runs: list[dict[str, Any]]
    steps: dict[int, list[dict[str, Any]]]  # run id -> its steps
    prepared: int


def observe(db: TestDatabase, *, skip_rows: tuple[str, ...] = ()) -> Observed:
    found = snapshot(db)
    catalog = {
        kind: {name: value for name, value in objects.items() if not name.startswith("faults.")}
        for kind, objects in found.items()
    }
    with harness_connect(db) as conn:
        tables = [str(r[0]) for r in conn.execute(ROWS_SQL.encode()).fetchall()]
        rows: dict[str, list[Any]] = {}
        conn.execute("SET max_parallel_workers_per_gather = 0")  # no worker's statistics arrive after the reset
        for table in tables:
            if table in skip_rows:
                continue
            count, digest = conn.execute(
                f"SELECT count(*), coalesce(sum(hashtextextended(t::text, 0)), 0)::text FROM {table} t".encode()
            ).fetchone() or (0, "0")
            rows[table] = [int(count), str(digest)]
        # Reading the legacy table is a scan, and PostgreSQL 16+ refuses to retire a table scanned within
        # quiet_days: the harness's reads are forgotten, as loading the seed's are.
        conn.execute("SELECT pg_stat_force_next_flush()")
        conn.execute("SELECT 1")
        if conn.execute("SELECT to_regclass('public.interviews') IS NOT NULL").fetchone() == (True,):
            conn.execute(FORGET_LEGACY_READS.encode())
        leftovers = [(str(a), str(b)) for a, b in conn.execute(LEFTOVERS_SQL.encode()).fetchall()]
        runs: list[dict[str, Any]] = []
        steps: dict[int, list[dict[str, Any]]] = {}
        if conn.execute("SELECT to_regclass('pgstate.run_steps') IS NOT NULL").fetchone() == (True,):
            cur = conn.execute("SELECT to_jsonb(r) - 'plan' - 'pre_state' FROM pgstate.runs r ORDER BY id")
            runs = [dict(r[0]) for r in cur.fetchall()]
            for run_id, position, action, target, status, error in conn.execute(
                "SELECT run_id, position, action, target, status, error FROM pgstate.run_steps ORDER BY 1, 2"
            ).fetchall():
                steps.setdefault(int(run_id), []).append(
                    {"position": position, "action": action, "target": target, "status": status, "error": error}
                )
        prepared = int((conn.execute("SELECT count(*) FROM pg_prepared_xacts").fetchone() or (0,))[0])
    return Observed(catalog, rows, leftovers, runs, steps, prepared)


def wait_until_quiet(db: TestDatabase, timeout: float = 30) -> list[str]:
    """Wait until no session of pgstate (or of the tools it ran) is left on the database, and its advisory lock is
    free: a server-side backend outlives a killed client until it notices (client_connection_check_interval)."""
    deadline = time.monotonic() + timeout
    left: list[str] = []
    while time.monotonic() < deadline:
        with harness_connect(db) as conn:
            left = [
                f"pid {pid} ({app}): {state} {query[:80]!r}"
                for pid, app, state, query in conn.execute(
                    "SELECT pid, application_name, state, query FROM pg_stat_activity WHERE datname ="
                    " current_database() AND pid <> pg_backend_pid() AND application_name NOT IN (%s, %s)"
                    " AND backend_type = 'client backend'",
                    [HARNESS_APP, PGBENCH_APP],
                ).fetchall()
            ]
            locks = conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database ="
                " (SELECT oid FROM pg_database WHERE datname = current_database())"
            ).fetchone()
        if not left and locks == (0,):
            return []
        time.sleep(0.1)
    return left or ["pgstate's advisory lock is still held"]


# --- the verdict on one injection ---

CHANGED_STEP_STATUSES = frozenset({"applied", "committed"})  # a step whose change is in the database
UNCHANGED_STEP_STATUSES = frozenset({"planned", "failed", "rolled back", "skipped"})


@dataclass(frozen=True)
class Reference:
    """A state to compare with: the catalog and the row digests, before the run or after a successful one."""

    catalog: dict[str, dict[str, Any]]
    rows: dict[str, list[Any]]


def classify(observed: Observed, pre: Reference, post: Reference, builds: frozenset[str]) -> tuple[str, list[str]]:
    """Which state the catalog is in: 'pre'; 'pre+builds' (plus some of the indexes the run builds concurrently,
    valid or not); 'post' (the desired state: the run committed); 'post-builds' (committed, but some of those
    indexes gone again); or 'other', with the differences from the nearer of the two."""
    from_pre = differences(pre.catalog, observed.catalog)
    if not from_pre:
        return "pre", []
    if all(_is_build(d, builds, added=True) for d in from_pre):
        return "pre+builds", []
    from_post = differences(post.catalog, observed.catalog)
    if not from_post:
        return "post", []
    if all(_is_build(d, builds, added=False) for d in from_post):
        return "post-builds", [f"differs from the desired (post-run) state: {d[:300]}" for d in from_post]
    added = _added_as_in(pre.catalog, observed.catalog, post.catalog)
    if added is not None:
        tables = sorted(name for kind, name in added if kind == "table")
        return "pre+partial", [
            f"the pre-run state plus {len(added)} object(s) exactly as the successful run leaves them"
            f" (tables: {', '.join(tables) or 'none'}; {', '.join(sorted({k for k, _ in added}))})"
        ]
    nearer = from_pre if len(from_pre) <= len(from_post) else from_post
    side = "pre-run" if nearer is from_pre else "desired (post-run)"
    return "other", [f"differs from the {side} state: {d[:300]}" for d in nearer[:8]]


def _added_as_in(
    pre: dict[str, dict[str, Any]], observed: dict[str, dict[str, Any]], post: dict[str, dict[str, Any]]
) -> list[tuple[str, str]] | None:
    """The objects that are there and were not before the run, when every difference from the pre-run state is one
    of them and each is exactly as the successful run leaves it (part of the run stayed); else None."""
    added = []
    for kind in set(pre) | set(observed):
        before, now, wanted = pre.get(kind, {}), observed.get(kind, {}), post.get(kind, {})
        for name in set(before) | set(now):
            if before.get(name) == now.get(name):
                continue
            if name in before or name not in wanted or wanted[name] != now.get(name):
                return None
            added.append((kind, name))
    return added or None


def _is_build(difference: str, builds: frozenset[str], *, added: bool) -> bool:
    """An index the run builds concurrently, there where it was not (``added``) or gone where it was."""
    pattern = r"index (\S+): before None, after " if added else r"index (\S+): before \{.*\}, after None$"
    match = re.match(pattern, difference)
    return bool(match and match.group(1) in builds)


def compare_rows(observed: Observed, reference: Reference, skipped: tuple[str, ...]) -> list[str]:
    problems = []
    for table in sorted(set(reference.rows) | set(observed.rows)):
        if table in skipped:
            continue
        if reference.rows.get(table) != observed.rows.get(table):
            problems.append(f"rows of {table}: expected {reference.rows.get(table)}, found {observed.rows.get(table)}")
    return problems


@dataclass(frozen=True)
class RecordFacts:
    """What the harness knows happened, to hold the run record against."""

    outcome: str  # pre | pre+builds (what steps outside the transaction made is still there) | post (committed)
    killed: bool  # the process died without a word (kill -9)
    lost_server: bool  # the server restarted, or the control connection may have been cut: it could not record
    transaction_steps: frozenset[int]  # positions of the steps of the plan's transaction
    outside_steps: frozenset[int]  # positions of the steps before it (builds, restores)


def check_run_record(
    facts: RecordFacts, baseline: int, after_fault: Observed, after_next: Observed | None
) -> tuple[list[str], str]:
    """Whether pgstate's record of the run (pgstate.runs, pgstate.run_steps) says what happened; returns the
    problems and a one-line description of the record. One function, so that it follows the status semantics as
    they change: today a run is running, applied, failed, rolled back, incomplete or interrupted (an older or
    newer pgstate writes a subset), a step planned, applied or committed (changed), failed, rolled back or
    skipped; a run whose transaction committed has ``committed_at`` set where the column exists.

    ``after_next``: the record after the next run (the convergence check), which must have ended a run left
    'running' as 'interrupted', with steps that say what is in the database."""
    new = [r for r in after_fault.runs if int(r["id"]) > baseline]
    if not new:
        if facts.outcome == "post":
            return ["the changes were committed, but no run was recorded"], "no run recorded"
        return [], "no run recorded (failed before the run started)"
    problems: list[str] = []
    run = new[0]
    if len(new) > 1:
        problems.append(f"one invocation recorded {len(new)} runs")
    run_id = int(run["id"])
    described = f"run {run_id} {run['status']}"

    def judge(status: str, steps: list[dict[str, Any]], when: str, committed_at: Any) -> None:
        changed = {s["position"] for s in steps if s["status"] in CHANGED_STEP_STATUSES}
        unknown = {s["status"] for s in steps} - CHANGED_STEP_STATUSES - UNCHANGED_STEP_STATUSES
        if unknown:
            problems.append(f"{when}: unknown step statuses {sorted(unknown)}")
        txn_changed = changed & facts.transaction_steps
        if facts.outcome == "post":
            if status in ("rolled back",) or (status == "failed" and committed_at is None and "committed_at" in run):
                problems.append(f"{when}: run says {status!r}, but its transaction committed (the desired state)")
            missing = sorted(facts.transaction_steps - changed)
            if missing and status != "running":
                problems.append(
                    f"{when}: the transaction committed, but steps {_ranges(missing)} are recorded as"
                    f" {sorted({s['status'] for s in steps if s['position'] in missing})}"
                )
            if "committed_at" in run and committed_at is None:
                problems.append(f"{when}: committed_at is empty, but the transaction committed")
        else:
            if status in ("applied", "incomplete"):
                problems.append(f"{when}: run says {status!r}, but the database is in its pre-run state")
            if txn_changed:
                problems.append(
                    f"{when}: steps {_ranges(sorted(txn_changed))} are recorded as changed, but the transaction"
                    " did not commit"
                )
            if committed_at is not None:
                problems.append(f"{when}: committed_at is set, but the transaction did not commit")
            if facts.outcome == "pre":
                # A restore-table step's table may be gone again by a later run's own retirement.
                built = {p for p in changed & facts.outside_steps if _action(steps, p) != "restore-table"}
                if built and status != "running":
                    problems.append(
                        f"{when}: steps {_ranges(sorted(built))} (outside the transaction) are recorded as changed,"
                        " but what they made is gone"
                    )

    status = str(run["status"])
    if status == "running" and not (facts.killed or facts.lost_server):
        problems.append("the run is left 'running' although pgstate ended on its own and the server was up")
    judge(status, after_fault.steps.get(run_id, []), "after the fault", run.get("committed_at"))
    if after_next is not None:
        later = next((r for r in after_next.runs if int(r["id"]) == run_id), None)
        if later is None:
            problems.append(f"run {run_id} disappeared from the record")
        else:
            if later["status"] == "running":
                problems.append(f"the next run left run {run_id} 'running' (it should say it was interrupted)")
            elif status == "running" and later["status"] != "interrupted":
                problems.append(f"run {run_id} was 'running'; the next run made it {later['status']!r}")
            if later["status"] != status:
                described += f", then {later['status']}"
            judge(
                str(later["status"]), after_next.steps.get(run_id, []), "after the next run", later.get("committed_at")
            )
    return problems, described


def _ranges(numbers: list[int]) -> str:
    out: list[str] = []
    for n in numbers:
        if out and out[-1].split("-")[-1] == str(n - 1):
            out[-1] = out[-1].split("-")[0] + f"-{n}"
        else:
            out.append(str(n))
    return ",".join(out)


# --- results ---


@dataclass
class Result:
    server: str
    op: str
    mode: str
    mechanism: str
    label: str  # which injection: step k, variant, seed
    held: bool
    injected: bool = True  # False: the run got past the point before the fault could act (not counted)
    outcome: str = ""
    exit_code: int | None = None
    seconds: float = 0.0
    record: str = ""
    effective_step: str = ""
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    reproduce: str = ""

    def line(self) -> str:
        head = f"{'held' if self.held else 'FAILED'}  {self.server} {self.op} {self.mode} {self.mechanism} {self.label}"
        tail = f"  -> {self.outcome}, exit {self.exit_code}, {self.record}"
        return head + tail + "".join(f"\n      problem: {p}" for p in self.problems)


def results_dir(default: Path) -> Path:
    configured = os.environ.get("PGSTATE_FAULTS_RESULTS")
    path = Path(configured) if configured else default
    path.mkdir(parents=True, exist_ok=True)
    return path


_write_lock = threading.Lock()


def record_result(directory: Path, result: Result) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with _write_lock, (directory / f"results-{worker}.jsonl").open("a") as handle:
        handle.write(json.dumps(asdict(result)) + "\n")


def read_results(directory: Path) -> list[dict[str, Any]]:
    found = []
    for file in sorted(directory.glob("results-*.jsonl")):
        for line in file.read_text().splitlines():
            if line.strip():
                found.append(json.loads(line))
    return found


def signature(problem: str) -> str:
    """A failure's kind, for grouping: the problem without its numbers, digests and quoted names."""
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "…", problem.strip().splitlines()[0] if problem.strip() else problem)
    text = re.sub(r"-?\d+", "#", text)
    return text[:140]


def summary(directory: Path) -> str:
    """The tally: injections tried and held per mechanism and server, kill -9 trials, the failures by kind."""
    everything = read_results(directory)
    if not everything:
        return f"no fault-injection results in {directory}"
    results = [r for r in everything if r.get("injected", True)]
    servers = sorted({r["server"] for r in results})
    mechanisms = [m for m in MECHANISM_ORDER if any(r["mechanism"] == m for r in results)]

    def cell(chosen: list[dict[str, Any]]) -> str:
        return f"{len(chosen)} / {sum(bool(r['held']) for r in chosen)}"

    lines = [
        "",
        "Fault injection: injections tried / held, per mechanism and server (apply and rollback, quiet and"
        " with pgbench writing)",
    ]
    lines.append(f"  {'mechanism':<15}" + "".join(f"{s:>14}" for s in servers) + f"{'total':>14}")
    for mechanism in [*mechanisms, "all"]:
        mine = [r for r in results if mechanism in ("all", r["mechanism"])]
        cells = [cell([r for r in mine if r["server"] == server]) for server in servers] + [cell(mine)]
        lines.append(f"  {mechanism:<15}" + "".join(f"{c:>14}" for c in cells))
    splits: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in results:
        splits.setdefault((r["op"], r["mode"]), []).append(r)
    lines.append(
        "  by run and load: " + ", ".join(f"{op}/{mode} {cell(rs)}" for (op, mode), rs in sorted(splits.items()))
    )
    kills = [r for r in results if r["mechanism"] == "kill9" or r["label"] == "kill-after-reply"]
    lines.append(
        f"  kill -9 trials: {cell(kills)} ({sum(r['label'].startswith('random') for r in kills)} at random moments)"
    )
    skipped = len(everything) - len(results)
    if skipped:
        lines.append(f"  not counted: {skipped} whose run ended before the fault could act (a random kill too late)")
    states: dict[str, int] = {}
    for r in results:
        states[r["outcome"] or "?"] = states.get(r["outcome"] or "?", 0) + 1
    lines.append("  end states: " + ", ".join(f"{k} {v}" for k, v in sorted(states.items())))
    lines.append(f"  time: {sum(r['seconds'] for r in everything) / 60:.1f} min in injections")
    failed = [r for r in results if not r["held"]]
    if failed:
        kinds: dict[str, list[dict[str, Any]]] = {}
        for r in failed:
            for problem in r["problems"] or ["(no problem recorded)"]:
                kinds.setdefault(signature(problem), []).append(r)
        lines.append(f"  FAILED: {len(failed)} injections; their problems by kind (count, then examples):")
        for kind, rs in sorted(kinds.items(), key=lambda item: -len(item[1])):
            examples = "; ".join(f"{r['server']}/{r['op']}/{r['mode']}/{r['mechanism']}/{r['label']}" for r in rs[:3])
            lines.append(f"    {len(rs):>4}  {kind}")
            lines.append(f"          e.g. {examples}")
        lines.append(f"  every failure in full: {directory}/results-*.jsonl (fields problems, notes, reproduce)")
    return "\n".join(lines)


@contextlib.contextmanager
def timer() -> Iterator[Callable[[], float]]:
    started = time.monotonic()
    yield lambda: time.monotonic() - started


def seeded(seed: str) -> random.Random:
    return random.Random(seed)


def _action(steps: list[dict[str, Any]], position: int) -> str:
    return next((str(s.get("action")) for s in steps if s.get("position") == position), "")
