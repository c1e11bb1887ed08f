"""The verbs and options of ``pgstate``, and how option values are read (durations as PostgreSQL writes them)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .. import __version__
from ..db.patience import DEFAULT_LOCK_TIMEOUT, DEFAULT_RETRIES
from ..errors import ExitCode
from ..units import UnitError, duration_seconds
from .help import describe_verbs

PLAN_FORMATS = ("text", "json", "sql", "markdown")
DRIFT_FORMATS = ("text", "json", "markdown", "prometheus")
LINT_FORMATS = ("text", "json", "sarif", "github")  # sarif: GitHub code scanning; github: workflow annotations
WAIT_AS_LONG_AS_IT_TAKES = "forever"  # --wait without a duration
# A concurrent build waits out every transaction older than it, anywhere in the database; it holds only SHARE
# UPDATE EXCLUSIVE on its table meanwhile, which no query's lock conflicts with: it may wait longer than a lock.
DEFAULT_BUILD_WAIT = "1min"
DEFAULT_REPLICA_LAG_BUDGET = "30s"
MAX_LOCK_TIMEOUT_S = 86_400
BACKUP_DIR_HELP = (
    "where dumps go: pgstate.toml's backup_dir, else ~/.local/state/pgstate/backups; refused inside a git work tree"
    " unless ignored there"
)


def duration(text: str) -> str:
    """A duration as PostgreSQL writes durations (``500ms``, ``2s``): a number without a unit is refused (it
    would mean milliseconds to the server), and so are 0 (waiting forever) and more than a day."""
    if text == WAIT_AS_LONG_AS_IT_TAKES:
        return text
    try:
        if not text.isascii():  # `٢s`: Python reads the digit, PostgreSQL would not
            raise UnitError(f"{text!r} is not a duration: write ASCII digits and a unit, e.g. 500ms, 2s, 1min")
        seconds = duration_seconds(text.strip())
    except UnitError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if not 0.001 <= seconds <= MAX_LOCK_TIMEOUT_S:
        raise argparse.ArgumentTypeError(
            f"{text!r} is out of range: a duration must be between 1ms and 1d (0 would mean waiting forever)"
        )
    return "".join(text.split())  # as PostgreSQL writes it: `1 s` is `1s`


def text(value: str) -> str:
    """An option that reaches the database or git as text: bytes that are not UTF-8 (which Python hands on as
    lone surrogates) are refused here, not where they cannot be encoded."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise argparse.ArgumentTypeError(f"{value!r} is not UTF-8 text") from None
    return value


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

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        verbs = [action for action in self._actions if isinstance(action, argparse._SubParsersAction)]
        if verbs:  # the top level: the verb's options are the verb parser's, wherever they stand
            args = verb_first(list(sys.argv[1:] if args is None else args), verbs[0].choices)
            for word in args[: args.index("--") if "--" in args else len(args)]:
                if word.startswith("--") and word.endswith("=--"):  # Python 3.11's argparse drops the value
                    self.error(f"argument {word[:-3]}: '--' cannot be its value")
        return super().parse_known_args(args, namespace)


