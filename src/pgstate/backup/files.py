"""The files of a backup: where a table dump is and what it holds, its digest, the manifest's name."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import PgstateError
from ..model.names import QualifiedName

MANIFEST_NAME = "manifest.json"
# What pg_dump writes last when it finished; a killed or failed dump lacks it.
DUMP_COMPLETE_TRAILER = b"-- PostgreSQL database dump complete"


@dataclass(frozen=True)
class TableDump:
    """One table's verified plain-format dump."""

    table: QualifiedName
    file: Path
    rows: int
    sha256: str
    bytes: int
    # The server's digest of the table's rows when it was dumped (backup.content): a restore must give it back.
    content: str | None = None


def hash_file(file: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with file.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def check_dump_complete(file: Path) -> None:
    """Raise unless ``file`` is a non-empty plain dump that ran to its end (its trailer is there)."""
    size = file.stat().st_size if file.is_file() else 0
    if size == 0:
        raise PgstateError(f"the dump {file} is empty or missing")
    with file.open("rb") as handle:
        handle.seek(max(0, size - 4096))
        tail = handle.read().splitlines()
    # The trailer sits in a "--" comment box; pg_dump 17.6+ and 18 write "\unrestrict KEY" after it.
    last = [line.strip() for line in tail if line.strip() not in (b"", b"--") and not line.startswith(b"\\unrestrict ")]
    if not last or last[-1] != DUMP_COMPLETE_TRAILER:
        raise PgstateError(f"the dump {file} is incomplete: it lacks pg_dump's final line (was pg_dump stopped?)")


def write_private(file: Path, content: bytes) -> None:
    descriptor = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)
