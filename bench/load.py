"""Benchmark P2: an apply under write load, against the same change as plain SQL the way the seed guide runs it.

Benchmarks are not tests. On a private server (PostgreSQL 18 from the wheel, or ``--server 15`` for Debian's),
a table of ``--rows`` rows (2 million) with RLS and a policy; pgbench with 8 clients writing single-row updates
and inserts for the whole run; after a quiet stretch the change: two indexes added, the policy changed, a
``varchar`` column made ``text``. Once by ``pgstate apply``, once as plain SQL (``CREATE INDEX``, ``DROP POLICY;
CREATE POLICY``, ``ALTER TABLE``), each on a fresh copy of the table, and both again with a long transaction
holding the table from just before the change. Reported from pgbench's per-transaction log: failed transactions
(and aborted clients), the worst and the p99 latency of transactions that overlapped the change, throughput
before and during it, and how long the change took.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg

from pgstate.servers.local import LocalServer, embedded_bin_dir, ensure_server, stop_server
from run import VENV_BIN, clean_env, write_section  # bench/run.py: the script's own folder

CLIENTS = 8
QUIET_SECONDS = 8.0  # of load before the change, for the throughput before it
LOAD_SECONDS = 50  # pgbench's whole run: the quiet stretch, the change, and load after it
HOLD_SECONDS = 8.0  # the long transaction's length
BEGIN, END = "<!-- P2 begin -->", "<!-- P2 end -->"

TABLE = """
CREATE TABLE public.orders (
    id bigserial PRIMARY KEY, owner_id integer NOT NULL, account_id integer NOT NULL,
    status varchar(20) NOT NULL, note varchar(200), created_at timestamptz NOT NULL DEFAULT now(), total numeric
);
INSERT INTO public.orders (owner_id, account_id, status, note, total)
SELECT g % 1000, g % 5000, 'new', 'order ' || g, g % 100 FROM generate_series(1, %(rows)s) g;
ALTER TABLE public.orders ENABLE ROW LEVEL SECURITY;
CREATE POLICY orders_owner ON public.orders FOR SELECT USING (owner_id = 1);
ANALYZE public.orders;
"""
DESIRED = """table: orders
columns:
  note: {type: text}
indexes:
  - {name: orders_owner_id_idx, columns: [owner_id]}
  - {name: orders_account_id_created_at_idx, columns: [account_id, created_at]}
rls: {enabled: true}
policies:
  - {name: orders_owner, command: select, using: 'owner_id = 1 or account_id = 1'}
"""
# The same change without the builds: then the one transaction is what meets the long transaction, and what a
# lock attempt costs the writers queued behind it shows.
DESIRED_NO_BUILDS = """table: orders
columns:
  note: {type: text}
rls: {enabled: true}
policies:
  - {name: orders_owner, command: select, using: 'owner_id = 1 or account_id = 1'}
