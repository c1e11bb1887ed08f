"""A streaming hot standby of a local server (see servers.local), made the way a replica is made in production:
``pg_basebackup -R`` from the running primary, then started in its own data directory and socket.

Used by the test suite (plan and drift on a real standby, apply refused there, replica lag after an apply) and by
``make demo``'s fleet. The primary's default ``pg_hba.conf`` (initdb's) trusts local replication connections, and
its default ``wal_level`` (replica) and ``max_wal_senders`` (10) are what streaming needs: nothing is changed on it.
"""

from __future__ import annotations

import time
from pathlib import Path

from ..errors import PgstateError
from .access import make_reachable, port_for, prepare_socket_dir, server_identity, socket_dir_for
from .local import LocalServer, read_pidfile, run_binary, running_server, start, write_settings

_CATCH_UP_S = 60


def ensure_standby(
    primary: LocalServer, data_dir: Path, *, fast: bool = False, preload: tuple[str, ...] = ()
) -> LocalServer:
    """A hot standby of ``primary`` in ``data_dir``: cloned with pg_basebackup -R when the directory is new, then
    started (or found running). Its WAL streams from the primary through the primary's unix socket."""
    data_dir = data_dir.absolute()
    found = running_server(data_dir)
    if found is not None:
        return found
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    run_as = server_identity()
    make_reachable(run_as, primary.bin_dir, data_dir)
    if not (data_dir / "PG_VERSION").is_file():
        run_binary(
            run_as,
            [
                primary.bin("pg_basebackup"),
                "-D",
                data_dir,
                "-R",  # standby.signal and primary_conninfo: it starts as a standby of this primary
                "-X",
                "stream",
                "-c",
                "fast",  # an immediate checkpoint, not a spread one: the clone starts at once
                "-h",
                str(primary.socket_dir),
                "-p",
                str(primary.port),
                "-U",
                "postgres",
                "--no-sync",
            ],
            what="pg_basebackup",
            data_dir=data_dir,
        )
    socket_dir = socket_dir_for(data_dir)
    prepare_socket_dir(run_as, socket_dir)
    # The clone carries the primary's pgstate.conf (its socket and port): the standby gets its own.
    write_settings(run_as, data_dir, socket_dir, port_for(data_dir), fast, preload)
    start(run_as, primary.bin_dir, data_dir)
    running = read_pidfile(data_dir)
    if running is None:
        raise PgstateError(f"the standby in {data_dir} started but wrote no postmaster.pid")
    port, socket = running
    return LocalServer(primary.bin_dir, data_dir, socket, port, primary.major)


def wait_for_replay(primary: LocalServer, standby: LocalServer, *, timeout_s: float = _CATCH_UP_S) -> None:
    """Until the standby has replayed everything the primary had written when this was called."""
    import psycopg

    from ..fleet.replicas import written_lsn

    with psycopg.connect(primary.url(), autocommit=True) as conn:
        target = written_lsn(conn)
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(standby.url(), autocommit=True) as conn:
        while True:
            done = conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target]).fetchone()
            if done and done[0]:
                return
            if time.monotonic() > deadline:
                raise PgstateError(f"the standby in {standby.data_dir} did not catch up within {timeout_s:.0f}s")
            time.sleep(0.05)
