"""Benchmark: a no-op ``pgstate plan`` on 1,000 tables against ``pg_dump --schema-only`` of the same database.

Benchmarks are not tests: this measures, in one run and on one private PostgreSQL 18 server, the baseline
(pg_dump) and pgstate, and reports absolute times and their ratio. ``make bench`` runs it; see bench/README.md.

Every table has 10 columns, a primary key (a constraint index, which pgstate never manages) and 3 non-constraint
indexes: a plain btree on one column, a two-column btree with one DESC key, and a partial expression index
(``lower(name) WHERE active``). The desired YAML spells every type, expression and predicate exactly as the
server prints them, so the plan is a no-op that needs no server round trip per table or per expression.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import io
import os
import platform
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from itertools import pairwise
from pathlib import Path

import psycopg

from pgstate.catalog.snapshot import read_live
from pgstate.pipeline import canonicalize, load_desired
from pgstate.planning.compare import compare
from pgstate.planning.plan import make_plan
from pgstate.servers.local import LocalServer, embedded_bin_dir, ensure_server, stop_server

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
RESULTS = Path(__file__).resolve().parent / "results.md"
# A section another script of bench/ writes into RESULTS: <!-- NAME begin --> ... <!-- NAME end -->.
SECTION = re.compile(r"<!-- (\w+) begin -->.*?<!-- \1 end -->", re.DOTALL)
LOCK_TIMEOUT = "2s"

# (name, type as written in CREATE TABLE, type as format_type prints it: what the desired YAML says)
COLUMNS: list[tuple[str, str, str]] = [
    ("id", "bigint PRIMARY KEY", "bigint"),
    ("owner_id", "integer NOT NULL", "integer"),
    ("account_id", "bigint", "bigint"),
    ("name", "text", "text"),
    ("code", "varchar(100)", "character varying(100)"),
    ("created_at", "timestamptz NOT NULL DEFAULT now()", "timestamp with time zone"),
    ("active", "boolean NOT NULL DEFAULT true", "boolean"),
    ("payload", "jsonb", "jsonb"),
    ("amount", "numeric(10,2)", "numeric(10,2)"),
    ("ext_id", "uuid", "uuid"),
]


def table_name(number: int) -> str:
    return f"t{number:04d}"


# --- the database and the desired state ------------------------------------------------------------------------


def table_ddl(name: str) -> str:
    columns = ", ".join(f"{column} {written}" for column, written, _ in COLUMNS)
    return (
        f"CREATE TABLE public.{name} ({columns});\n"
        f"CREATE INDEX {name}_owner_id_idx ON public.{name} (owner_id);\n"
        f"CREATE INDEX {name}_account_id_created_at_idx ON public.{name} (account_id, created_at DESC);\n"
        f"CREATE INDEX {name}_lower_name_idx ON public.{name} (lower(name)) WHERE active;\n"
    )


def table_yaml(name: str) -> str:
    lines = [f"table: {name}", "columns:"]
    lines += [f"  {column}: {{type: '{printed}'}}" for column, _, printed in COLUMNS]
    lines += [
        "indexes:",
        f"  - name: {name}_owner_id_idx",
        "    columns: [owner_id]",
        f"  - name: {name}_account_id_created_at_idx",
        "    columns:",
        "      - account_id",
        "      - {column: created_at, order: desc}",
        f"  - name: {name}_lower_name_idx",
        "    columns:",
        "      - {expression: 'lower(name)'}",
        "    where: active",
        "prune_indexes: true",
    ]
    return "\n".join(lines) + "\n"


def create_database(server: LocalServer, dbname: str, tables: int) -> None:
    with psycopg.connect(server.url("postgres"), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {dbname}")
        admin.execute(f"CREATE DATABASE {dbname}")
    # One script per batch of tables, each batch one transaction (simple query protocol: no parameters).
    # Batches, not one transaction for all: 1,000 tables with a primary key, 3 indexes and a TOAST table each
    # take ~7,000 locks, more than the default lock table (max_locks_per_transaction 64 x connections) holds.
    batch = 200
    with psycopg.connect(server.url(dbname), autocommit=True) as conn:
        for start in range(1, tables + 1, batch):
            numbers = range(start, min(start + batch, tables + 1))
            script = "BEGIN;\n" + "".join(table_ddl(table_name(n)) for n in numbers) + "COMMIT;\n"
            conn.execute(script.encode())
        conn.execute("ANALYZE")


def write_desired(directory: Path, tables: int) -> None:
    directory.mkdir(parents=True)
    for number in range(1, tables + 1):
        name = table_name(number)
        (directory / f"{name}.yaml").write_text(table_yaml(name), encoding="utf-8")


# --- measuring --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    median_s: float
    min_s: float

    @staticmethod
    def of(samples: list[float]) -> Timing:
        return Timing(statistics.median(samples), min(samples))


def clean_env() -> dict[str, str]:
    """The caller's PG* variables would retarget pg_dump and libpq; the URL says everything."""
    return {key: value for key, value in os.environ.items() if not key.startswith("PG")}


