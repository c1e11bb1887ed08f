"""`make demo`: the seed app as its ORM left it, loaded into the embedded PostgreSQL; then validate, plan,
apply and drift with the repository's own desired/ directory.

The demo uses its own database, ``pgstate_demo``, on the embedded server under .pgstate/embedded/, recreated
on every run, and hands its URL to pgstate through $PGSTATE_DATABASE_URL, as a CI job would. At the end it
prints that URL and the commands that go on by hand from there (``next_steps``), exactly as they run.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql

from pgstate.servers.embedded import embedded_home, embedded_url

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
        conn.execute("SET max_parallel_workers_per_gather = 0")  # no worker's statistics arrive late
        conn.execute((ROOT / "seed" / "supabase.sql").read_bytes())
        conn.execute((ROOT / "seed" / "app.sql").read_bytes())
        # Loading the fixture just read every table; in the story nobody has read the legacy table for weeks.
        # Its scan statistics are reset so that PostgreSQL 16+'s "scanned within quiet_days" guard sees that.
        conn.execute("SELECT pg_stat_force_next_flush()")
        conn.execute("SELECT 1")
        conn.execute(
            "SELECT pg_stat_reset_single_table_counters(oid) FROM pg_class WHERE oid = 'interviews'::regclass"
            " OR oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = 'interviews'::regclass)"
        )
    print(
        f"seed/app.sql loaded in {time.monotonic() - started:.1f} s (the interview app as Prisma left it;"
        " the legacy table's scan statistics reset: nobody has read it for weeks)"
    )
    return demo_url


# The seed app's json columns that desired/ turns into jsonb.
JSON_COLUMNS = (("Feedback", "details"), ("InterviewSession", "questions"), ("UsageEvent", "metadata"))


def _json_text(url: str) -> list[str]:
    """A digest of each json column's text, row by row: what a rollback must give back exactly."""
    with psycopg.connect(url) as conn:
        return [
            str(
                conn.execute(
                    sql.SQL("SELECT md5(string_agg({}::text, '|' ORDER BY id)) FROM {}").format(
                        sql.Identifier(column), sql.Identifier(table)
                    )
                ).fetchone()
            )
            for table, column in JSON_COLUMNS
        ]


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
    json_text = _json_text(demo_url)
    banner("4. apply: concurrent index builds, then one transaction under lock_timeout")
    if pgstate("apply", "--yes", "--allow-destructive", *desired, env=env) != 0:
        return 1
    banner("5. drift: the database now matches desired/ (exit 0)")
    drift = pgstate("drift", *desired, env=env)
    banner("6. plan again: nothing to do")
    replan = pgstate("plan", *desired, env=env)
    banner("7. history: the run, its steps, and where the legacy table's backup is")
    pgstate("history", env=env)
    with psycopg.connect(demo_url) as conn:
        run_id, backup_dir = conn.execute("SELECT id, backup FROM pgstate.runs ORDER BY id DESC LIMIT 1").fetchone()
    pgstate("history", str(run_id), env=env)
    print(f"\n$ cat {backup_dir}/manifest.json  (excerpt)")
    manifest = json.loads((Path(backup_dir) / "manifest.json").read_text())
    for table in manifest["tables"]:
        print(
            f"  {table['schema']}.{table['table']}: {table['rows']} rows, sha256 {table['sha256'][:16]}...,"
            f" dumped with {manifest['pg_dump']['version']}"
        )
    banner(f"8. rollback {run_id}: the legacy table back from its dump, the types, values and indexes as they were")
    # json -> jsonb rewrote the JSON text (key order, duplicate keys, white space): the rollback sets it back from
    # the verified backup, row by row, matched by primary key, inside its transaction.
    if pgstate("rollback", str(run_id), "--yes", env=env) != 0:
        return 1
    with psycopg.connect(demo_url) as conn:
        print(f"interviews is back with {conn.execute('SELECT count(*) FROM interviews').fetchone()[0]} rows")
    same = _json_text(demo_url) == json_text
    print(f"the json columns hold the original text again, byte for byte: {'yes' if same else 'NO'}")
    if not same:
        return 1
    banner("9. apply again: refused, because the restore just read the legacy table (exit 3)")
    if pgstate("apply", "--yes", "--allow-destructive", *desired, env=env) != 3:
        return 1
    print("On PostgreSQL 16+ a table read within quiet_days is not retired: the guard works. Nothing changed.")
    if (drift, replan) != (0, 0):
        print("demo failed: the database did not converge", file=sys.stderr)
        return 1
    banner("10. advise: what pgstate would have proposed on this 'before' database, from the guide's own queries")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import guide_workload  # scripts/: the demo's and the benchmark's workload

    with psycopg.connect(demo_url, autocommit=True) as conn:
        # the rollback took pg_stat_statements with the rest of the run; the advisor reads the workload from it
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        conn.execute(
            "SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)"
        )
        guide_workload.run(conn)
    if pgstate("advise", "--role", "authenticated", "--claims", guide_workload.CLAIMS, *desired, env=env) != 2:
        return 1
    banner("11. a fleet: two tenant databases (copies of the 'before' one) and a streaming standby of the first")
    import demo_fleet  # scripts/

    if demo_fleet.run_fleet(ROOT, DEMO_DATABASE, banner) != 0:
        return 1
    print("\nDemo done.")
    print(next_steps(demo_url, ROOT))
    return 0


def _in_project(path: Path, project: Path) -> str:
    """``path`` as typed from ``project``: relative when it is the project's own (``.venv/bin/pgstate``)."""
    for parent in (path, *path.parents):
        if (project / parent.name).resolve() == parent.resolve():
            return str(Path(parent.name) / path.relative_to(parent))
    return str(path)


def next_steps(demo_url: str, project: Path) -> str:
    """What the reader can do next, by hand: the demo database's URL and commands to paste, each one as it runs
    from ``project`` (tests/test_demo_next_steps.py runs them). The URL has no password: the embedded server
    trusts local connections on its private socket directory, which only its own user (and root) can open."""
    venv = Path(sys.prefix)
    if venv == Path(sys.base_prefix):  # not in a venv (the Makefile always makes one): the interpreter itself
        pgstate_cmd = f"{shlex.quote(sys.executable)} -m pgstate"
        activate = None
    else:
        pgstate_cmd = shlex.quote(_in_project(venv / "bin" / "pgstate", project))
        activate = f"source {shlex.quote(_in_project(venv / 'bin' / 'activate', project))}"
    url = shlex.quote(demo_url)
    lines = [
        "",
        "== Next: pgstate by hand",
        "The demo database (no password: the embedded server trusts local connections on its private socket):",
        f"  {demo_url}",
        f"From {project}, with the pgstate of the demo's venv:",
        f"  $ {pgstate_cmd} plan --database-url {url}",
    ]
    if activate is not None:
        lines += [
            "Or with the venv activated and the URL in the environment, as the workflows pass it:",
            f"  $ {activate}",
            f"  $ export PGSTATE_DATABASE_URL={url}",
            "  $ pgstate drift",
            "  $ pgstate history",
        ]
    lines += [
        f"The embedded server under {_in_project(embedded_home(project), project)} keeps running; to see or stop it:",
        f"  $ {pgstate_cmd} embedded status",
        f"  $ {pgstate_cmd} embedded stop",
        "(`make clean` stops it too, then removes .venv and .pgstate.)",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
