"""deploy/kubernetes/: valid against the Kubernetes schemas (kubernetes-validate, offline, strict), and the wave
Job's own command run once per completion index, as its pods would, against real databases; then the report Job's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from psycopg import sql

from pgharness import TEMPLATE_DB
from pgstate.servers.local import LocalServer

DEPLOY = Path(__file__).resolve().parent.parent / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.33.0"  # backoffLimitPerIndex and maxFailedIndexes are generally available from 1.33


def _resources() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(DEPLOY.glob("*.yaml")):
        found += [(path.name, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return found


def test_the_manifests_match_the_kubernetes_schemas() -> None:
    import kubernetes_validate

    resources = _resources()
    assert {(name, doc["kind"]) for name, doc in resources} == {
        ("fleet-job.yaml", "Job"),
        ("fleet-report-job.yaml", "Job"),
        ("volumes.yaml", "PersistentVolumeClaim"),
    }
    for _name, doc in resources:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)  # raises on anything unknown or wrong
    broken = json.loads(json.dumps(dict(resources)["fleet-job.yaml"]))
    broken["spec"]["backoffLimitPerTarget"] = 2  # no such field: strict validation refuses it
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)
    broken = json.loads(json.dumps(dict(resources)["fleet-job.yaml"]))
    broken["spec"]["completions"] = "three"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def _job() -> dict[str, Any]:
    return next(doc for name, doc in _resources() if name == "fleet-job.yaml")


def test_the_wave_job_is_indexed_with_a_budget_per_index() -> None:
    spec = _job()["spec"]
    assert spec["completionMode"] == "Indexed"
    assert spec["backoffLimitPerIndex"] >= 1 and spec["maxFailedIndexes"] >= 1
    assert spec["template"]["spec"]["restartPolicy"] == "Never"  # what backoffLimitPerIndex requires
    (rule,) = spec["podFailurePolicy"]["rules"]
    assert rule["action"] == "FailIndex" and rule["onExitCodes"]["values"] == [3]  # refused: never retried
    (container,) = spec["template"]["spec"]["containers"]
    assert "--target-index" in container["command"][-1] and "$JOB_COMPLETION_INDEX" in container["command"][-1]
    assert "env" not in container or not any("URL" in str(value) for value in container["env"])  # only from a Secret


@pytest.fixture
def wave(pg_server: LocalServer, tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """The repository a pod has, with as many targets in wave 1 as the Job's completions, and their URLs."""
    completions = _job()["spec"]["completions"]
    stem = f"k8s_{uuid.uuid4().hex[:6]}"
    names = [f"{stem}_{n}" for n in range(completions)]
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        for name in names:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(TEMPLATE_DB))
            )
    for name in names:
        with psycopg.connect(pg_server.url(name), autocommit=True) as conn:
            conn.execute("CREATE TABLE events (id bigint PRIMARY KEY, kind int NOT NULL)")
    repo = tmp_path / "repo"
    (repo / "desired").mkdir(parents=True)
    (repo / "desired" / "events.yaml").write_text("table: events\nindexes:\n  - columns: [kind]\n")
    config = ['[targets.staging]\nurl_env = "STAGING_URL"\nwave = "canary"\n']
    config += [f'[targets.tenant-{n}]\nurl_env = "TENANT_{n}_URL"\nwave = "1"\n' for n in range(completions)]
    (repo / "pgstate.toml").write_text("".join(config))
    urls = {f"TENANT_{n}_URL": pg_server.url(name) for n, name in enumerate(names)}
    try:
        yield repo, urls
    finally:
        with psycopg.connect(pg_server.url(), autocommit=True) as conn:
            for name in names:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _pod(repo: Path, tmp_path: Path, command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A container's command as its pod runs it: sh -c, the volumes moved to tmp_path, pgstate on the PATH."""
    script = command[-1].replace("/results", str(tmp_path / "results")).replace("/backups", str(tmp_path / "backups"))
    (tmp_path / "results").mkdir(exist_ok=True)
    base = {key: value for key, value in os.environ.items() if not key.endswith("DATABASE_URL")}
    path = f"{Path(sys.executable).parent}:{base.get('PATH', '/usr/bin:/bin')}"
    return subprocess.run(
        [*command[:-1], script],
        env={**base, **env, "PATH": path},
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_each_completion_index_applies_its_own_target(wave: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    repo, urls = wave
    (container,) = _job()["spec"]["template"]["spec"]["containers"]
    for index in range(_job()["spec"]["completions"]):
        pod = _pod(repo, tmp_path, container["command"], {**urls, "JOB_COMPLETION_INDEX": str(index)})
        assert pod.returncode == 0, pod.stderr
    for url in urls.values():
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT to_regclass('events_kind_idx')").fetchone() == ("events_kind_idx",)
    # The report Job, over what the pods wrote: staging (the canary wave, another Job) has no result yet.
    (reporter,) = next(doc for name, doc in _resources() if name == "fleet-report-job.yaml")["spec"]["template"][
        "spec"
    ]["containers"]
    report = _pod(repo, tmp_path, reporter["command"], {})
    assert report.returncode == 1, report.stderr
    assert f"**{len(urls) + 1} targets: {len(urls)} in sync · 1 failed**" in report.stdout
    assert 'pgstate_fleet_targets{state="in_sync"}' in (tmp_path / "results" / "fleet.prom").read_text()
    # An index past the wave's targets: the pod fails with what to do.
    beyond = _pod(repo, tmp_path, container["command"], {**urls, "JOB_COMPLETION_INDEX": str(len(urls))})
    assert beyond.returncode == 1 and "completions must equal the number of targets" in beyond.stderr
