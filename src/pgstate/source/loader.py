"""Reading the desired directory: each file's YAML stream, bounded and with its syntax errors worded, composed
into node trees that ``source.nodes`` turns into documents remembering where every value was written."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
import yaml.reader
from yaml.nodes import Node

from ..errors import InvalidDesiredState, PgstateError, SourceLocation
from .nodes import Document, build_document
from .parsed import ParsedFiles
from .problems import FileProblems

# libyaml's composer is an order of magnitude faster than the pure-Python one; both give the same nodes.
try:
    from yaml import CSafeLoader as _BaseLoader

    _OFFSETS_IN_BYTES = True  # where libyaml's reader refuses a character: its offset in UTF-8
except ImportError:  # PyYAML built without libyaml
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

    _OFFSETS_IN_BYTES = False

# A file's node tree costs about 300 bytes a value while it is built, before anything can look at it: a 10 MB
# line of `x, x, ...` would take 1.5 GB. A thousand tables in one file are some 60,000 values.
VALUE_LIMIT = 250_000
# What may precede a value in YAML: every value but a document's root follows an indicator or starts a line
# (a key of a block mapping), and one such character starts at most two values (`- a: b`, `{a, b}`).
_VALUE_STARTS = (":", ",", "[", "{", "-", "?", "\n", "\r", "\x85", "\u2028", "\u2029")

_RESOLVED_TAGS: dict[tuple[Any, ...], str] = {}
_RESOLVED_TAGS_LIMIT = 100_000  # bounds the memory a huge file with unique values can take


class _Loader(_BaseLoader):
    """The safe loader with tag resolution memoised.

    Resolving a plain scalar's tag runs a chain of Python regular expressions; on large desired trees it
    takes as long as libyaml's parsing itself, and the same keys and values recur in every document.
    """

    def resolve(self, kind: type[Node], value: Any, implicit: Any) -> str:
        key = (kind, value, implicit)
        tag = _RESOLVED_TAGS.get(key)
        if tag is None:
            tag = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]  # untyped stub
            if len(_RESOLVED_TAGS) < _RESOLVED_TAGS_LIMIT:
                _RESOLVED_TAGS[key] = tag
        return tag


def load_documents(desired_dir: Path) -> list[Document]:
    """Every non-empty YAML document of every ``*.yaml``/``*.yml`` under ``desired_dir``, in path order.

    Raises :class:`InvalidDesiredState` with every syntax error (one per file, since parsing cannot go on
    after one), duplicate key and unsupported construct found, each located in its file.
    """
    if not desired_dir.is_dir():
        raise PgstateError(
            f"desired directory {desired_dir} does not exist or is not a directory",
            hint="run from the repository root or pass --desired DIR",
        )
    problems: list[PgstateError] = []
    documents = list(iter_documents(desired_dir, problems))
    if problems:
        raise InvalidDesiredState(problems)
    return documents


def iter_documents(desired_dir: Path, problems: list[PgstateError]) -> Iterator[Document]:
    """The documents of ``load_documents`` one file at a time, for a reader that is done with each before the next
    is built; the problems found go to ``problems`` (complete once the iterator is). A file whose bytes were parsed
    before without a problem comes from the cache of parses (``source.parsed``)."""
    parsed = ParsedFiles(desired_dir)
    for path in desired_files(desired_dir):
        yield from _load_file(path, _display_path(path), problems, parsed, path.relative_to(desired_dir).as_posix())
    parsed.save()


def desired_files(desired_dir: Path) -> list[Path]:
    """The YAML files under ``desired_dir``, recursively, sorted by their path relative to it."""
    files = [path for pattern in ("*.yaml", "*.yml") for path in desired_dir.rglob(pattern) if path.is_file()]
    return sorted(files, key=lambda path: path.relative_to(desired_dir).parts)


def _display_path(path: Path) -> str:
    try:
        return str(path.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def load_text(text: str, display: str) -> list[Document]:
    """The documents of one YAML stream held in memory (a recorded pre-run state), shown as ``display``."""
    problems: list[PgstateError] = []
    documents = _load_stream(text, display, problems, limited=False)  # pgstate's own record: as large as it is
    if problems:
        raise InvalidDesiredState(problems)
    return documents


def _load_file(
    path: Path, display: str, problems: list[PgstateError], parsed: ParsedFiles | None = None, relative: str = ""
) -> list[Document]:
    raw = path.read_bytes()
    try:
        # utf-8-sig: editors on Windows like to start files with a byte-order mark.
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        problems.append(
            PgstateError(
                f"not UTF-8 text: {error.reason} at byte {error.start}", location=SourceLocation(display, 1, 1)
            )
        )
        return []
    if parsed is None:
        return _load_stream(text, display, problems)
    known = parsed.get(relative, raw)
    if known is not None:
        return [Document(display, index, data, locations, text) for index, data, locations in known]
    before = len(problems)
    documents = _load_stream(text, display, problems)
    if len(problems) == before:  # a file with a problem is parsed again next time, and its problems worded anew
        parsed.put(relative, raw, [(doc.index, doc.data, doc.locations) for doc in documents])
    return documents


def _load_stream(text: str, display: str, problems: list[PgstateError], *, limited: bool = True) -> list[Document]:
    documents: list[Document] = []
    found = FileProblems()
    try:
        too_many = _beyond_value_limit(text, display) if limited else None
        if too_many is not None:
            problems.append(too_many)
            return []
        for index, root in enumerate(yaml.compose_all(text, Loader=_Loader)):
            document = build_document(root, display, index, found, text)
            if document is not None:
                documents.append(document)
    except yaml.MarkedYAMLError as error:
        found.append(_syntax_error(error, display))
    except yaml.reader.ReaderError as error:  # a character YAML refuses (NUL, most control characters)
        found.append(_reader_error(error, text, display))
    except yaml.YAMLError as error:  # no mark: one line of it
        found.append(
            PgstateError(f"invalid YAML: {' '.join(str(error).split())}", location=SourceLocation(display, 1, 1))
        )
    problems.extend(found.listed())
    return documents


def compose_document(text: str, index: int, display: str) -> Document:
    """Document ``index`` of a stream that loaded before, built again (its positions were released)."""
    for number, root in enumerate(yaml.compose_all(text, Loader=_Loader)):
        if number == index:
            document = build_document(root, display, index, FileProblems(), text)
            if document is not None:
                return document
            break
    raise ValueError(f"{display} has no document {index}")  # not met: the text is the one it loaded from


def _beyond_value_limit(text: str, display: str) -> PgstateError | None:
    """A problem when the stream holds more than ``VALUE_LIMIT`` values, found before its node tree is built.

    Counting the characters a value may follow bounds the count from above in a few milliseconds; only a stream
    that may hold more values is counted exactly, by its parse events, which are not kept."""
    if 2 * sum(text.count(start) for start in _VALUE_STARTS) + 1 <= VALUE_LIMIT:
        return None
    values = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.NodeEvent):  # a scalar, an alias, the start of a list or a mapping
            values += 1
            if values > VALUE_LIMIT:
                mark = event.start_mark
                line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
                return PgstateError(
                    f"more than {VALUE_LIMIT:,} YAML values in one file by this place",
                    location=SourceLocation(display, line, column),
                    hint="a desired file holds a few objects: split it, or write long lists of values as text",
                )
    return None


def _reader_error(error: yaml.reader.ReaderError, text: str, display: str) -> PgstateError:
    """YAML's refusal of a character, at its line and column (the reader knows only its offset)."""
    if _OFFSETS_IN_BYTES:
        before = text.encode("utf-8", errors="surrogatepass")[: error.position].decode("utf-8", errors="replace")
    else:  # the pure-Python reader counts characters
        before = text[: error.position]
    lines = re.split("\r\n|[\r\n\x85\u2028\u2029]", before)
    code = error.character if isinstance(error.character, int) else ord(error.character)
    return PgstateError(
        f"invalid YAML: the character U+{code:04X} is not allowed ({error.reason})",
        location=SourceLocation(display, len(lines), len(lines[-1]) + 1),
        hint="remove it; in a double-quoted string, write a tab or a line break as \\t or \\n",
    )


def _syntax_error(error: yaml.MarkedYAMLError, display: str) -> PgstateError:
    mark = error.problem_mark or error.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    location = SourceLocation(display, line, column)
    problem = error.problem or "malformed YAML"
    context = ""
    if error.context:
        # libyaml notices a problem where parsing cannot go on, often lines after the real mistake (an
        # unclosed `{`): the line where the construct began points the reader to it.
        began = error.context_mark
        since = f" that began on line {began.line + 1}" if began and mark and began.line != mark.line else ""
        context = f" ({error.context}{since})"
    return PgstateError(
        f"invalid YAML: {problem}{context}",
        location=location,
        hint="check the indentation and quoting around this place",
    )
