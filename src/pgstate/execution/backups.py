"""The backup step of a run: dump what the plan destroys, verify each dump against its table in the same
snapshot, and write the manifest that rollback and people read."""

from __future__ import annotations

import hashlib
from dataclasses import replace

from ..backup.content import TableContent, table_content
from ..backup.dump import FunctionRef, backup_directory, dump_definitions, dump_full, dump_tables
from ..backup.manifest import Backup, write_manifest
from ..backup.tools import choose_pg_dump
from ..errors import PgstateError
from ..history.runs import RunRecord
from ..model.names import QualifiedName
from ..pipeline import State
from ..planning.plan import Plan
from ..source.documents import SpecSet
from .executor import Say
from .options import ApplyOptions


def back_up(
    url: str,
    record: RunRecord,
    desired: SpecSet,
    before: State,
    plan: Plan,
    commit: str | None,
    options: ApplyOptions,
    say: Say,
) -> dict[str, TableContent]:
    """Dump what the plan destroys (and everything with --backup full), verify each dump's rows against the
    table, and write the manifest; returns table -> its rows and their digest, which the transaction checks again
    under its lock before destroying."""
    tables = sorted({step.dump for step in plan.steps if step.dump is not None})
    if not tables and not options.full_backup:
        return {}
    run_id = record.run_id
    control = record.connection()
    if control is None:
        raise PgstateError("the server cannot be reached to back up")
    tool = choose_pg_dump(before.live.server_version)
    directory = backup_directory(options.backup_dir, run_id)
    record.set_backup(str(directory))
    say(f"backing up to {directory} with {tool.version}")
    full = (
        dump_full(url, directory, tool, lock_timeout=options.lock_timeout, retries=options.retries)
        if options.full_backup
        else None
    )

    # The dumps are taken in a snapshot this session exports, and the rows and their digest are read in it too:
    # what the dump holds and what the transaction later checks under its lock are the same moment's.
    contents: dict[str, TableContent] = {}
    with control.transaction(), control.cursor() as cur:
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cur.execute("SELECT pg_export_snapshot()")
        snapshot = str((cur.fetchone() or ("",))[0])

        def count(table: QualifiedName) -> int:
            contents[str(table)] = table_content(cur, table)
            return contents[str(table)].rows

        dumps = [
            replace(dump, content=contents[str(dump.table)].digest)
            for dump in dump_tables(
                url,
                tables,
                directory,
                tool,
                expected_rows=count,
                lock_timeout=options.lock_timeout,
                retries=options.retries,
                snapshot=snapshot,
            )
        ]
    references: list[QualifiedName | FunctionRef] = []
    for dependent in (d for step in plan.steps for d in step.dump_definitions):
        reference = FunctionRef(dependent.function_oid) if dependent.function_oid is not None else dependent.relation
        if reference is not None and reference not in references:
            references.append(reference)
    definitions = dump_definitions(
        url, references, directory, tool, lock_timeout=options.lock_timeout, retries=options.retries
    )
    result = Backup(directory, tool, tuple(dumps), tuple(definitions), full)
    write_manifest(
        result,
        directory,
        run_id=run_id,
        desired_commit=commit,
        desired_files=file_digests(desired),
        server_version=str(before.live.server_version),
    )
    for dump in dumps:
        say(f"  {dump.table}: {dump.rows} rows dumped and verified ({dump.file.name})")
    return contents


def file_digests(desired: SpecSet) -> dict[str, str]:
    if desired.directory is None:
        return {}
    return {
        str(path.relative_to(desired.directory)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(desired.directory.rglob("*"))
        if path.is_file() and path.suffix in (".yaml", ".yml")
    }
