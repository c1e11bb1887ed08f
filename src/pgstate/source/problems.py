"""How the problems found in desired files are listed for people: at most ``PROBLEMS_PER_FILE`` per file, and
what they quote of the files made printable."""

from __future__ import annotations

from ..errors import PgstateError

PROBLEMS_PER_FILE = 100  # the rest of a file that repeats a mistake a million times is not worded (nor read)


class FileProblems(list[PgstateError]):
    """The problems of one file, the first ``PROBLEMS_PER_FILE`` of them, and one more saying that the rest of the
    file is not listed: a file that repeats a mistake a million times gets a report one can read."""

    def append(self, problem: PgstateError) -> None:
        if len(self) <= PROBLEMS_PER_FILE:
            super().append(problem)

    def listed(self) -> list[PgstateError]:
        if len(self) <= PROBLEMS_PER_FILE:
            return [readable(problem) for problem in self]
        return [*map(readable, self[:PROBLEMS_PER_FILE]), more_problems(self[PROBLEMS_PER_FILE])]


def listed_per_file(problems: list[PgstateError]) -> list[PgstateError]:
    """The first ``PROBLEMS_PER_FILE`` problems of each file, in the order given, and where the next one is."""
    counts: dict[str, int] = {}
    listed = []
    for problem in problems:
        file = problem.location.file if problem.location else ""
        count = counts[file] = counts.get(file, 0) + 1
        if count <= PROBLEMS_PER_FILE:
            listed.append(readable(problem))
        elif count == PROBLEMS_PER_FILE + 1:
            listed.append(more_problems(problem))
    return listed


def readable(problem: PgstateError) -> PgstateError:
    """The problem with what it quotes of the files made printable: a name with a line break, a tab or a
    terminal escape in it stays on the message's one line, and cannot recolour the terminal."""
    problem.message = _printable(problem.message)
    problem.hint = _printable(problem.hint) if problem.hint else problem.hint
    if problem.location and not problem.location.file.isprintable():
        problem.location = problem.location._replace(file=_printable(problem.location.file))
    return problem


def _printable(text: str) -> str:
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def more_problems(first_unlisted: PgstateError) -> PgstateError:
    """What stands for the problems of a file beyond the first ``PROBLEMS_PER_FILE``, where the next one is."""
    return PgstateError(
        f"more problems from here on are not listed (at most {PROBLEMS_PER_FILE} per file)",
        location=first_unlisted.location,
        hint="fix the ones above (often one mistake repeated), then validate again",
    )