def run_checked(argv: list[str], *, expect: int = 0) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True, env=clean_env(), check=False)
    if result.returncode != expect:
        sys.stderr.write(f"{' '.join(argv)}\nexited {result.returncode}, expected {expect}\n")
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(1)
    return result


def time_command(argv: list[str], repeat: int) -> Timing:
    return time_interleaved([argv], repeat)[0]


def time_interleaved(commands: list[list[str]], repeat: int) -> list[Timing]:
    """Each command ``repeat`` times, taking turns (A B A B ...), so that a change in the machine's load while
    measuring reaches every command alike; one warm-up each first (page cache, catalog caches)."""
    for argv in commands:
        run_checked(argv)
    samples: list[list[float]] = [[] for _ in commands]
    for _ in range(repeat):
        for argv, taken in zip(commands, samples, strict=True):
            start = time.perf_counter()
            run_checked(argv)
            taken.append(time.perf_counter() - start)
    return [Timing.of(taken) for taken in samples]


def pg_dump_argv(server: LocalServer, dbname: str) -> list[str]:
    return [str(server.bin("pg_dump")), "--schema-only", "--dbname", server.url(dbname), "-f", os.devnull]


def plan_argv(desired: Path, url: str, *extra: str, pgstate: Path = VENV_BIN / "pgstate") -> list[str]:
    return [str(pgstate), "plan", "--desired", str(desired), "--database-url", url, *extra]


def check_noop(desired: Path, url: str) -> None:
    result = subprocess.run(
        plan_argv(desired, url, "--format", "json"), capture_output=True, text=True, env=clean_env(), check=False
    )
    if result.returncode != 0:
        sys.stderr.write(f"the plan on {desired} is not a no-op (exit {result.returncode}):\n")
        sys.stderr.write(result.stdout[:20000] + result.stderr[-5000:])
        raise SystemExit(1)


STAGES = ["connect", "load + validate YAML", "introspect", "canonicalize", "compare + plan", "total in-process"]


def in_process_breakdown(desired_dir: Path, url: str, repeat: int) -> dict[str, Timing]:
    """Each stage of a plan, timed in one process after one warm-up pass."""
    samples: dict[str, list[float]] = {stage: [] for stage in STAGES}
    for iteration in range(repeat + 1):
        marks = [time.perf_counter()]
        with psycopg.connect(url, autocommit=True) as conn:
            marks.append(time.perf_counter())
            specs = load_desired(desired_dir)
            marks.append(time.perf_counter())
            live = read_live(conn, specs)
            marks.append(time.perf_counter())
            canonical = canonicalize(conn, specs, live, lock_timeout=LOCK_TIMEOUT)
            marks.append(time.perf_counter())
            plan = make_plan(compare(canonical, live, specs))
            marks.append(time.perf_counter())
        if plan.has_changes:
            raise SystemExit(f"in-process plan has {len(plan.steps)} step(s); expected none")
        if iteration == 0:
            continue  # warm-up
        for stage, (start, end) in zip(STAGES, pairwise(marks), strict=False):
            samples[stage].append(end - start)
        samples["total in-process"].append(marks[-1] - marks[0])
    return {stage: Timing.of(values) for stage, values in samples.items()}


