"""Benchmark P1: a no-op plan of N tables with RLS and two policies each, against pg_dump and two peers.

Benchmarks are not tests. On one private PostgreSQL 18 server (pg_stat_statements loaded, otherwise default
settings), for each size, in one run and taking turns: ``pg_dump --schema-only`` (the baseline), ``pgstate plan``
(the desired YAML matches, so the plan is a no-op), migra (PyPI) and Supabase's pg-delta (npm) diffing the
database against itself. Each timed command is a whole process: wall time (medians, min-max), its peak resident
memory (its own, from wait4) and the statements it sent (pg_stat_statements, one extra run). Then the growth:
each tool's time against N, fitted.

The peers are installed under bench/.peers (``--install-peers``, which ``make bench`` passes): a venv with migra
and psycopg, and pg-delta from npm at the version the issue names. A peer that is not installed is left out and
said so. See bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import psycopg

from pgstate.history import runs
from pgstate.servers.local import LocalServer, embedded_bin_dir, ensure_server, stop_server
from pgstate.source.parsed import cache_root as parsed_cache_root
from run import (  # bench/run.py: the script's own folder
    VENV_BIN,
    clean_env,
    table_ddl,
    table_name,
    table_yaml,
    write_section,
)

HERE = Path(__file__).resolve().parent
PEERS = HERE / ".peers"
MIGRA = PEERS / "migra" / "bin" / "migra"
MIGRA_SPEC = ["migra==3.0.1663481299", "psycopg[binary]"]  # its SQLAlchemy 2 takes psycopg 3
PGDELTA = PEERS / "npm" / "node_modules" / ".bin" / "pgdelta"
PGDELTA_SPEC = "@supabase/pg-delta@1.0.0-alpha.34"
BEGIN, END = "<!-- P1 begin -->", "<!-- P1 end -->"

POLICIES = (
    "ALTER TABLE public.{t} ENABLE ROW LEVEL SECURITY;\n"
    "CREATE POLICY p_read ON public.{t} FOR SELECT USING (owner_id = 1);\n"
    "CREATE POLICY p_write ON public.{t} FOR UPDATE USING (owner_id = 1 AND active);\n"
)
POLICIES_YAML = (
    "rls: {enabled: true}\n"
    "policies:\n"
    "  - {name: p_read, command: select, using: 'owner_id = 1'}\n"
    "  - {name: p_write, command: update, using: 'owner_id = 1 and active'}\n"
)


def install_peers() -> None:
    """migra into its own venv, pg-delta from npm; both under bench/.peers (git-ignored)."""
    if not MIGRA.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEERS / "migra")], check=True)
        pip = PEERS / "migra" / "bin" / "pip"
        subprocess.run([str(pip), "install", "-q", *MIGRA_SPEC], check=True)
    if not PGDELTA.exists() and shutil.which("npm"):
        subprocess.run(["npm", "install", "--silent", "--prefix", str(PEERS / "npm"), PGDELTA_SPEC], check=True)


def create(server: LocalServer, dbname: str, tables: int, desired: Path) -> None:
    with psycopg.connect(server.url("postgres"), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {dbname}")
        admin.execute(f"CREATE DATABASE {dbname}")
    with psycopg.connect(server.url(dbname), autocommit=True) as conn:
        for start in range(1, tables + 1, 100):  # 100 tables a transaction: within a default lock table
            numbers = range(start, min(start + 100, tables + 1))
            ddl = "".join(table_ddl(table_name(n)) + POLICIES.format(t=table_name(n)) for n in numbers)
            conn.execute(f"BEGIN;\n{ddl}COMMIT;\n".encode())
        conn.execute("ANALYZE")
    desired.mkdir(parents=True)
    for number in range(1, tables + 1):
        name = table_name(number)
        (desired / f"{name}.yaml").write_text(table_yaml(name) + POLICIES_YAML, encoding="utf-8")


@dataclass(frozen=True)
class Tool:
    name: str
    argv: list[str]
    ok: tuple[int, ...] = (0,)
    before: Callable[[], None] | None = None  # run before each timed run, untimed


def empty_cache(url: str) -> None:
    """Nothing cached: neither the canonical forms in the database nor the parsed files (``$XDG_CACHE_HOME``)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM pgstate.canonical_forms")
    shutil.rmtree(parsed_cache_root(), ignore_errors=True)


