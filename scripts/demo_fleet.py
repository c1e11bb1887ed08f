"""`make demo`'s last step: a fleet of three targets on the embedded server, two tenant databases and a streaming
standby of the first (pg_basebackup -R), each run as a CI matrix job would run it, then the joined report.

The fleet's pgstate.toml and results live under .pgstate/demo-fleet/; the standby under .pgstate/embedded/standby,
stopped at the end (the tenants stay on the embedded server, like the demo database)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psycopg
from psycopg import sql

from pgstate.servers.embedded import embedded_home
from pgstate.servers.local import LocalServer, running_server, stop_server
from pgstate.servers.standby import ensure_standby, wait_for_replay

TENANTS = ("pgstate_demo_tenant_a", "pgstate_demo_tenant_b")


def fleet_config(desired: Path) -> str:
    return (
        f"desired = {str(desired)!r}\n\n"
        '[targets.tenant-a]\nurl_env = "TENANT_A_URL"\nwave = "canary"\n\n'
        '[targets.tenant-b]\nurl_env = "TENANT_B_URL"\nwave = "1"\n\n'
        '[targets.tenant-a-replica]\nurl_env = "REPLICA_URL"\nrole = "standby"\nprimary = "tenant-a"\nwave = "1"\n'
    )


def run_fleet(root: Path, template: str, banner: Callable[[str], None]) -> int:
    """Two tenants copied from ``template`` (the demo database as the ORM left it), a standby of the server,
    tenant-a applied (its standby replays it), every target's drift, and the fleet's report (exit 2: tenant-b
    has not been applied). Returns 0 when all of that went as it should."""
    server = running_server(embedded_home(root) / "data")
    assert server is not None, "the demo's embedded server runs"
    with psycopg.connect(server.url(), autocommit=True) as conn:
        for name in TENANTS:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
            )
    standby_dir = embedded_home(root) / "standby"
    shutil.rmtree(standby_dir, ignore_errors=True)
    standby = ensure_standby(server, standby_dir, preload=("pg_stat_statements",))
    try:
        return _fleet(root, server, standby, banner)
    finally:
        stop_server(standby)


def _fleet(root: Path, server: LocalServer, standby: LocalServer, banner: Callable[[str], None]) -> int:
    wait_for_replay(server, standby)
    home = root / ".pgstate" / "demo-fleet"
    shutil.rmtree(home, ignore_errors=True)
    (home / "results").mkdir(parents=True)
    config = home / "pgstate.toml"
    config.write_text(fleet_config(root / "desired"))
    env = {
        **os.environ,
        "TENANT_A_URL": server.url(TENANTS[0]),
        "TENANT_B_URL": server.url(TENANTS[1]),
        "REPLICA_URL": standby.url(TENANTS[0]),
    }
    env.pop("PGSTATE_DATABASE_URL", None)

    def pgstate(*args: str) -> int:
        shown = " ".join(args).replace(str(home) + "/", "")
        print(f"$ pgstate {shown}", flush=True)
        return subprocess.run([sys.executable, "-m", "pgstate", *args], env=env, cwd=home, check=False).returncode

    print(config.read_text())
    pgstate("targets")
    print(
        "$ pgstate targets --format github-matrix --wave 1   # strategy.matrix of .github/workflows/fleet.yml's wave_1"
    )
    subprocess.run(
        [sys.executable, "-m", "pgstate", "targets", "--format", "github-matrix", "--wave", "1"],
        env=env,
        cwd=home,
        check=False,
    )
    banner("11b. the canary wave applies tenant-a; pgstate waits for its standby to replay the run")
    if (
        pgstate("apply", "--target", "tenant-a", "--yes", "--allow-destructive", "--result", "results/tenant-a.json")
        != 0
    ):
        return 1
    banner("11c. every target's drift, one process each as CI runs them (the standby's parsed on its primary)")
    codes = {}
    for name in ("tenant-a", "tenant-b", "tenant-a-replica"):
        argv = ["drift", "--target", name, "--result", f"results/{name}.json", "--format", "json"]
        print(f"$ pgstate {' '.join(argv)} > /dev/null", flush=True)
        codes[name] = subprocess.run(
            [sys.executable, "-m", "pgstate", *argv], env=env, cwd=home, stdout=subprocess.DEVNULL, check=False
        ).returncode
        print(f"  exit {codes[name]}")
    banner("11d. fleet-report: the jobs' results joined (exit 2: one tenant drifts)")
    report = pgstate("fleet-report", "results", "--format", "markdown")
    expected = {"tenant-a": 0, "tenant-b": 2, "tenant-a-replica": 0}
    if codes != expected or report != 2:
        print(f"demo failed: drift exit codes {codes}, report {report}", file=sys.stderr)
        return 1
    print("\nApplying on the standby is refused (exit 3): it replays its primary.")
    if pgstate("apply", "--target", "tenant-a-replica", "--yes") != 3:
        return 1
    return 0
