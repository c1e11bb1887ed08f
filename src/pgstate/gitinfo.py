"""Which commit the desired files come from, and whether the tree had changes not committed."""

from __future__ import annotations

from pathlib import Path


def desired_commit(directory: Path) -> tuple[str | None, bool | None]:
    """(commit sha, dirty) of the repository holding ``directory``; (None, None) outside a repository."""
    try:
        import git  # imported here: it is slow to import and only apply needs it
    except ImportError:  # pragma: no cover - a declared dependency
        return None, None
    try:
        repo = git.Repo(directory, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None, None
    try:
        try:
            commit = repo.head.commit.hexsha
        except ValueError:  # a repository without commits yet
            commit = None
        relative = str(Path(directory).resolve().relative_to(Path(repo.working_tree_dir or ".").resolve()))
        dirty = repo.is_dirty(untracked_files=True, path=relative)
    except (git.GitError, ValueError, OSError):
        # e.g. git's "dubious ownership" refusal in CI: the run is recorded without its commit, not refused
        return None, None
    return commit, dirty