def plan_in_process(desired_dir: Path, url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        specs = load_desired(desired_dir)
        live = read_live(conn, specs)
        canonical = canonicalize(conn, specs, live, lock_timeout=LOCK_TIMEOUT)
        make_plan(compare(canonical, live, specs))


def count_transactions(server: LocalServer, dbname: str, action: Callable[[], None]) -> int:
    """Transactions ``action`` ran in ``dbname``: with autocommit, each statement is one round trip.

    Read from pg_stat_database before and after, inside one reader transaction that is never committed (so the
    reader counts for nothing). Stats of a backend reach shared memory when it exits, shortly after it leaves
    pg_stat_activity: wait until no other client is connected and the counter holds still.
    """
    with psycopg.connect(server.url(dbname)) as reader:
        reader.execute("SET LOCAL stats_fetch_consistency = none")

        def committed() -> int:
            row = reader.execute(
                "SELECT sum(xact_commit + xact_rollback)::bigint FROM pg_stat_database WHERE datname = %s", [dbname]
            ).fetchone()
            return int(row[0]) if row else 0

        def others() -> int:
            reader.execute("SELECT pg_stat_clear_snapshot()")
            row = reader.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [dbname]
            ).fetchone()
            return int(row[0]) if row else 0

        before = committed()
        action()
        deadline = time.monotonic() + 10
        while others() and time.monotonic() < deadline:
            time.sleep(0.01)
        after, stable_since = committed(), time.monotonic()
        while time.monotonic() - stable_since < 0.3 and time.monotonic() < deadline:
            time.sleep(0.02)
            now = committed()
            if now != after:
                after, stable_since = now, time.monotonic()
        reader.rollback()
    return after - before


def round_trips(server: LocalServer, dbname: str, action: Callable[[], None]) -> tuple[int, int]:
    """(transactions, statements) of ``action`` in ``dbname``; min of 3: ignore a stray autovacuum."""
    transactions = min(count_transactions(server, dbname, action) for _ in range(3))
    return transactions, min(count_statements(server, dbname, action) for _ in range(3))


def count_statements(server: LocalServer, dbname: str, action: Callable[[], None]) -> int:
    """Statements ``action`` sent to ``dbname``, from pg_stat_statements (loaded at the server's start), read
    from another database so that the reading is not counted: every statement is one round trip."""
    with psycopg.connect(server.url("postgres"), autocommit=True) as reader:
        reader.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        row = reader.execute("SELECT oid FROM pg_database WHERE datname = %s", [dbname]).fetchone()
        database = int(row[0]) if row else 0
        reader.execute("SELECT pg_stat_statements_reset(0, %s, 0)", [database])
        action()
        row = reader.execute(
            "SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements WHERE dbid = %s", [database]
        ).fetchone()
    return int(row[0]) if row else 0


def profile(desired_dir: Path, url: str, top: int) -> str:
    plan_in_process(desired_dir, url)  # warm-up
    profiler = cProfile.Profile()
    profiler.enable()
    plan_in_process(desired_dir, url)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    return out.getvalue()


