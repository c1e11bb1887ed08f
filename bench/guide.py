"""Benchmark: the seed guide's performance claims, measured on the seed app before and after ``pgstate apply desired/``.

Benchmarks are not tests. On a private server (Debian's PostgreSQL 15 with hypopg when installed, else the wheel's
18) the seed app is loaded as its ORM left it ("before"), copied, and the copy brought to ``desired/`` by the normal
apply ("after"). Each of the guide's claims is timed on both, taking turns, every sample one execution of the
guide's own query sent with parameters as an ORM sends it (medians and min-max):

- composite indexes, "50-80 % faster": users by ``isPremium`` + ``credits``, and a user's sessions newest first with
  pagination;
- JSONB, "20-30 % faster": a JSON query on ``resumeData``;
- RLS, "10x or more": the legacy table read as ``authenticated`` through the guide's BAD policy, against the same
  table with the guide's GOOD policy and with pgstate's wrapped form (``desired/`` retires the table, so these two
  are copies where only the policy is declared);
- ``varchar`` -> ``text``: a query on ``resumeText``; the claim is only "better memory usage", so no change.

Then ``pgstate advise`` runs on the "before" database with the guide's workload (scripts/guide_workload.py) and is
compared with the steps ``pgstate plan desired/`` has there: how many of them it finds on its own, what else it
proposes. Written to bench/results.md (section ``guide``).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from pgstate.advice.explain import Persona
from pgstate.servers.local import LocalServer, embedded_bin_dir, ensure_server, stop_server
from run import ROOT, VENV_BIN, clean_env, write_section  # bench/run.py: the script's own folder

sys.path.insert(0, str(ROOT / "scripts"))
import guide_workload  # the guide's queries, shared with the demo

PG15 = Path("/usr/lib/postgresql/15/bin")
HYPOPG15 = Path("/usr/share/postgresql/15/extension/hypopg.control")
# User 10 is premium (10 % 5 = 0) and owns legacy interview 3 (user (3 * 3) % 20000 + 1): the BAD policy and the
# GOOD one return the same rows for them, which the run checks.
USER_ID = "md5('user:10')::uuid"
USER_EMAIL = "user10@example.com"

# The interviews table with only its policy declared, in the guide's GOOD shape and in pgstate's wrapped one.
POLICY_ONLY = """\
table: interviews
rls: {{enabled: true, forced: false}}
policies:
  - name: Users can view own interviews
    command: select
    roles: [public]
    using: '{using}'