def tools(server: LocalServer, source: str, desired: Path, target: str | None = None) -> list[Tool]:
    """The commands of one measurement. P1 (no ``target``): pgstate plans the matching YAML, the peers diff the
    database against itself, and pgstate's cold plan beside its cached one. P1b: pgstate plans the changed YAML
    (exit 2), the peers diff the database with ``target``, the copy so changed (exit 0 or 2)."""
    url, other = server.url(source), server.url(target or source)
    plan = [str(VENV_BIN / "pgstate"), "plan", "--desired", str(desired), "--database-url", url]
    changes, peer_exits = ((0,), (0,)) if target is None else ((2,), (0, 2))
    against = "same db" if target is None else "changed db"
    found = [
        Tool("pg_dump --schema-only", [str(server.bin("pg_dump")), "--schema-only", "-f", os.devnull, url]),
        Tool("pgstate plan", plan, changes),
    ]
    if target is None:
        # The first plan after any DDL: the cache holds nothing of this generation, every policy goes to the sandbox
        found.append(Tool("pgstate plan, cold (cache emptied)", plan, before=partial(empty_cache, url)))
    if MIGRA.exists():
        found.append(Tool(f"migra (db → {against})", [str(MIGRA), "--unsafe", url, other], peer_exits))
    if PGDELTA.exists():
        # node-postgres wants a host in the URL; the socket directory then comes as the host parameter
        node = f"postgresql://postgres@localhost:{server.port}/{{}}?host={server.socket_dir}"
        argv = [str(PGDELTA), "plan", "--source", node.format(source), "--desired", node.format(target or source)]
        found.append(Tool(f"pg-delta plan (db → {against})", argv, peer_exits))
    return found


@dataclass
class Samples:
    wall: list[float]
    rss_mb: list[float]


def run_once(tool: Tool) -> tuple[float, float]:
    """One run: wall seconds and the process's own peak resident memory (MB)."""
    if tool.before is not None:
        tool.before()
    start = time.perf_counter()
    process = subprocess.Popen(
        tool.argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=clean_env(), cwd=tempfile.gettempdir()
    )
    assert process.stderr is not None
    errors = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in tool.ok:
        sys.stderr.write(f"{tool.name} exited {process.returncode}:\n{errors.decode(errors='replace')[-2000:]}\n")
        raise SystemExit(1)
    return wall, usage.ru_maxrss / 1024


def statements(server: LocalServer, dbname: str, tool: Tool) -> int:
    with psycopg.connect(server.url("postgres"), autocommit=True) as reader:
        (oid,) = reader.execute("SELECT oid FROM pg_database WHERE datname = %s", [dbname]).fetchone() or (0,)
        reader.execute("SELECT pg_stat_statements_reset(0, %s, 0)", [oid])
        run_once(tool)
        (calls,) = reader.execute(
            "SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements WHERE dbid = %s", [oid]
        ).fetchone() or (0,)
    return int(calls)


def measure(found: list[Tool], repeat: int) -> dict[str, Samples]:
    """Every tool once to warm up, then ``repeat`` rounds, taking turns, so that load reaches all alike."""
    for tool in found:
        run_once(tool)
    samples = {tool.name: Samples([], []) for tool in found}
    for _ in range(repeat):
        for tool in found:
            wall, rss = run_once(tool)
            samples[tool.name].wall.append(wall)
            samples[tool.name].rss_mb.append(rss)
    return samples


def fit(points: list[tuple[int, float]]) -> str:
    """Least squares t = a + b·N, and the exponent k of t ∝ N^k between the smallest and the largest N."""
    if len(points) < 2:
        return "one size: no fit"
    ns, ts = [p[0] for p in points], [p[1] for p in points]
    mean_n, mean_t = statistics.fmean(ns), statistics.fmean(ts)
    slope = sum((n - mean_n) * (t - mean_t) for n, t in points) / sum((n - mean_n) ** 2 for n in ns)
    intercept = mean_t - slope * mean_n
    (n1, t1), (n2, t2) = points[0], points[-1]
    exponent = math.log(t2 / t1) / math.log(n2 / n1)
    return f"{intercept * 1000:,.0f} ms + {slope * 1e6:,.0f} µs × N; t ∝ N^{exponent:.2f}"


CHANGED_SHARE = 10  # P1b: every tenth table changed


