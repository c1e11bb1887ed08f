"""Errors meant for people, and the exit codes the spec promises.

Every error a user can cause is a :class:`PgstateError`: one message, where it happened (``file:line:col``
when it comes from a desired file) and what to do. The CLI turns them into an exit code in one place.
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1  # invalid input, failed and rolled back, any error
    CHANGES = 2  # plan has steps, drift found
    REFUSED = 3  # another apply is running, stale plan, unsafe operation refused


class SourceLocation(NamedTuple):
    """A place in a desired file, 1-based like editors show it. A tuple underneath: the specs of a large desired
    tree hold tens of thousands, and a tuple is built in C."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class PgstateError(Exception):
    """An error with a message for people; ``exit_code`` says how the CLI ends."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str, *, location: SourceLocation | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.location = location
        self.hint = hint

    def render(self) -> str:
        where = f"{self.location}: " if self.location else ""
        hint = f"\n  hint: {self.hint}" if self.hint else ""
        return f"{where}{self.message}{hint}"


class InvalidDesiredState(PgstateError):
    """The desired files are malformed or contradict themselves; carries every problem found."""

    def __init__(self, problems: list[PgstateError]):
        super().__init__(f"{len(problems)} problem(s) in the desired state")
        self.problems = problems

    def render(self) -> str:
        return "\n".join(problem.render() for problem in self.problems)


class Refused(PgstateError):
    """pgstate will not proceed: another apply holds the lock, the plan is stale, ... (exit 3)."""

    exit_code = ExitCode.REFUSED


class ApplyFailed(PgstateError):
    """A step failed; everything was rolled back to the pre-run state (exit 1)."""
