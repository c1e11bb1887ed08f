"""Where backups go: outside the repository by default, and never where `git add -A` would commit them.

A backup holds real rows of production tables. The default is the user's state directory
(``$XDG_STATE_HOME/pgstate/backups``, else ``~/.local/state/pgstate/backups``); a configured directory inside a git
work tree is refused unless git ignores it.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import Refused

# A name inside the backup directory that git is asked about: a pattern such as `backups/` matches only what is
# in the directory (the directory itself may not exist yet, and git cannot tell that it will be one).
_PROBE = "run-1-probe/manifest.json"


def default_backup_root() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or ""
    base = Path(state) if os.path.isabs(state) else Path.home() / ".local" / "state"  # relative: ignored, per XDG
    return base / "pgstate" / "backups"


def check_backup_root(directory: Path) -> None:
    """Refuse (exit 3) a backup directory that git would commit: inside a work tree and not ignored there."""
    resolved = directory.expanduser().resolve()
    tree = _work_tree_of(resolved)
    if tree is None or _ignored(tree, resolved / _PROBE):
        return
    shown = os.path.relpath(resolved, tree)
    raise Refused(
        f"the backup directory {resolved} is inside the git work tree {tree} and git does not ignore it: backups"
        " hold rows of your tables, and `git add -A` would commit them",
        hint=f"add `/{shown}/` to {tree}/.gitignore, or put backups outside the repository with --backup-dir or"
        f" backup_dir in pgstate.toml (the default is {default_backup_root()})",
    )


def _work_tree_of(path: Path) -> Path | None:
    for directory in (path, *path.parents):
        if (directory / ".git").exists():  # a directory, or a file in a worktree or submodule
            return directory
    return None


def _ignored(tree: Path, probe: Path) -> bool:
    """Whether git ignores ``probe``; when git cannot answer, not ignored (refusing is the safe side)."""
    import git

    try:
        return bool(git.Repo(tree).ignored(str(probe.relative_to(tree))))
    except (git.GitError, OSError, ValueError):
        return False
