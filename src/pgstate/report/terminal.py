"""Output for people: styled on a colour terminal, the exact plain text everywhere else.

Reports for people are built once, as :class:`rich.text.Text`, whose ``plain`` is the report as it always was;
the styles ride along. ``console_for`` decides whether a stream gets them, ``write`` sends a report::

    from rich.text import Text
    from pgstate.report.terminal import console_for, write

    text = Text()
    text.append("Drift", style="bold red")
    text.append(": 2 difference(s)\\n")
    write(console_for(sys.stdout), text)

The decision is rich's own (its ``is_terminal`` and colour-system detection), with one addition for the
``NO_COLOR`` convention:

- a stream that is not a terminal (a pipe, a file, CI's log) gets plain text, unless ``FORCE_COLOR`` is set to
  a non-empty value or ``TTY_COMPATIBLE=1`` (rich's rules); ``TTY_COMPATIBLE=0`` means plain even on a terminal;
- ``TERM=dumb`` (or ``unknown``) gets plain text, even with ``FORCE_COLOR``;
- ``NO_COLOR`` set to a non-empty value gets plain text, whatever else is set. rich would only drop the colours
  and keep bold and underline; pgstate drops every escape code, so that "plain" means one thing.

Plain output bypasses rich entirely: rich wraps long lines, expands tabs and strips control characters, and a
report that is piped or saved must be byte for byte what it says.
"""

from __future__ import annotations

import os
from typing import TextIO

from rich.console import Console
from rich.text import Text


def console_for(stream: TextIO) -> Console:
    """A Console writing to ``stream`` that styles only where styles can be seen (see the module docstring).

    ``styled(console)`` tells whether it will. Lines are never wrapped by rich (``soft_wrap``): the terminal
    wraps them, and copying a line from the terminal gives it whole. Markup, emoji codes and rich's automatic
    highlighting are off: reports style what they mean to, and text from the database (``[authenticated]``,
    ``:smile:`` in a comment) is shown as it is."""
    plain = os.environ.get("NO_COLOR", "") != ""
    return Console(
        file=stream,
        color_system=None if plain else "auto",
        no_color=plain,
        soft_wrap=True,
        markup=False,
        emoji=False,
        highlight=False,
    )


def styled(console: Console) -> bool:
    """Whether ``console`` writes escape codes: a colour terminal, and no NO_COLOR."""
    return console.color_system is not None


def write(console: Console, text: Text) -> None:
    """``text`` on ``console``: with its styles where ``styled``, else ``text.plain`` exactly as it is."""
    if styled(console):
        console.print(text, end="")
    else:
        console.file.write(text.plain)
    console.file.flush()