"""
OLD_DEFAULTS = ("--lock-timeout", "2s", "--retries", "5")  # the spec's defaults before P2 measured them
PLAIN_SQL = [
    "CREATE INDEX orders_owner_id_idx ON public.orders (owner_id)",
    "CREATE INDEX orders_account_id_created_at_idx ON public.orders (account_id, created_at)",
    "DROP POLICY orders_owner ON public.orders",
    "CREATE POLICY orders_owner ON public.orders FOR SELECT USING (owner_id = 1 OR account_id = 1)",
    "ALTER TABLE public.orders ALTER COLUMN note TYPE text",
]
WORKLOAD = """\\set id random(1, {rows})
\\set owner random(1, 1000)
UPDATE public.orders SET total = total + 1 WHERE id = :id;
INSERT INTO public.orders (owner_id, account_id, status, note, total) VALUES (:owner, :owner, 'new', 'x', 1);
"""


@dataclass(frozen=True)
class Outcome:
    label: str
    change_s: float
    failed: int
    aborted: int
    worst_ms: float
    p99_ms: float
    tps_before: float
    tps_during: float


def change_by_pgstate(url: str, desired: Path, backups: Path, *extra: str) -> None:
    argv = [
        str(VENV_BIN / "pgstate"),
        "apply",
        "--yes",
        "--allow-authz-widening",
        "--desired",
        str(desired),
        "--database-url",
        url,
        *extra,
    ]
    result = subprocess.run([*argv, "--backup-dir", str(backups)], capture_output=True, text=True, env=clean_env())
    if result.returncode != 0:
        sys.exit(f"pgstate apply exited {result.returncode}:\n{result.stderr[-2000:]}")


def no_builds_by_pgstate(url: str, desired: Path, backups: Path, *extra: str) -> None:
    change_by_pgstate(url, desired.with_name("desired-no-builds"), backups, *extra)


def change_by_plain_sql(url: str, desired: Path, backups: Path) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in PLAIN_SQL:
            conn.execute(statement.encode())  # a fixed script of ours, run as the guide runs it


def hold_table(url: str, ready: threading.Event) -> None:
    """A long transaction that has read the table: its ACCESS SHARE lock stays until it ends."""
    with psycopg.connect(url) as conn:
        conn.execute("SELECT count(*) FROM (SELECT 1 FROM public.orders LIMIT 1000) s")
        ready.set()
        time.sleep(HOLD_SECONDS)
        conn.rollback()


def run_variant(
    server: LocalServer,
    number: int,
    label: str,
    change: Callable[[str, Path, Path], None],
    work: Path,
    *,
    long_tx: bool,
) -> Outcome:
    dbname = f"p2_{number}"
    with psycopg.connect(server.url(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {dbname} TEMPLATE p2_template".encode())
    url = server.url(dbname)
    logs = work / dbname
    logs.mkdir()
    script = work / "workload.sql"
    started = time.time()
    # pgbench has no way to be stopped and still write its log: it runs a fixed time, which the change must fit
    argv = [str(server.bin("pgbench")), "-n", "-c", str(CLIENTS), "-j", "2", "-T", str(LOAD_SECONDS)]
    argv += ["-f", str(script), "-l", f"--log-prefix={logs}/tx", url]
    pgbench = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env())
    time.sleep(QUIET_SECONDS)
    holder = None
    if long_tx:
        ready = threading.Event()
        holder = threading.Thread(target=hold_table, args=(url, ready))
        holder.start()
        ready.wait(10)
        time.sleep(0.5)
    change_start = time.time()
    change(url, work / "desired", work / "backups")
    change_end = time.time()
    if holder is not None:
        holder.join()
    out, err = pgbench.communicate(timeout=LOAD_SECONDS + 60)
    if change_end > started + LOAD_SECONDS - 2:
        sys.exit(f"{label}: the change took {change_end - change_start:.0f} s, longer than the load ran")
    latencies_before, overlapping, failed = [], [], 0
    for log in logs.glob("tx*"):
        for line in log.read_text().splitlines():
            fields = line.split()
            if len(fields) < 6:
                continue
            if fields[2] == "failed":
                failed += 1
                continue
            latency = int(fields[2]) / 1e6
            end = int(fields[4]) + int(fields[5]) / 1e6
            if end < change_start:
                if end >= started + 1.0:
                    latencies_before.append(latency)
            elif end - latency <= change_end:
                overlapping.append(latency)
    aborted = err.count("aborted")
    for line in out.splitlines():
        if line.startswith("number of failed transactions:"):
            failed = max(failed, int(line.split(":")[1].split()[0]))
    duration = change_end - change_start
    overlapping.sort()
    return Outcome(
        label,
        duration,
        failed,
        aborted,
        max(overlapping, default=0) * 1000,
        overlapping[int(len(overlapping) * 0.99) - 1] * 1000 if overlapping else 0,
        len(latencies_before) / (change_start - started - 1.0),
        len(overlapping) / max(duration, 1e-9),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=2_000_000, help="rows of the table (2,000,000)")
    parser.add_argument("--server", choices=["18", "15"], default="18", help="the wheel's 18, or Debian's 15")
    parser.add_argument("--no-results", action="store_true", help="do not write bench/results.md")
    args = parser.parse_args()
    bin_dir = embedded_bin_dir() if args.server == "18" else Path("/usr/lib/postgresql/15/bin")
    work = Path(tempfile.mkdtemp(prefix="pgstate-bench-p2-", dir="/tmp"))
    os.chmod(work, 0o755)
    server = ensure_server(bin_dir, work / "data", fast=True)
    runs = work / "runs"
    runs.mkdir()
    (runs / "workload.sql").write_text(WORKLOAD.format(rows=args.rows))
    (runs / "desired").mkdir()
    (runs / "desired" / "orders.yaml").write_text(DESIRED)
    (runs / "desired-no-builds").mkdir()
    (runs / "desired-no-builds" / "orders.yaml").write_text(DESIRED_NO_BUILDS)
    outcomes = []
    try:
        with psycopg.connect(server.url(), autocommit=True) as admin:
            admin.execute("CREATE DATABASE p2_template")
        with psycopg.connect(server.url("p2_template"), autocommit=True) as conn:
            print(f"filling the table with {args.rows:,} rows", file=sys.stderr)
            conn.execute(TABLE.replace("%(rows)s", str(int(args.rows))).encode())
            version = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
        variants = [
            (label + (", behind a long transaction" if long_tx else ""), change, long_tx)
            for long_tx in (False, True)
            for label, change in (("pgstate apply", change_by_pgstate), ("plain SQL (the guide)", change_by_plain_sql))
        ]
        variants += [
            ("pgstate apply without the builds, behind a long transaction", no_builds_by_pgstate, True),
            (
                "the same with the old defaults (`--lock-timeout 2s --retries 5`)",
                lambda url, desired, backups: no_builds_by_pgstate(url, desired, backups, *OLD_DEFAULTS),
                True,
            ),
        ]
        for number, (name, change, long_tx) in enumerate(variants):
            print(f"running: {name}", file=sys.stderr)
            outcomes.append(run_variant(server, number, name, change, runs, long_tx=long_tx))
            print(outcomes[-1], file=sys.stderr)
    finally:
        stop_server(server)
        shutil.rmtree(work, ignore_errors=True)
    rows = [
        f"| {o.label} | {o.change_s:.1f} | {o.failed} | {o.aborted} | {o.worst_ms:,.0f} | {o.p99_ms:,.0f} |"
        f" {o.tps_before:,.0f} | {o.tps_during:,.0f} ({o.tps_during / max(o.tps_before, 1e-9):.2f}×) |"
        for o in outcomes
    ]
    text = "\n".join(
        [
            BEGIN,
            f"## P2: an apply under write load ({args.rows:,} rows, pgbench {CLIENTS} clients, PostgreSQL {version})",
            "",
            "Two indexes added, the policy changed, `varchar(200)` → `text`; a long transaction holds the table"
            f" (ACCESS SHARE) for {HOLD_SECONDS:.0f} s from just before the change in the second pair. The last"
            " two rows leave the builds out, so that the one transaction (the policy and the type change, ACCESS"
            " EXCLUSIVE) is what meets the long transaction: the writers queue behind each of its lock attempts.",
            "",
            "| change | took s | failed tx | aborted clients | worst latency ms | p99 ms | tx/s before | tx/s during |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
            *rows,
            END,
            "",
        ]
    )
    print(text)
    if not args.no_results:
        write_section("P2", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
