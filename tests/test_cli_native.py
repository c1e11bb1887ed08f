"""The command line feels native: every verb's help says what it does, with examples and exit codes; history is
coloured on a terminal and plain when piped or with NO_COLOR."""

from __future__ import annotations

from pathlib import Path

import pytest

from pgharness import TestDatabase, run_pgstate, run_pgstate_inprocess
from pgstate.cli.help import VERB_HELP
from pgstate.cli.parser import build_parser

ESC = "\x1b["


def verbs() -> list[str]:
    parser = build_parser()
    [action] = [a for a in parser._actions if a.dest == "verb"]
    return sorted(action.choices)  # type: ignore[arg-type]


@pytest.mark.parametrize("verb", verbs())
def test_every_verb_has_a_description_examples_and_exit_codes(verb: str) -> None:
    assert verb in VERB_HELP, f"{verb} has no entry in cli/help.py"
    result = run_pgstate_inprocess([verb, "--help"])
    assert result.exit_code == 0
    words = " ".join(VERB_HELP[verb].description.split()[:4])
    assert words in " ".join(result.stdout.split())
    examples = result.stdout.split("examples:\n", 1)[1]
    assert f"  pgstate {verb}" in examples
    codes = result.stdout.split("exit codes:\n", 1)[1]
    assert all(f"  {code}  " in codes for code, _ in VERB_HELP[verb].exit_codes)
    assert max(len(line) for line in result.stdout.splitlines()) <= 100


def test_history_is_coloured_on_a_terminal_only(database: TestDatabase, tmp_path: Path) -> None:
    database.execute("CREATE TABLE t (a int);")
    desired = tmp_path / "desired"
    desired.mkdir()
    (desired / "t.yaml").write_text("table: t\nindexes:\n  - {name: t_a, columns: [a]}\n")
    applied = run_pgstate_inprocess(["apply", "--yes", "--desired", str(desired), "--database-url", database.url])
    assert applied.exit_code == 0, applied.stderr
    args = ["history", "--database-url", database.url]
    plain = run_pgstate(args)
    assert plain.exit_code == 0 and "applied" in plain.stdout and ESC not in plain.stdout
    coloured = run_pgstate(args, env={"FORCE_COLOR": "1", "TERM": "xterm-256color"})
    assert ESC in coloured.stdout
    # the same words, only styled: stripping the escapes gives the plain report back
    import re

    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured.stdout) == plain.stdout
    no_colour = run_pgstate(args, env={"FORCE_COLOR": "1", "TERM": "xterm-256color", "NO_COLOR": "1"})
    assert no_colour.stdout == plain.stdout
    one = run_pgstate(["history", "1", "--database-url", database.url], env={"FORCE_COLOR": "1"})
    assert one.exit_code == 0 and ESC in one.stdout and "Undo it with: pgstate rollback 1" in one.stdout


def test_status_is_one_line(database: TestDatabase, tmp_path: Path) -> None:
    import subprocess

    database.execute("CREATE TABLE t (a int);")
    desired = tmp_path / "desired"
    desired.mkdir()
    (desired / "t.yaml").write_text("table: t\nindexes:\n  - {name: t_a, columns: [a]}\n")
    for command in (["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "x"]):
        subprocess.run(["git", *command], cwd=tmp_path, check=True, capture_output=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout[:12]
    args = ["status", "--desired", str(desired), "--database-url", database.url]
    before = run_pgstate_inprocess(args)
    assert before.exit_code == 2
    assert before.stdout == f"not in sync: 1 difference(s) (index 1) · desired at {head} · no runs recorded\n"
    assert run_pgstate_inprocess(["apply", "--yes", *args[1:]]).exit_code == 0
    after = run_pgstate_inprocess(args)
    assert after.exit_code == 0 and after.stdout.count("\n") == 1
    assert after.stdout.startswith(f"in sync · desired at {head} · last run 1 applied ")
    assert after.stdout.endswith(f" UTC at {head}\n")
    (desired / "t.yaml").write_text(
        "table: t\nindexes:\n  - {name: t_a, columns: [a]}\n  - {name: t_b, columns: [a]}\n"
    )
    dirty = run_pgstate_inprocess(args)
    assert dirty.exit_code == 2 and f"desired at {head} with uncommitted changes" in dirty.stdout


@pytest.mark.parametrize("pg_server", ["pg18"], indirect=True)  # the renderers are the server's business only once
def test_show_renders_a_saved_plan_as_plan_does(database: TestDatabase, tmp_path: Path) -> None:
    """The seed app's plan (35 steps of every kind, rewrites, hazards, a retirement) saved, then shown in each
    format without a database: the same bytes as the fresh plan."""
    from pgharness import load_seed_app

    load_seed_app(database)
    desired = Path(__file__).resolve().parent.parent / "desired"
    saved = tmp_path / "plan.json"
    base = ["plan", "--desired", str(desired), "--database-url", database.url]
    for fmt in ("text", "json", "sql", "markdown"):
        fresh = run_pgstate_inprocess([*base, "--format", fmt, "--out", str(saved)])
        assert fresh.exit_code == 2, fresh.stderr
        shown = run_pgstate_inprocess(["show", str(saved), "--format", fmt])
        assert shown.exit_code == 0, shown.stderr
        assert shown.stdout == fresh.stdout, fmt
    saved.write_text('{"format": "something-else"}')
    wrong = run_pgstate_inprocess(["show", str(saved)])
    assert wrong.exit_code == 1 and "is not a saved pgstate plan" in wrong.stderr
