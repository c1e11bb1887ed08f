"""Drift as people and machines read it: text, json, markdown (an issue body) and prometheus metrics, and where
the desired state came from in git."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pgharness import TestDatabase, run_pgstate, run_pgstate_inprocess
from pgstate.source.git import desired_commit, files_at

EXPECTED = Path(__file__).parent / "expected"
BEFORE = """
CREATE TABLE orders (id int PRIMARY KEY, customer int, status varchar(20), note json);
CREATE INDEX orders_customer_idx ON orders (customer DESC);
CREATE INDEX orders_extra_idx ON orders (status);
CREATE INDEX orders_broken_idx ON orders (id);
UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'orders_broken_idx'::regclass;
"""
DESIRED = """table: orders
columns:
  note: {type: jsonb}
indexes:
  - {name: orders_customer_idx, columns: [customer]}
  - {name: orders_status_idx, columns: [status]}
  - {name: orders_broken_idx, columns: [id]}
"""


def desired_dir(base: Path) -> Path:
    directory = base / "desired"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "orders.yaml").write_text(DESIRED)
    return directory


def drift(db: TestDatabase, directory: Path, fmt: str, cwd: Path | None = None) -> tuple[int, str]:
    run = run_pgstate(["drift", "--desired", str(directory), "--database-url", db.url, "--format", fmt], cwd=cwd)
    return run.exit_code, run.stdout


@pytest.mark.parametrize("fmt", ["json", "markdown"])
def test_drift_formats_match_the_expectations(database: TestDatabase, tmp_path: Path, fmt: str) -> None:
    database.execute(BEFORE)
    # From tmp_path (in no git repository): the findings name the desired file as desired/orders.yaml.
    code, out = drift(database, desired_dir(tmp_path), fmt, cwd=tmp_path)
    assert code == 2
    expected = (EXPECTED / f"drift.{'json' if fmt == 'json' else 'md'}").read_text()
    if fmt == "json":
        assert json.loads(out) == json.loads(expected)
    else:
        assert out == expected


def test_prometheus_metrics_parse(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(BEFORE)
    code, out = drift(database, desired_dir(tmp_path), "prometheus")
    assert code == 2
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(out)
        for sample in family.samples
    }
    # The undeclared index is information (no prune_indexes): not counted as drift.
    assert samples[("pgstate_drift_total", ())] == 4
    assert samples[("pgstate_drift_objects", (("kind", "index"), ("table", "public.orders")))] == 3
    assert samples[("pgstate_drift_objects", (("kind", "column"), ("table", "public.orders")))] == 1
    assert samples[("pgstate_invalid_indexes", (("table", "public.orders"),))] == 1
    assert samples[("pgstate_last_successful_apply_timestamp_seconds", ())] == 0
    assert samples[("pgstate_last_run_failed", ())] == 0
    # After a successful apply: the time of it, and no failure.
    run = run_pgstate_inprocess(
        [
            "apply",
            "--yes",
            "--allow-destructive",
            "--backup-dir",
            str(tmp_path / "b"),
            "--desired",
            str(tmp_path / "desired"),
            "--database-url",
            database.url,
        ]
    )
    assert run.exit_code == 0, run.stderr
    code, out = drift(database, tmp_path / "desired", "prometheus")
    values = {s.name: s.value for f in text_string_to_metric_families(out) for s in f.samples if not s.labels}
    assert values["pgstate_last_successful_apply_timestamp_seconds"] > 1.7e9
    # orders_extra_idx is not declared and not pruned: information, not drift (the plan has nothing to do).
    assert (code, values["pgstate_drift_total"]) == (0, 0)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def make_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "dev@example.com")
    git(repo, "config", "user.name", "Dev")
    desired_dir(repo)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "orders: first desired state")
    return repo


def test_plan_base_lists_the_desired_changes(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(BEFORE)
    repo = make_repo(tmp_path)
    (repo / "desired" / "orders.yaml").write_text(
        DESIRED.replace("columns: [customer]}", "columns: [customer, status]}").replace(
            "  - {name: orders_status_idx, columns: [status]}\n", ""
        )
        + "rls: {enabled: true}\n"
    )
    (repo / "desired" / "items.yaml").write_text("table: items\ncolumns:\n  sku: {type: text}\n")
    database.execute("CREATE TABLE items (sku varchar(10));")
    subfolder = repo / "desired"  # works from any folder inside the repository
    run = run_pgstate(["plan", "--base", "HEAD", "--desired", ".", "--database-url", database.url], cwd=subfolder)
    assert run.exit_code == 2, run.stderr
    head = run.stdout.split("\n\n")[0]
    assert head.splitlines() == [
        "Changes to the desired files since HEAD:",
        "  + column public.items.sku",
        "  ~ index public.orders_customer_idx (columns)",
        "  - index public.orders_status_idx",
        "  + rls public.orders",
        "  + table public.items",
    ]
    run = run_pgstate(
        ["plan", "--base", "HEAD", "--desired", ".", "--database-url", database.url, "--format", "json"], cwd=subfolder
    )
    changes = json.loads(run.stdout)["desired_changes"]
    assert {"change": "removed", "kind": "index", "target": "public.orders_status_idx", "fields": []} in changes
    run = run_pgstate(
        ["plan", "--base", "HEAD", "--desired", ".", "--database-url", database.url, "--format", "markdown"],
        cwd=subfolder,
    )
    assert run.stdout.startswith("### Desired files: changes since `HEAD`")


def test_plan_base_outside_a_repository_is_a_clear_error(database: TestDatabase, tmp_path: Path) -> None:
    run = run_pgstate(
        ["plan", "--base", "HEAD", "--desired", str(desired_dir(tmp_path)), "--database-url", database.url]
    )
    assert run.exit_code == 1
    assert "is not inside a git repository" in run.stderr and "Traceback" not in run.stderr


def test_drift_names_the_commit_and_the_last_change(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(BEFORE)
    repo = make_repo(tmp_path)
    head = git(repo, "rev-parse", "HEAD").strip()
    _, out = drift(database, repo / "desired", "json", cwd=repo)
    report = json.loads(out)
    assert (report["desired_commit"], report["desired_dirty"]) == (head, False)
    assert {f["last_commit"]["commit"] for f in report["findings"]} == {head}
    assert report["findings"][0]["last_commit"]["summary"] == "orders: first desired state"
    (repo / "desired" / "orders.yaml").write_text(DESIRED + "prune_indexes: false\n")
    _, out = drift(database, repo / "desired", "text", cwd=repo)
    assert f"desired state from commit {head[:12]} with changes not committed" in out


def _git_children() -> int:
    """This process's child processes that are git (gitpython's `git cat-file --batch` helpers)."""
    count = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        fields = dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)
        if fields.get("Name", "").strip() == "git" and fields.get("PPid", "").strip() == str(os.getpid()):
            count += 1
    return count


def test_git_leaves_no_process_behind(tmp_path: Path) -> None:
    """gitpython keeps a `git cat-file` process per repository until it is closed: a process that runs pgstate
    many times (a test worker, a service) gathered one per run (1,082 after a fault campaign)."""
    repo = make_repo(tmp_path)
    before = _git_children()
    for _ in range(3):
        assert desired_commit(repo / "desired")[0] is not None
        files_at(repo / "desired", "HEAD", tmp_path / f"at-{_}")
    assert _git_children() == before