# --- reporting --------------------------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def report(
    rows: list[tuple[str, int, Timing]],
    dumps: dict[int, Timing],
    trips: list[tuple[str, int, int, int]],
    facts: dict[str, str],
    repeat: int,
) -> str:
    """``dumps``: the pg_dump timing of each database size; the largest is the baseline."""
    baseline = dumps[max(dumps)]
    lines = [
        "# pgstate benchmark: no-op plan vs pg_dump --schema-only",
        "",
        *(f"- {key}: {value}" for key, value in facts.items()),
        f"- wall clock, {repeat} runs after one warm-up; ratios compare medians",
        "- each table: 10 columns, primary key + 3 non-constraint indexes (btree on one column, two-column btree"
        " with a DESC key, partial expression index `lower(name) WHERE active`)",
        "",
        f"| measurement | tables | median ms | min ms | ratio to pg_dump, {max(dumps)} tables"
        " | ratio to pg_dump, same tables |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, tables, timing in rows:
        same = dumps.get(tables)
        same_ratio = f"{timing.median_s / same.median_s:.2f}" if same else ""
        lines.append(
            f"| {label} | {tables or ''} | {ms(timing.median_s)} | {ms(timing.min_s)}"
            f" | {timing.median_s / baseline.median_s:.2f} | {same_ratio} |"
        )
    lines += [
        "",
        "Server round trips of one no-op plan: statements from pg_stat_statements (each one round trip, the",
        "transaction's BEGIN, SET and COMMIT included), transactions from pg_stat_database (xact_commit +",
        "xact_rollback; a connection's start-up is one).",
        "",
        "| plan | tables | statements | transactions |",
        "|---|---:|---:|---:|",
        *(f"| {label} | {tables} | {statements} | {count} |" for label, tables, count, statements in trips),
    ]
    return "\n".join(lines) + "\n"


def server_facts(server: LocalServer) -> dict[str, str]:
    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        row = conn.execute("SELECT version()").fetchone()
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, nproc {os.cpu_count()}, {platform.system()} {platform.release()}",
        "PostgreSQL": str(row[0]).split(" on ")[0] if row else f"{server.major}",
        "Python": platform.python_version(),
    }


