"""The verbs and options of ``pgstate``, and how option values are read (durations as PostgreSQL writes them)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..errors import ExitCode
from ..units import UnitError, duration_seconds

PLAN_FORMATS = ("text", "json", "sql", "markdown")
DRIFT_FORMATS = ("text", "json", "markdown", "prometheus")
WAIT_AS_LONG_AS_IT_TAKES = "forever"  # --wait without a duration
MAX_LOCK_TIMEOUT_S = 86_400


def duration(text: str) -> str:
    """A duration as PostgreSQL writes durations (``500ms``, ``2s``): a number without a unit is refused (it
    would mean milliseconds to the server), and so are 0 (waiting forever) and more than a day."""
    if text == WAIT_AS_LONG_AS_IT_TAKES:
        return text
    try:
        seconds = duration_seconds(text.strip())
    except UnitError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if not 0.001 <= seconds <= MAX_LOCK_TIMEOUT_S:
        raise argparse.ArgumentTypeError(
            f"{text!r} is out of range: a duration must be between 1ms and 1d (0 would mean waiting forever)"
        )
    return text.strip().replace(" ", "")


def non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 0")
    return value


class Parser(argparse.ArgumentParser):
    """argparse, but a bad option is exit 1 with one line, as every other error."""

    def error(self, message: str) -> Any:
        self.print_usage(sys.stderr)
        print(f"pgstate: error: {message}", file=sys.stderr)
        raise SystemExit(ExitCode.ERROR)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="pgstate", description="Declarative reconciler for PostgreSQL indexes, types, RLS and more.")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB", parser_class=Parser)

    def common(sub: argparse.ArgumentParser, *, database: bool = True, formats: tuple[str, ...] = ()) -> None:
        sub.add_argument("--desired", type=Path, default=Path("desired"), help="desired directory (./desired)")
        sub.add_argument("--verbose", action="store_true", help="tracebacks and more detail")
        if database:
            sub.add_argument("--database-url", help="else $PGSTATE_DATABASE_URL, $DATABASE_URL, or embedded")
            sub.add_argument("--lock-timeout", type=duration, default="2s", help="lock_timeout for each lock (2s)")
        if formats:
            sub.add_argument("--format", choices=formats, default="text")

    common(verbs.add_parser("validate", help="check the desired files; no database needed"), database=False)
    plan = verbs.add_parser("plan", help="the ordered steps to reach the desired state (exit 2 if any)")
    common(plan, formats=PLAN_FORMATS)
    plan.add_argument("--out", type=Path, help="also save the plan as JSON, with the live state's fingerprint")
    plan.add_argument("--base", metavar="REF", help="also list what the desired files change since git REF")
    apply = verbs.add_parser("apply", help="carry out a fresh plan, or --plan FILE")
    common(apply, formats=("text", "json"))
    apply.add_argument("--yes", action="store_true", help="do not ask before starting")
    apply.add_argument("--retries", type=non_negative, default=5, help="retries after a lock timeout (5)")
    _wait_option(apply)
    apply.add_argument("--plan", type=Path, dest="plan_file", help="apply this saved plan; refused if stale")
    apply.add_argument(
        "--allow-destructive", action="store_true", help="allow steps that destroy data (retiring, lossy types)"
    )
    apply.add_argument(
        "--backup-dir", type=Path, default=Path(".pgstate/backups"), help="where dumps go (.pgstate/backups)"
    )
    apply.add_argument(
        "--backup",
        choices=["auto", "full"],
        default="auto",
        help="auto: dump what the plan destroys (default); full: also the whole database first",
    )
    drift = verbs.add_parser("drift", help="every difference between desired and live (exit 2 if any)")
    common(drift, formats=DRIFT_FORMATS)
    history = verbs.add_parser("history", help="the recorded runs; `history RUN` one in full")
    common(history, formats=("text", "json"))
    history.add_argument("run", nargs="?", type=int, help="a run id")
    rollback = verbs.add_parser("rollback", help="return the managed objects to their state before run RUN")
    common(rollback, formats=("text", "json"))
    rollback.add_argument("run", type=int, help="the run to undo")
    rollback.add_argument("--yes", action="store_true", help="do not ask before starting")
    rollback.add_argument("--force", action="store_true", help="even when later runs changed the same objects")
    rollback.add_argument("--retries", type=non_negative, default=5, help="retries after a lock timeout (5)")
    _wait_option(rollback)
    rollback.add_argument("--backup-dir", type=Path, default=Path(".pgstate/backups"), help="where dumps go")
    export = verbs.add_parser("export", help="write desired YAML for existing objects, one file each")
    common(export, database=True)
    export.add_argument("tables", nargs="*", metavar="TABLE", help="schema.table, or table (public); quote as SQL")
    export.add_argument("--function", action="append", default=[], metavar="NAME", help="a function (all overloads)")
    export.add_argument("--view", action="append", default=[], metavar="NAME", help="a view")
    export.add_argument("--role", action="append", default=[], metavar="NAME", help="a role's settings")
    export.add_argument("--database", action="store_true", help="the database's settings and extensions")
    export.add_argument("--out", type=Path, default=Path("desired"), help="where the files go (./desired)")
    lint = verbs.add_parser(
        "lint", help="rules over the desired state, the live database and the plan (exit 1 on errors)"
    )
    common(lint, formats=("text", "json"))
    return parser


def _wait_option(verb: argparse.ArgumentParser) -> None:
    """--wait, of the verbs that take pgstate's advisory lock (apply, and rollback, which is an apply)."""
    verb.add_argument(
        "--wait",
        nargs="?",
        const=WAIT_AS_LONG_AS_IT_TAKES,
        type=duration,
        metavar="DURATION",
        help="wait for another apply instead of exiting 3 (at most DURATION, e.g. 10min, when given)",
    )