"""


@dataclass(frozen=True)
class Claim:
    name: str
    guide: str  # the guide's figure, as it says it
    query: str
    parameters: tuple[Any, ...]
    verdict: Callable[[float, float], str]  # (before ms, after ms) -> verdict
    as_user: bool = False


def faster_by(low: float, high: float) -> Callable[[float, float], str]:
    def verdict(before: float, after: float) -> str:
        saved = 1 - after / before
        if saved >= high:
            return f"holds, and more ({saved:.0%} faster)"
        if saved >= low:
            return f"holds ({saved:.0%} faster)"
        return f"does not hold ({saved:.0%} faster)" if saved >= 0 else f"does not hold ({-saved:.0%} slower)"

    return verdict


def times_faster(factor: float) -> Callable[[float, float], str]:
    def verdict(before: float, after: float) -> str:
        ratio = before / after
        return f"holds ({ratio:.1f}× faster)" if ratio >= factor else f"does not hold ({ratio:.1f}× faster)"

    return verdict


def unchanged(before: float, after: float) -> str:
    change = after / before - 1
    return f"holds ({change:+.0%}, within noise)" if abs(change) <= 0.10 else f"differs ({change:+.0%} time)"


CLAIMS = (
    Claim(
        "composite index: users by isPremium + credits",
        "50–80 % faster",
        'SELECT id, email FROM "User" WHERE "isPremium" = %s AND credits > %s ORDER BY credits DESC LIMIT 50',
        (True, 90),
        faster_by(0.5, 0.8),
    ),
    Claim(
        "composite index: a user's sessions newest first, paginated",
        "50–80 % faster",
        'SELECT id, status, "createdAt" FROM "InterviewSession" WHERE "userId" = md5(%s)::uuid'
        ' ORDER BY "createdAt" DESC LIMIT 10 OFFSET %s',
        ("user:10", 10),
        faster_by(0.5, 0.8),
    ),
    Claim(
        "JSONB: a JSON query on resumeData",
        "20–30 % faster",
        """SELECT id FROM "User" WHERE "resumeData"->>'headline' = %s""",
        ("Engineer 4711",),
        faster_by(0.2, 0.3),
    ),
    Claim(
        "varchar → text: resumeText read",
        "memory only (no speed claim)",
        """SELECT count(*) FROM "User" WHERE "resumeText" LIKE %s""",
        ("%deadbeef%",),
        unchanged,
    ),
)
RLS_QUERY = "SELECT id, title FROM interviews WHERE status = %s"
RLS_PARAMETERS = ("done",)


@dataclass(frozen=True)
class Timing:
    median_ms: float
    min_ms: float
    max_ms: float

    @staticmethod
    def of(samples: list[float]) -> Timing:
        return Timing(statistics.median(samples), min(samples), max(samples))

    def cell(self) -> str:
        return f"{self.median_ms:.2f} ({self.min_ms:.2f}–{self.max_ms:.2f})"


def load_seed(server: LocalServer, dbname: str) -> None:
    with psycopg.connect(server.url(), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    with psycopg.connect(server.url(dbname), autocommit=True) as conn:
        conn.execute((ROOT / "seed" / "supabase.sql").read_bytes())
        conn.execute((ROOT / "seed" / "app.sql").read_bytes())
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        # Nobody has read the legacy table for weeks (the story): loading it just did; the retirement's
        # "not scanned within quiet_days" guard (PostgreSQL 16+) reads these counters.
        conn.execute(
            "SELECT pg_stat_reset_single_table_counters(oid) FROM pg_class WHERE oid = 'interviews'::regclass"
            " OR oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = 'interviews'::regclass)"
        )


def copy_database(server: LocalServer, source: str, name: str) -> str:
    with psycopg.connect(server.url(), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(source)))
    return server.url(name)


def pgstate(*argv: str, expect: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(VENV_BIN / "pgstate"), *argv], capture_output=True, text=True, env=clean_env(), check=False
    )
    if done.returncode not in expect:
        raise SystemExit(f"pgstate {' '.join(argv[:1])} exited {done.returncode}:\n{done.stderr}")
    return done


def apply(url: str, desired: Path, backups: Path) -> None:
    pgstate("apply", "--yes", "--allow-destructive", "--allow-authz-widening", "--desired", str(desired),
            "--database-url", url, "--backup-dir", str(backups))  # fmt: skip
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")


def execute_timed(conn: psycopg.Connection[Any], query: str, parameters: tuple[Any, ...], as_user: bool) -> float:
    with conn.transaction(force_rollback=True):
        if as_user:
            become_user(conn)
        start = time.perf_counter()
        conn.execute(query, parameters, prepare=True).fetchall()  # type: ignore[call-overload]  # a fixed query
        return (time.perf_counter() - start) * 1000


_uuid: dict[int, str] = {}


def become_user(conn: psycopg.Connection[Any]) -> None:
    """The serving role with the user's claims, set as the advisor sets them (the JSON and one per claim)."""
    claims = json.dumps({"sub": _user_uuid(conn), "email": USER_EMAIL, "role": "authenticated"})
    Persona("authenticated", claims).set_claims(conn)
    conn.execute("SET LOCAL ROLE authenticated")


def _user_uuid(conn: psycopg.Connection[Any]) -> str:
    if not _uuid:
        row = conn.execute(sql.SQL("SELECT {}::text").format(sql.SQL(USER_ID))).fetchone()
        _uuid[0] = str(row[0]) if row else ""
    return _uuid[0]


def interleaved(
    urls: list[str], query: str, parameters: tuple[Any, ...], rounds: int, *, as_user: bool = False
) -> list[Timing]:
    """One sample per database per round, the databases taking turns; one warm-up round first."""
    connections = [psycopg.connect(url, autocommit=True) for url in urls]
    try:
        samples: list[list[float]] = [[] for _ in urls]
        for round_number in range(rounds + 1):
            for index, conn in enumerate(connections):
                elapsed = execute_timed(conn, query, parameters, as_user)
                if round_number:
                    samples[index].append(elapsed)
        return [Timing.of(found) for found in samples]
    finally:
        for conn in connections:
            conn.close()


