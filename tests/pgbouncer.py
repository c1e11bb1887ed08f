"""A real PgBouncer in front of a test server, in transaction or session mode, for the connection tests.

It listens on 127.0.0.1 on a free port, checks passwords itself (SCRAM, against an auth file) and reaches the
test server over its unix socket, where the server trusts its own OS user. PgBouncer refuses to run as root, and
the server's socket directory is open to the server's user alone: as root, PgBouncer runs as that user, as
tests/pgharness.py's servers do.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

from pgstate.servers.local import LocalServer

START_TIMEOUT_S = 15
STOP_TIMEOUT_S = 10
INSTALL_HINT = "apt-get install pgbouncer (.ci/run installs it)"


def pgbouncer_binary() -> Path | None:
    found = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/usr/local/sbin")
    return Path(found) if found else None


def require_pgbouncer() -> Path:
    """The pgbouncer binary. Missing, the tests that need it fail saying how to install it, unless this machine
    cannot install it (not root, or no apt-get): then they are skipped with that reason."""
    binary = pgbouncer_binary()
    if binary is not None:
        return binary
    if os.geteuid() == 0 and shutil.which("apt-get"):
        pytest.fail(f"pgbouncer is not installed: {INSTALL_HINT}", pytrace=False)
    pytest.skip(
        f"pgbouncer is not installed, and this machine cannot install it (needs root and apt-get): {INSTALL_HINT}"
    )


@dataclass(frozen=True)
class Bouncer:
    """A running PgBouncer: where it listens, its pool mode, and the one user and password it accepts."""

    port: int
    pool_mode: str
    user: str
    password: str
    log: Path

    def url(self, dbname: str, *, password: str | None = None, query: str = "") -> str:
        """A URL through this PgBouncer, the password percent-encoded as a URL needs it."""
        secret = quote(self.password if password is None else password, safe="")
        return f"postgresql://{quote(self.user, safe='')}:{secret}@127.0.0.1:{self.port}/{quote(dbname, safe='')}" + (
            f"?{query}" if query else ""
        )

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _quoted(text: str) -> str:
    """A value of PgBouncer's auth file: in double quotes, a double quote doubled."""
    return '"' + text.replace('"', '""') + '"'


def _config(server: LocalServer, pool_mode: str, port: int, auth_file: Path) -> str:
    return "\n".join(
        [
            "[databases]",
            # Every database name goes to the server of the same name: tests make a fresh database each.
            f"* = host={server.socket_dir} port={server.port}",
            "[pgbouncer]",
            "listen_addr = 127.0.0.1",
            f"listen_port = {port}",
            "unix_socket_dir =",  # TCP only: no socket file left in /tmp
            "auth_type = scram-sha-256",
            f"auth_file = {auth_file}",
            f"pool_mode = {pool_mode}",
            "default_pool_size = 20",
            "max_client_conn = 200",
            "server_login_retry = 1",
            "",
        ]
    )


@contextmanager
def running_pgbouncer(
    server: LocalServer, pool_mode: str, *, user: str = "postgres", password: str = "pgbouncer-secret"
) -> Iterator[Bouncer]:
    """PgBouncer in ``pool_mode`` (transaction, session) in front of ``server``, stopped on the way out."""
    binary = require_pgbouncer()
    owner = server.socket_dir.stat()
    run_as_other = os.geteuid() == 0
    directory = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    try:
        auth_file = directory / "userlist.txt"
        auth_file.write_text(f"{_quoted(user)} {_quoted(password)}\n")
        auth_file.chmod(0o600)
        log = directory / "pgbouncer.log"
        if run_as_other:
            os.chown(directory, owner.st_uid, owner.st_gid)
            os.chown(auth_file, owner.st_uid, owner.st_gid)
        for _attempt in range(3):  # a free port may be taken between the probe and PgBouncer's bind
            port = _free_port()
            ini = directory / "pgbouncer.ini"
            ini.write_text(_config(server, pool_mode, port, auth_file))
            if run_as_other:
                os.chown(ini, owner.st_uid, owner.st_gid)
            with log.open("ab") as log_out:
                process = subprocess.Popen(
                    [str(binary), str(ini)],
                    stdin=subprocess.DEVNULL,
                    stdout=log_out,
                    stderr=subprocess.STDOUT,
                    cwd=directory,
                    user=owner.st_uid if run_as_other else None,
                    group=owner.st_gid if run_as_other else None,
                    extra_groups=[] if run_as_other else None,
                )
            try:
                if _wait_listening(process, port):
                    yield Bouncer(port, pool_mode, user, password, log)
                    return
            finally:
                _stop(process)
        raise RuntimeError(f"pgbouncer did not start; its log:\n{log.read_text(errors='replace')[-3000:]}")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _wait_listening(process: subprocess.Popen[bytes], port: int) -> bool:
    """True once PgBouncer accepts connections on ``port``; False when it exited (the port was taken)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        with suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
        time.sleep(0.05)
    raise RuntimeError(f"pgbouncer did not listen on port {port} within {START_TIMEOUT_S}s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM is PgBouncer's immediate shutdown: its clients and server connections are closed."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT_S)
