"""Fleets: targets in pgstate.toml, their matrix for GitHub Actions, per-target overlays, the result files and the
joined report; and a fleet of 20 databases on one server run through .github/workflows/fleet.yml's own commands,
one process per matrix entry as CI runs them, wave after wave."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from pgharness import TEMPLATE_DB, CompletedRun, run_pgstate, run_pgstate_inprocess
from pgstate.servers.local import LocalServer
from test_workflows import GITHUB_ENV, pgstate_commands

TABLE = (
    "CREATE TABLE accounts (id bigint PRIMARY KEY, owner uuid NOT NULL, created_at timestamptz NOT NULL DEFAULT now(),"
    " note text)"
)
DESIRED = {
    "accounts.yaml": """table: accounts
indexes:
  - columns: [owner, created_at]
rls: {enabled: true}
policies:
  - name: own rows
    command: select
    roles: [authenticated]
    using: owner = (SELECT auth.uid())
""",
}
# tenant-07's own accounts document: the same, and an index on note of its own.
TENANT_OVERLAY = DESIRED["accounts.yaml"].replace(
    "indexes:\n  - columns: [owner, created_at]\n", "indexes:\n  - columns: [owner, created_at]\n  - columns: [note]\n"
)


def _config(targets: dict[str, dict[str, str]], **top: str) -> str:
    lines = [f'{key} = "{value}"' for key, value in top.items()]
    for name, settings in targets.items():
        lines.append(f"[targets.{name}]")
        lines += [f'{key} = "{value}"' for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def _repo(tmp_path: Path, targets: dict[str, dict[str, str]]) -> Path:
    repo = tmp_path / "repo"
    (repo / "desired").mkdir(parents=True)
    for name, text in DESIRED.items():
        (repo / "desired" / name).write_text(text)
    (repo / "overlays" / "tenant-07").mkdir(parents=True)
    (repo / "overlays" / "tenant-07" / "accounts.yaml").write_text(TENANT_OVERLAY)
    (repo / "pgstate.toml").write_text(_config(targets, desired="desired"))
    return repo


def _in(repo: Path, *args: str) -> CompletedRun:
    return run_pgstate_inprocess([*args, "--config", str(repo / "pgstate.toml")])


# --- targets and their matrix ------------------------------------------------------------------------------------


def test_targets_wave_after_wave_and_their_github_matrix(tmp_path: Path) -> None:
    repo = _repo(
        tmp_path,
        {
            "t2": {"url_env": "T2_URL", "wave": "2"},
            "staging": {"url_env": "STAGING_URL", "wave": "canary"},
            "t1": {"url_env": "T1_URL", "wave": "1", "overlay": "overlays/tenant-07"},
            "t10": {"url_env": "T10_URL", "wave": "10"},
            "replica": {"url_env": "REPLICA_URL", "wave": "1", "role": "standby", "primary": "t1"},
        },
    )
    listed = _in(repo, "targets", "--format", "json")
    assert listed.exit_code == 0, listed.stderr
    document = json.loads(listed.stdout)
    assert [entry["target"] for entry in document["targets"]] == ["staging", "t1", "replica", "t2", "t10"]
    assert document["waves"] == ["canary", "1", "2", "10"]
    matrix = _in(repo, "targets", "--format", "github-matrix", "--wave", "1")
    assert json.loads(matrix.stdout) == {
        "include": [
            {"target": "t1", "url_env": "T1_URL", "wave": "1", "role": "primary"},
            {"target": "replica", "url_env": "REPLICA_URL", "wave": "1", "role": "standby"},
        ]
    }
    # No URL anywhere in it, even when the variables are set.
    os.environ["T1_URL"] = "postgresql://u:secret-pw@db.example/x"
    try:
        assert "secret-pw" not in _in(repo, "targets", "--format", "github-matrix").stdout
    finally:
        del os.environ["T1_URL"]
    # A wave no target is in: an empty matrix for the workflow's fixed jobs, an error elsewhere.
    assert json.loads(_in(repo, "targets", "--format", "github-matrix", "--wave", "3").stdout) == {"include": []}
    missing = _in(repo, "targets", "--format", "json", "--wave", "3")
    assert missing.exit_code == 1 and "no target is in wave '3'" in missing.stderr


def test_the_256_jobs_limit_of_a_matrix_is_said_before_github_says_it(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {f"t{n}": {"url_env": f"T{n}_URL", "wave": "1"} for n in range(257)})
    refused = _in(repo, "targets", "--format", "github-matrix", "--wave", "1")
    assert refused.exit_code == 1
    assert "at most 256 jobs" in refused.stderr and "split the wave" in refused.stderr
    assert _in(repo, "targets", "--format", "json", "--wave", "1").exit_code == 0


@pytest.mark.parametrize(
    ("targets", "message"),
    [
        ({"a": {"wave": "1"}}, "target 'a' needs url_env"),
        ({"a": {"url_env": "postgresql://x"}}, "target 'a' needs url_env"),
        ({"a": {"url_env": "A", "role": "leader"}}, "role must be one of primary, standby, subscriber"),
        ({"a": {"url_env": "A", "primary": "b"}, "b": {"url_env": "B"}}, "only a standby names its primary"),
        ({"a": {"url_env": "A", "role": "standby", "primary": "c"}}, "primary 'c' is not a target with role primary"),
        ({"a": {"url_env": "A", "overlay": "o", "desired": "d"}}, "give overlay (merged over desired/) or desired"),
        ({"a": {"url_env": "A", "colour": "red"}}, "target 'a': unknown setting 'colour'"),
    ],
)
def test_bad_targets_are_refused_at_their_line(
    tmp_path: Path, targets: dict[str, dict[str, str]], message: str
) -> None:
    repo = _repo(tmp_path, targets)
    run = _in(repo, "targets")
    assert run.exit_code == 1
    assert message in run.stderr, run.stderr
    assert f"{repo / 'pgstate.toml'}:" in run.stderr


def test_choosing_a_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = _repo(tmp_path, {"a": {"url_env": "A_URL", "wave": "1"}, "b": {"url_env": "B_URL", "wave": "1"}})
    unset = _in(repo, "plan", "--target", "b")
    assert unset.exit_code == 1
    assert "target 'b' has its URL in $B_URL, which is not set" in unset.stderr
    assert f"{repo / 'pgstate.toml'}:5:" in unset.stderr  # the line of [targets.b]
    by_index = _in(repo, "plan", "--target-index", "1", "--wave", "1")
    assert "$B_URL" in by_index.stderr
    out_of_range = _in(repo, "plan", "--target-index", "2")
    assert out_of_range.exit_code == 1 and "target index 2 is out of range" in out_of_range.stderr
    unknown = _in(repo, "plan", "--target", "zed")
    assert unknown.exit_code == 1 and "there is no target 'zed'" in unknown.stderr and "a, b" in unknown.stderr
    both = _in(repo, "plan", "--target", "a", "--database-url", "postgresql://x@/y")
    assert both.exit_code == 1 and "both say which database" in both.stderr


# --- overlays ----------------------------------------------------------------------------------------------------


def test_an_overlay_replaces_desired_documents_whole_and_adds_its_own(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"tenant": {"url_env": "T_URL", "overlay": "overlays/tenant-07"}})
    (repo / "overlays" / "tenant-07" / "extra.yaml").write_text(
        "view: tenant_notes\nquery: SELECT note FROM accounts\n"
    )
    from pgstate.pipeline import load_desired

    plain = load_desired(repo / "desired")
    merged = load_desired(repo / "desired", overlay=repo / "overlays" / "tenant-07")
    ((plain_indexes,), (merged_indexes,)) = plain.of("index"), merged.of("index")  # one spec per table
    assert len(plain_indexes.entries) == 1 and len(merged_indexes.entries) == 2
    assert "overlays/tenant-07/accounts.yaml" in str(merged_indexes.location.file)
    assert [spec.name.name for spec in merged.of("view")] == ["tenant_notes"]
    # validate --target checks the overlay as desired/ is checked, and names the overlay's file.
    assert _in(repo, "validate", "--target", "tenant").exit_code == 0
    (repo / "overlays" / "tenant-07" / "extra.yaml").write_text("view: tenant_notes\nquery: 1\ncolour: red\n")
    bad = _in(repo, "validate", "--target", "tenant")
    assert bad.exit_code == 1
    assert "overlays/tenant-07/extra.yaml:3:1" in bad.stderr, bad.stderr


def test_an_overlay_inside_desired_is_refused(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"tenant": {"url_env": "T_URL", "overlay": "desired/sub"}})
    (repo / "desired" / "sub").mkdir()
    run = _in(repo, "validate", "--target", "tenant")
    assert run.exit_code == 1 and "is inside the desired directory" in run.stderr


# --- fleet-report ------------------------------------------------------------------------------------------------


def _result(directory: Path, target: str, status: str, findings: list[dict[str, object]], **extra: object) -> None:
    from pgstate.fleet.results import TargetResult, write_result

    code = {"in-sync": 0, "drift": 2, "failed": 1, "refused": 3}[status]
    write_result(directory / f"{target}.json", TargetResult(target, "drift", status, code, findings=findings, **extra))  # type: ignore[arg-type]


def test_fleet_report_groups_by_drift_and_puts_failures_first(tmp_path: Path) -> None:
    results = tmp_path / "results"
    missing = {"kind": "index", "object": "public.i", "finding": "missing-index", "desired": "btree (a)", "live": None}
    for n in range(5):
        _result(results, f"ok-{n}", "in-sync", [])
    for n in range(3):  # the same drift, said with each database's own words
        _result(results, f"same-{n}", "drift", [{**missing, "message": f"analyzed {n} days ago"}])
    _result(results, "odd", "drift", [{**missing, "object": "public.j"}])
    _result(results, "broken", "failed", [], error="cannot connect to database x")
    run = run_pgstate_inprocess(["fleet-report", str(results), "--expect", "none"])
    assert run.exit_code == 1
    assert run.stdout.splitlines()[0] == "fleet: 10 target(s): 5 in sync · 3 share the same drift · 1 unique · 1 failed"
    assert run.stdout.splitlines()[1].startswith("  FAILED  broken")
    markdown = run_pgstate_inprocess(["fleet-report", str(results), "--expect", "none", "--format", "markdown"])
    assert markdown.stdout.index("#### Failed") < markdown.stdout.index("3 targets share this drift")
    assert "Targets: same-0, same-1, same-2" in markdown.stdout
    metrics = run_pgstate_inprocess(["fleet-report", str(results), "--expect", "none", "--format", "prometheus"])
    assert 'pgstate_fleet_targets{state="in_sync"} 5.0' in metrics.stdout
    assert 'pgstate_fleet_target_state{role="",state="failed",target="broken",wave=""} 1.0' in metrics.stdout
    # Without the failure: exit 2 (drift); without the drift: 0.
    (results / "broken.json").unlink()
    assert run_pgstate_inprocess(["fleet-report", str(results), "--expect", "none"]).exit_code == 2
    for name in ("same-0", "same-1", "same-2", "odd"):
        (results / f"{name}.json").unlink()
    assert run_pgstate_inprocess(["fleet-report", str(results), "--expect", "none"]).exit_code == 0


def test_a_configured_target_without_a_result_is_a_failure(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"a": {"url_env": "A_URL"}, "b": {"url_env": "B_URL"}})
    results = tmp_path / "results"
    _result(results, "a", "in-sync", [])
    run = _in(repo, "fleet-report", str(results))
    assert run.exit_code == 1
    assert "FAILED  b (none, exit 1): no result: its job did not run or did not finish" in run.stdout
    not_json = results / "c.json"
    not_json.write_text("{}")
    bad = _in(repo, "fleet-report", str(results))
    assert bad.exit_code == 1 and "is not a pgstate result file" in bad.stderr


def test_a_failed_verb_still_writes_its_result_without_secrets(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    run = run_pgstate_inprocess(
        ["drift", "--database-url", "postgresql://u:hunter2-pw@127.0.0.1:1/x", "--result", str(out)]
    )
    assert run.exit_code == 1
    result = json.loads(out.read_text())
    assert result["status"] == "failed" and result["verb"] == "drift" and "cannot connect" in result["error"]
    assert "hunter2-pw" not in out.read_text()


# --- a fleet of 20 databases, through fleet.yml ------------------------------------------------------------------

FLEET_SIZE = 20
PARALLEL_JOBS = 4  # the runner's max-parallel, scaled to this machine


@pytest.fixture
def fleet_databases(pg_server: LocalServer) -> Iterator[dict[str, str]]:
    """Twenty databases on one server, each with the accounts table: target name -> URL."""
    stem = f"fleet_{uuid.uuid4().hex[:6]}"
    names = {f"t{n:02d}": f"{stem}_{n:02d}" for n in range(FLEET_SIZE)}
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        for name in names.values():
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(TEMPLATE_DB))
            )
    for name in names.values():
        with psycopg.connect(pg_server.url(name), autocommit=True) as conn:
            conn.execute(TABLE)
    try:
        yield {target: pg_server.url(name) for target, name in names.items()}
    finally:
        with psycopg.connect(pg_server.url(), autocommit=True) as conn:
            for name in names.values():
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _run_wave(
    repo: Path, job: str, matrix: dict[str, list[dict[str, str]]], env: dict[str, str], mode: str, backups: Path
) -> dict[str, int]:
    """Each matrix entry as its own process, as the runner runs the job: the job's command for its mode and role."""
    drift_command, apply_command = pgstate_commands("fleet.yml")[job]

    def one(entry: dict[str, str]) -> tuple[str, int]:
        command = drift_command if mode == "drift" or entry["role"] == "standby" else apply_command
        argv = [word.replace("{target}", entry["target"]) for word in command]
        if "--backup-dir" in argv:
            argv[argv.index("--backup-dir") + 1] = str(backups)
        return entry["target"], run_pgstate(argv, env={**GITHUB_ENV, **env}, cwd=repo).exit_code

    with ThreadPoolExecutor(PARALLEL_JOBS) as pool:
        return dict(pool.map(one, matrix["include"]))


