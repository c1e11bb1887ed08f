"""The canonical-form cache: what the sandbox already proved, so that a repeated plan canonicalises nothing.

An entry says "this desired fragment, in this context, is what the live object already is, once the server has
parsed and printed both". Its key digests everything that proof depended on: the server version, the session's
search_path and the settings that change how a literal is read (DateStyle, TimeZone, ...), the catalog's generation
(server.sql: a digest over every relation, column, function, operator, type, cast, collation, schema and role that
is not the system's, so that any DDL anywhere starts a new generation), the desired documents of the kinds the
sandbox creates before the tables' (a new function a policy calls), the kind, the table, and both texts. A hit is
exactly the outcome the sandbox would have reached, so it is used as that outcome; anything else (a miss, no cache,
an entry of another generation) goes to the sandbox.

Only equivalences are cached, never a deparsed text: a hit needs no tree, no oid, nothing that could be stale.
The cache lives in the pgstate schema (created by apply), is written by every plan of a session that may write
(apply's convergence check included) and only read elsewhere: on a hot standby it is the primary's, replicated.
Rows of another generation are deleted when new ones are written."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from contextlib import suppress
from typing import Any

import psycopg

from ..model.state import ServerFacts

FORMAT = 1  # part of every key: a pgstate whose canonical forms differ must not read another's entries


class CanonicalCache:
    """The cache as one plan sees it: looked up once, written once."""

    def __init__(self, conn: psycopg.Connection[Any], server: ServerFacts, sources: Any):
        self.conn = conn
        self.generation = server.canonical_generation
        self.writable = server.canonical_writable and self.generation is not None
        context = [FORMAT, server.version, server.search_path, server.parse_settings, self.generation, sources]
        self._context = json.dumps(context, sort_keys=True, default=str)
        self._pending: set[str] = set()

    @property
    def enabled(self) -> bool:
        return self.generation is not None

    def key(self, kind: str, *parts: Any) -> str:
        text = json.dumps([kind, parts], sort_keys=True, default=str)
        return hashlib.sha256(f"{self._context}\n{text}".encode()).hexdigest()

    def known(self, keys: Iterable[str]) -> set[str]:
        """Which of the keys the cache holds: one query (none without a cache)."""
        wanted = sorted(set(keys))
        if not self.enabled or not wanted:
            return set()
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute(
                "SELECT key FROM pgstate.canonical_forms WHERE generation = %s AND key = ANY(%s)",
                [self.generation, wanted],
            )
            return {str(row[0]) for row in cur.fetchall()}

    def remember(self, keys: Iterable[str]) -> None:
        if self.writable:
            self._pending.update(keys)

    def flush(self) -> None:
        """Write what this plan proved, and drop other generations' rows: one transaction, after the sandbox's.
        The cache is an optimisation: a failure to write it (a concurrent writer's lock, a revoked privilege)
        changes nothing of the plan, so it is given up silently; a lost connection shows at the next use."""
        if not self._pending:
            return
        keys, self._pending = sorted(self._pending), set()
        with suppress(psycopg.errors.Error), self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute("SELECT set_config('lock_timeout', '1s', true)")
            cur.execute("DELETE FROM pgstate.canonical_forms WHERE generation <> %s", [self.generation])
            cur.execute(
                "INSERT INTO pgstate.canonical_forms (key, generation) SELECT unnest(%s::text[]), %s"
                " ON CONFLICT (key) DO NOTHING",
                [keys, self.generation],
            )
