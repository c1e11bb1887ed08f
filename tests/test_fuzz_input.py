"""Fuzzed input never crashes (issue 10, item 8): whatever the desired files or the command line hold, pgstate
answers with an exit code the spec lists for the verb and clear messages, never a traceback (without --verbose)
nor an internal error; a message about a desired file says where (``file:line:col``); every input is handled in
bounded time, and YAML bombs, 10 MB lines and 10,000 documents in bounded memory too.

Everything runs in this process through ``pgstate.cli.main`` (tests/pgharness.py), with no database: verbs that
need one get a URL that points at nothing (127.0.0.1 port 1), so that they fail as an ordinary error once the
input passed, and bad input must be refused before. Targets (strategies in tests/fuzz_inputs.py):

- ``desired``: documents drawn from the JSON Schema, mutated as YAML nodes, text and bytes;
- ``soup``: random bytes and YAML token soup;
- ``bombs``: small alias, merge-key and nesting bombs, long lines, many documents and keys;
- ``cli``: argv drawn from the real argparse parser (every verb, every option, values of each type and beyond);
- ``option-values``: the option value parsers alone, against what PostgreSQL reads.

``test_bomb_bounds`` runs the big bombs in a subprocess each, with its address space limited, and checks its
time and peak memory.

PGSTATE_FUZZ_INPUTS sets the inputs over all targets (``make fuzz``: 100,000; ``make test``: a small derandomised
sample); PGSTATE_RANDOM=1 draws new ones (failures are kept in .hypothesis/ and replayed first). The figures
(inputs per target, failing inputs, distinct failures) are recorded as the ``fuzz`` property and printed in
pytest's terminal summary (tests/conftest.py).
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import re
import shutil
import subprocess
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, note, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase

import fuzz_inputs
from fuzz_inputs import CliCase, DesiredCase
from pgharness import CompletedRun, run_pgstate_inprocess
from pgstate.cli import parser as cli_parser

EXPLORE = os.environ.get("PGSTATE_RANDOM") == "1"
TOTAL = int(os.environ.get("PGSTATE_FUZZ_INPUTS", "0"))  # 0: the small sample of `make test`
SHARES = {"desired": 0.42, "soup": 0.2, "bombs": 0.04, "cli": 0.3, "option-values": 0.04}
SAMPLE = {"desired": 80, "soup": 50, "bombs": 10, "cli": 100, "option-values": 100}
MAX_SECONDS = 2.0  # processor time per input (other tests share the machine)
FAILURES_KEPT = Path(__file__).resolve().parent.parent / ".hypothesis" / "examples"  # the runs chdir elsewhere

DEAD_URL = "postgresql://127.0.0.1:1/fuzz"  # nothing listens there: a connection is an ordinary error
EXIT_CODES = {  # the spec's, for each verb; 1 is any error
    "validate": {0, 1},
    "lint": {0, 1},
    "plan": {0, 1, 2},
    "apply": {0, 1, 3},
    "drift": {0, 1, 2},
    "history": {0, 1},
    "rollback": {0, 1, 3},
    "export": {0, 1},
}
VALID = "table: t\ncolumns:\n  a: {type: text}\nindexes:\n  - {name: t_a_idx, columns: [a]}\n"
INVALID = "table: t\ncolumns:\n  a: {type: 1}\nunknown: 1\n"

FIGURES: dict[str, Counter[str]] = {}
FAILURES: dict[str, Counter[str]] = {}
FIRST_FAILURES: dict[str, str] = {}  # kind of failure -> the first input that showed it (for the report)


def budget(target: str) -> int:
    return max(1, round(TOTAL * SHARES[target])) if TOTAL else SAMPLE[target]


# --- running -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The working directory of every run: the places the command lines name (fuzz_inputs.PATHS)."""
    root = tmp_path_factory.mktemp("fuzz")
    for name, text in (("good", VALID), ("bad", INVALID), ("repo/desired", VALID)):
        (root / name).mkdir(parents=True)
        (root / name / "t.yaml").write_text(text)
    (root / "empty").mkdir()
    (root / "a-file").write_text("not a directory\n")
    git = ["git", "-C", str(root / "repo"), "-c", "user.name=fuzz", "-c", "user.email=fuzz@example.com"]
    subprocess.run([*git, "init", "--quiet", "--initial-branch=main"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "--quiet", "-m", "initial"], check=True)
    (root / "repo/desired/t.yaml").write_text(VALID + "prune_indexes: false\n")
    (root / "cases").mkdir()
    before = Path.cwd()
    os.chdir(root)
    try:
        yield root
    finally:
        os.chdir(before)


