"""What ``pgstate export`` tells people: one line per file written, then one line of counts."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text

from ..source.export import ExportResult


def export_report(result: ExportResult, out_dir: Path) -> Text:
    """``wrote desired/User.yaml (table public."User": 5 columns, 2 indexes, 1 policy, RLS on)`` per file, then
    ``exported 12 tables, 1 role into desired (13 files)``."""
    text = Text()
    if result.schema_file is not None:
        _wrote(text, result.schema_file, "the JSON Schema the files' modelines point to")
    for written in result.files:
        _wrote(text, written.path, written.summary())
    count = len(result.files)
    text.append(f"exported {result.counts()} into {out_dir} ({count} file{'' if count == 1 else 's'})\n", "bold")
    return text


def _wrote(text: Text, path: Path, what: str) -> None:
    text.append("wrote ", "green")
    text.append(str(path), "bold")
    text.append(f" ({what})\n")
