"""The command line: ``pgstate VERB [options]``; ``main(argv) -> exit code``, errors turned into codes here only."""

from __future__ import annotations

import gc
import sys
import traceback
from pathlib import Path

import psycopg

from ..db.connection import scrub
from ..errors import ExitCode, PgstateError
from .fleet import write_failed_result
from .parser import build_parser
from .settings import settle
from .verbs import VERBS


def main(argv: list[str] | None = None) -> int:
    # A run builds hundreds of thousands of small objects that live until it ends, and almost no reference
    # cycles: each collection walks every young object and frees next to nothing. The default thresholds would
    # collect hundreds of times (about 15% of a large plan); these let a plan of a thousand tables finish
    # without one, and bound what cycles could hold to about a million objects.
    # What the imports built (modules, classes) lives as long as the process: no collection walks it.
    gc.freeze()
    gc.set_threshold(1_000_000, 50, 100)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    secrets: list[str] = []
    try:
        settle(args, Path.cwd())
        return int(VERBS[args.verb](args, secrets))
    except PgstateError as error:
        print(f"pgstate: {_scrubbed(error.render(), secrets)}", file=sys.stderr)
        _traceback(args.verbose, secrets)
        write_failed_result(args, _scrubbed(error.render(), secrets), int(error.exit_code))
        return int(error.exit_code)
    except psycopg.Error as error:
        print(f"pgstate: database error: {_scrubbed(str(error).strip(), secrets)}", file=sys.stderr)
        _traceback(args.verbose, secrets)
        write_failed_result(args, f"database error: {_scrubbed(str(error).strip(), secrets)}", int(ExitCode.ERROR))
        return int(ExitCode.ERROR)
    except OSError as error:  # a file pgstate was told to read or write (--out into a missing folder, ...)
        where = f" {error.filename}" if error.filename else ""
        print(f"pgstate: cannot use{where}: {error.strerror or error}", file=sys.stderr)
        _traceback(args.verbose, secrets)
        write_failed_result(args, f"cannot use{where}: {error.strerror or error}", int(ExitCode.ERROR))
        return int(ExitCode.ERROR)
    except KeyboardInterrupt:
        print("pgstate: interrupted", file=sys.stderr)
        return int(ExitCode.ERROR)
    except Exception as error:  # a bug of pgstate's: one line for people, the traceback with --verbose
        message = f"internal error: {_scrubbed(f'{type(error).__name__}: {error}', secrets)}"
        print(f"pgstate: {message} (run again with --verbose for the traceback, and report it)", file=sys.stderr)
        _traceback(args.verbose, secrets)
        write_failed_result(args, message, int(ExitCode.ERROR))
        return int(ExitCode.ERROR)


def _traceback(verbose: bool, secrets: list[str]) -> None:
    if verbose:  # scrubbed too: exception messages may quote what was passed to them
        print(_scrubbed(traceback.format_exc(), secrets), file=sys.stderr, end="")


def _scrubbed(text: str, urls: list[str]) -> str:
    for url in urls:
        text = scrub(text, url)
    return text
