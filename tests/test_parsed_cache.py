"""The cache of parsed desired files (``source.parsed``): a second load gives what a parse gives, a changed file is
parsed again, a file with problems is never recorded, and a cache that cannot be trusted or written is ignored."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pgstate.errors import InvalidDesiredState
from pgstate.source import loader
from pgstate.source.loader import load_documents
from pgstate.source.parsed import ParsedFiles, cache_root

TABLE = """\
table: accounts   # a comment
columns:
  email: {type: text}
indexes:
  - columns: [email, {expression: "lower(email)"}]
    where: "email <> ''"
policies:
  - name: own rows
    command: select
    using: owner = (select auth.uid())
---
table: notes
rls: {enabled: true}
"""


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return cache_root()


@pytest.fixture
def desired(tmp_path: Path) -> Path:
    directory = tmp_path / "desired"
    directory.mkdir()
    (directory / "tables.yaml").write_text(TABLE)
    (directory / "more").mkdir()
    (directory / "more" / "other.yaml").write_text("table: other\nprune_indexes: true\n")
    return directory


class Parses:
    """Counts the files the loader parses (rather than takes from the cache)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.files: list[str] = []
        real = loader._load_stream

        def counted(text: str, display: str, *args: object, **kwargs: bool) -> list[loader.Document]:
            self.files.append(Path(display).name)
            return real(text, display, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(loader, "_load_stream", counted)


def snapshot(directory: Path) -> list[tuple[str, int, object, object, object]]:
    return [(doc.file, doc.index, doc.data, dict(doc.locations), doc.source) for doc in load_documents(directory)]


def tables(directory: Path) -> list[str]:
    return [doc.data["table"] for doc in load_documents(directory)]


def test_a_second_load_comes_from_the_cache_and_is_the_same(
    desired: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parses = Parses(monkeypatch)
    first = snapshot(desired)
    assert sorted(parses.files) == ["other.yaml", "tables.yaml"]
    assert len(list(cache.glob("*.marshal"))) == 1
    parses.files.clear()
    second = snapshot(desired)
    assert parses.files == []  # nothing parsed
    assert second == first  # data, every position, the text positions are composed from again
    accounts = next(doc for doc in load_documents(desired) if doc.data["table"] == "accounts")
    assert accounts.locate(("indexes", 0, "where"))[1:] == (6, 5)  # line, column: as written


def test_a_changed_file_is_parsed_again_and_the_others_are_not(
    desired: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_documents(desired)
    parses = Parses(monkeypatch)
    (desired / "tables.yaml").write_text(TABLE.replace("email: {type: text}", "email: {type: citext}"))
    documents = load_documents(desired)
    assert parses.files == ["tables.yaml"]
    assert documents[1].data["columns"]["email"]["type"] == "citext"
    parses.files.clear()
    load_documents(desired)
    assert parses.files == []  # the new parse was recorded


def test_a_file_with_a_problem_is_never_recorded_and_its_problem_is_the_same_each_time(
    desired: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (desired / "broken.yaml").write_text("table: broken\ncolumns:\n  a: {type: text}\n  a: {type: int}\n")
    messages = []
    parses = Parses(monkeypatch)
    for _ in range(2):
        with pytest.raises(InvalidDesiredState) as raised:
            load_documents(desired)
        messages.append([(p.message, p.location) for p in raised.value.problems])
    assert messages[0] == messages[1] and "duplicate" in messages[0][0][0]
    assert parses.files.count("broken.yaml") == 2  # parsed each time
    assert parses.files.count("tables.yaml") == 1  # the good files of the same load are recorded


def test_a_removed_file_is_dropped_from_the_cache(desired: Path, cache: Path) -> None:
    load_documents(desired)
    (desired / "more" / "other.yaml").unlink()
    assert tables(desired) == ["accounts", "notes"]
    assert set(ParsedFiles(desired).recorded) == {"tables.yaml"}


@pytest.mark.parametrize("spoil", ["garbage", "truncated", "group-writable", "other format"])
def test_a_cache_that_cannot_be_trusted_is_ignored(
    desired: Path, cache: Path, monkeypatch: pytest.MonkeyPatch, spoil: str
) -> None:
    first = snapshot(desired)
    (path,) = cache.glob("*.marshal")
    if spoil == "garbage":
        path.write_bytes(b"\x00not marshal at all")
    elif spoil == "truncated":
        path.write_bytes(path.read_bytes()[:1000])
    elif spoil == "group-writable":
        path.chmod(0o664)
    else:
        monkeypatch.setattr("pgstate.source.parsed._format", lambda: b"another pgstate")
    parses = Parses(monkeypatch)
    assert snapshot(desired) == first
    assert sorted(parses.files) == ["other.yaml", "tables.yaml"]  # parsed, not read from the spoiled cache


def test_a_cache_of_another_user_is_ignored(desired: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    load_documents(desired)
    monkeypatch.setattr(os, "getuid", lambda: os.stat(cache).st_uid + 1)
    assert ParsedFiles(desired).recorded == {}


def test_a_cache_that_cannot_be_written_does_not_fail_the_load(
    desired: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))  # pgstate/parsed cannot be made under a file
    assert tables(desired) == ["other", "accounts", "notes"]
    assert tables(desired) == ["other", "accounts", "notes"]


def test_the_same_file_under_two_desired_directories_has_two_caches(desired: Path, cache: Path, tmp_path: Path) -> None:
    load_documents(desired)
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "tables.yaml").write_text(TABLE)
    load_documents(copy)
    assert len(list(cache.glob("*.marshal"))) == 2