def _indexes(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {row[0] for row in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'accounts'")}


def test_a_fleet_of_twenty_databases_through_the_workflow(fleet_databases: dict[str, str], tmp_path: Path) -> None:
    waves = {"t00": "canary", **{f"t{n:02d}": "1" for n in range(1, 10)}, **{f"t{n:02d}": "2" for n in range(10, 20)}}
    targets = {name: {"url_env": f"{name.upper()}_URL", "wave": wave} for name, wave in waves.items()}
    targets["t07"]["overlay"] = "overlays/tenant-07"
    repo = _repo(tmp_path, targets)
    # t19's secret is missing in CI: its job fails, and the report says so.
    env = {f"{name.upper()}_URL": url for name, url in fleet_databases.items() if name != "t19"}
    matrices = {}
    for argv in pgstate_commands("fleet.yml")["targets"]:
        run = run_pgstate(argv, env={**GITHUB_ENV, **env}, cwd=repo)
        assert run.exit_code == 0, (argv, run.stderr)
        if argv[0] == "targets" and "--wave" in argv:
            matrices[argv[-1]] = json.loads(run.stdout)
    assert [len(matrices[wave]["include"]) for wave in ("canary", "1", "2")] == [1, 9, 10]
    jobs = {"canary": "canary", "wave_1": "1", "wave_2": "2"}

    def report(*extra: str) -> CompletedRun:
        (argv,) = pgstate_commands("fleet.yml")["report"]
        return run_pgstate([*argv, *extra], env=GITHUB_ENV, cwd=repo)

    # Apply, wave after wave (a wave runs only when the ones before it succeeded: they do).
    codes: dict[str, int] = {}
    for job, wave in jobs.items():
        codes.update(_run_wave(repo, job, matrices[wave], env, "apply", tmp_path / "backups"))
        if job != "wave_2":
            assert set(codes.values()) == {0}, codes
    assert codes == {**{name: 0 for name in waves if name != "t19"}, "t19": 1}
    for name, url in fleet_databases.items():
        found = _indexes(url)
        assert ("accounts_owner_created_at_idx" in found) == (name != "t19"), (name, found)
        assert ("accounts_note_idx" in found) == (name == "t07"), (name, found)
    applied = report("--format", "json")
    assert applied.exit_code == 1
    assert json.loads(applied.stdout)["summary"] == "19 in sync · 1 failed"

    # Drift appears: the same in three tenants, another in one; the scheduled run checks every target.
    for name in ("t03", "t04", "t05"):
        with psycopg.connect(fleet_databases[name], autocommit=True) as conn:
            conn.execute("DROP INDEX accounts_owner_created_at_idx")
    with psycopg.connect(fleet_databases["t12"], autocommit=True) as conn:
        conn.execute("ALTER TABLE accounts DISABLE ROW LEVEL SECURITY")
    for result in (repo / "results").glob("*.json"):
        result.unlink()
    for job, wave in jobs.items():
        codes = _run_wave(repo, job, matrices[wave], env, "drift", tmp_path / "backups")
        expected = {name: 2 if name in ("t03", "t04", "t05", "t12") else 0 for name in codes}
        assert codes == {**expected, **({"t19": 1} if "t19" in codes else {})}, codes
    joined = report("--format", "json")
    assert joined.exit_code == 1
    document = json.loads(joined.stdout)
    assert document["summary"] == "15 in sync · 3 share the same drift · 1 unique · 1 failed"
    assert [group["targets"] for group in document["drift_groups"]] == [["t03", "t04", "t05"], ["t12"]]
    assert [(f["kind"], f["finding"]) for f in document["drift_groups"][0]["findings"]] == [("index", "missing-index")]
    assert [result["target"] for result in document["failed"]] == ["t19"]
    assert "T19_URL" in document["failed"][0]["error"]
    markdown = report()
    assert "**20 targets: 15 in sync · 3 share the same drift · 1 unique · 1 failed**" in markdown.stdout
    # No target's URL in any result or report (the database is named as `describe` names it).
    texts = [path.read_text() for path in (repo / "results").glob("*.json")] + [joined.stdout, markdown.stdout]
    assert not any(url in text for url in fleet_databases.values() for text in texts)
