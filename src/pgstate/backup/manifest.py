"""The manifest of a backup: what was dumped, verified how, with which tool, from which desired commit."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .files import MANIFEST_NAME, TableDump, hash_file, write_private
from .tools import DumpTool

# --- the manifest ---


@dataclass(frozen=True)
class Backup:
    """What one run dumped, in one directory."""

    directory: Path
    tool: DumpTool
    tables: tuple[TableDump, ...]
    definitions: tuple[Path, ...]
    full: Path | None

    def manifest(self) -> dict[str, Any]:
        """Every file with its checksum, named relative to the directory; no connection details."""
        return {
            "pg_dump": {"path": str(self.tool.path), "version": self.tool.version},
            "tables": [
                {
                    "schema": dump.table.schema,
                    "table": dump.table.name,
                    "file": self._relative(dump.file),
                    "rows": dump.rows,
                    "sha256": dump.sha256,
                    "bytes": dump.bytes,
                    "content_digest": dump.content,
                }
                for dump in self.tables
            ],
            "definitions": [self._file_entry(path) for path in self.definitions],
            "full": self._file_entry(self.full) if self.full is not None else None,
        }

    def _file_entry(self, path: Path) -> dict[str, Any]:
        digest, size = hash_file(path)
        return {"file": self._relative(path), "sha256": digest, "bytes": size}

    def _relative(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.directory))
        except ValueError:
            return str(path)


def write_manifest(
    backup: Backup,
    directory: Path,
    *,
    run_id: int | None,
    desired_commit: str | None,
    desired_files: dict[str, str],
    server_version: str,
) -> Path:
    """``manifest.json``: which run, which desired files (path -> sha256), which server and pg_dump, which dumps."""
    document = {
        "format": 1,
        "run_id": run_id,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "desired_commit": desired_commit,
        "desired_files": [{"path": path, "sha256": digest} for path, digest in sorted(desired_files.items())],
        "server_version": server_version,
        **backup.manifest(),
    }
    file = directory / MANIFEST_NAME
    partial = directory / f".{MANIFEST_NAME}.partial"
    write_private(partial, (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode())
    partial.replace(file)  # atomic: a reader sees the old manifest or the whole new one
    return file