def same_rows(urls: list[str], query: str, parameters: tuple[Any, ...], *, as_user: bool = False) -> bool:
    results = []
    for url in urls:
        with psycopg.connect(url, autocommit=True) as conn, conn.transaction(force_rollback=True):
            if as_user:
                become_user(conn)
            results.append(sorted(map(str, conn.execute(query, parameters).fetchall())))  # type: ignore[call-overload]
    return all(found == results[0] for found in results)


# ---- what advise finds of desired/ ------------------------------------------------------------------------------


def index_keys(statement: str) -> list[str]:
    """The key columns of a CREATE INDEX statement, unquoted, without their order words."""
    found = re.search(r"\((.*)\)", statement.split(" WHERE ")[0])
    if not found:
        return []
    keys = [part.strip().split(" ")[0].strip('"') for part in found.group(1).split(",")]
    return [key for key in keys if key]


def proposed_keys(index: dict[str, Any]) -> list[str]:
    return [
        str(key if isinstance(key, str) else key.get("column") or key.get("expression")) for key in index["columns"]
    ]


def matches(proposal: dict[str, Any], step: dict[str, Any]) -> bool:
    """Whether ``proposal`` is the change ``step`` makes, strictly: an index with the same key columns in the same
    order on the same table, the same column to jsonb, the same policy rewritten, the same index dropped, the same
    settings for the same role."""
    table = proposal["table"]["name"] if proposal["table"] else None
    on_table = table is not None and (f'"{table}"' in step["sql"] or f".{table} " in step["sql"])
    change = proposal["change"]
    if proposal["kind"] == "index":
        keys = proposed_keys(change["index"])
        return step["action"] in ("build-index", "create-index") and on_table and keys == index_keys(step["sql"])
    if proposal["kind"] == "jsonb":
        return step["action"] == "alter-column-type" and on_table and change["column"] in step["sql"]
    if proposal["kind"] == "rls":
        return "polic" in step["action"] and on_table and change["policy"] in step["sql"]
    if proposal["kind"] == "drop-index":
        return step["action"] == "drop-index" and change["drop_index"] in step["sql"]
    role = change.get("role_setting", {}).get("role")
    settings = {**change.get("database_setting", {}), **change.get("role_setting", {})}
    names = [name for name in settings if name != "role"]
    return (
        "setting" in step["action"]
        and bool(names)
        and all(name in step["sql"] for name in names)
        and (role is None or f'"{role}"' in step["sql"] or f" {role} " in step["sql"])
    )