def verb_first(args: list[str], verbs: dict[str, argparse.ArgumentParser]) -> list[str]:
    """``args`` with the verb first: options may come before or after it (``pgstate --verbose plan``). Anything
    else before the verb (an unknown option, a word, ``-h``) is left where it is, for argparse to answer."""
    arity = {name: action.nargs for sub in verbs.values() for action in sub._actions for name in action.option_strings}
    index = 0
    while index < len(args):
        word = args[index]
        if word in verbs:
            return [word, *args[:index], *args[index + 1 :]]
        name = word.split("=", 1)[0]
        known = {arity[option] for option in arity if option.startswith(name)} if name.startswith("--") else set()
        nargs = arity[name] if name in arity else known.pop() if len(known) == 1 else "unknown"
        if nargs == "unknown" or name in ("-h", "--help") or not word.startswith("-"):
            return args
        index += 1
        follows = args[index] if index < len(args) else None
        if "=" in word or nargs == 0 or follows is None:
            continue
        if nargs is None or (follows[:1] != "-" and follows not in verbs):  # an optional value is not the verb
            index += 1
    return args


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="pgstate", description="Declarative reconciler for PostgreSQL indexes, types, RLS and more.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB", parser_class=Parser)

    def common(sub: argparse.ArgumentParser, *, database: bool = True, formats: tuple[str, ...] = ()) -> None:
        # Options without a value given take pgstate.toml's, then the built-in default (cli/settings.py): their
        # argparse default is None so that the two can be told apart.
        sub.add_argument("--desired", type=Path, help="desired directory (pgstate.toml's desired, else ./desired)")
        sub.add_argument("--config", type=Path, metavar="FILE", help="pgstate.toml to read (else found upward)")
        sub.add_argument("--verbose", action="store_true", help="tracebacks and more detail")
        _target_options(sub)
        if database:
            sub.add_argument("--database-url", type=text, help="else $PGSTATE_DATABASE_URL, $DATABASE_URL, or embedded")
            sub.add_argument(
                "--lock-timeout",
                type=duration,
                help=f"the longest wait of one lock attempt ({DEFAULT_LOCK_TIMEOUT}): what a query may queue behind it",
            )
            sub.add_argument(
                "--retries",
                type=non_negative,
                help=f"attempts after a lock timeout, with backoff ({DEFAULT_RETRIES}: about 30 s in all)",
            )
        if formats:
            sub.add_argument("--format", choices=formats, default="text")

    common(verbs.add_parser("validate", help="check the desired files; no database needed"), database=False)
    plan = verbs.add_parser("plan", help="the ordered steps to reach the desired state (exit 2 if any)")
    common(plan, formats=PLAN_FORMATS)
    plan.add_argument("--out", type=Path, help="also save the plan as JSON, with the live state's fingerprint")
    plan.add_argument(
        "--base",
        type=text,
        metavar="REF",
        help="also list what the desired files change since git REF, and (markdown) split the steps into the ones"
        " those changes cause and the ones that were already different",
    )
    _result_option(plan)
    plan.add_argument(
        "--lint",
        action="store_true",
        help="also run lint's rules and show the findings with the plan (the exit code stays the plan's)",
    )
    apply = verbs.add_parser("apply", help="carry out a fresh plan, or --plan FILE")
    common(apply, formats=("text", "json"))
    apply.add_argument("--yes", action="store_true", help="do not ask before starting")
    _wait_option(apply)
    _build_wait_option(apply)
    apply.add_argument("--plan", type=Path, dest="plan_file", help="apply this saved plan; refused if stale")
    apply.add_argument(
        "--allow-destructive", action="store_true", help="allow steps that destroy data (retiring, lossy types)"
    )
    apply.add_argument(
        "--allow-authz-widening",
        action="store_true",
        help="allow steps that widen or change who can see or change rows (RLS off, policies)",
    )
    apply.add_argument("--backup-dir", type=Path, help=BACKUP_DIR_HELP)
    _result_option(apply)
    apply.add_argument(
        "--replica-lag-budget",
        type=duration,
        default=DEFAULT_REPLICA_LAG_BUDGET,
        metavar="DURATION",
        help="how far behind a standby of the database may fall: a concurrent index build waits while one is"
        " further behind, and the run ends by waiting, at most this long, for every standby to replay its last"
        f" commit ({DEFAULT_REPLICA_LAG_BUDGET})",
    )
    apply.add_argument(
        "--backup",
        choices=["auto", "full"],
        default="auto",
        help="auto: dump what the plan destroys (default); full: also the whole database first",
    )
    drift = verbs.add_parser("drift", help="every difference between desired and live (exit 2 if any)")
    common(drift, formats=DRIFT_FORMATS)
    drift.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="write the report to FILE instead of stdout, atomically (a reader sees the old file or the new one);"
        " with --format prometheus (node exporter's textfile collector: name it *.prom) also when the check"
        " fails, with pgstate_up 0",
    )
    drift.add_argument(
        "--strict",
        action="store_true",
        help="count information as drift (exit 2): undeclared indexes of managed tables without prune_indexes",
    )
    _result_option(drift)
    history = verbs.add_parser("history", help="the recorded runs; `history RUN` one in full")
    common(history, formats=("text", "json"))
    history.add_argument("run", nargs="?", type=int, help="a run id")
    rollback = verbs.add_parser("rollback", help="return the managed objects to their state before run RUN")
    common(rollback, formats=("text", "json"))
    rollback.add_argument("run", type=int, help="the run to undo")
    rollback.add_argument("--yes", action="store_true", help="do not ask before starting")
    rollback.add_argument("--force", action="store_true", help="even when later runs changed the same objects")
    _wait_option(rollback)
    _build_wait_option(rollback)
    rollback.add_argument("--backup-dir", type=Path, help=BACKUP_DIR_HELP)
    export = verbs.add_parser("export", help="write desired YAML for existing objects, one file each")
    common(export, database=True)
    export.add_argument(
        "tables", nargs="*", type=text, metavar="TABLE", help="schema.table, or table (public); quote as SQL"
    )
    names: dict[str, Any] = {"action": "append", "default": [], "type": text, "metavar": "NAME"}
    export.add_argument("--function", **names, help="a function (all overloads)")
    export.add_argument("--view", **names, help="a view")
    export.add_argument("--role", **names, help="a role's settings")
    export.add_argument("--database", action="store_true", help="the database's settings and extensions")
    export.add_argument(
        "--all",
        action="store_true",
        dest="all_tables",
        help="every table of the application's schemas (not Supabase's, pgstate's or extensions'), or of --schema",
    )
    export.add_argument(
        "--schema", action="append", default=[], type=text, metavar="NAME", help="with --all: this schema's tables"
    )
    export.add_argument(
        "--schema-ref",
        type=text,
        metavar="REF",
        help="what the files' yaml-language-server modeline points to (a URL or path, as given); default: the"
        " repository's schemas/desired.schema.json, else a copy written into the output directory",
    )
    export.add_argument("--out", type=Path, help="where the files go (the desired directory)")
    lint = verbs.add_parser(
        "lint", help="rules over the desired state, the live database and the plan (exit 1 on errors)"
    )
    common(lint, formats=LINT_FORMATS)
    _embedded_verb(verbs)
    show = verbs.add_parser("show", help="render a plan saved with `plan --out`, without a database")
    show.add_argument("file", type=Path, metavar="FILE", help="the saved plan (JSON)")
    show.add_argument("--format", choices=PLAN_FORMATS, default="text")
    show.add_argument("--verbose", action="store_true", help="tracebacks and more detail")
    status = verbs.add_parser("status", help="one line: in sync or not, at which commit, the last run (exit 2 if not)")
    common(status)
    advise = verbs.add_parser("advise", help="proposals from the workload: indexes, json -> jsonb, RLS, settings")
    common(advise, formats=("text", "markdown", "json"))
    advise.add_argument("--top", type=non_negative, default=20, help="the statements with most total time (20)")
    advise.add_argument("--min-calls", type=non_negative, default=1, help="leave out statements called less (1)")
    advise.add_argument("--max-indexes", type=non_negative, default=5, help="at most this many new indexes (5)")
    advise.add_argument(
        "--role", type=text, help="plan the statements as this role (policies apply), e.g. authenticated"
    )
    advise.add_argument("--claims", type=text, help='request.jwt.claims for --role, as JSON, e.g. \'{"sub": "..."}\'')
    advise.add_argument("--write", action="store_true", help="write the proposals into the desired files")
    advise.add_argument(
        "--branch", type=text, metavar="NAME", help="write the proposals and commit them on a new git branch NAME"
    )
    advise.add_argument("--prove", action="store_true", help="measure the proposals on a copy (needs --workload)")
    advise.add_argument("--workload", type=Path, metavar="FILE", help="concrete queries for --prove, each ending in ;")
    advise.add_argument("--rounds", type=non_negative, default=5, help="timed runs of the workload for --prove (5)")
    advise.add_argument("--force", action="store_true", help="--prove even on the configured (production) database")
    _fleet_verbs(verbs)
    describe_verbs(verbs)
    return parser


