"""Connecting: where the URL comes from, how a user's URL becomes libpq's (``db.urls``), and how it is shown
without its password."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict

from ..errors import PgstateError
from .urls import ConnectionTarget, connection_target, query_pairs

APPLICATION_NAME = "pgstate"


def configured_url(option: str | None) -> str | None:
    """--database-url, else $PGSTATE_DATABASE_URL, else $DATABASE_URL, else None."""
    for candidate in (option, os.environ.get("PGSTATE_DATABASE_URL"), os.environ.get("DATABASE_URL")):
        if candidate:
            return candidate
    return None


def resolve_target(option: str | None, project_dir: Path) -> ConnectionTarget:
    """The configured URL (see configured_url) made into libpq's, its notices said once on stderr; else the
    embedded server's."""
    configured = configured_url(option)
    if configured is not None:
        target = connection_target(configured)
        for notice in target.notices:
            print(notice, file=sys.stderr)
        return target
    from ..servers.embedded import embedded_url

    url = embedded_url(project_dir)
    print(
        f"pgstate: no database URL given; using the embedded PostgreSQL under {project_dir / '.pgstate/embedded'}",
        file=sys.stderr,
    )
    return ConnectionTarget(url)


def resolve_url(option: str | None, project_dir: Path) -> str:
    """What libpq takes of the URL resolve_target finds (every other client, pg_dump included, gets this one)."""
    return resolve_target(option, project_dir).url


def describe(url: str) -> str:
    """Where a URL points, for messages: database, host, port and user, never the password or other options."""
    try:
        params = conninfo_to_dict(connection_target(url).url)
    except psycopg.Error:
        return "the given database URL (not shown: it could not be parsed)"
    where = str(params.get("host") or "localhost")
    if params.get("port"):
        where += f":{params['port']}"
    user = f" as {params['user']}" if params.get("user") else ""
    return f"database {params.get('dbname') or '(default)'} on {where}{user}"


def passwords_in(url: str) -> list[str]:
    """Every password the URL carries, however it is written (user:pw@, ?password=, password='...'), and the
    passwords of client keys (``sslpassword``, libpq's or Prisma's)."""
    try:
        params = conninfo_to_dict(connection_target(url).url)
    except psycopg.Error:
        return [url]  # unparseable: treat the whole string as secret
    found = [str(params[key]) for key in ("password", "sslpassword") if params.get(key)]
    found += [value for key, value in query_pairs(url) if key == "sslpassword" and value]  # dropped for libpq
    if "://" in url:
        try:
            password = urlsplit(url).password
        except ValueError:  # libpq took it, Python's URL parser does not (`host:1[`): treat it all as secret
            return [*found, url]
        if password:
            found.append(password)
            found.append(unquote(password))
    return [p for p in found if p]


def connect(url: str) -> psycopg.Connection[Any]:
    """An autocommit connection: pgstate opens its transactions explicitly. ``url`` may be a user's URL (Prisma's
    parameters are taken out silently here: resolve_target says what it dropped, once)."""
    try:
        conn = psycopg.connect(connection_target(url).url, autocommit=True, application_name=APPLICATION_NAME)
    except psycopg.Error as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise PgstateError(
            f"cannot connect to {describe(url)}: {scrub(message, url)}",
            hint="check --database-url (or the variable of --target's target), $PGSTATE_DATABASE_URL or $DATABASE_URL",
        ) from None
    try:
        pooled = behind_pooler(conn)
    except BaseException:
        conn.close()
        raise
    if pooled:
        # A statement psycopg prepares lives in one server session, and a pooler may run the next execution in
        # another ("prepared statement _pg3_0 does not exist"): through a pooler, nothing is prepared.
        conn.prepare_threshold = None
    return conn


def behind_pooler(conn: psycopg.Connection[Any]) -> bool:
    """Whether a pooler stands between this connection and the server: the process id the connection was
    given at its start (a pooler such as PgBouncer makes one up, for its own cancel requests) is not the one
    of the server session that runs its statements."""
    row = conn.execute("SELECT pg_backend_pid()").fetchone()
    return row is None or row[0] != conn.info.backend_pid


def scrub(text: str, url: str) -> str:
    """The URL, and its passwords where a connection string carries one, out of a text that might echo them.

    Messages are built from ``describe`` and never hold a password; this guards what libraries say. A password
    is replaced only where it stands as one (``user:PASSWORD@``, ``password=PASSWORD``), never as a bare word:
    a one-letter password or a common word must not mangle the rest of the message."""
    text = text.replace(url, describe(url))
    for password in sorted(passwords_in(url), key=len, reverse=True):
        escaped = re.escape(password)
        text = re.sub(rf"(://[^\s:/@]*:){escaped}(@)", r"\1***\2", text)
        text = re.sub(rf"(password\s*=\s*)(['\"]?){escaped}\2(?=[\s&;'\"]|$)", r"\1\2***\2", text)
    return text
