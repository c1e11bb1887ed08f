"""Database URLs as users have them, made into what libpq takes.

A Prisma ``DATABASE_URL`` carries arguments of Prisma's own beside libpq's, and libpq refuses a URL with any
parameter it does not know (``invalid URI query parameter``). Prisma's PostgreSQL arguments, as its connector
documents and reads them, and what pgstate does with each:

- ``schema``: the schema Prisma's tables live in. It is kept as the target's ``default_schema`` (for desired
  documents that name none) and never becomes the session's search_path: pgstate reads and deparses under the
  server's own search_path, and a plan's fingerprint includes it.
- ``pgbouncer=true``: Prisma's switch for PgBouncer in transaction mode; kept as the reason a change is refused
  (see ``db.pooler``).
- ``connection_limit``, ``pool_timeout``, ``max_connection_lifetime``, ``max_idle_connection_lifetime``,
  ``statement_cache_size``: Prisma's own connection pool and statement cache; pgstate has neither: dropped.
- ``socket_timeout`` (the longest a query may take): dropped; pgstate bounds its own waits (lock_timeout) and
  lets an index build take as long as it needs.
- ``sslcert``: in Prisma, the certificate that signed the *server's* certificate (a root). libpq's ``sslcert`` is
  the *client's* certificate, so in a Prisma URL it becomes ``sslrootcert``. A URL that also has ``sslkey``
  (libpq's, unknown to Prisma) is libpq's and keeps its ``sslcert``.
- ``sslidentity`` (a PKCS#12 client identity) and the ``sslpassword`` that opens it: libpq reads PEM files only
  (``sslcert`` + ``sslkey``): dropped. Without ``sslidentity``, ``sslpassword`` is libpq's (the client key's
  password) and kept.
- ``sslaccept=strict`` verifies the server's certificate and host name: libpq's ``sslmode=verify-full`` (which
  needs the root certificate: ``sslcert`` above, ``sslrootcert=system`` or ``~/.postgresql/root.crt``), unless
  ``sslmode`` is ``disable`` or already a ``verify-*``. ``sslaccept=accept_invalid_certs`` (Prisma's default)
  says how to verify, not whether to use TLS: it is *not* ``sslmode=require``. libpq's ``prefer`` and ``require``
  already skip verification, so it is dropped without changing ``sslmode``; where a root certificate is given,
  libpq's ``require`` checks the chain (as ``verify-ca``), which is stricter than Prisma, never weaker.
- ``sslmode`` (Prisma knows disable/prefer/require), ``sslrootcert``, ``connect_timeout``, ``host`` (a socket
  directory), ``application_name``, ``channel_binding``, ``options``: libpq's own, passed through untouched.

Every other parameter goes to libpq as written: libpq's own (``target_session_attrs``, ``sslkey``, ...) work,
and a misspelt one gets libpq's error rather than being ignored. Key=value conninfo strings pass unchanged.
The query string is edited as text: the rest of the URL, the percent-encoded password above all, is never
decoded and encoded again.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote

import psycopg
from psycopg.conninfo import conninfo_to_dict

URL_SCHEMES = ("postgresql://", "postgres://")

# Prisma's own connection pool and statement cache, and its query timeout: nothing in pgstate to give them to.
PRISMA_DROPPED = frozenset(
    {
        "connection_limit",
        "pool_timeout",
        "max_connection_lifetime",
        "max_idle_connection_lifetime",
        "statement_cache_size",
        "socket_timeout",
    }
)
# Parameters only Prisma has: one of them makes a URL Prisma's, where `sslcert` means the server's root.
PRISMA_ONLY = PRISMA_DROPPED | {"schema", "pgbouncer", "sslidentity", "sslaccept"}
SUPABASE_POOLER_SUFFIX = ".pooler.supabase.com"
SUPABASE_TRANSACTION_PORT = "6543"
DEFAULT_PORT = "5432"


@dataclass(frozen=True)
class ConnectionTarget:
    """A user's database URL made ready for libpq, and what its other parameters said.

    ``url`` is what libpq takes; ``default_schema`` the URL's ``schema`` (None when it names none);
    ``dropped`` the names of the parameters pgstate does not use; ``pooler`` why the URL points at a pooler
    in transaction mode (None when nothing in it says so)."""

    url: str
    default_schema: str | None = None
    dropped: tuple[str, ...] = ()
    pooler: str | None = None

    @property
    def notices(self) -> tuple[str, ...]:
        """What to tell the user, one line each (no values: a parameter may hold a secret)."""
        if not self.dropped:
            return ()
        line = f"pgstate: not used from the database URL (Prisma's own): {', '.join(self.dropped)}"
        if "sslidentity" in self.dropped:
            line += "; for a client certificate give libpq's sslcert and sslkey (PEM files)"
        return (line,)


def is_url(conninfo: str) -> bool:
    return conninfo.lstrip().lower().startswith(URL_SCHEMES)


def query_pairs(url: str) -> list[tuple[str, str]]:
    """The URL's query parameters, decoded, in order (empty for a key=value string)."""
    if not is_url(url):
        return []
    return [(unquote(key), unquote(value)) for key, value, _raw in _split_query(url)[1]]


