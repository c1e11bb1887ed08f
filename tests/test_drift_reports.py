"""Drift as people and machines read it: text, json, markdown (an issue body) and prometheus metrics, and where
the desired state came from in git."""

from __future__ import annotations

import io
import json
import os
import re
import select
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from pgharness import (
    CLI_TIMEOUT_S,
    CompletedRun,
    TestDatabase,
    pgstate_json,
    run_pgstate,
    run_pgstate_inprocess,
    write_desired,
)
from pgstate.source.git import desired_commit, files_at

EXPECTED = Path(__file__).parent / "expected"
# The environment that decides colour (report/terminal.py), taken out of the tests' runs unless a test sets it:
# output compared byte for byte must not depend on the shell the tests run from.
PLAIN: dict[str, str | None] = {"FORCE_COLOR": None, "NO_COLOR": None, "TTY_COMPATIBLE": None}
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
    run = run_pgstate(
        ["drift", "--desired", str(directory), "--database-url", db.url, "--format", fmt],
        cwd=cwd,
        env=PLAIN,
    )
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


GAUGES = {
    "pgstate_up",
    "pgstate_last_check_timestamp_seconds",
    "pgstate_drift_detected",
    "pgstate_drift_items",
    "pgstate_invalid_indexes",
    "pgstate_unmanaged_indexes",
    "pgstate_last_successful_apply_timestamp_seconds",
    "pgstate_last_run_failed",
}


def metrics(text: str) -> dict[str, Metric]:
    """The metric families of an exposition text, by name; each is a gauge with a HELP text."""
    families = {family.name: family for family in text_string_to_metric_families(text)}
    for family in families.values():
        assert family.type == "gauge" and len(family.documentation) > 40, family
    return families


def sample(family: Metric, **labels: str) -> float:
    """The value of the one sample of ``family`` whose labels include ``labels``."""
    (found,) = [s.value for s in family.samples if labels.items() <= s.labels.items()]
    return found


def labels_of(db: TestDatabase) -> dict[str, str]:
    """The labels of every pgstate series for ``db``: its name and the server's host (here a socket) and port."""
    return {"database": db.name, "server": f"{db.server.socket_dir}:{db.server.port}"}