@contextlib.contextmanager
def environment(database: bool) -> Iterator[None]:
    """A database URL that points at nothing (or none at all), and libpq's defaults pointing there too."""
    wanted = {
        "PGSTATE_DATABASE_URL": DEAD_URL if database else None,
        "DATABASE_URL": None,
        "PGHOST": "127.0.0.1",
        "PGPORT": "1",
        "PGCONNECT_TIMEOUT": "2",
    }
    saved = {key: os.environ.get(key) for key in wanted}
    try:
        for key, value in wanted.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run(argv: list[str], *, database: bool = True) -> tuple[CompletedRun, float]:
    """The CLI in this process; the collector as it was before (main() freezes it for its one run). An exception
    out of main() is a crash: it is returned as exit code -1 with the traceback."""
    thresholds = gc.get_threshold()
    start = time.process_time()
    try:
        with environment(database):
            result = run_pgstate_inprocess(argv)
    except Exception:
        result = CompletedRun(-1, "", "uncaught exception out of main():\n" + traceback.format_exc())
    finally:
        elapsed = time.process_time() - start
        gc.unfreeze()
        gc.set_threshold(*thresholds)
    return result, elapsed


def write_case(workspace: Path, files: dict[str, bytes]) -> tuple[Path, dict[str, str]]:
    """A fresh desired directory holding ``files``; returns it and each YAML file's display path -> text."""
    FIGURES.setdefault("_dirs", Counter())["n"] += 1
    directory = workspace / "cases" / str(FIGURES["_dirs"]["n"])
    directory.mkdir()
    shown: dict[str, str] = {}
    for name, data in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith("/"):
            path.mkdir(exist_ok=True)
            continue
        path.write_bytes(data)
        if name.endswith((".yaml", ".yml")):
            shown[str(path.relative_to(workspace))] = data.decode("utf-8", errors="replace")
    return directory, shown


# --- what must hold ------------------------------------------------------------------------------------------

LOCATED = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<column>\d+): \S")


def problems_of(
    argv: list[str],
    result: CompletedRun,
    elapsed: float,
    *,
    verb: str | None,
    files: dict[str, str],
    only_files: bool = False,
) -> list[str]:
    """What is wrong with one run, each as a short category (counted) and the detail. ``files``: the desired
    files that messages may be about (display path -> text); ``only_files``: every message must be about one."""
    found = []
    verbose = any(len(word) > 2 and "--verbose".startswith(word.split("=")[0]) for word in argv)  # or a prefix
    allowed = EXIT_CODES.get(verb or "", {0, 1})
    if result.exit_code not in allowed:
        found.append(f"exit code {result.exit_code}: not one of {sorted(allowed)} for {verb}")
    if verb not in (None, "validate", "lint") and result.exit_code not in (0, 1):
        found.append(f"exit code {result.exit_code} without a database")
    if "Traceback" in result.stderr and not verbose:
        found.append("traceback without --verbose")
    if result.exit_code == -1:
        found.append("uncaught exception: " + result.stderr.strip().splitlines()[-1])
    if "internal error" in result.stderr:
        found.append("internal error: " + result.stderr.split("internal error: ", 1)[1].split(" (run again")[0])
    if result.exit_code == 1 and not result.stderr.strip():
        found.append("exit 1 without a message")
    if elapsed > MAX_SECONDS:
        found.append(f"slow: {elapsed:.1f}s")
    if verbose:
        return found
    about_files = [line for line in result.stderr.splitlines() if _about_desired_files(line, files)]
    for line in about_files:
        message = line.removeprefix("pgstate: ")
        matched = LOCATED.match(message)
        if matched is None or matched["file"] not in files:
            found.append(f"not located: {line[:200]!r}")
            continue
        text = files[matched["file"]]
        if not 1 <= int(matched["line"]) <= len(text.splitlines()) + 1:
            found.append(f"line out of the file: {line[:200]!r}")
    if only_files and result.exit_code == 1 and files:
        for line in result.stderr.splitlines():
            if not line.startswith("  hint: ") and line not in about_files:
                found.append(f"not located: {line[:200]!r}")
    return found


