"""The command line: ``pgstate VERB [options]``; ``main(argv) -> exit code``, errors turned into codes here only."""

from __future__ import annotations

import argparse
import gc
import json
import re
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from . import render
from .connection import configured_url, connect, resolve_url, scrub
from .errors import ExitCode, PgstateError
from .plan import Plan

DURATION = re.compile(r"^\d+(\.\d+)?\s*(us|ms|s|min|h|d)?$")
PLAN_FORMATS = {
    "text": render.plan_text,
    "json": render.plan_json,
    "sql": render.plan_sql,
    "markdown": render.plan_markdown,
}
DRIFT_FORMATS = {
    "text": render.drift_text,
    "json": render.drift_json,
    "markdown": render.drift_markdown,
    "prometheus": render.drift_prometheus,
}


DURATION_UNITS_MS = {"us": 0.001, "ms": 1, "": 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}
MAX_LOCK_TIMEOUT_MS = 86_400_000


def duration(text: str) -> str:
    """A lock timeout as PostgreSQL writes durations; 0 (no timeout) and more than a day are refused."""
    match = DURATION.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration; write it as PostgreSQL does: 500ms, 2s, 1min")
    milliseconds = float(text.strip().rstrip("usminhd ")) * DURATION_UNITS_MS[match.group(2) or ""]
    if not 1 <= milliseconds <= MAX_LOCK_TIMEOUT_MS:
        raise argparse.ArgumentTypeError(
            f"{text!r} is out of range: a lock timeout must be between 1ms and 1d (0 would mean waiting forever)"
        )
    return text.strip()


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
    parser = Parser(prog="pgstate", description="Declarative reconciler for PostgreSQL indexes and column types.")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB", parser_class=Parser)

    def common(sub: argparse.ArgumentParser, *, database: bool = True, formats: list[str] | None = None) -> None:
        sub.add_argument("--desired", type=Path, default=Path("desired"), help="desired directory (./desired)")
        sub.add_argument("--verbose", action="store_true", help="tracebacks and more detail")
        if database:
            sub.add_argument("--database-url", help="else $PGSTATE_DATABASE_URL, $DATABASE_URL, or embedded")
            sub.add_argument("--lock-timeout", type=duration, default="2s", help="lock_timeout for each lock (2s)")
        if formats:
            sub.add_argument("--format", choices=formats, default="text")

    common(verbs.add_parser("validate", help="check the desired files; no database needed"), database=False)
    plan = verbs.add_parser("plan", help="the ordered steps to reach the desired state (exit 2 if any)")
    common(plan, formats=list(PLAN_FORMATS))
    plan.add_argument("--out", type=Path, help="also save the plan as JSON, with the live state's fingerprint")
    plan.add_argument("--base", metavar="REF", help="also list what the desired files change since git REF")
    apply = verbs.add_parser("apply", help="carry out a fresh plan, or --plan FILE")
    common(apply, formats=["text", "json"])
    apply.add_argument("--yes", action="store_true", help="do not ask before starting")
    apply.add_argument("--retries", type=non_negative, default=5, help="retries after a lock timeout (5)")
    apply.add_argument("--wait", action="store_true", help="wait for another apply instead of exiting 3")
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
    common(drift, formats=list(DRIFT_FORMATS))
    history = verbs.add_parser("history", help="the recorded runs; `history RUN` one in full")
    common(history, formats=["text", "json"])
    history.add_argument("run", nargs="?", type=int, help="a run id")
    rollback = verbs.add_parser("rollback", help="return the managed objects to their state before run RUN")
    common(rollback, formats=["text", "json"])
    rollback.add_argument("run", type=int, help="the run to undo")
    rollback.add_argument("--yes", action="store_true", help="do not ask before starting")
    rollback.add_argument("--force", action="store_true", help="even when later runs changed the same objects")
    rollback.add_argument("--retries", type=non_negative, default=5, help="retries after a lock timeout (5)")
    rollback.add_argument("--wait", action="store_true", help="wait for another apply instead of exiting 3")
    rollback.add_argument("--backup-dir", type=Path, default=Path(".pgstate/backups"), help="where dumps go")
    export = verbs.add_parser("export", help="write desired YAML for existing tables, one file per table")
    common(export, database=True)
    export.add_argument("tables", nargs="+", metavar="TABLE", help="schema.table, or table (public); quote as SQL")
    export.add_argument("--out", type=Path, default=Path("desired"), help="where the files go (./desired)")
    lint = verbs.add_parser(
        "lint", help="rules over the desired state, the live database and the plan (exit 1 on errors)"
    )
    common(lint, formats=["text", "json"])
    return parser


