"""Which commit the desired files come from, whether the tree had changes not committed, and their history."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import PgstateError


@dataclass(frozen=True)
class GitFacts:
    repo: Any  # git.Repo (gitpython is imported only when needed: it is slow to import)
    commit: str | None
    dirty: bool | None

    def close(self) -> None:
        """End the git processes gitpython keeps for the repository (``git cat-file --batch``): each Repo starts
        its own and keeps it until closed, so a process that runs pgstate many times (a test worker, a service)
        would gather one per run."""
        self.repo.close()

    def last_commit(self, file: str) -> dict[str, Any] | None:
        """The last commit that touched ``file`` (a path as the desired files are displayed: from the cwd)."""
        try:
            commit = next(self.repo.iter_commits(paths=str(Path(file).resolve()), max_count=1), None)
        except Exception:  # history is a courtesy in a report; git errors must not fail drift
            return None
        if commit is None:
            return None
        return {
            "commit": commit.hexsha,
            "author": str(commit.author.name),
            "date": commit.committed_datetime.isoformat(),
            "summary": str(commit.summary),
        }


def git_facts(directory: Path) -> GitFacts | None:
    """The repository holding ``directory`` (searched upwards), or None outside one."""
    try:
        import git
    except ImportError:  # pragma: no cover - a declared dependency
        return None
    try:
        repo = git.Repo(directory, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    try:
        try:
            commit = repo.head.commit.hexsha
        except ValueError:  # a repository without commits yet
            commit = None
        relative = str(Path(directory).resolve().relative_to(Path(repo.working_tree_dir or ".").resolve()))
        dirty = repo.is_dirty(untracked_files=True, path=relative)
    except (git.GitError, ValueError, OSError):
        # e.g. git's "dubious ownership" refusal in CI: the run is recorded without its commit, not refused
        return GitFacts(repo, None, None)
    return GitFacts(repo, commit, dirty)


def desired_commit(directory: Path) -> tuple[str | None, bool | None]:
    """(commit sha, dirty) of the repository holding ``directory``; (None, None) outside a repository."""
    facts = git_facts(directory)
    if facts is None:
        return None, None
    facts.close()
    return facts.commit, facts.dirty


def files_at(directory: Path, ref: str, into: Path) -> Path:
    """The desired files as they were at ``ref``, written under ``into``; raises outside a repository."""
    facts = git_facts(directory)
    if facts is None:
        raise PgstateError(
            f"{directory} is not inside a git repository", hint="--base needs the desired files under git"
        )
    try:
        return _write_files_at(facts, directory, ref, into)
    finally:
        facts.close()


def _write_files_at(facts: GitFacts, directory: Path, ref: str, into: Path) -> Path:
    root = Path(facts.repo.working_tree_dir or ".").resolve()
    relative = Path(directory).resolve().relative_to(root)
    try:
        tree = facts.repo.commit(ref).tree
    except Exception:  # gitpython's revision parser: BadName, ValueError, IndexError (`@{5}`), NotImplementedError
        raise PgstateError(
            f"unknown git revision {ref!r}", hint="pass a branch, tag or commit, e.g. origin/main"
        ) from None
    base = into / "desired"
    base.mkdir(parents=True, exist_ok=True)
    try:
        subtree = tree / relative.as_posix() if str(relative) != "." else tree
    except KeyError:
        return base  # the directory did not exist at ref: everything is added
    for blob in subtree.traverse():
        if blob.type == "blob" and blob.path.endswith((".yaml", ".yml")):
            target = base / Path(blob.path).relative_to(relative)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(blob.data_stream.read())
    return base
