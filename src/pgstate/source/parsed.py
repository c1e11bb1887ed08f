"""The parsed desired files of the last run, kept by content digest, so a file that did not change is not parsed again.

Composing YAML and turning its node tree into data is most of the time to load a large desired tree (1.2 of 1.9 s
at 5,000 tables, ``bench/peers.py``); reading a file's documents back from this cache is a tenth of that. A file is
taken from the cache only when its bytes hash to the digest recorded with it, under the same pgstate, Python and
loader code (``_FORMAT``); a file that had a problem is never recorded, so its problems are found and worded anew.

One cache file per desired directory, under ``$XDG_CACHE_HOME/pgstate/parsed`` (else ``~/.cache/...``), written
atomically; a cache that cannot be read or written is as if there were none: it only ever saves time. It holds what
the desired files hold (no secret is ever in one) and is read only when the current user owns it and no one else may
write it: ``marshal`` trusts its input.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any

from .nodes import PathKey

# Short texts are stored interned: each table's file has the same keys and types (`columns`, `bigint`), and marshal
# loads interned strings as one object for the whole process, as the loader's shared texts are.
_INTERNED_UP_TO = 64

Parsed = list[tuple[int, dict[str, Any], dict[PathKey, int]]]
"""The documents of one file: each one's index in the stream, its data and its positions."""


def cache_root() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or ""
    base = Path(cache) if os.path.isabs(cache) else Path.home() / ".cache"  # relative: ignored, per XDG
    return base / "pgstate" / "parsed"


def _format() -> bytes:
    """What a recorded parse rests on besides the file's bytes: the versions, and the code that builds documents."""
    from .. import __version__
    from . import loader, nodes

    digest = hashlib.sha256(f"{__version__}\0{sys.version}\0{marshal.version}".encode())
    for module in (nodes, loader):
        digest.update(Path(module.__file__ or "").read_bytes())
    return digest.digest()


class ParsedFiles:
    """The recorded parses of one desired directory: ``get`` what a file's bytes were parsed into, ``put`` a new
    parse, ``save`` once the directory is read (files no longer there are left out)."""

    def __init__(self, desired_dir: Path):
        key = hashlib.sha256(str(desired_dir.resolve()).encode()).hexdigest()[:24]
        self.path = cache_root() / f"{key}.marshal"
        self.format = _format()
        self.recorded: dict[str, tuple[bytes, bytes]] = self._read()  # relative path -> (digest, marshalled parse)
        self.seen: dict[str, tuple[bytes, bytes]] = {}
        self.changed = False

    def _read(self) -> dict[str, tuple[bytes, bytes]]:
        try:
            with open(self.path, "rb") as file:
                info = os.fstat(file.fileno())
                if info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                    return {}  # another user's, or writable by others: not to be trusted
                content = marshal.load(file)
        except (OSError, EOFError, ValueError, TypeError):
            return {}
        if type(content) is not tuple or len(content) != 2 or content[0] != self.format or type(content[1]) is not dict:
            return {}
        return content[1]

    def get(self, relative: str, raw: bytes) -> Parsed | None:
        digest = hashlib.sha256(raw).digest()
        found = self.recorded.pop(relative, None)
        if found is None or found[0] != digest:
            return None
        try:
            parsed = marshal.loads(found[1])
        except (EOFError, ValueError, TypeError):
            return None
        self.seen[relative] = found
        return parsed  # type: ignore[no-any-return]  # what put() stored, under the same format

    def put(self, relative: str, raw: bytes, parsed: Parsed) -> None:
        self.seen[relative] = (hashlib.sha256(raw).digest(), marshal.dumps(_interned(parsed)))
        self.changed = True

    def save(self) -> None:
        """Writes the parses of the files read this time, when one of them is new or one went away."""
        if not self.changed and not self.recorded:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            descriptor, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".parsed-")
            try:
                with os.fdopen(descriptor, "wb") as file:
                    marshal.dump((self.format, self.seen), file)
                os.replace(temporary, self.path)
            except BaseException:
                os.unlink(temporary)
                raise
        except OSError:
            pass  # a read-only home, a full disk: the next run parses again
        self.recorded.clear()


def _interned(value: Any) -> Any:
    """``value`` with its short texts (keys, names, types) interned, so marshal records them as such."""
    kind = type(value)
    if kind is str:
        return sys.intern(value) if len(value) <= _INTERNED_UP_TO else value
    if kind is dict:
        return {_interned(key): _interned(item) for key, item in value.items()}
    if kind is list:
        return [_interned(item) for item in value]
    if kind is tuple:
        return tuple(_interned(item) for item in value)
    return value
