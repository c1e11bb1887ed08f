"""Connections as users have them: Prisma's DATABASE_URL, passwords that need percent-encoding, libpq's SSL
options, and poolers, through a real PgBouncer (tests/pgbouncer.py) in transaction and in session mode."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from pgbouncer import Bouncer, running_pgbouncer
from pgharness import TestDatabase, run_pgstate_inprocess, write_desired
from pgstate.db.connection import connect, passwords_in
from pgstate.db.urls import ConnectionTarget, connection_target
from pgstate.servers.local import LocalServer

# Every character a URL reserves, and percent itself: each must reach the server as it is.
SPECIAL_PASSWORD = "p@ss:w/rd%?&#= +é"
PRISMA_QUERY = (
    "schema=public&connection_limit=1&pool_timeout=10&connect_timeout=10&socket_timeout=30"
    "&statement_cache_size=0&max_idle_connection_lifetime=5&application_name=prisma-app&sslmode=disable"
)
DROPPED = ("connection_limit", "pool_timeout", "socket_timeout", "statement_cache_size", "max_idle_connection_lifetime")
TABLE = "CREATE TABLE t (a int)"
DESIRED = "table: t\nindexes:\n  - {name: t_a_idx, columns: [a]}\n"


@pytest.fixture(scope="session")
def transaction_bouncer(pg_server: LocalServer) -> Iterator[Bouncer]:
    with running_pgbouncer(pg_server, "transaction", password=SPECIAL_PASSWORD) as bouncer:
        yield bouncer


@pytest.fixture(scope="session")
def session_bouncer(pg_server: LocalServer) -> Iterator[Bouncer]:
    with running_pgbouncer(pg_server, "session", password=SPECIAL_PASSWORD) as bouncer:
        yield bouncer


@pytest.fixture
def desired(tmp_path: Path) -> Path:
    return write_desired(tmp_path, DESIRED)


def pgstate(url: str, *args: str) -> tuple[int, str, str]:
    result = run_pgstate_inprocess([*args, "--database-url", url])
    return result.exit_code, result.stdout, result.stderr


def has_index(db: TestDatabase) -> bool:
    return bool(db.query("SELECT count(*) FROM pg_indexes WHERE indexname = 't_a_idx'")[0][0])


def nothing_changed(db: TestDatabase) -> bool:
    """No index built, no run recorded (not even pgstate's schema), no advisory lock left on any session."""
    (schema,) = db.query("SELECT count(*) FROM pg_namespace WHERE nspname = 'pgstate'")[0]
    (locks,) = db.query("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")[0]
    return not has_index(db) and schema == 0 and locks == 0


def with_query(url: str, query: str) -> str:
    return url + ("&" if "?" in url else "?") + query


# --- the URL, without a server -------------------------------------------------------------------------------


def test_prisma_parameters_are_understood_or_dropped() -> None:
    url = (
        f"postgresql://u:{quote('s3cret', safe='')}@db.example.com:5432/app?{PRISMA_QUERY}&schema=sales&pgbouncer=true"
    )
    target = connection_target(url)
    params = conninfo_to_dict(target.url)  # libpq takes it
    assert params == {
        "user": "u",
        "password": "s3cret",
        "host": "db.example.com",
        "port": "5432",
        "dbname": "app",
        "connect_timeout": "10",  # libpq's own: kept
        "application_name": "prisma-app",
        "sslmode": "disable",
    }
    assert target.default_schema == "sales"  # the last one, as Prisma reads it
    assert target.dropped == DROPPED
    assert target.pooler is not None and "pgbouncer=true" in target.pooler
    assert len(target.notices) == 1 and all(name in target.notices[0] for name in DROPPED)
    assert "s3cret" not in target.notices[0] and "db.example.com" not in target.notices[0]


def test_password_with_reserved_characters_is_kept_as_written() -> None:
    encoded = quote(SPECIAL_PASSWORD, safe="")
    url = f"postgresql://user:{encoded}@h:5432/d?schema=public&connection_limit=3&sslmode=require"
    target = connection_target(url)
    assert target.url == f"postgresql://user:{encoded}@h:5432/d?sslmode=require"  # not decoded and encoded again
    assert conninfo_to_dict(target.url)["password"] == SPECIAL_PASSWORD
    assert SPECIAL_PASSWORD in passwords_in(url)  # the raw URL's password is known as a secret too


def test_libpq_parameters_and_key_value_strings_pass_untouched() -> None:
    url = (
        "postgres://u@h1:5432,h2:5433/d?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&sslkey=k.pem&sslcert=c.pem"
        "&target_session_attrs=read-write&connect_timeout=3&options=-c%20statement_timeout%3D5s&channel_binding=require"
    )
    assert connection_target(url) == ConnectionTarget(url)
    conninfo = "host=db.example.com port=5432 dbname=app user=u password='a b' sslmode=require"
    assert connection_target(conninfo).url == conninfo


def test_prisma_ssl_parameters_become_libpq_s() -> None:
    base = "postgresql://u@h/d?schema=public&"

    def params(query: str) -> dict[str, str]:
        return {k: str(v) for k, v in conninfo_to_dict(connection_target(base + query).url).items()}

    # Prisma's sslcert is the server's root certificate: libpq's sslrootcert.
    assert params("sslmode=require&sslcert=prisma%2Fca.pem")["sslrootcert"] == "prisma/ca.pem"
    assert "sslcert" not in params("sslmode=require&sslcert=ca.pem")
    # With libpq's sslkey, the URL is libpq's: sslcert is the client's certificate.
    assert params("sslcert=client.pem&sslkey=client.key")["sslcert"] == "client.pem"
    # A PKCS#12 identity and its password: libpq reads neither (and the password is never shown).
    target = connection_target(base + "sslidentity=id.p12&sslpassword=p12-secret&sslmode=require")
    assert "sslpassword" not in conninfo_to_dict(target.url) and target.dropped == ("sslidentity", "sslpassword")
    assert "p12-secret" not in target.notices[0] and "sslkey" in target.notices[0]
    assert "p12-secret" in passwords_in(base + "sslidentity=id.p12&sslpassword=p12-secret")
    # Without an identity, sslpassword is libpq's (the client key's).
    assert conninfo_to_dict(connection_target("postgresql://u@h/d?sslpassword=kp").url)["sslpassword"] == "kp"
    # strict verifies the certificate and the host name; accept_invalid_certs only says not to verify.
    assert params("sslaccept=strict")["sslmode"] == "verify-full"
    assert params("sslmode=require&sslaccept=strict")["sslmode"] == "verify-full"
    assert params("sslmode=disable&sslaccept=strict")["sslmode"] == "disable"
    assert params("sslmode=require&sslaccept=accept_invalid_certs")["sslmode"] == "require"
    assert "sslmode" not in params("sslaccept=accept_invalid_certs")


@pytest.mark.parametrize(
    ("url", "pooled"),
    [
        ("postgresql://postgres.ref:pw@aws-0-eu-central-1.pooler.supabase.com:6543/postgres", True),
        ("postgresql://postgres.ref:pw@aws-0-eu-central-1.pooler.supabase.com:5432/postgres", False),
        ("postgresql://postgres.ref:pw@aws-0-eu-central-1.pooler.supabase.com/postgres", False),
        ("postgresql://postgres:pw@db.ref.supabase.co:6543/postgres", False),
        ("postgresql://u@db.ref.supabase.co:5432,aws-0-x.pooler.supabase.com:6543/postgres", True),
        ("host=aws-0-x.pooler.supabase.com port=6543 dbname=postgres", True),
        ("postgresql://u@h:5432/d?pgbouncer=true", True),
        ("postgresql://u@h:5432/d?pgbouncer=false", False),
    ],
)
def test_transaction_poolers_the_url_names(url: str, pooled: bool) -> None:
    assert (connection_target(url).pooler is not None) == pooled


# --- against a real server -----------------------------------------------------------------------------------


def test_prisma_url_plans_and_applies_with_one_notice(database: TestDatabase, desired: Path) -> None:
    database.execute(TABLE)
    url = with_query(database.url.replace("postgres@", "postgres:hunter2@"), PRISMA_QUERY)
    code, out, err = pgstate(url, "plan", "--desired", str(desired), "--format", "json")
    assert code == 2, err
    assert [step["target"] for step in json.loads(out)["steps"]] == ["public.t_a_idx"]
    notices = [line for line in err.splitlines() if "not used from the database URL" in line]
    assert len(notices) == 1 and all(name in notices[0] for name in DROPPED)
    assert "hunter2" not in out + err and database.name not in notices[0]
    code, _, err = pgstate(url, "apply", "--yes", "--desired", str(desired))
    assert code == 0, err
    assert has_index(database)
    assert database.query("SELECT status FROM pgstate.runs") == [("applied",)]


def test_a_misspelt_parameter_still_gets_libpq_s_error(database: TestDatabase, desired: Path) -> None:
    code, _, err = pgstate(with_query(database.url, "shema=public"), "plan", "--desired", str(desired))
    assert code == 1 and 'invalid URI query parameter: "shema"' in err


def test_password_with_reserved_characters_reaches_pgbouncer(
    database: TestDatabase, desired: Path, session_bouncer: Bouncer
) -> None:
    """PgBouncer checks the password itself (SCRAM): the right one connects, a wrong one is refused."""
    database.execute(TABLE)
    code, _, err = pgstate(session_bouncer.url(database.name, query=PRISMA_QUERY), "plan", "--desired", str(desired))
    assert code == 2, err
    wrong = session_bouncer.url(database.name, password=SPECIAL_PASSWORD[:-1])
    code, _, err = pgstate(wrong, "plan", "--desired", str(desired))
    assert code == 1 and "authentication failed" in err
    assert quote(SPECIAL_PASSWORD[:-1], safe="") not in err and SPECIAL_PASSWORD[:-1] not in err


def test_sslmode_is_passed_to_libpq(database: TestDatabase, desired: Path, session_bouncer: Bouncer) -> None:
    """PgBouncer here speaks no TLS (over a unix socket libpq ignores sslmode, so the test goes through it)."""
    database.execute(TABLE)
    code, _, err = pgstate(
        session_bouncer.url(database.name, query="sslmode=disable"), "plan", "--desired", str(desired)
    )
    assert code == 2, err
    code, _, err = pgstate(
        session_bouncer.url(database.name, query="schema=public&sslmode=require"), "plan", "--desired", str(desired)
    )
    assert code == 1 and "server does not support SSL, but SSL was required" in err


def test_connections_through_a_pooler_prepare_nothing(database: TestDatabase, transaction_bouncer: Bouncer) -> None:
    """A statement prepared in one server session cannot run in the next one the pooler picks."""
    with connect(database.url) as direct, connect(transaction_bouncer.url(database.name)) as pooled:
        assert direct.prepare_threshold is not None
        assert pooled.prepare_threshold is None


def test_apply_and_rollback_through_a_transaction_pooler_are_refused(
    database: TestDatabase, desired: Path, transaction_bouncer: Bouncer
) -> None:
    database.execute(TABLE)
    url = transaction_bouncer.url(database.name)  # nothing in the URL says it: the probe finds out
    code, _, err = pgstate(url, "apply", "--yes", "--desired", str(desired))
    assert code == 3, err
    assert "pooler in transaction mode" in err and "direct URL (port 5432" in err
    assert nothing_changed(database)
    code, _, err = pgstate(url, "rollback", "1", "--yes")  # refused before it looks for the run
    assert code == 3 and "pooler in transaction mode" in err, err
    # Prisma's pgbouncer=true says it before any connection: refused, even on a direct URL.
    code, _, err = pgstate(with_query(database.url, "pgbouncer=true"), "apply", "--yes", "--desired", str(desired))
    assert code == 3 and "pgbouncer=true" in err, err
    assert nothing_changed(database)


def test_supabase_transaction_pooler_is_refused_before_connecting(desired: Path) -> None:
    # hostaddr: were it ever dialled, it would be this machine, where nothing answers on 6543 as PgBouncer.
    url = "postgresql://postgres.ref:pw@aws-0-eu-central-1.pooler.supabase.com:6543/postgres?hostaddr=127.0.0.1"
    code, _, err = pgstate(url, "apply", "--yes", "--desired", str(desired))
    assert code == 3 and "Supabase's transaction-mode pooler" in err and "port 5432" in err, err


def test_apply_through_a_session_pooler_works(database: TestDatabase, desired: Path, session_bouncer: Bouncer) -> None:
    database.execute(TABLE)
    url = session_bouncer.url(database.name)
    code, _, err = pgstate(url, "apply", "--yes", "--desired", str(desired))
    assert code == 0, err
    assert has_index(database)
    assert database.query("SELECT status FROM pgstate.runs") == [("applied",)]
    assert database.query("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") == [(0,)]
    code, _, err = pgstate(url, "plan", "--desired", str(desired))
    assert code == 0, err


def test_reading_verbs_work_through_a_transaction_pooler(
    database: TestDatabase, desired: Path, transaction_bouncer: Bouncer, tmp_path: Path
) -> None:
    database.execute(TABLE)
    url = transaction_bouncer.url(database.name)
    code, out, err = pgstate(url, "plan", "--desired", str(desired), "--format", "json")
    assert code == 2, err
    assert [step["target"] for step in json.loads(out)["steps"]] == ["public.t_a_idx"]
    code, _, err = pgstate(url, "drift", "--desired", str(desired))
    assert code == 2, err
    code, _, err = pgstate(url, "history")
    assert code == 0, err
    code, out, err = pgstate(url, "export", "t", "--out", str(tmp_path / "exported"))
    assert code == 0, err
    assert list((tmp_path / "exported").rglob("*.yaml"))
    # Said by the URL: the same, with a notice that apply would refuse it.
    code, _, err = pgstate(with_query(url, "pgbouncer=true&schema=public"), "plan", "--desired", str(desired))
    assert code == 2 and "fine for reading" in err, err
    assert not has_index(database)
    with psycopg.connect(database.url) as conn:  # the reads left no session state behind on the pooled sessions
        assert conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").fetchone() == (0,)