def connection_target(conninfo: str) -> ConnectionTarget:
    """``conninfo`` made into what libpq takes (see the module's docstring for each parameter)."""
    if not is_url(conninfo):
        return ConnectionTarget(conninfo, pooler=transaction_pooler(conninfo))
    (base, fragment), raw_pairs = _split_query(conninfo)
    params = {unquote(key): unquote(value) for key, value, _raw in raw_pairs}  # the last one wins, as in Prisma
    prisma = any(name in PRISMA_ONLY for name in params) and "sslkey" not in params
    kept: list[str] = []
    dropped: list[str] = []
    added: dict[str, str] = {}
    for key, _value, raw in raw_pairs:
        name = unquote(key)
        if name in PRISMA_DROPPED or name == "sslidentity" or (name == "sslpassword" and "sslidentity" in params):
            dropped.append(name)
        elif name in ("schema", "pgbouncer", "sslaccept"):
            continue  # understood: below
        elif name == "sslcert" and prisma:
            if "sslrootcert" in params:
                dropped.append(name)  # both given: libpq's own spelling wins
            else:
                added["sslrootcert"] = params[name]
        else:
            kept.append(raw)
    # Prisma takes any value but accept_invalid_certs as strict.
    strict = "sslaccept" in params and params["sslaccept"].lower() != "accept_invalid_certs"
    if strict and not _disabled_or_verified(params.get("sslmode")):
        kept = [raw for raw in kept if unquote(raw.partition("=")[0]) != "sslmode"]
        added["sslmode"] = "verify-full"
    kept += [f"{quote(key, safe='')}={quote(value, safe='/')}" for key, value in added.items()]
    url = base + ("?" + "&".join(kept) if kept else "") + fragment
    schema = params.get("schema") or None
    pooler = (
        "the URL says pgbouncer=true (Prisma's setting for PgBouncer in transaction mode)"
        if params.get("pgbouncer", "").lower() == "true"
        else transaction_pooler(url)
    )
    return ConnectionTarget(url, schema, tuple(dict.fromkeys(dropped)), pooler)


def transaction_pooler(conninfo: str) -> str | None:
    """Why libpq's ``conninfo`` points at a pooler in transaction mode, when its host and port say so: port 6543
    of Supabase's pooler (Supavisor) is its transaction mode; its port 5432 is session mode."""
    try:
        params = conninfo_to_dict(conninfo)
    except psycopg.Error:
        return None  # connecting will say what is wrong with it
    hosts = str(params.get("host") or "").split(",")
    ports = str(params.get("port") or "").split(",")
    if len(ports) == 1:
        ports = ports * len(hosts)  # one port for every host, as libpq takes it
    for host, port in zip(hosts, ports, strict=False):
        if host.lower().rstrip(".").endswith(SUPABASE_POOLER_SUFFIX) and (port or DEFAULT_PORT) == (
            SUPABASE_TRANSACTION_PORT
        ):
            return f"port {SUPABASE_TRANSACTION_PORT} of {host} is Supabase's transaction-mode pooler"
    return None


def _disabled_or_verified(sslmode: str | None) -> bool:
    return sslmode is not None and sslmode.lower() in ("disable", "verify-ca", "verify-full")


def _split_query(url: str) -> tuple[tuple[str, str], list[tuple[str, str, str]]]:
    """((the URL before its query, its fragment), [(raw key, raw value, raw pair)]). A raw ``?`` cannot stand
    before the query of a valid URL (in a password it is ``%3F``), so the first one starts it."""
    base, _, rest = url.partition("?")
    query, hash_, fragment = rest.partition("#")
    pairs = []
    for raw in query.split("&"):
        if raw:
            key, _, value = raw.partition("=")
            pairs.append((key, value, raw))
    return (base, hash_ + fragment), pairs