def _about_desired_files(line: str, files: dict[str, str]) -> bool:
    message = line.removeprefix("pgstate: ")
    return not line.startswith("  hint: ") and any(message.startswith(shown + ":") for shown in files)


def record(target: str, argv: list[str], result: CompletedRun, elapsed: float, found: list[str]) -> None:
    figures = FIGURES.setdefault(target, Counter())
    figures["inputs"] += 1
    figures["max_ms"] = max(figures["max_ms"], round(elapsed * 1000))
    if found:
        figures["failing"] += 1
        failures = FAILURES.setdefault(target, Counter())
        for problem in found:
            kind = re.sub(r"'.*", "", problem)[:80]
            failures[kind] += 1
            FIRST_FAILURES.setdefault(f"{target}: {kind}", f"{argv!r} -> {result.stderr[-300:]!r}")
        note(f"argv: {argv!r}\nexit {result.exit_code}\nstdout: {result.stdout[:2000]}\nstderr: {result.stderr[:4000]}")
        raise AssertionError("; ".join(found))


def check_desired(target: str, workspace: Path, case: DesiredCase) -> None:
    directory, files = write_case(workspace, case.files)
    argv = [case.verb, "--desired", str(directory.relative_to(workspace))]
    result, elapsed = run(argv, database=case.verb != "lint")
    found = problems_of(argv, result, elapsed, verb=case.verb, files=files, only_files=case.verb == "validate")
    if case.verb == "validate" and result.exit_code == 0 and "valid" not in result.stdout:
        found.append("exit 0 without saying valid")
    shutil.rmtree(directory)
    record(target, argv, result, elapsed, found)


def check_cli(workspace: Path, case: CliCase) -> None:
    first = cli_parser.verb_first(case.argv, fuzz_inputs.verb_parsers())[:1]
    verb = first[0] if first and first[0] in EXIT_CODES else None
    result, elapsed = run(case.argv, database=case.database_env)
    files = {str(path.relative_to(workspace)): path.read_text() for path in workspace.glob("*/t.yaml")}
    files["repo/desired/t.yaml"] = (workspace / "repo/desired/t.yaml").read_text()
    found = problems_of(case.argv, result, elapsed, verb=verb, files=files)
    record("cli", case.argv, result, elapsed, found)


POSTGRES_DURATION = re.compile(r"^[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?(us|ms|s|min|h|d)$")


def check_option_value(value: tuple[str, str]) -> None:
    """What an option parser accepts is what PostgreSQL (lock_timeout) or Python (retries) reads as meant."""
    name, text = value
    parse: Callable[[str], Any] = getattr(cli_parser, name)
    start = time.perf_counter()
    try:
        parsed = parse(text)
    except cli_parser.argparse.ArgumentTypeError:
        parsed = None
    found = []
    accepted = parsed is not None and parsed != cli_parser.WAIT_AS_LONG_AS_IT_TAKES
    if name == "duration" and accepted and not POSTGRES_DURATION.match(parsed):
        found.append(f"duration {parsed!r} accepted, which PostgreSQL does not read")
    if name == "non_negative" and parsed is not None and not (isinstance(parsed, int) and parsed >= 0):
        found.append(f"{parsed!r} accepted as a whole number >= 0")
    record("option-values", [name, text], CompletedRun(0, "", ""), time.perf_counter() - start, found)


# --- regressions ---------------------------------------------------------------------------------------------

