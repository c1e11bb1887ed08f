"""Start (or reuse) a real PostgreSQL server in a private data directory.

Used by the embedded default (``pgstate`` with no database URL) and by the test suite. The server listens on a
unix socket only, in a short private directory, and trusts local connections as ``postgres``: the socket
directory's permissions (0700) are what keep other users out, so it must never be shared.

PostgreSQL refuses to run as root, so when we are root (CI, containers) the server runs as an unprivileged
OS user.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from ..errors import PgstateError
from .access import (
    TIMEOUT_S,
    RunAs,
    gid_of,
    make_reachable,
    port_for,
    prepare_socket_dir,
    server_identity,
    socket_dir_for,
)
from .binaries import debian_bin_dir, embedded_bin_dir

__all__ = ["LocalServer", "debian_bin_dir", "embedded_bin_dir", "ensure_server", "running_server", "stop_server"]

_LOG_NAME = "pgstate-server.log"
_CONF_NAME = "pgstate.conf"
_INCLUDE_LINE = f"include_if_exists = '{_CONF_NAME}'  # settings written by pgstate at every start\n"


@dataclass(frozen=True)
class LocalServer:
    """A running server started (or found) by :func:`ensure_server`."""

    bin_dir: Path
    data_dir: Path
    socket_dir: Path
    port: int
    major: int

    def url(self, dbname: str = "postgres") -> str:
        # libpq takes a socket directory as host; slashes are reserved in the URI's host part: use the query.
        return (
            f"postgresql://postgres@/{quote(dbname, safe='')}"
            f"?host={quote(str(self.socket_dir), safe='/')}&port={self.port}"
        )

    def bin(self, name: str) -> Path:
        return self.bin_dir / name


def ensure_server(bin_dir: Path, data_dir: Path, *, fast: bool = False, preload: tuple[str, ...] = ()) -> LocalServer:
    """Initialise ``data_dir`` if needed, start the server unless it already runs, and describe it.

    ``fast`` trades crash safety for speed (fsync, synchronous_commit and full_page_writes off): fine for
    tests, never for data someone cares about. Settings only change when the server (re)starts. Safe to call
    from several processes at once.
    """
    bin_dir = bin_dir.resolve()
    data_dir = data_dir.absolute()
    if not (bin_dir / "postgres").is_file():
        raise PgstateError(f"no PostgreSQL binaries in {bin_dir}")
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    run_as = server_identity()
    with _locked(data_dir.with_name(data_dir.name + ".lock")):
        make_reachable(run_as, bin_dir, data_dir)
        if not (data_dir / "PG_VERSION").is_file():
            _initdb(run_as, bin_dir, data_dir, fast)
        running = read_pidfile(data_dir) if _postmaster_pid(data_dir) is not None else None
        if running is None:
            socket_dir = socket_dir_for(data_dir)
            prepare_socket_dir(run_as, socket_dir)
            port = port_for(data_dir)
            write_settings(run_as, data_dir, socket_dir, port, fast, preload)
            start(run_as, bin_dir, data_dir)
            running = read_pidfile(data_dir)
            if running is None:
                raise PgstateError(f"PostgreSQL started but wrote no postmaster.pid{_log_tail(data_dir)}")
        port, socket_dir = running
        major = int((data_dir / "PG_VERSION").read_text().strip().split(".")[0])
        return LocalServer(bin_dir=bin_dir, data_dir=data_dir, socket_dir=socket_dir, port=port, major=major)


def running_server(data_dir: Path) -> LocalServer | None:
    """The server running in ``data_dir``, described from its own files without starting anything; None when
    none runs (no data dir, or a postmaster.pid left by a server that is gone)."""
    data_dir = data_dir.absolute()
    with _locked_if_exists(data_dir):
        found = read_pidfile(data_dir) if _postmaster_pid(data_dir) is not None else None
        if found is None:
            return None
        port, socket_dir = found
        major = int((data_dir / "PG_VERSION").read_text().strip().split(".")[0])
        return LocalServer(_bin_dir_of(data_dir), data_dir, socket_dir, port, major)


def stop_running(data_dir: Path) -> bool:
    """Stop the server running in ``data_dir``, if one does (see :func:`stop_server`); whether one was running.
    Holds the lock that :func:`ensure_server` takes, so that a pgstate starting the server meanwhile waits."""
    data_dir = data_dir.absolute()
    with _locked_if_exists(data_dir):
        found = read_pidfile(data_dir) if _postmaster_pid(data_dir) is not None else None
        if found is None:
            return False
        _stop(data_dir, found[1])
        return True


@contextmanager
def _locked_if_exists(data_dir: Path) -> Iterator[None]:
    # Only a data dir that exists has a lock beside it worth taking: asking about one that was never made must
    # not create its parent directories.
    if data_dir.parent.is_dir():
        with _locked(data_dir.with_name(data_dir.name + ".lock")):
            yield
    else:
        yield


def _bin_dir_of(data_dir: Path) -> Path:
    # postmaster.opts holds the command line the server was started with: its program's full path, unquoted,
    # then each argument as ` "ARG"`.
    opts = (data_dir / "postmaster.opts").read_text().strip()
    return Path(opts.split(' "', 1)[0]).parent


def stop_server(server: LocalServer) -> None:
    """Stop the server quickly, as ``pg_ctl stop -m fast`` does: clients are disconnected, nothing is lost."""
    _stop(server.data_dir, server.socket_dir)


def _stop(data_dir: Path, socket_dir: Path) -> None:
    # SIGINT is the signal pg_ctl stop -m fast sends. We send it ourselves because, as root, pg_ctl would have
    # to run as the server's user, who needs search permission on the data dir's parents, and pytest resets
    # its tmp root to 0700 whenever another session starts.
    pid = _postmaster_pid(data_dir)
    if pid is not None:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + TIMEOUT_S
        # The postmaster removes postmaster.pid as it exits; a zombie nobody reaps still "exists" for kill().
        while _postmaster_pid(data_dir) == pid and (data_dir / "postmaster.pid").exists():
            if time.monotonic() > deadline:
                raise PgstateError(f"PostgreSQL in {data_dir} did not stop{_log_tail(data_dir)}")
            time.sleep(0.02)
    if socket_dir == socket_dir_for(data_dir):
        with suppress(OSError):  # only when empty: don't leave one empty directory per data dir in /tmp
            socket_dir.rmdir()


def write_settings(
    run_as: RunAs, data_dir: Path, socket_dir: Path, port: int, fast: bool, preload: tuple[str, ...] = ()
) -> None:
    conf = data_dir / "postgresql.conf"
    text = conf.read_text()
    if _INCLUDE_LINE not in text:
        conf.write_text(text + "\n" + _INCLUDE_LINE)
    settings = {
        "listen_addresses": "''",
        "unix_socket_directories": f"'{socket_dir}'",
        "port": str(port),
        "max_connections": "100",
        "fsync": "off" if fast else "on",
        "synchronous_commit": "off" if fast else "on",
        "full_page_writes": "off" if fast else "on",
    }
    if preload:  # libraries loaded at start (a change needs a restart, as on any server)
        settings["shared_preload_libraries"] = "'" + ",".join(preload) + "'"
    own = data_dir / _CONF_NAME
    own.write_text("".join(f"{key} = {value}\n" for key, value in settings.items()))
    if run_as.uid is not None:
        os.chown(own, run_as.uid, gid_of(run_as))


# --- running the binaries ---


@contextmanager
def _locked(lock_file: Path) -> Iterator[None]:
    # flock, not a pid file: the kernel releases it when a holder dies, so a crash never leaves it stuck.
    with lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_binary(run_as: RunAs, argv: list[Path | str], *, what: str, data_dir: Path) -> None:
    # PG* variables from the caller (PGDATA, PGPORT, PGHOST, ...) would silently retarget the binaries.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    env["LC_ALL"] = "C"
    # Temporary files, not pipes: a server that inherited a pipe would keep communicate() waiting forever.
    with tempfile.TemporaryFile("w+") as out:
        try:
            result = subprocess.run(
                [str(arg) for arg in argv],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd="/",
                timeout=TIMEOUT_S,
                check=False,
                user=run_as.uid,
                group=run_as.gid,
                extra_groups=[] if run_as.uid is not None else None,
            )
        except subprocess.TimeoutExpired:
            raise PgstateError(f"{what} did not finish within {TIMEOUT_S}s{_log_tail(data_dir)}") from None
        except OSError as exc:
            raise PgstateError(f"could not run {what}: {exc}") from None
        if result.returncode != 0:
            out.seek(0)
            output = out.read().strip()[-2000:]
            raise PgstateError(
                f"{what} failed (exit {result.returncode}) for {data_dir}"
                + (f":\n{output}" if output else "")
                + _log_tail(data_dir)
            )


def _initdb(run_as: RunAs, bin_dir: Path, data_dir: Path, fast: bool) -> None:
    # initdb removes what it created when it fails, so a data dir either has PG_VERSION or is empty.
    run_binary(
        run_as,
        [
            bin_dir / "initdb",
            "-D",
            data_dir,
            "--auth=trust",
            "-U",
            "postgres",
            "--encoding=UTF8",
            "--no-sync",
            "--locale=C",
        ],
        what="initdb",
        data_dir=data_dir,
    )
    if not fast:
        # --no-sync skips one fsync per file (slow); a cluster meant to keep data syncs them all once instead.
        run_binary(
            run_as,
            [bin_dir / "initdb", "-D", data_dir, "--sync-only"],
            what="initdb --sync-only",
            data_dir=data_dir,
        )


def _postmaster_pid(data_dir: Path) -> int | None:
    """The pid of the live postmaster of ``data_dir``, checked as pg_ctl status does (pid file, kill 0)."""
    lines = _pidfile_lines(data_dir)
    if not lines or not lines[0].strip().isdigit():
        return None
    pid = int(lines[0])
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        # Gone, or the pid now belongs to another user's process: the file is stale (postgres thinks so too).
        return None
    return pid


def start(run_as: RunAs, bin_dir: Path, data_dir: Path) -> None:
    started = time.monotonic()
    run_binary(
        run_as,
        [bin_dir / "pg_ctl", "start", "-D", data_dir, "-l", data_dir / _LOG_NAME, "-w", "-t", "90"],
        what="pg_ctl start",
        data_dir=data_dir,
    )
    # pg_ctl -w returns once the server accepts connections; allow a moment for the pid file's status line.
    while time.monotonic() - started < TIMEOUT_S:
        lines = _pidfile_lines(data_dir)
        if len(lines) >= 8 and lines[7].strip() == "ready":
            return
        time.sleep(0.05)
    raise PgstateError(f"PostgreSQL in {data_dir} did not become ready{_log_tail(data_dir)}")


def _pidfile_lines(data_dir: Path) -> list[str]:
    try:
        return (data_dir / "postmaster.pid").read_text().splitlines()
    except (FileNotFoundError, NotADirectoryError):
        return []


def read_pidfile(data_dir: Path) -> tuple[int, Path] | None:
    """(port, socket dir) of a running server, from postmaster.pid (documented in storage-file-layout)."""
    lines = _pidfile_lines(data_dir)
    if len(lines) < 5:
        return None
    if not lines[4].strip():
        raise PgstateError(f"the server in {data_dir} runs without a unix socket; stop it and retry")
    return int(lines[3]), Path(lines[4].strip())


def _log_tail(data_dir: Path, lines: int = 20) -> str:
    try:
        text = (data_dir / _LOG_NAME).read_text(errors="replace")
    except OSError:
        return ""
    tail = text.strip().splitlines()[-lines:]
    return "\nserver log (last lines):\n" + "\n".join(f"  {line}" for line in tail) if tail else ""