def main(argv: list[str] | None = None) -> int:
    # A run builds tens of thousands of small objects and no reference cycles worth collecting: the default
    # thresholds would run the cycle collector hundreds of times for nothing (about 15% of a large plan).
    gc.set_threshold(200_000, 50, 100)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    secrets: list[str] = []
    try:
        return int(VERBS[args.verb](args, secrets))
    except PgstateError as error:
        print(f"pgstate: {_scrubbed(error.render(), secrets)}", file=sys.stderr)
        _traceback(args, secrets)
        return int(error.exit_code)
    except psycopg.Error as error:
        print(f"pgstate: database error: {_scrubbed(str(error).strip(), secrets)}", file=sys.stderr)
        _traceback(args, secrets)
        return int(ExitCode.ERROR)
    except KeyboardInterrupt:
        print("pgstate: interrupted", file=sys.stderr)
        return int(ExitCode.ERROR)


def _traceback(args: argparse.Namespace, secrets: list[str]) -> None:
    if args.verbose:  # scrubbed too: exception messages may quote what was passed to them
        print(_scrubbed(traceback.format_exc(), secrets), file=sys.stderr, end="")


def _scrubbed(text: str, urls: list[str]) -> str:
    for url in urls:
        text = scrub(text, url)
    return text


def _validate(args: argparse.Namespace, secrets: list[str]) -> ExitCode:
    from .engine import load_desired

    desired = load_desired(args.desired)
    print(f"{len(desired.files)} file(s), {len(desired.documents)} document(s): valid")
    return ExitCode.OK


def _connect(args: argparse.Namespace, secrets: list[str]) -> tuple[str, psycopg.Connection[Any]]:
    url = resolve_url(args.database_url, Path.cwd())
    secrets.append(url)
    return url, connect(url)


def _plan(args: argparse.Namespace, secrets: list[str]) -> ExitCode:
    from .engine import load_desired, plan_for

    desired = load_desired(args.desired)  # bad input is refused before any connection
    changes = None
    if args.base is not None:
        from .desired_changes import changes_since

        changes = changes_since(args.desired, args.base)
    _, conn = _connect(args, secrets)
    with conn:
        _, plan = plan_for(conn, desired, lock_timeout=args.lock_timeout)
        if args.out:
            args.out.write_text(render.plan_json(plan, conn), encoding="utf-8")
        if changes is None:
            sys.stdout.write(PLAN_FORMATS[args.format](plan, conn))
        elif args.format == "json":
            document = json.loads(render.plan_json(plan, conn))
            document["desired_changes"] = [change.to_json() for change in changes]
            sys.stdout.write(json.dumps(document, indent=2, sort_keys=True) + "\n")
        else:
            text = (
                render.desired_changes_markdown(changes, args.base)
                if args.format == "markdown"
                else (render.desired_changes_text(changes, args.base))
            )
            sys.stdout.write(text + "\n" + PLAN_FORMATS[args.format](plan, conn))
    return ExitCode.CHANGES if plan.has_changes else ExitCode.OK


def _apply(args: argparse.Namespace, secrets: list[str]) -> ExitCode:
    from .apply import ApplyOptions, apply
    from .engine import load_desired

    desired = load_desired(args.desired)
    url = resolve_url(args.database_url, Path.cwd())
    secrets.append(url)
    options = ApplyOptions(
        lock_timeout=args.lock_timeout,
        retries=args.retries,
        wait=args.wait,
        plan_file=args.plan_file,
        show_progress=sys.stderr.isatty() and args.format == "text",
        allow_destructive=args.allow_destructive,
        backup_dir=args.backup_dir,
        full_backup=args.backup == "full",
    )
    outcome = apply(url, desired, options, say=_say(args), confirm=_confirmation(args))
    if args.format == "json":
        result = {
            "run_id": outcome.run_id,
            "status": "applied" if outcome.run_id else "no changes",
            "plan": outcome.plan.to_json(None),
        }
        sys.stdout.write(json.dumps(result, indent=2, sort_keys=True) + "\n")
    elif outcome.run_id is None:
        print("No changes: the database matches the desired state.")
    else:
        print(f"Applied {len(outcome.plan.changes)} step(s) as run {outcome.run_id}; verified: no drift remains.")
    return outcome.exit_code


def _say(args: argparse.Namespace) -> Callable[[str], None]:
    def say(message: str) -> None:
        if args.format == "text":
            print(message, file=sys.stderr)

    return say


def _confirmation(args: argparse.Namespace) -> Callable[[Plan, psycopg.Connection[Any]], bool]:
    def confirm(plan: Plan, conn: psycopg.Connection[Any]) -> bool:
        if args.yes:
            return True
        if not sys.stdin.isatty():
            raise PgstateError(
                "apply needs a confirmation and there is no terminal to ask on",
                hint="review the plan, then pass --yes",
            )
        sys.stderr.write(render.plan_text(plan, conn))
        sys.stderr.write(f"Apply these {len(plan.changes)} step(s)? [y/N] ")
        sys.stderr.flush()
        return sys.stdin.readline().strip().lower() in ("y", "yes")

    return confirm


