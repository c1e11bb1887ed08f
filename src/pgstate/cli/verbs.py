"""The verbs: each reads its options, runs the flow, writes its output, and returns the exit code."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from ..db.connection import configured_url, connect, resolve_url
from ..errors import ExitCode, PgstateError
from ..planning.plan import Plan
from ..report import plan as plan_render

PLAN_FORMATS: dict[str, Callable[[Plan, psycopg.Connection[Any] | None], str]] = {
    "text": plan_render.plan_text,
    "json": plan_render.plan_json,
    "sql": plan_render.plan_sql,
    "markdown": plan_render.plan_markdown,
}


def _connect(args: argparse.Namespace, secrets: list[str]) -> tuple[str, psycopg.Connection[Any]]:
    url = resolve_url(args.database_url, Path.cwd())
    secrets.append(url)
    return url, connect(url)


def validate(args: argparse.Namespace, secrets: list[str]) -> ExitCode:
    from ..pipeline import load_desired

    specs = load_desired(args.desired)
    print(f"{len(specs.files)} file(s), {len(specs.documents)} document(s): valid")
    return ExitCode.OK


def plan(args: argparse.Namespace, secrets: list[str]) -> ExitCode:
    from ..pipeline import load_desired, plan_for
    from ..report.changes import desired_changes_markdown, desired_changes_text

    specs = load_desired(args.desired)  # bad input is refused before any connection
    changes = None
    if args.base is not None:
        from ..source.changes import changes_since

        changes = changes_since(args.desired, args.base)
    _, conn = _connect(args, secrets)
    with conn:
        _, found = plan_for(conn, specs, lock_timeout=args.lock_timeout, retries=args.retries)
        if args.out:
            args.out.write_text(plan_render.plan_json(found, conn), encoding="utf-8")
        if changes is None:
            sys.stdout.write(PLAN_FORMATS[args.format](found, conn))
        elif args.format == "json":
            document = json.loads(plan_render.plan_json(found, conn))
            document["desired_changes"] = [change.to_json() for change in changes]
            sys.stdout.write(json.dumps(document, indent=2, sort_keys=True) + "\n")
        else:
            text = (
                desired_changes_markdown(changes, args.base)
                if args.format == "markdown"
                else desired_changes_text(changes, args.base)
            )
            sys.stdout.write(text + "\n" + PLAN_FORMATS[args.format](found, conn))
    return ExitCode.CHANGES if found.has_changes else ExitCode.OK


def apply(args: argparse.Namespace, secrets: list[str]) -> ExitCode:
    from ..execution.apply import apply
    from ..execution.options import ApplyOptions
    from ..pipeline import load_desired

    specs = load_desired(args.desired)
    url = resolve_url(args.database_url, Path.cwd())
    secrets.append(url)
    options = ApplyOptions(
        lock_timeout=args.lock_timeout,
        retries=args.retries,
        wait=args.wait is not None,
        wait_limit=_wait_limit(args),
        plan_file=args.plan_file,
        show_progress=sys.stderr.isatty() and args.format == "text",
        allow_destructive=args.allow_destructive,
        allow_authz_widening=args.allow_authz_widening,
        build_wait=args.build_wait,
        backup_dir=args.backup_dir,
        full_backup=args.backup == "full",
    )
    outcome = apply(url, specs, options, say=_say(args), confirm=_confirmation(args))
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
        print(f"Applied {len(outcome.plan.steps)} step(s) as run {outcome.run_id}; verified: no drift remains.")
    return outcome.exit_code


def _say(args: argparse.Namespace) -> Callable[[str], None]:
    def say(message: str) -> None:
        if args.format == "text":
            print(message, file=sys.stderr)

    return say


def _confirmation(args: argparse.Namespace) -> Callable[[Plan, psycopg.Connection[Any]], bool]:
    def confirm(found: Plan, conn: psycopg.Connection[Any]) -> bool:
        if args.yes:
            return True
        if not sys.stdin.isatty():
            raise PgstateError(
                "apply needs a confirmation and there is no terminal to ask on",
                hint="review the plan, then pass --yes",
            )
        sys.stderr.write(plan_render.plan_text(found, conn))
        sys.stderr.write(f"Apply these {len(found.steps)} step(s)? [y/N] ")
        sys.stderr.flush()
        return sys.stdin.readline().strip().lower() in ("y", "yes")

    return confirm


def drift(args: argparse.Namespace, secrets: list[str]) -> ExitCode:
    from ..pipeline import load_desired, read_state
    from ..report import drift_formats
    from ..report.drift import drift_report

    specs = load_desired(args.desired)
    _, conn = _connect(args, secrets)
    with conn:
        state = read_state(conn, specs, lock_timeout=args.lock_timeout, retries=args.retries)
        report = drift_report(conn, state.context, args.desired)
    render = {
        "text": drift_formats.drift_text,
        "json": drift_formats.drift_json,
        "markdown": drift_formats.drift_markdown,
        "prometheus": drift_formats.drift_prometheus,
    }[args.format]
    sys.stdout.write(render(report))
    return ExitCode.CHANGES if report.drift else ExitCode.OK


def lint(args: argparse.Namespace, secrets: list[str]) -> ExitCode:
    """Lint the desired files, and, when a database is configured (never the embedded default: its tables are
    not the application's), the canonical desired state, the live managed objects and the plan."""
    from ..lint import LintInput, has_errors, read_lint_facts, render_json, render_text, run_lint
    from ..pipeline import load_desired, plan_for, read_state

    specs = load_desired(args.desired)
    url = configured_url(args.database_url)
    lint_input = LintInput(list(specs.documents), None, None)
    facts = None
    if url is None:
        print(
            "pgstate: no database configured: only the desired files are linted (rules that need the catalog"
            " are skipped); pass --database-url or set $PGSTATE_DATABASE_URL",
            file=sys.stderr,
        )
    else:
        secrets.append(url)
        found = None
        with connect(url) as conn:
            state = read_state(conn, specs, lock_timeout=args.lock_timeout, retries=args.retries)
            facts = read_lint_facts(conn, state.live)
            try:
                _, found = plan_for(conn, specs, lock_timeout=args.lock_timeout, retries=args.retries)
            except PgstateError as refused:  # e.g. a retirement its guards refuse: the rest is still worth linting
                from . import _scrubbed

                print(f"pgstate: no plan to lint: {_scrubbed(refused.render(), secrets)}", file=sys.stderr)
        lint_input = LintInput(list(specs.documents), state, found)
    findings = run_lint(lint_input, facts)
    sys.stdout.write(render_json(findings) if args.format == "json" else render_text(findings))
    return ExitCode.ERROR if has_errors(findings) else ExitCode.OK


def history(args: argparse.Namespace, secrets: list[str]) -> ExitCode:
    from ..history import runs
    from ..report.history import run_text, runs_text

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
        sys.stdout.write(run_text(found[0]))
    else:
        sys.stdout.write(runs_text(found))
    return ExitCode.OK


def rollback(args: argparse.Namespace, secrets: list[str]) -> ExitCode:
    from ..execution.options import ApplyOptions
    from ..history.rollback import RollbackOptions, rollback

    url = resolve_url(args.database_url, Path.cwd())
    secrets.append(url)
    options = RollbackOptions(
        ApplyOptions(
            lock_timeout=args.lock_timeout,
            retries=args.retries,
            wait=args.wait is not None,
            wait_limit=_wait_limit(args),
            build_wait=args.build_wait,
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
        print(f"Rolled back run {args.run} as run {outcome.run_id} ({len(outcome.plan.steps)} step(s)); verified.")
    return outcome.exit_code


def export(args: argparse.Namespace, secrets: list[str]) -> ExitCode:
    from ..source.export import ExportTargets, export, parse_table_argument

    targets = ExportTargets(  # refused before any connection
        tables=tuple(parse_table_argument(text) for text in args.tables),
        functions=tuple(parse_table_argument(text) for text in args.function),
        views=tuple(parse_table_argument(text) for text in args.view),
        roles=tuple(args.role),
        database=args.database,
    )
    _, conn = _connect(args, secrets)
    with conn:
        paths = export(
            conn,
            targets,
            args.out,
            schema_ref=None,
            warn=lambda message: print(f"pgstate: warning: {message}", file=sys.stderr),
            lock_timeout=args.lock_timeout,
            retries=args.retries,
        )
    for path in paths:
        print(path)
    return ExitCode.OK


VERBS: dict[str, Callable[[argparse.Namespace, list[str]], ExitCode]] = {
    "export": export,
    "history": history,
    "rollback": rollback,
    "lint": lint,
    "validate": validate,
    "plan": plan,
    "apply": apply,
    "drift": drift,
}


def _wait_limit(args: argparse.Namespace) -> str | None:
    """--wait DURATION: at most that long; --wait alone: as long as it takes."""
    from .parser import WAIT_AS_LONG_AS_IT_TAKES

    return None if args.wait in (None, WAIT_AS_LONG_AS_IT_TAKES) else str(args.wait)
