"""``advise --branch NAME``: the proposals written into the desired files and committed on a new git branch, so
that the pull-request workflow plans them like any other change.

The branch starts at the current commit and only the files the advisor wrote are committed (``git commit --
PATHS``), so nothing else the user has staged rides along. It refuses, before writing anything, when the desired
directory has changes not committed (they would be mixed into the advisor's commit or hidden by it), when the
branch exists, or when its name is not one git accepts. git itself commits, so the user's identity, hooks and
signing settings apply as for any of their commits. The working tree stays on the new branch, where the
proposal is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import PgstateError
from ..source.git import GitFacts, git_facts
from .proposals import Proposal
from .writeback import Written


@dataclass(frozen=True)
class Committed:
    branch: str
    commit: str
    written: Written


def commit_message(proposals: list[Proposal], written: Written) -> str:
    left_out = {id(proposal) for proposal, _ in written.left_out}
    kept = [proposal for proposal in proposals if id(proposal) not in left_out]
    lines = [f"pgstate advise: {len(kept)} proposal(s)", ""]
    lines += [f"- {proposal.title}: {proposal.reason}" for proposal in kept]
    if written.left_out:
        lines += ["", "Not written:"] + [f"- {proposal.title}: {why}" for proposal, why in written.left_out]
    return "\n".join(lines) + "\n"


def check_branch(desired_dir: Path, branch: str) -> None:
    """Raise when ``advise --branch`` could not commit there; run before the advisor, and again before writing."""
    facts = _repository(desired_dir)
    try:
        _check(facts, desired_dir, branch)
    finally:
        facts.close()


def write_on_branch(
    desired_dir: Path, branch: str, proposals: list[Proposal], write: Callable[[], Written]
) -> Committed | None:
    """Write with ``write`` and commit what it wrote on the new ``branch``; None when it wrote nothing (no
    branch is created then)."""
    import git

    facts = _repository(desired_dir)
    try:
        _check(facts, desired_dir, branch)
        written = write()
        if not written.files:
            return None
        paths = [str(path.resolve()) for path in written.files]
        repo = facts.repo
        try:
            repo.git.checkout("-b", branch)  # the written files are carried over: the branch starts at HEAD
            repo.git.add("--", *paths)
            repo.git.commit("-m", commit_message(proposals, written), "--", *paths)
        except git.GitCommandError as error:
            detail = str(error.stderr).strip().strip("'").strip() or str(error)
            raise PgstateError(
                f"git could not commit the proposals on {branch}: {detail}",
                hint="the files are written; fix the git problem and commit them yourself",
            ) from None
        return Committed(branch, repo.head.commit.hexsha, written)
    finally:
        facts.close()


def _repository(desired_dir: Path) -> GitFacts:
    facts = git_facts(desired_dir)
    if facts is None:
        raise PgstateError(
            f"{desired_dir} is not inside a git repository",
            hint="--branch commits the proposals with git: run it in the repository that holds the desired files",
        )
    return facts


def _check(facts: GitFacts, desired_dir: Path, branch: str) -> None:
    import git

    if facts.commit is None:
        raise PgstateError("the repository has no commit to branch from", hint="commit the desired files first")
    if facts.dirty is None:
        raise PgstateError(
            f"cannot read the git status of {desired_dir}",
            hint="check that git works in this repository (e.g. safe.directory for another owner's checkout)",
        )
    if facts.dirty:
        raise PgstateError(
            f"{desired_dir} has changes that are not committed",
            hint="commit or stash them first: --branch commits only what the advisor writes",
        )
    try:
        facts.repo.git.check_ref_format("--branch", branch)
    except git.GitCommandError:
        raise PgstateError(f"{branch!r} is not a valid git branch name", hint="e.g. advise/indexes") from None
    if branch in [head.name for head in facts.repo.heads]:
        raise PgstateError(f"the branch {branch} already exists", hint="choose another --branch name")