# Earlier findings, each replayed first on every run (what was wrong, and what it is now).
DESIRED_EXAMPLES = [
    # A plain date crashed validate: it is now the text it was written as.
    b"table: 2020-01-01\n",
    b"database:\n  settings:\n    a: 2020-01-01\n    b: 2001-12-14t21:59:43.10-05:00\n",
    b"role: r\nsettings: {x: 2020-01-01}\n",
    # A NUL or control character: a message over two lines at 1:1; now one line, at the character.
    b"\x00%YAML 1.1\n---\n!!null ''\n",
    b"table: t\ncolumns:\n  a: {type: 'text\x01'}\n",
    # Nesting beyond jsonschema_rs's recursion limit: an internal error ("Recursion limit reached").
    b"table: t\nx: " + b"[" * 300 + b"]" * 300 + b"\n",
    b"table: t\nlint: {ignore: [" + b"[" * 300 + b"]" * 300 + b"]}\n",
    b"table: t\nx: &a " + b"[" * 60 + b"1" + b"]" * 60 + b"\ny: [[[[[[*a]]]]]]\n",  # deep through an alias
    # Aliases of an anchor that holds them: "refers to itself" at 1:1, or nesting without end.
    b"table: t\nx: &a [*a]\n",
    b"&a {table: t, k: *a}\n",
    b"table: t\nx: &a {<<: *a}\n",
    b"table: t\nx: &a [&b [*b]]\ny: *a\n",
    # Keys and names with line breaks or escapes: messages broken over lines (or recolouring the terminal).
    b'database:\n  settings:\n    "a\\x1db": {}\n    "\\e[31m": {}\n',
    b'function: "\\u2028? a"\nbody: x\n---\nfunction: "\\u2028? a"\nbody: x\n',
    # A tagged value PyYAML's constructor chokes on: an internal error (KeyError, IndexError).
    b"present: false\nview: !!bool t\n",
    b"table: !!int ''\n",
    b"table: t\nstorage: {fillfactor: !!float ''}\n",
    # Infinite and NaN numbers: valid, then refused by PostgreSQL after connecting; now refused here.
    b"function: f\nbody: x\ncost: .inf\nrows: .nan\n",
    b"database: {maintenance: {vacuum_dead_ratio: .nan}}\n",
]
BOMB_EXAMPLES = [
    # Merge keys that merge the previous mapping several times: exponential (hung for minutes).
    fuzz_inputs._merges(30, 10, "table: t", new_keys=False).encode(),
    fuzz_inputs._merges(25, 2, "table: t", new_keys=True).encode(),
    # A 10 MB line of short items: 1.5 GB and 8 s; now refused after counting 250,000 values.
    b"table: t\ncolumns: [" + b"x, " * 400_000 + b"]\n",
    # 100,000 unknown keys, or errors: all worded by jsonschema (35 s for 200,000); now 100 per file.
    b"table: t\n" + b"".join(b"u%d: 1\n" % i for i in range(20_000)),
    b"table: t\nindexes: [" + b", ".join([b"{columns: [1]}"] * 20_000) + b"]\n",
]
CLI_EXAMPLES = [
    # Bytes that are not UTF-8 (as Python hands them on from argv): internal errors, one out of main itself.
    CliCase(["export", "--desired=good", "\udc80"]),
    CliCase(["plan", "--desired=good", "--database-url", "postgresql://127.0.0.1:1/\udc80"]),
    CliCase(["plan", "--desired", "repo/desired", "--base", "\udc80"]),
    # Revisions gitpython's parser fails on with other errors than BadName: internal errors.
    CliCase(["plan", "--desired", "repo/desired", "--base", "HEAD@{5}"]),
    CliCase(["plan", "--desired", "repo/desired", "--base", "HEAD@{1 year ago}"]),
    CliCase(["plan", "--desired", "repo/desired", "--base=@{-1}"]),
    # `--desired=--`: Python 3.11's argparse drops the value and stores [] (AttributeError: no is_dir).
    CliCase(["apply", "--desired=good", "--desired=--"]),
    CliCase(["plan", "--lock-timeout=--", "--desired", "good"]),
    # Options before the verb (the spec allows them): "unrecognized arguments".
    CliCase(["--verbose", "--desired", "good", "validate"]),
    CliCase(["--database-url", DEAD_URL, "--wait", "apply", "--desired", "good", "--yes"]),
]
OPTION_EXAMPLES = [("duration", "٢s"), ("duration", "2\u00a0s"), ("duration", "2\ts"), ("non_negative", "٥")]