def _drift(args: argparse.Namespace, secrets: list[str]) -> ExitCode:
    from .drift import drift_report
    from .engine import load_desired, snapshot

    desired = load_desired(args.desired)
    _, conn = _connect(args, secrets)
    with conn:
        state = snapshot(conn, desired, lock_timeout=args.lock_timeout)
        report = drift_report(conn, state.desired, state.live, args.desired)
    sys.stdout.write(DRIFT_FORMATS[args.format](report))
    return ExitCode.CHANGES if report.findings else ExitCode.OK


def _lint(args: argparse.Namespace, secrets: list[str]) -> ExitCode:
    """Lint the desired files, and, when a database is configured (never the embedded default: its tables are
    not the application's), the canonical desired state, the live managed objects and the plan."""
    from .engine import load_desired, snapshot
    from .lint import LintInput, has_errors, read_lint_facts, render_json, render_text, run_lint
    from .plan import make_plan

    desired = load_desired(args.desired)
    url = configured_url(args.database_url)
    lint_input = LintInput(desired.documents, None, None, None)
    facts = None
    if url is None:
        print(
            "pgstate: no database configured: only the desired files are linted (rules that need the catalog"
            " are skipped); pass --database-url or set $PGSTATE_DATABASE_URL",
            file=sys.stderr,
        )
    else:
        secrets.append(url)
        with connect(url) as conn:
            state = snapshot(conn, desired, lock_timeout=args.lock_timeout)
            facts = read_lint_facts(conn, state.live)
        plan = None
        try:
            plan = make_plan(state.desired, state.live, lock_timeout=args.lock_timeout)
        except PgstateError as refused:  # e.g. a retirement its guards refuse: the rest is still worth linting
            print(f"pgstate: no plan to lint: {_scrubbed(refused.render(), secrets)}", file=sys.stderr)
        lint_input = LintInput(desired.documents, state.desired, state.live, plan)
    findings = run_lint(lint_input, facts)
    sys.stdout.write(render_json(findings) if args.format == "json" else render_text(findings))
    return ExitCode.ERROR if has_errors(findings) else ExitCode.OK


def _history(args: argparse.Namespace, secrets: list[str]) -> ExitCode:
    from . import runs

    _, conn = _connect(args, secrets)
    with conn:
        found = runs.read_runs(conn, args.run)
    if args.run is not None and not found:
        raise PgstateError(f"there is no run {args.run} in pgstate.runs", hint="list them with `pgstate history`")
    if args.format == "json":
        payload: Any = [
            {**run.summary(), "plan": run.plan, "steps": run.steps} if args.run is not None else run.summary()
            for run in found
        ]
        sys.stdout.write(
            json.dumps(payload[0] if args.run is not None else payload, indent=2, sort_keys=True, default=str) + "\n"
        )
    elif args.run is not None:
        sys.stdout.write(render.run_text(found[0]))
    else:
        sys.stdout.write(render.runs_text(found))
    return ExitCode.OK


def _rollback(args: argparse.Namespace, secrets: list[str]) -> ExitCode:
    from .apply import ApplyOptions
    from .rollback import RollbackOptions, rollback

    url = resolve_url(args.database_url, Path.cwd())
    secrets.append(url)
    options = RollbackOptions(
        ApplyOptions(
            lock_timeout=args.lock_timeout,
            retries=args.retries,
            wait=args.wait,
            show_progress=sys.stderr.isatty() and args.format == "text",
            backup_dir=args.backup_dir,
        ),
        force=args.force,
    )
    outcome = rollback(url, args.run, options, say=_say(args), confirm=_confirmation(args))
    if args.format == "json":
        result = {
            "run_id": outcome.run_id,
            "rollback_of": args.run,
            "status": "applied" if outcome.run_id else "no changes",
            "plan": outcome.plan.to_json(None),
        }
        sys.stdout.write(json.dumps(result, indent=2, sort_keys=True) + "\n")
    elif outcome.run_id is None:
        print(f"No changes: the managed objects are as they were before run {args.run}.")
    else:
        print(f"Rolled back run {args.run} as run {outcome.run_id} ({len(outcome.plan.changes)} step(s)); verified.")
    return outcome.exit_code


def _export(args: argparse.Namespace, secrets: list[str]) -> ExitCode:
    from .exporting import export_tables, parse_table_argument

    tables = [parse_table_argument(text) for text in args.tables]  # refused before any connection
    _, conn = _connect(args, secrets)
    with conn:
        paths = export_tables(
            conn,
            tables,
            args.out,
            schema_ref=None,
            warn=lambda message: print(f"pgstate: warning: {message}", file=sys.stderr),
        )
    for path in paths:
        print(path)
    return ExitCode.OK


VERBS: dict[str, Callable[[argparse.Namespace, list[str]], ExitCode]] = {
    "export": _export,
    "history": _history,
    "rollback": _rollback,
    "lint": _lint,
    "validate": _validate,
    "plan": _plan,
    "apply": _apply,
    "drift": _drift,
}