def test_prometheus_metrics_parse(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(BEFORE)
    before = time.time()
    code, out = drift(database, desired_dir(tmp_path), "prometheus")
    assert code == 2
    families = metrics(out)
    assert set(families) == GAUGES  # gauges named as gauges: no `_total`, which is for counters
    labels = labels_of(database)
    for family in families.values():
        for found in family.samples:
            assert {k: v for k, v in found.labels.items() if k != "kind"} == labels, found
    assert sample(families["pgstate_up"]) == 1
    assert before <= sample(families["pgstate_last_check_timestamp_seconds"]) <= time.time()
    assert sample(families["pgstate_drift_detected"]) == 1
    items = {s.labels["kind"]: s.value for s in families["pgstate_drift_items"].samples}
    # Every kind has its series, 0 when clean; the undeclared index is information (no prune_indexes).
    assert items["index"] == 3 and items["column"] == 1 and items["policy"] == 0 and items["upkeep"] == 0
    assert sum(items.values()) == 4
    assert sample(families["pgstate_invalid_indexes"]) == 1
    assert sample(families["pgstate_unmanaged_indexes"]) == 1
    assert sample(families["pgstate_last_successful_apply_timestamp_seconds"]) == 0
    assert sample(families["pgstate_last_run_failed"]) == 0
    # --strict: the undeclared index counts.
    run = drift_metrics(database.url, tmp_path / "desired", "--strict")
    assert run.exit_code == 2
    assert sample(metrics(run.stdout)["pgstate_drift_items"], kind="index") == 4
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
    families = metrics(out)
    assert sample(families["pgstate_last_successful_apply_timestamp_seconds"]) > before
    # orders_extra_idx is not declared and not pruned: information, not drift (the plan has nothing to do).
    assert (code, sample(families["pgstate_drift_detected"])) == (0, 0)
    assert {s.value for s in families["pgstate_drift_items"].samples} == {0}
    assert sample(families["pgstate_unmanaged_indexes"]) == 1
    assert sample(families["pgstate_invalid_indexes"]) == 0


def drift_metrics(url: str, directory: Path, *options: str) -> CompletedRun:
    """``drift --format prometheus`` against ``url``, in this process."""
    return run_pgstate_inprocess(
        ["drift", "--desired", str(directory), "--database-url", url, "--format", "prometheus", *options]
    )


def test_prometheus_out_replaces_the_file_atomically(
    database: TestDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The old file stays whole until the new one, complete and on disk, is renamed over it; nothing else is
    left in the directory, and node exporter (another user) can read the file."""
    database.execute(BEFORE)
    directory = desired_dir(tmp_path)
    textfiles = tmp_path / "textfile"
    textfiles.mkdir()
    out = textfiles / "pgstate.prom"
    old = "# an older check\npgstate_up 1\n"
    out.write_text(old)
    synced: list[int] = []
    renames: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(descriptor: int) -> None:
        synced.append(descriptor)
        real_fsync(descriptor)

    def replace(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        # At the moment of the rename: the reader still sees the old file, whole; the new one is complete,
        # beside it in the same directory, and was synced before.
        assert Path(target).read_text() == old
        assert Path(source).parent == Path(target).parent and not Path(source).name.endswith(".prom")
        assert metrics(Path(source).read_text())["pgstate_up"].samples[0].value == 1
        assert synced, "the new file was renamed before it was synced"
        renames.append((str(source), str(target)))
        real_replace(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    run = drift_metrics(database.url, directory, "--out", str(out))
    assert run.exit_code == 2, run.stderr
    assert run.stdout == ""  # the report went to the file
    assert [target for _, target in renames] == [str(out)]
    assert sorted(p.name for p in textfiles.iterdir()) == ["pgstate.prom"]
    assert sample(metrics(out.read_text())["pgstate_drift_detected"]) == 1
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_write_that_fails_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    from pgstate.report.drift_formats import write_atomically

    out = tmp_path / "pgstate.prom"
    out.write_text("pgstate_up 1\n")
    with pytest.raises(UnicodeEncodeError):
        write_atomically(out, "pgstate_up 0\n\udcff")  # a lone surrogate: fails halfway through the write
    assert out.read_text() == "pgstate_up 1\n"
    assert [p.name for p in tmp_path.iterdir()] == ["pgstate.prom"]


def test_a_failed_check_still_writes_up_0(database: TestDatabase, tmp_path: Path) -> None:
    """No connection, a bad desired file: exit 1 with the error, and a metrics file saying pgstate_up 0 with
    the same labels a good check has (so that alerts and graphs join them), and no drift figures."""
    database.execute(BEFORE)
    directory = desired_dir(tmp_path)
    out = tmp_path / "pgstate.prom"
    run = drift_metrics(database.url, directory, "--out", str(out))
    assert run.exit_code == 2
    good = metrics(out.read_text())
    (directory / "orders.yaml").write_text(DESIRED + "colums: {}\n")  # a typo: an unknown key
    before = time.time()
    run = drift_metrics(database.url, directory, "--out", str(out))
    assert run.exit_code == 1
    assert "colums" in run.stderr and "Traceback" not in run.stderr
    failed = metrics(out.read_text())
    assert set(failed) == {"pgstate_up", "pgstate_last_check_timestamp_seconds"}
    assert failed["pgstate_up"].samples[0].labels == good["pgstate_up"].samples[0].labels == labels_of(database)
    assert sample(failed["pgstate_up"]) == 0
    assert before <= sample(failed["pgstate_last_check_timestamp_seconds"]) <= time.time()
    # No server there: the labels say which one it was to be, never the user or the password.
    (directory / "orders.yaml").write_text(DESIRED)
    unreachable = "postgresql://alice:S3cret-pw@127.0.0.1:1/app"
    run = drift_metrics(unreachable, directory, "--out", str(out))
    assert run.exit_code == 1 and "cannot connect to database app on 127.0.0.1:1" in run.stderr
    text = out.read_text()
    assert "S3cret" not in text + run.stderr and "alice" not in text
    failed = metrics(text)
    assert failed["pgstate_up"].samples[0].labels == {"database": "app", "server": "127.0.0.1:1"}
    assert sample(failed["pgstate_up"]) == 0
    # Without --out the metrics go to stdout (a push gateway hears of the failure too).
    run = drift_metrics(unreachable, directory)
    assert run.exit_code == 1 and sample(metrics(run.stdout)["pgstate_up"]) == 0
    # A metrics file that cannot be written either: a warning, and the check's own error.
    missing = tmp_path / "no" / "such" / "pgstate.prom"
    run = drift_metrics(unreachable, directory, "--out", str(missing))
    assert run.exit_code == 1 and not missing.exists()
    assert run.stderr.splitlines()[0] == f"pgstate: warning: cannot write {missing}: No such file or directory"
    assert "cannot connect to database app" in run.stderr.splitlines()[1]


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_out_writes_every_format(database: TestDatabase, tmp_path: Path, fmt: str) -> None:
    """--out FILE holds what stdout would (text: plain, whatever the terminal)."""
    database.execute(BEFORE)
    directory = desired_dir(tmp_path)
    out = tmp_path / f"drift.{fmt}"
    code, printed = drift(database, directory, fmt)
    run = run_pgstate(
        ["drift", "--desired", str(directory), "--database-url", database.url, "--format", fmt, "--out", str(out)],
        env={**PLAIN, "FORCE_COLOR": "1"},
    )
    assert (run.exit_code, run.stdout) == (code, "")
    saved = out.read_text()
    assert "\x1b[" not in saved
    assert json.loads(saved) == json.loads(printed) if fmt == "json" else saved == printed


# --- drift and plan agree ---------------------------------------------------------------------------------

NOTES = """
CREATE TABLE notes (id int PRIMARY KEY, owner uuid, body text, tag text);
CREATE INDEX notes_owner_idx ON notes (owner);
ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY "own notes" ON notes FOR SELECT TO authenticated USING (owner = auth.uid());
"""
NOTES_DESIRED = """table: notes
indexes:
  - {name: notes_owner_idx, columns: [owner]}
rls: {enabled: true}
policies:
  - {name: own notes, command: select, roles: [authenticated], using: owner = auth.uid()}
"""
UNMANAGED = "CREATE INDEX notes_tag_idx ON notes (tag);"
INVALID = "UPDATE pg_index SET indisvalid = false WHERE indexrelid = '{}'::regclass;"
REINDEX_INVALID = "database:\n  maintenance: {reindex_invalid: true}\n"
CHANGED_POLICY = NOTES_DESIRED.replace("using: owner = auth.uid()", "using: owner = (select auth.uid())")


@dataclass(frozen=True)
class Agreement:
    """A live state (after NOTES), the desired documents, and what drift and plan say of them."""

    live: str
    documents: tuple[str, ...]
    drift: int  # drift's exit code
    plan: int  # plan's exit code
    information: tuple[str, ...] = ()  # the targets drift lists as information


UNMANAGED_TARGET = "public.notes_tag_idx"
# Drift exits 2 exactly when plan has steps, but in one case, as the spec has it ("plus INVALID indexes"): an
# INVALID index that nothing declares, and that no maintenance.reindex_invalid asks to rebuild, is drift with
# no plan step to fix it (a person must declare it, ask for the rebuild, or drop it).
AGREEMENT = {
    "in sync": Agreement("", (NOTES_DESIRED,), 0, 0),
    "unmanaged index, no prune_indexes: information": Agreement(UNMANAGED, (NOTES_DESIRED,), 0, 0, (UNMANAGED_TARGET,)),
    "unmanaged index, prune_indexes": Agreement(UNMANAGED, (NOTES_DESIRED + "prune_indexes: true\n",), 2, 2),
    "changed policy": Agreement("", (CHANGED_POLICY,), 2, 2),
    "declared index INVALID": Agreement(INVALID.format("notes_owner_idx"), (NOTES_DESIRED,), 2, 2),
    "undeclared index INVALID, reindex_invalid": Agreement(
        UNMANAGED + INVALID.format("notes_tag_idx"), (NOTES_DESIRED, REINDEX_INVALID), 2, 2
    ),
    "undeclared index INVALID, no maintenance: drift without a step": Agreement(
        UNMANAGED + INVALID.format("notes_tag_idx"), (NOTES_DESIRED,), 2, 0
    ),
    "unmanaged, INVALID declared, changed policy": Agreement(
        UNMANAGED + INVALID.format("notes_owner_idx"), (CHANGED_POLICY,), 2, 2, (UNMANAGED_TARGET,)
    ),
}


@pytest.mark.parametrize("case", list(AGREEMENT))
def test_drift_and_plan_agree(database: TestDatabase, tmp_path: Path, case: str) -> None:
    expected = AGREEMENT[case]
    database.execute(NOTES + expected.live)
    directory = write_desired(tmp_path, *expected.documents)
    code, plan, err = pgstate_json(database, directory, "plan")
    assert code == expected.plan, err
    code, report, err = pgstate_json(database, directory, "drift")
    assert code == expected.drift, err
    assert report["drift"] is (expected.drift == 2)
    assert tuple(f["target"] for f in report["information"]) == expected.information
    drifted = {finding["target"] for finding in report["findings"]}
    if expected.plan == expected.drift:
        assert drifted <= {step["target"] for step in plan["steps"]}, "drift reports what no plan step changes"
    else:
        assert [(f["finding"], f["target"]) for f in report["findings"]] == [("invalid-index", UNMANAGED_TARGET)]


def test_strict_counts_unmanaged_indexes_as_drift(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(NOTES + UNMANAGED)
    directory = write_desired(tmp_path, NOTES_DESIRED)
    assert pgstate_json(database, directory, "plan")[0] == 0
    assert pgstate_json(database, directory, "drift")[0] == 0
    code, report, _ = pgstate_json(database, directory, "drift", "--strict")
    assert code == 2 and report["drift"] is True
    assert [(f["finding"], f["target"]) for f in report["findings"]] == [("unmanaged-index", "public.notes_tag_idx")]
    assert report["information"] == []


def test_each_invalid_index_is_one_finding(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(NOTES + UNMANAGED + INVALID.format("notes_tag_idx"))
    directory = write_desired(tmp_path, NOTES_DESIRED, REINDEX_INVALID)
    _, plan, _ = pgstate_json(database, directory, "plan")
    _, report, _ = pgstate_json(database, directory, "drift")
    assert len(report["findings"]) == len(plan["steps"]) == 1


# --- colour -----------------------------------------------------------------------------------------------

ANSI = re.compile(r"\x1b\[[0-9;]*m")
# What `drift` printed before it had colour, for BEFORE and DESIRED outside a git repository: piped output
# stays byte for byte this.
PLAIN_TEXT = """Drift: 4 difference(s); desired state: not in a git repository
- column public.orders.note: type is json, desired jsonb
    type: desired 'jsonb', live 'json'
- index public.orders_broken_idx: index is INVALID (a failed or interrupted concurrent build): apply rebuilds it
    desired: btree (id)
    live:    btree (id)
- index public.orders_customer_idx: definition differs
    keys[0].descending: desired False, live True
    keys[0].nulls_first: desired False, live True
- index public.orders_status_idx: declared index does not exist
    desired: btree (status)
Information (1, not drift):
- index public.orders_extra_idx: index exists but is not declared (information: without prune_indexes it is left alone)
    live:    btree (status)
"""


def drift_text_with(db: TestDatabase, directory: Path, env: dict[str, str | None]) -> CompletedRun:
    return run_pgstate(["drift", "--desired", str(directory), "--database-url", db.url], env={**PLAIN, **env})


def test_drift_text_is_plain_when_piped_and_coloured_when_forced(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(BEFORE)
    directory = desired_dir(tmp_path)
    piped = drift_text_with(database, directory, {})
    assert (piped.exit_code, piped.stdout) == (2, PLAIN_TEXT)
    forced = drift_text_with(database, directory, {"FORCE_COLOR": "1", "TERM": "xterm-256color"})
    assert forced.exit_code == 2
    assert "\x1b[1;31mDrift\x1b[0m" in forced.stdout  # the verdict in bold red
    assert ANSI.sub("", forced.stdout) == PLAIN_TEXT  # the same text underneath
    plain_anyway: list[dict[str, str | None]] = [
        {"FORCE_COLOR": "1", "NO_COLOR": "1"},
        {"FORCE_COLOR": "1", "TERM": "dumb"},
    ]
    for env in plain_anyway:
        assert drift_text_with(database, directory, env).stdout == PLAIN_TEXT, env


def on_a_terminal(args: list[str], env: dict[str, str | None]) -> str:
    """What ``pgstate ARGS`` writes to stdout when stdout is a terminal (a pseudo-terminal)."""
    import pty
    import subprocess
    import sys

    from pgharness import _cli_env

    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "pgstate", *args],
            stdout=follower,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            env=_cli_env({**PLAIN, **env}),
        )
        os.close(follower)
        chunks = []
        deadline = time.monotonic() + CLI_TIMEOUT_S
        while time.monotonic() < deadline:
            if not select.select([leader], [], [], 1)[0]:
                continue
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the other side closed
                break
            if not chunk:
                break
            chunks.append(chunk)
        process.wait(timeout=CLI_TIMEOUT_S)
    finally:
        os.close(leader)
    return b"".join(chunks).decode().replace("\r\n", "\n")


def test_drift_text_on_a_terminal(database: TestDatabase, tmp_path: Path) -> None:
    database.execute(BEFORE)
    directory = desired_dir(tmp_path)
    args = ["drift", "--desired", str(directory), "--database-url", database.url]
    coloured = on_a_terminal(args, {"TERM": "xterm-256color"})
    assert "\x1b[1;31mDrift\x1b[0m" in coloured and ANSI.sub("", coloured) == PLAIN_TEXT
    assert on_a_terminal(args, {"TERM": "xterm-256color", "NO_COLOR": "1"}) == PLAIN_TEXT
    assert on_a_terminal(args, {"TERM": "dumb"}) == PLAIN_TEXT


def test_console_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """The helper others reuse: styled only on a colour terminal; plain output is the text as it is."""
    from rich.text import Text

    from pgstate.report.terminal import console_for, styled, write

    for name in PLAIN:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    text = Text("tab\there [not markup] :smile: " + "x" * 300 + "\n")
    text.stylize("bold red", 0, 3)
    stream = io.StringIO()
    console = console_for(stream)
    assert not styled(console)
    write(console, text)
    assert stream.getvalue() == text.plain  # no wrapping, no tab expansion, no markup or emoji codes
    monkeypatch.setenv("FORCE_COLOR", "1")
    stream = io.StringIO()
    console = console_for(stream)
    assert styled(console)
    write(console, text)
    assert stream.getvalue().startswith("\x1b[1;31mtab\x1b[0m") and "[not markup] :smile:" in stream.getvalue()
    assert "\n" not in stream.getvalue().rstrip("\n")  # the terminal wraps, not rich
    monkeypatch.setenv("NO_COLOR", "1")
    assert not styled(console_for(io.StringIO()))
    monkeypatch.setenv("NO_COLOR", "")  # empty: as if unset (no-color.org)
    assert styled(console_for(io.StringIO()))
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("TERM", "dumb")
    assert not styled(console_for(io.StringIO()))


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
    # The comment splits the steps: here the working tree's changes cause some, the rest was there before.
    assert run.stdout.startswith("### pgstate plan\n"), run.stdout
    assert "#### From this pull request" in run.stdout and "Desired files changed since <code>HEAD</code>" in run.stdout


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