# --- the targets ---------------------------------------------------------------------------------------------


def _fuzz(target: str, strategy: st.SearchStrategy[Any], body: Callable[[Any], None], examples: list[Any]) -> None:
    test = given(case=strategy)(body)
    for case in reversed(examples):
        test = example(case=case)(test)
    settings(
        max_examples=budget(target),
        deadline=None,  # bounded by MAX_SECONDS instead, which says what it measured
        derandomize=not EXPLORE,
        database=DirectoryBasedExampleDatabase(str(FAILURES_KEPT)) if EXPLORE else None,
        suppress_health_check=list(HealthCheck),
        print_blob=EXPLORE,
    )(test)()


def _figures(target: str) -> str:
    figures = FIGURES.get(target, Counter())
    failures = FAILURES.get(target, Counter())
    distinct = "; ".join(f"{count}x {kind}" for kind, count in failures.most_common(10))
    return (
        f"{target}: {figures['inputs']} inputs, {figures['failing']} failing"
        f" ({len(failures)} distinct{': ' + distinct if distinct else ''}), slowest {figures['max_ms']} ms processor,"
        f" {_resident_mb():.0f} MB resident after it"
    )


def _resident_mb() -> float:
    with open("/proc/self/status") as status:
        return int(re.search(r"VmRSS:\s+(\d+) kB", status.read()).group(1)) / 1024  # type: ignore[union-attr]


@pytest.mark.parametrize("target", ["desired", "soup", "bombs", "cli", "option-values"])
def test_fuzz(target: str, workspace: Path, record_property: Callable[[str, object], None]) -> None:
    start = time.perf_counter()
    try:
        if target == "desired":
            examples = [DesiredCase({"a.yaml": text}) for text in DESIRED_EXAMPLES]
            _fuzz(target, fuzz_inputs.desired_cases(), lambda case: check_desired(target, workspace, case), examples)
        elif target in ("soup", "bombs"):
            strategy = fuzz_inputs.soup() if target == "soup" else fuzz_inputs.bombs()
            _fuzz(
                target,
                strategy.map(lambda data: DesiredCase({"a.yaml": data})),
                lambda case: check_desired(target, workspace, case),
                [DesiredCase({"a.yaml": data}) for data in BOMB_EXAMPLES] if target == "bombs" else [],
            )
        elif target == "cli":
            _fuzz(target, fuzz_inputs.command_lines(), lambda case: check_cli(workspace, case), CLI_EXAMPLES)
        else:
            _fuzz(target, fuzz_inputs.option_values(), lambda case: check_option_value(case), OPTION_EXAMPLES)
    finally:
        record_property("fuzz", f"{_figures(target)}; {time.perf_counter() - start:.0f} s")
        for kind, first in FIRST_FAILURES.items():
            if kind.startswith(f"{target}: "):
                record_property("fuzz", f"{kind}: first seen {first}")


@pytest.mark.parametrize(
    "argv",
    [
        ["--desired", "good", "validate"],
        ["--desired=good", "--verbose", "validate"],
        ["--desi", "good", "validate"],  # an abbreviation, as after the verb
        ["--desired", "validate", "validate"],  # a directory named as a verb is still the option's value
    ],
)
def test_options_before_the_verb(workspace: Path, argv: list[str]) -> None:
    (workspace / "validate").mkdir(exist_ok=True)
    result, _ = run(argv)
    assert result.exit_code == 0, result.stderr
    assert "valid" in result.stdout


# --- big bombs, each in a process of its own -----------------------------------------------------------------


def _laughs() -> str:
    return fuzz_inputs._laughs(9, 9, "table: t")  # 9^9 = 387 million values once expanded


