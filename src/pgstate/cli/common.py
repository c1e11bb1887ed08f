"""What several verbs share: the configured connection, the target and options of a verb that changes the database
(apply, rollback), messages for people on stderr, the confirmation prompt before a change, the limit of ``--wait``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from ..backup.location import check_backup_root
from ..db.connection import connect, resolve_target
from ..db.pooler import refuse_declared_pooler, say_pooler_notice
from ..errors import PgstateError
from ..planning.plan import Plan
from ..report import plan as plan_render
from .settings import configured_url

if TYPE_CHECKING:
    from ..execution.options import ApplyOptions


def connect_configured(args: argparse.Namespace, secrets: list[str]) -> tuple[str, psycopg.Connection[Any]]:
    target = resolve_target(configured_url(args), Path.cwd())
    secrets.append(target.url)
    say_pooler_notice(target)
    return target.url, connect(target.url)


def say_to(args: argparse.Namespace) -> Callable[[str], None]:
    def say(message: str) -> None:
        if args.format == "text":
            print(message, file=sys.stderr)

    return say


def confirmation(args: argparse.Namespace) -> Callable[[Plan, psycopg.Connection[Any]], bool]:
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


def wait_limit(args: argparse.Namespace) -> str | None:
    """--wait DURATION: at most that long; --wait alone: as long as it takes."""
    from .parser import WAIT_AS_LONG_AS_IT_TAKES

    return None if args.wait in (None, WAIT_AS_LONG_AS_IT_TAKES) else str(args.wait)


def changing_target(args: argparse.Namespace, secrets: list[str], verb: str) -> str:
    """The URL a verb that changes the database runs against: its backup directory checked first, a pooler the URL
    declares refused (a transaction pooler cannot hold the run's session locks)."""
    check_backup_root(args.backup_dir)
    target = resolve_target(configured_url(args), Path.cwd())
    refuse_declared_pooler(target, verb)
    secrets.append(target.url)
    return target.url


def change_options(args: argparse.Namespace, **specific: Any) -> ApplyOptions:
    """The options apply and rollback share, from the command line; ``specific``: the verb's own."""
    from ..execution.options import ApplyOptions  # imported when a verb changes something, not for every verb

    return ApplyOptions(
        lock_timeout=args.lock_timeout,
        retries=args.retries,
        wait=args.wait is not None,
        wait_limit=wait_limit(args),
        build_wait=args.build_wait,
        show_progress=sys.stderr.isatty() and args.format == "text",
        backup_dir=args.backup_dir,
        **specific,
    )
