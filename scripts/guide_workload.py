"""The seed guide's own queries as a workload: what its app sends when it answers 503/504.

Users by ``isPremium`` + ``credits``, a user's sessions newest first with pagination, a JSON query on
``resumeData``, and reads of the legacy table through its policy as ``authenticated`` with a user's claims. Sent
with parameters, as an ORM sends them, so pg_stat_statements records them normalised. Used by the demo (the
advisor's step) and meant for ``advise --prove`` and the guide-claims benchmark.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg

from pgstate.advice.explain import Persona

USER_EMAIL = "user1@example.com"
CLAIMS = json.dumps({"sub": "00000000-0000-0000-0000-000000000001", "email": USER_EMAIL, "role": "authenticated"})

QUERIES = (
    ('SELECT id, email FROM "User" WHERE "isPremium" = %s AND credits > %s ORDER BY credits DESC LIMIT 50', "premium"),
    (
        'SELECT id, status, "createdAt" FROM "InterviewSession" WHERE "userId" = %s ORDER BY "createdAt" DESC'
        " LIMIT 20 OFFSET %s",
        "sessions",
    ),
    ("""SELECT id FROM "User" WHERE "resumeData"->>'headline' = %s""", "resume"),
)


def run(conn: psycopg.Connection[Any], rounds: int = 20) -> None:
    """Each query ``rounds`` times with varying parameters, then the legacy table's reads as the serving role."""
    for number in range(rounds):
        for text, name in QUERIES:
            conn.execute(text, _parameters(conn, name, number))  # type: ignore[arg-type]  # a query of this module
        with conn.transaction():
            Persona("authenticated", CLAIMS).set_claims(conn)  # as the advisor plans: JSON and one per claim
            conn.execute("SET LOCAL ROLE authenticated")
            conn.execute("SELECT id FROM interviews WHERE created_at > now() - %s::interval", [f"{30 + number} days"])


def _parameters(conn: psycopg.Connection[Any], name: str, number: int) -> list[Any]:
    if name == "premium":
        return [True, 50 + number]
    if name == "sessions":
        row = conn.execute('SELECT "userId" FROM "InterviewSession" OFFSET %s LIMIT 1', [number * 97]).fetchone()
        return [row[0] if row else None, 0]
    return [f"Engineer {number * 13 + 1}"]