# --- main -------------------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tables", type=int, default=1000, help="tables of the large database (1000)")
    parser.add_argument("--small", type=int, default=100, help="tables of the small database, for scaling (100)")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs of each measurement (7)")
    parser.add_argument(
        "--profile",
        type=int,
        default=25,
        metavar="N",
        help="print the top N functions of a cProfile of the in-process plan (25; 0: none)",
    )
    parser.add_argument("--no-results", action="store_true", help="do not write bench/results.md")
    parser.add_argument(
        "--against",
        type=Path,
        metavar="PGSTATE",
        help="also time another build's pgstate executable (an earlier checkout's .venv/bin/pgstate), taking turns",
    )
    args = parser.parse_args()

    # An installed package has its bytecode compiled; an editable install under PYTHONDONTWRITEBYTECODE (as on
    # this machine) would recompile every module on every start: compile once, as pip would have.
    subprocess.run([str(VENV_BIN / "python"), "-m", "compileall", "-q", str(ROOT / "src" / "pgstate")], check=True)
    tmp = Path(tempfile.mkdtemp(prefix="pgstate-bench-", dir="/tmp"))
    tmp.chmod(0o711)  # the server may run as another user (postgres, when we are root): it must traverse
    server: LocalServer | None = None
    try:
        print(f"starting PostgreSQL in {tmp / 'data'} ...", file=sys.stderr)
        server = ensure_server(embedded_bin_dir(), tmp / "data", fast=True, preload=("pg_stat_statements",))
        with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
            conn.execute("ALTER SYSTEM SET autovacuum = off")  # quiet: no worker transactions while counting
            conn.execute("SELECT pg_reload_conf()")
        sizes = {"bench": args.tables, "bench_small": args.small}
        desired_dirs: dict[str, Path] = {}
        for dbname, tables in sizes.items():
            start = time.perf_counter()
            create_database(server, dbname, tables)
            desired_dirs[dbname] = tmp / f"desired-{dbname}"
            write_desired(desired_dirs[dbname], tables)
            print(f"{dbname}: {tables} tables in {time.perf_counter() - start:.1f}s", file=sys.stderr)
            check_noop(desired_dirs[dbname], server.url(dbname))

        big, small = server.url("bench"), server.url("bench_small")
        print("measuring ...", file=sys.stderr)
        dumps = {tables: time_command(pg_dump_argv(server, dbname), args.repeat) for dbname, tables in sizes.items()}
        python = str(VENV_BIN / "python")
        rows: list[tuple[str, int, Timing]] = [
            ("pg_dump --schema-only (baseline)", args.tables, dumps[args.tables]),
            (
                "pgstate plan (CLI subprocess)",
                args.tables,
                time_command(plan_argv(desired_dirs["bench"], big), args.repeat),
            ),
            ("pg_dump --schema-only", args.small, dumps[args.small]),
            (
                "pgstate plan (CLI subprocess)",
                args.small,
                time_command(plan_argv(desired_dirs["bench_small"], small), args.repeat),
            ),
            ("python -c 'import pgstate.cli'", 0, time_command([python, "-c", "import pgstate.cli"], args.repeat)),
            ("python -c 'pass'", 0, time_command([python, "-c", "pass"], args.repeat)),
        ]
        for dbname, tables in sizes.items():
            breakdown = in_process_breakdown(desired_dirs[dbname], server.url(dbname), args.repeat)
            rows += [(f"in-process: {stage}", tables, timing) for stage, timing in breakdown.items()]

        if args.against is not None:
            # Another build of pgstate (an earlier commit's checkout), taking turns with this one on the same
            # database: how a change moved the no-op plan, measured in one run.
            ours, theirs = time_interleaved(
                [plan_argv(desired_dirs["bench"], big), plan_argv(desired_dirs["bench"], big, pgstate=args.against)],
                args.repeat,
            )
            rows += [
                ("pgstate plan, this build (taking turns)", args.tables, ours),
                (f"pgstate plan, {args.against} (taking turns)", args.tables, theirs),
            ]
        trips: list[tuple[str, int, int, int]] = []
        for dbname, tables in sizes.items():
            desired_dir, url = desired_dirs[dbname], server.url(dbname)
            for label, action in (
                ("in-process (load, introspect, canonicalize, make_plan)", partial(plan_in_process, desired_dir, url)),
                ("CLI `pgstate plan`", partial(_cli, desired_dir, url)),
            ):
                trips.append((label, tables, *round_trips(server, dbname, action)))

        text = report(rows, dumps, trips, server_facts(server), args.repeat)
        print(text)
        if not args.no_results:
            # The sections of bench/peers.py and bench/load.py stay, whatever this run writes.
            kept = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else ""
            sections = [found.group(0) for found in SECTION.finditer(kept)]
            RESULTS.write_text("\n\n".join([text.rstrip("\n"), *sections]) + "\n", encoding="utf-8")
            print(f"written to {RESULTS}", file=sys.stderr)
        if args.profile > 0:
            print(f"cProfile of one in-process no-op plan, {args.tables} tables, top {args.profile} by cumulative:")
            print(profile(desired_dirs["bench"], big, args.profile))
        return 0
    finally:
        if server is not None:
            stop_server(server)
        shutil.rmtree(tmp, ignore_errors=True)


def _cli(desired: Path, url: str) -> None:
    run_checked(plan_argv(desired, url))


def write_section(name: str, text: str) -> None:
    """Put ``text`` (which starts and ends with its NAME markers) into RESULTS in place of the section's last
    version, or after everything else."""
    current = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else ""
    begin, end = f"<!-- {name} begin -->", f"<!-- {name} end -->"
    if begin in current and end in current:
        current = current[: current.index(begin)] + current[current.index(end) + len(end) :]
    RESULTS.write_text(current.strip("\n") + "\n\n" + text.strip("\n") + "\n", encoding="utf-8")
    print(f"written to {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
