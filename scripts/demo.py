"""`make demo`: the seed app as its ORM left it, loaded into the embedded PostgreSQL; then validate, plan,
apply and drift with the repository's own desired/ directory.

The demo uses its own database, ``pgstate_demo``, on the embedded server under .pgstate/embedded/, recreated
on every run, and hands its URL to pgstate through $PGSTATE_DATABASE_URL, as a CI job would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql

from pgstate.embedded import embedded_url

ROOT = Path(__file__).resolve().parent.parent
DEMO_DATABASE = "pgstate_demo"


def banner(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m" if sys.stdout.isatty() else f"\n== {text}", flush=True)


def pgstate(*args: str, env: dict[str, str]) -> int:
    print(f"$ pgstate {' '.join(args)}", flush=True)
    return subprocess.run([sys.executable, "-m", "pgstate", *args], env=env, cwd=ROOT, check=False).returncode


def load_seed(server_url: str) -> str:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DEMO_DATABASE)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DEMO_DATABASE)))
    demo_url = server_url.replace("/postgres?", f"/{DEMO_DATABASE}?")
    started = time.monotonic()
    with psycopg.connect(demo_url, autocommit=True) as conn:
        conn.execute((ROOT / "seed" / "supabase.sql").read_bytes())
        conn.execute((ROOT / "seed" / "app.sql").read_bytes())
    print(f"seed/app.sql loaded in {time.monotonic() - started:.1f} s (the interview app as Prisma left it)")
    return demo_url


def main() -> int:
    banner("Embedded PostgreSQL (.pgstate/embedded) and the seed app")
    demo_url = load_seed(embedded_url(ROOT))
    env = {**os.environ, "PGSTATE_DATABASE_URL": demo_url}
    desired = ["--desired", str(ROOT / "desired")]

    banner("1. validate: the desired files, no database needed")
    if pgstate("validate", *desired, env=env) != 0:
        return 1
    banner("2. lint: the desired state, the live database and the plan (exit 1 only on errors)")
    if pgstate("lint", *desired, env=env) != 0:
        return 1
    banner("3. plan: what it takes to reach desired/ (exit 2: changes)")
    if pgstate("plan", *desired, env=env) != 2:
        return 1
    banner("4. apply: concurrent index builds, then one transaction under lock_timeout")
    if pgstate("apply", "--yes", "--allow-destructive", *desired, env=env) != 0:
        return 1
    banner("5. drift: the database now matches desired/ (exit 0)")
    drift = pgstate("drift", *desired, env=env)
    banner("6. plan again: nothing to do")
    replan = pgstate("plan", *desired, env=env)
    banner("7. the run, as recorded in the database")
    with psycopg.connect(demo_url) as conn:
        for row in conn.execute(
            "SELECT id, status, finished_at - started_at, jsonb_array_length(plan->'steps') FROM pgstate.runs"
        ):
            print(f"run {row[0]}: {row[1]} in {row[2]}, {row[3]} steps")
    if (drift, replan) != (0, 0):
        print("demo failed: the database did not converge", file=sys.stderr)
        return 1
    print("\nDemo done. The embedded server keeps running; `make clean` removes it.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
