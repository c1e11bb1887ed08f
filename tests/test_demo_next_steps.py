"""From the demo to one's own hands: what `make demo` prints at its end works as printed, `pgstate embedded
status|stop` see and stop the embedded server, `make clean` stops it before it deletes anything, and `make help`
lists the targets.

The demo's own project is the repository, whose embedded server a developer may be using: the test plays it in a
project of its own (desired/ copied, .venv a link to the repository's), with one embedded server start.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
from pathlib import Path
from types import ModuleType

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from pgstate.servers.embedded import embedded_url
from pgstate.servers.local import running_server, stop_running

ROOT = Path(__file__).resolve().parent.parent
MAKEFILE = ROOT / "Makefile"
MARK = "::exit-code::"  # printed after each command with its exit code
TIMEOUT_S = 600


def load_demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("demo", ROOT / "scripts" / "demo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def user_env() -> dict[str, str]:
    """A shell as the reader has it, with no database URL or password of the test runner's."""
    hidden = ("DATABASE_URL", "PGSTATE_DATABASE_URL", "PGPASSWORD", "PGPASSFILE", "VIRTUAL_ENV")
    return {key: value for key, value in os.environ.items() if key not in hidden}


def run_as_printed(commands: list[str], cwd: Path) -> list[tuple[str, int]]:
    """The commands in one bash session (what `source` and `export` set carries over): each one's output and exit
    code."""
    script = "".join(f'{command}\necho "{MARK}$?"\n' for command in commands)
    result = subprocess.run(
        ["bash", "-c", script], cwd=cwd, env=user_env(), capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )
    outputs: list[tuple[str, int]] = []
    printed: list[str] = []
    for line in result.stdout.splitlines(keepends=True):
        if line.startswith(MARK):
            outputs.append(("".join(printed), int(line.removeprefix(MARK))))
            printed = []
        else:
            printed.append(line)
    assert len(outputs) == len(commands), result.stdout + result.stderr
    return outputs


def alive(pid: int) -> bool:
    """Whether the process runs (a zombie, ended but not yet reaped by whoever adopted it, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def make(target: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "-f", str(MAKEFILE), target],
        cwd=cwd,
        env=user_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project as the demo leaves the repository: desired/, .venv (the repository's, by a link)."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "desired").mkdir()
    for source in (ROOT / "desired").rglob("*"):
        if source.is_file():
            target = project / "desired" / source.relative_to(ROOT / "desired")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
    (project / ".venv").symlink_to(ROOT / ".venv")
    return project


def test_next_steps_work_as_printed(project: Path) -> None:
    demo = load_demo()
    data_dir = project / ".pgstate" / "embedded" / "data"
    server_url = embedded_url(project)
    try:
        demo_url = demo.load_seed(server_url)
        text = demo.next_steps(demo_url, project)

        # The URL, printed whole, carries no password and needs none: the server has none to ask for.
        assert f"\n  {demo_url}\n" in text
        assert "password" not in conninfo_to_dict(demo_url)
        with psycopg.connect(demo_url) as conn:
            assert conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = current_user").fetchone() == (None,)

        commands = [line.removeprefix("  $ ") for line in text.splitlines() if line.startswith("  $ ")]
        assert commands[0].startswith(".venv/bin/pgstate plan --database-url ")
        assert commands[-2:] == [".venv/bin/pgstate embedded status", ".venv/bin/pgstate embedded stop"]
        outputs = run_as_printed(commands, project)
        by_command = dict(zip(commands, outputs, strict=True))
        codes = [code for _, code in outputs]
        # plan and drift: the seed app differs from desired/ (2); the rest succeed.
        assert codes == [2, 0, 0, 2, 0, 0, 0], list(zip(commands, outputs, strict=True))
        assert by_command["pgstate drift"][0].strip()
        assert outputs[0][0].startswith("Plan: ")
        status, _ = by_command[".venv/bin/pgstate embedded status"]
        assert server_url in status and "is running" in status
        stopped, _ = by_command[".venv/bin/pgstate embedded stop"]
        assert stopped.strip() == f"Stopped the embedded PostgreSQL under {project / '.pgstate' / 'embedded'}."

        # Stopped indeed, and status says so; stopping again is no error.
        assert running_server(data_dir) is None
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(demo_url, connect_timeout=5).close()
        ((status, code), (again, again_code), (described, _)) = run_as_printed(
            [
                ".venv/bin/pgstate embedded status",
                ".venv/bin/pgstate embedded stop",
                ".venv/bin/pgstate embedded status --format json",
            ],
            project,
        )
        assert (code, again_code) == (0, 0) and "is not running" in status and "nothing to stop" in again
        assert json.loads(described) == {
            "home": str(project / ".pgstate" / "embedded"),
            "running": False,
            "url": None,
            "major": None,
        }

        # make clean stops a running server before it deletes its data directory.
        embedded_url(project)  # a restart of the same data directory: no initdb
        server = running_server(data_dir)
        assert server is not None
        pid = int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        cleaned = make("clean", project)
        assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
        assert "Stopped the embedded PostgreSQL" in cleaned.stdout
        assert not (project / ".pgstate").exists() and not (project / ".venv").exists()
        assert (ROOT / ".venv" / "bin" / "pgstate").exists(), "make clean followed the .venv link"
        assert not alive(pid)
        assert not server.socket_dir.exists()
        # Nothing runs and .venv is gone: make clean still succeeds.
        again_clean = make("clean", project)
        assert again_clean.returncode == 0, again_clean.stdout + again_clean.stderr
    finally:
        stop_running(data_dir)


def test_make_help_lists_every_target() -> None:
    result = make("help", ROOT)
    assert result.returncode == 0, result.stderr
    described = dict(re.findall(r"^  make (\S+) +(\S.*)$", result.stdout, flags=re.MULTILINE))
    phony = re.search(r"^\.PHONY: (.*)$", MAKEFILE.read_text(), flags=re.MULTILINE)
    assert phony is not None
    assert {"demo", "test", "bench", "clean", "help"} <= set(described)
    assert set(phony.group(1).split()) == set(described), "a target without a line in `make help`"
    # Plain `make` is help too: it never starts building by surprise.
    # (--no-print-directory: under `make test`, a sub-make would print where it enters and leaves)
    bare = subprocess.run(
        ["make", "--no-print-directory", "-f", str(MAKEFILE)],
        cwd=ROOT,
        env=user_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert bare.stdout == result.stdout