def change_tables(server: LocalServer, source: str, target: str, size: int, desired: Path, changed: Path) -> int:
    """P1b: a copy of the database with every tenth table changed (an index added, one pruned, a policy changed,
    ``varchar`` → ``text``), and the desired YAML that says the same. Returns the number of changed tables."""
    with psycopg.connect(server.url("postgres"), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {target}")
        admin.execute(f"CREATE DATABASE {target} TEMPLATE {source}")
    numbers = list(range(1, size + 1, CHANGED_SHARE))
    shutil.copytree(desired, changed)
    with psycopg.connect(server.url(target), autocommit=True) as conn:
        for start in range(0, len(numbers), 100):
            ddl = "".join(
                f"CREATE INDEX {t}_active_idx ON public.{t} (active);\n"
                f"DROP INDEX public.{t}_owner_id_idx;\n"
                f"ALTER POLICY p_read ON public.{t} USING (owner_id = 2);\n"
                f"ALTER TABLE public.{t} ALTER COLUMN code TYPE text;\n"
                for t in map(table_name, numbers[start : start + 100])
            )
            conn.execute(f"BEGIN;\n{ddl}COMMIT;\n".encode())
    for name in map(table_name, numbers):
        text = (changed / f"{name}.yaml").read_text(encoding="utf-8")
        text = text.replace("code: {type: 'character varying(100)'}", "code: {type: 'text'}")
        text = text.replace(
            f"- name: {name}_owner_id_idx\n    columns: [owner_id]", f"- name: {name}_active_idx\n    columns: [active]"
        )
        text = text.replace(
            "p_read, command: select, using: 'owner_id = 1'", "p_read, command: select, using: 'owner_id = 2'"
        )
        (changed / f"{name}.yaml").write_text(text, encoding="utf-8")
    return len(numbers)


def table_rows(
    found: list[Tool], samples: dict[str, Samples], counts: dict[str, int], size: int, note: str = ""
) -> list[str]:
    baseline = statistics.median(samples[found[0].name].wall)
    ours = statistics.median(samples["pgstate plan"].wall)
    rows = []
    for tool in found:
        taken = samples[tool.name]
        median = statistics.median(taken.wall)
        rows.append(
            f"| {tool.name} | {size:,}{note} | {median * 1000:,.0f} | {min(taken.wall) * 1000:,.0f}–"
            f"{max(taken.wall) * 1000:,.0f} | {median / baseline:.2f} | {median / ours:.2f} |"
            f" {counts[tool.name]:,} | {max(taken.rss_mb):,.0f} |"
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="1000,5000", help="table counts, comma-separated (1000,5000)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each tool per size (5)")
    parser.add_argument("--install-peers", action="store_true", help="install migra and pg-delta first")
    parser.add_argument("--no-results", action="store_true", help="do not write bench/results.md")
    parser.add_argument("--no-p1b", dest="p1b", action="store_false", help="leave out P1b (10%% of tables changed)")
    args = parser.parse_args()
    if args.install_peers:
        install_peers()
    sizes = [int(size) for size in args.sizes.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="pgstate-bench-p1-", dir="/tmp"))
    os.environ["XDG_CACHE_HOME"] = str(tmp / "cache")  # pgstate's parse cache, the run's own (clean_env passes it)
    bin_dir = embedded_bin_dir()
    server = ensure_server(bin_dir, tmp / "data", fast=True, preload=("pg_stat_statements",))
    rows: list[str] = []
    changed_rows: list[str] = []
    growth: dict[str, list[tuple[int, float]]] = {}
    try:
        with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            version = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
        for size in sizes:
            dbname, desired = f"p1_{size}", tmp / f"desired-{size}"
            print(f"creating {size} tables with RLS and two policies each", file=sys.stderr)
            create(server, dbname, size, desired)
            with psycopg.connect(server.url(dbname)) as conn:
                runs.ensure_schema(conn)  # what the first apply leaves: the canonical-form cache among it
            found = tools(server, dbname, desired)
            counts = {tool.name: statements(server, dbname, tool) for tool in found}
            samples = measure(found, args.repeat)
            for tool in found:
                growth.setdefault(tool.name, []).append((size, statistics.median(samples[tool.name].wall)))
            rows += table_rows(found, samples, counts, size)
            print("\n".join(rows[-len(found) :]), file=sys.stderr)
            if args.p1b:
                target, changed = f"p1b_{size}", tmp / f"desired-{size}-changed"
                print(f"P1b: changing every {CHANGED_SHARE}th of {size} tables", file=sys.stderr)
                changes = change_tables(server, dbname, target, size, desired, changed)
                found = tools(server, dbname, changed, target)
                counts = {tool.name: statements(server, dbname, tool) for tool in found}
                samples = measure(found, args.repeat)
                changed_rows += table_rows(found, samples, counts, size, f" ({changes:,} changed)")
                print("\n".join(changed_rows[-len(found) :]), file=sys.stderr)
    finally:
        stop_server(server)
        shutil.rmtree(tmp, ignore_errors=True)
    text = "\n".join(
        [
            BEGIN,
            "## P1: no-op plan, RLS and two policies per table, against pg_dump and the peers",
            "",
            f"- date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC; machine: {platform.machine()},"
            f" nproc {os.cpu_count()}; PostgreSQL {version}; Python {platform.python_version()}",
            f"- each tool a whole process, {args.repeat} timed runs after one warm-up, taking turns; peers diff the"
            " database against itself; pgstate with the canonical-form cache that an apply leaves and its cache of"
            " parsed files (its first plan wrote both: the warm-up run); cold: both emptied before each run",
            "- each table: 10 columns, a primary key, 3 more indexes, RLS enabled, two policies (`owner_id = 1`,"
            " `owner_id = 1 and active` as people write them)",
            "",
            "| tool | tables | median ms | min–max ms | × pg_dump | × pgstate | statements | peak MB |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
            *rows,
            "",
            "P1b: every tenth table changed (an index added, one pruned, a policy changed, `varchar` → `text`);"
            " pgstate plans the changed YAML, the peers diff the database with a copy so changed; statements are"
            " counted in the source database:",
            "",
            "| tool | tables | median ms | min–max ms | × pg_dump | × pgstate | statements | peak MB |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
            *changed_rows,
            "",
            "Growth (medians against N):",
            "",
            *[f"- {name}: {fit(points)}" for name, points in growth.items()],
            END,
            "",
        ]
    )
    print(text)
    if not args.no_results:
        write_section("P1", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