BIG_BOMBS: dict[str, Callable[[], str]] = {
    "billion-laughs": _laughs,
    "merge-keys": lambda: fuzz_inputs._merges(30, 10, "table: t", new_keys=False),
    "merge-keys-new": lambda: fuzz_inputs._merges(30, 2, "table: t", new_keys=True),
    "nested-flow": lambda: fuzz_inputs._nested(100_000, "table: t\n", "["),
    "nested-block": lambda: fuzz_inputs._nested(5_000, "table: t\n", "k"),
    "line-10mb-scalar": lambda: "table: t\ncolumns: {a: {type: '" + "x" * 10_000_000 + "'}}\n",
    "line-10mb-key": lambda: "table: t\n" + "k" * 10_000_000 + ": 1\n",
    "line-10mb-items": lambda: "table: t\ncolumns: [" + "x, " * 3_400_000 + "]\n",
    "line-10mb-errors": lambda: "table: t\nindexes: [" + ", ".join(["{columns: [1]}"] * 700_000) + "]\n",
    "documents-10k": lambda: "".join(f"---\ntable: t{i}\ncolumns: {{a: {{type: text}}}}\n" for i in range(10_000)),
    "documents-10k-invalid": lambda: "".join(
        f"---\ntable: t{i}\ncolumns: {{a: {{type: 1}}}}\nzz: 1\n" for i in range(10_000)
    ),
    "keys-100k-unknown": lambda: "table: t\n" + "".join(f"u{i}: 1\n" for i in range(100_000)),
}  # fmt: skip
VALID_BOMBS = {"documents-10k", "line-10mb-scalar"}  # a type name of 10 MB: PostgreSQL, not the format, refuses it
QUICK_BOMBS = ["billion-laughs", "merge-keys", "line-10mb-items", "documents-10k-invalid"]
BOMB_SECONDS = 2.0  # pgstate's own processor time (other tests share the machine), without the interpreter's start
BOMB_MEMORY_MB = 600  # peak resident memory, the interpreter and its imports included
ADDRESS_SPACE = 4 * 1024**3  # a runaway is stopped here, not by the machine

CHILD = """
import contextlib, io, json, re, sys, time
from pgstate.cli import main
from pgstate.source import documents, loader, schema  # imported before measuring

def high_water_mb():  # this process's peak resident memory (getrusage's would count the parent's, before exec)
    with open("/proc/self/status") as status:
        return int(re.search(r"VmHWM:\\s+(\\d+) kB", status.read()).group(1)) / 1024

before = high_water_mb()
err = io.StringIO()
start, cpu = time.perf_counter(), time.process_time()
with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
    code = main(["validate", "--desired", sys.argv[1]])
print(json.dumps({
    "code": code, "seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu,
    "stderr": err.getvalue()[:3000],
    "lines": err.getvalue().count("\\n"), "baseline_mb": before, "peak_mb": high_water_mb(),
}))
"""


def _limit_address_space() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


@pytest.mark.parametrize("bomb", QUICK_BOMBS if not TOTAL else sorted(BIG_BOMBS))
def test_bomb_bounds(bomb: str, tmp_path: Path, record_property: Callable[[str, object], None]) -> None:
    desired = tmp_path / "desired"
    desired.mkdir()
    (desired / "bomb.yaml").write_text(BIG_BOMBS[bomb]())
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(desired)],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_limit_address_space,
        check=False,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    outcome = json.loads(child.stdout.splitlines()[-1])
    record_property(
        "fuzz",
        f"bomb {bomb}: exit {outcome['code']}, {outcome['cpu_seconds']:.2f} s processor ({outcome['seconds']:.2f} s),"
        f" peak {outcome['peak_mb']:.0f} MB (after the imports {outcome['baseline_mb']:.0f} MB),"
        f" {outcome['lines']} lines of messages",
    )
    valid = bomb in VALID_BOMBS
    assert outcome["code"] == (0 if valid else 1), outcome
    assert "Traceback" not in outcome["stderr"] and "internal error" not in outcome["stderr"], outcome
    assert valid or outcome["stderr"].startswith(f"pgstate: {desired / 'bomb.yaml'}:"), outcome
    assert outcome["cpu_seconds"] < BOMB_SECONDS, outcome
    assert outcome["peak_mb"] < BOMB_MEMORY_MB, outcome
