"""Connecting: where the URL comes from, and how it is shown without its password."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

from .errors import PgstateError

APPLICATION_NAME = "pgstate"


def resolve_url(option: str | None, project_dir: Path) -> str:
    """--database-url, else $PGSTATE_DATABASE_URL, else $DATABASE_URL, else the embedded server."""
    for candidate in (option, os.environ.get("PGSTATE_DATABASE_URL"), os.environ.get("DATABASE_URL")):
        if candidate:
            return candidate
    from .embedded import embedded_url

    url = embedded_url(project_dir)
    print(
        f"pgstate: no database URL given; using the embedded PostgreSQL under {project_dir / '.pgstate/embedded'}",
        file=sys.stderr,
    )
    return url


def redact(url: str) -> str:
    """The URL with any password replaced, for messages. Works for URLs and key=value strings."""
    if "://" in url:
        parts = urlsplit(url)
        if parts.password is not None:
            netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
            return urlunsplit(parts._replace(netloc=netloc))
        return url
    return " ".join("password=***" if w.startswith("password=") else w for w in url.split())


def connect(url: str) -> psycopg.Connection[Any]:
    """An autocommit connection: pgstate opens its transactions explicitly."""
    try:
        return psycopg.connect(url, autocommit=True, application_name=APPLICATION_NAME)
    except psycopg.Error as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise PgstateError(
            f"cannot connect to {redact(url)}: {scrub(message, url)}",
            hint="check --database-url, $PGSTATE_DATABASE_URL or $DATABASE_URL",
        ) from None


def scrub(text: str, url: str) -> str:
    """Remove the URL's password from a text that might echo it."""
    password = urlsplit(url).password if "://" in url else None
    if password:
        text = text.replace(password, "***")
    return text