def rediscovery(before_url: str, desired: Path) -> tuple[list[str], list[str], list[str]]:
    """(desired changes advise found, desired changes it did not, what else it proposes)."""
    with psycopg.connect(before_url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_statements_reset()")
        guide_workload.run(conn)
    advised = json.loads(
        pgstate("advise", "--format", "json", "--database-url", before_url, "--desired", str(desired),
                "--role", "authenticated", "--claims", guide_workload.CLAIMS, expect=(0, 2)).stdout
    )  # fmt: skip
    plan = json.loads(
        pgstate("plan", "--format", "json", "--database-url", before_url, "--desired", str(desired), expect=(2,)).stdout
    )
    steps = [step for step in plan["steps"] if step["action"] not in ("analyze",)]
    found, missed = [], []
    used: set[int] = set()
    for step in steps:
        # Each proposal counts for one step at most.
        hit = next((i for i, p in enumerate(advised["proposals"]) if i not in used and matches(p, step)), None)
        (found if hit is not None else missed).append(f"{step['action']}: {step['summary']}")
        if hit is not None:
            used.add(hit)
    extra = [p["title"] for i, p in enumerate(advised["proposals"]) if i not in used]
    return found, missed, extra


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=31, help="timed executions per query and database (31)")
    parser.add_argument("--server", choices=["auto", "18", "15"], default="auto", help="15 with hypopg if installed")
    parser.add_argument("--no-results", action="store_true", help="do not write bench/results.md")
    args = parser.parse_args()
    use15 = args.server == "15" or (args.server == "auto" and HYPOPG15.exists())
    work = Path(tempfile.mkdtemp(prefix="pgstate-bench-guide-", dir="/tmp"))
    work.chmod(0o711)
    server = ensure_server(PG15 if use15 else embedded_bin_dir(), work / "data", fast=True,
                           preload=("pg_stat_statements",))  # fmt: skip
    try:
        print("loading the seed app ...", file=sys.stderr)
        load_seed(server, "guide_before")
        with psycopg.connect(server.url("guide_before"), autocommit=True) as conn:
            version = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
        found, missed, extra = rediscovery(server.url("guide_before"), ROOT / "desired")
        after = copy_database(server, "guide_before", "guide_after")
        print("applying desired/ ...", file=sys.stderr)
        apply(after, ROOT / "desired", work / "backups")
        before = server.url("guide_before")
        rows = []
        for claim in CLAIMS:
            print(f"timing: {claim.name}", file=sys.stderr)
            if not same_rows([before, after], claim.query, claim.parameters):
                raise SystemExit(f"{claim.name}: before and after return different rows")
            was, now = interleaved([before, after], claim.query, claim.parameters, args.rounds)
            rows.append((claim.name, claim.guide, was, now, claim.verdict(was.median_ms, now.median_ms)))
        # RLS: desired/ retires the legacy table; its policy is measured on copies that declare only the policy.
        variants = {
            "the guide's GOOD policy (`user_id = auth.uid()`)": "user_id = auth.uid()",
            "pgstate's wrapped form (`user_id = (select auth.uid())`)": "user_id = (select auth.uid())",
        }
        urls = [before]
        for number, using in enumerate(variants.values()):
            desired = work / f"desired-rls-{number}"
            desired.mkdir()
            (desired / "interviews.yaml").write_text(POLICY_ONLY.format(using=using))
            urls.append(copy_database(server, "guide_before", f"guide_rls_{number}"))
            apply(urls[-1], desired, work / "backups")
        print("timing: RLS", file=sys.stderr)
        if not same_rows(urls, RLS_QUERY, RLS_PARAMETERS, as_user=True):
            raise SystemExit("RLS: the BAD and GOOD policies return different rows for the user")
        timings = interleaved(urls, RLS_QUERY, RLS_PARAMETERS, args.rounds, as_user=True)
        for label, timing in zip(variants, timings[1:], strict=True):
            name = f"RLS: the legacy table as authenticated, BAD policy → {label}"
            rows.append(
                (name, "10× or more", timings[0], timing, times_faster(10)(timings[0].median_ms, timing.median_ms))
            )
    finally:
        stop_server(server)
        shutil.rmtree(work, ignore_errors=True)
    text = report(rows, found, missed, extra, version, args.rounds)
    print(text)
    if not args.no_results:
        write_section("guide", text)
    return 0


def report(
    rows: list[tuple[str, str, Timing, Timing, str]],
    found: list[str],
    missed: list[str],
    extra: list[str],
    version: str,
    rounds: int,
) -> str:
    lines = [
        "<!-- guide begin -->",
        f"## The seed guide's claims, measured (seed app, PostgreSQL {version})",
        "",
        f"Each cell: median ms of {rounds} executions (min–max), the databases taking turns; every query sent with"
        ' parameters and prepared, as an ORM sends it; "after" is the seed app after `pgstate apply desired/`.',
        "",
        "| claim | the guide says | before, ms | after, ms | verdict |",
        "|---|---|---:|---:|---|",
    ]
    lines += [
        f"| {name} | {guide} | {was.cell()} | {now.cell()} | {verdict} |" for name, guide, was, now, verdict in rows
    ]
    total = len(found) + len(missed)
    lines += [
        "",
        f'`pgstate advise` on the "before" database with the guide\'s workload (scripts/guide_workload.py) finds'
        f" {len(found)} of the {total} steps `pgstate plan desired/` has there:",
        "",
        *[f"- found: {item}" for item in found],
        *[f"- not found: {item}" for item in missed],
        "",
        "and proposes besides:",
        "",
        *[f"- {item}" for item in extra],
        "<!-- guide end -->",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
