"""One version, and a release that installs: `pgstate --version`, the plan JSON and the run record carry the version
of src/pgstate/__init__.py; the wheel and the sdist build, pass `twine check --strict`, and the wheel installed
alone into a fresh venv holds every module and data file and runs against a real server.

The build copies the files a commit would hold (tracked, and untracked but not ignored) to a temporary tree, so
that it never writes into the working tree and no stale build/ output of an earlier build can slip into the wheel.
Builds are isolated as pip makes them (setuptools from the package index): the .venv's own setuptools is older
than the one pyproject.toml requires.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import tarfile
import tomllib
import venv
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

import pgstate
from pgharness import TestDatabase, run_pgstate, run_pgstate_inprocess, write_desired

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "pgstate"
VERSION = pgstate.__version__
# What a module, a data file or the typing marker of the package is; anything else under src/pgstate is not shipped.
SHIPPED_SUFFIXES = {".py", ".sql", ".json", ".typed"}
BUILD_TIMEOUT_S = 300

TABLE = (
    "CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, g FROM generate_series(1, 20) g"
)
DESIRED = "table: items\nindexes:\n  - {name: items_name_idx, columns: [name]}\n"


def run(argv: list[str | Path], *, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(arg) for arg in argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, f"{argv}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


# ---------------------------------------------------------------------------------------------------------------
# The version, from one place.
# ---------------------------------------------------------------------------------------------------------------


def test_the_version_is_written_once() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "pgstate.__version__"}
    result = run_pgstate(["--version"])
    assert (result.exit_code, result.stdout) == (0, f"pgstate {VERSION}\n"), result.stderr
    hooks = (ROOT / ".pre-commit-hooks.yaml").read_text()
    assert f"rev: v{VERSION}\n" in hooks, "the pre-commit example's rev is not the current release tag"


def test_plan_json_and_run_record_carry_the_version(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(TABLE)
    desired = write_desired(tmp_path, DESIRED)
    common = ["--desired", str(desired), "--database-url", database.url]
    saved = tmp_path / "plan.json"
    planned = run_pgstate_inprocess(["plan", *common, "--format", "json", "--out", str(saved)])
    assert planned.exit_code == 2, planned.stderr
    assert json.loads(planned.stdout)["pgstate_version"] == VERSION
    assert json.loads(saved.read_text())["pgstate_version"] == VERSION

    applied = run_pgstate_inprocess(["apply", *common, "--yes", "--backup-dir", str(tmp_path / "backups")])
    assert applied.exit_code == 0, applied.stderr
    assert database.query("SELECT id, pgstate_version FROM pgstate.runs") == [(1, VERSION)]
    one = run_pgstate_inprocess(["history", "1", "--database-url", database.url, "--format", "json"])
    assert one.exit_code == 0, one.stderr
    record = json.loads(one.stdout)
    assert record["pgstate_version"] == VERSION and record["plan"]["pgstate_version"] == VERSION
    listed = run_pgstate_inprocess(["history", "--database-url", database.url, "--format", "json"])
    assert [run["pgstate_version"] for run in json.loads(listed.stdout)] == [VERSION]


# ---------------------------------------------------------------------------------------------------------------
# The release: sdist and wheel, checked as an index would, installed alone into a fresh venv.
# ---------------------------------------------------------------------------------------------------------------


def commit_tree(dest: Path) -> Path:
    """A copy of the files a commit of the working tree would hold."""
    listed = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT).stdout
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is not part of the next commit
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
    return dest


def shipped_files(package_dir: Path) -> set[str]:
    return {
        path.relative_to(package_dir).as_posix()
        for path in package_dir.rglob("*")
        if path.is_file() and path.suffix in SHIPPED_SUFFIXES and "__pycache__" not in path.parts
    }


def wheel_names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return sorted(name for name in archive.namelist() if not name.endswith("/RECORD"))


@pytest.mark.parametrize("pg_server", ["pg18"], indirect=True)  # one build is enough: the server is incidental
def test_wheel_and_sdist_build_check_and_install(database: TestDatabase, tmp_path: Path) -> None:
    tree = commit_tree(tmp_path / "tree")
    dist = tmp_path / "dist"
    # As a git install builds it (pip install git+...@tag): both straight from the tree.
    run([sys.executable, "-m", "build", "--no-isolation", "--sdist", "--wheel", "--outdir", dist, tree], cwd=tree)
    (sdist,) = dist.glob(f"pgstate-{VERSION}.tar.gz")
    (wheel,) = dist.glob(f"pgstate-{VERSION}-py3-none-any.whl")
    checked = run([sys.executable, "-m", "twine", "check", "--strict", sdist, wheel], cwd=tmp_path)
    assert checked.stdout.count("PASSED") == 2, checked.stdout

    # The sdist holds what a build needs, and a wheel built from it is the same wheel.
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path / "unpacked", filter="data")
        members = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    top = tmp_path / "unpacked" / f"pgstate-{VERSION}"
    assert {"PKG-INFO", "pyproject.toml", "README.md", "schemas/desired.schema.json"} <= members
    assert {f"src/pgstate/{name}" for name in shipped_files(PACKAGE)} <= members
    assert not [name for name in members if name.startswith("tests/")], "half a test suite in the sdist"
    from_sdist = tmp_path / "from-sdist"
    run([sys.executable, "-m", "build", "--no-isolation", "--wheel", "--outdir", from_sdist, top], cwd=top)
    assert wheel_names(next(from_sdist.glob("*.whl"))) == wheel_names(wheel)

    # The long description is README.md, as markdown (twine check --strict rendered it).
    with zipfile.ZipFile(wheel) as archive:
        metadata = Parser().parsestr(archive.read(f"pgstate-{VERSION}.dist-info/METADATA").decode())
    assert metadata["Version"] == VERSION
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert metadata.get_payload().strip() == (ROOT / "README.md").read_text().strip()

    # Installed alone (no dependencies, no index) into a venv that sees nothing else.
    fresh = tmp_path / "venv"
    venv.create(fresh, with_pip=False)
    python = fresh / "bin" / "python"
    run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", wheel], cwd=tmp_path)
    site = Path(
        run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp_path).stdout.strip()
    )
    installed = site / "pgstate"
    assert shipped_files(installed) == shipped_files(PACKAGE)
    data = {name for name in shipped_files(PACKAGE) if name.endswith((".sql", ".json"))}
    assert data and data <= shipped_files(installed)

    # The dependencies come from the test venv's site-packages, put on the path: the editable pgstate there is
    # only reachable through a .pth file, which PYTHONPATH entries never read, so the fresh install is what runs.
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "PGSTATE_DATABASE_URL")}
    env["PYTHONPATH"] = sysconfig.get_paths()["purelib"]
    where = run([python, "-c", "import pgstate; print(pgstate.__file__)"], cwd=tmp_path, env=env).stdout.strip()
    assert Path(where).parent == installed
    for argv in ([fresh / "bin" / "pgstate", "--version"], [python, "-m", "pgstate", "--version"]):
        assert run(argv, cwd=tmp_path, env=env).stdout == f"pgstate {VERSION}\n"
    # Its data files at work: the desired-file schema (validate), the catalog queries (plan).
    run([fresh / "bin" / "pgstate", "validate", "--desired", ROOT / "desired"], cwd=tmp_path, env=env)
    database.execute(TABLE)
    desired = write_desired(tmp_path, DESIRED)
    planned = subprocess.run(
        [fresh / "bin" / "pgstate", "plan", "--desired", desired, "--database-url", database.url, "--format", "json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
    )
    assert planned.returncode == 2, planned.stderr
    plan = json.loads(planned.stdout)
    assert plan["pgstate_version"] == VERSION
    assert [step["action"] for step in plan["steps"]] == ["build-index"]