def _target_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--target", type=text, metavar="NAME", help="the target of pgstate.toml's [targets.NAME]")
    sub.add_argument(
        "--target-index",
        type=non_negative,
        metavar="N",
        help="the N-th target (from 0) of --wave, else of the fleet, as `pgstate targets` lists them: a Kubernetes"
        " Indexed Job's $JOB_COMPLETION_INDEX",
    )
    sub.add_argument("--wave", type=text, metavar="WAVE", help="with --target-index: count within this wave")


def _result_option(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--result",
        type=Path,
        metavar="FILE",
        help="also write this run's result for `pgstate fleet-report` (JSON), also when it fails",
    )


def _fleet_verbs(verbs: Any) -> None:
    targets = verbs.add_parser("targets", help="the configured targets, or the CI matrix of a wave")
    targets.add_argument("--format", choices=("text", "json", "github-matrix"), default="text")
    targets.add_argument("--wave", type=text, metavar="WAVE", help="only this wave's targets")
    targets.add_argument("--config", type=Path, metavar="FILE", help="pgstate.toml to read (else found upward)")
    targets.add_argument("--verbose", action="store_true", help="tracebacks and more detail")
    report = verbs.add_parser(
        "fleet-report", help="join per-target results (--result files) into one report (exit 2 drift, 1 failures)"
    )
    report.add_argument("files", nargs="+", type=Path, metavar="FILE", help="result files, or directories of them")
    report.add_argument("--format", choices=("text", "markdown", "json", "prometheus"), default="text")
    report.add_argument("--out", type=Path, metavar="FILE", help="write the report to FILE, atomically")
    report.add_argument(
        "--expect",
        choices=("all", "none"),
        default="all",
        help="all: a configured target without a result is a failure (a job that never ran); none: only the files",
    )
    report.add_argument("--config", type=Path, metavar="FILE", help="pgstate.toml to read (else found upward)")
    report.add_argument("--verbose", action="store_true", help="tracebacks and more detail")


def _embedded_verb(verbs: Any) -> None:
    """``pgstate embedded status|stop``: the embedded default's server under ./.pgstate/embedded/."""
    embedded = verbs.add_parser(
        "embedded",
        help="status or stop of the embedded PostgreSQL under .pgstate/embedded/",
        description="The embedded PostgreSQL (used when no database URL is given) keeps running between commands."
        " `status` says whether it runs and its URL; `stop` stops it, keeping its data (also when it was not"
        " running, no error). Both exit 0. Any other verb without a URL starts it again.",
    )
    embedded.add_argument("action", choices=("status", "stop"))
    embedded.add_argument("--format", choices=("text", "json"), default="text")
    embedded.add_argument("--verbose", action="store_true", help="tracebacks and more detail")


def _build_wait_option(verb: argparse.ArgumentParser) -> None:
    verb.add_argument(
        "--build-wait",
        type=duration,
        default=DEFAULT_BUILD_WAIT,
        metavar="DURATION",
        help="how long a concurrent index build may wait for older transactions to end; that wait blocks no"
        f" query ({DEFAULT_BUILD_WAIT})",
    )


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
