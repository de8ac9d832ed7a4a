"""The few git operations the nightly job and publishing need, through the real git command."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from generator.errors import BenchsiteError
from generator.results import LoadedResult


class GitError(BenchsiteError):
    """A git command failed; the message carries git's own last line."""


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``git -C repo args...`` and return the completed process; raise GitError on failure when ``check``."""
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        last = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:] or ["no output"]
        raise GitError(f"git {' '.join(args)} failed: {last[0]}")
    return proc


def repo_root(path: Path) -> Path:
    """The top folder of the git work tree holding ``path``."""
    return Path(git(path, "rev-parse", "--show-toplevel").stdout.strip())


def commit_paths(repo: Path, paths: list[Path], message: str) -> str:
    """Stage exactly ``paths`` and commit them; return the new commit id."""
    git(repo, "add", "--", *(str(p) for p in paths))
    git(repo, "commit", "--quiet", "-m", message, "--", *(str(p) for p in paths))
    return git(repo, "rev-parse", "HEAD").stdout.strip()


def push_with_rebase(
    repo: Path, remote: str = "origin", attempts: int = 5, log: Callable[[str], None] = print, backoff_s: float = 1.0
) -> int:
    """Push the current branch; on a rejected (non-fast-forward) push, pull --rebase and try again.

    Result files have unique names, so rebasing one machine's commit onto
    another's never conflicts. Returns the number of attempts used.
    """
    branch = git(repo, "rev-parse", "--abbrev-ref", "HEAD").stdout.strip()
    for attempt in range(1, attempts + 1):
        pushed = git(repo, "push", remote, f"HEAD:{branch}", check=False)
        if pushed.returncode == 0:
            log(f"pushed {branch} to {remote} (attempt {attempt})")
            return attempt
        log(f"push rejected (attempt {attempt}/{attempts}); pull --rebase and retry")
        git(repo, "pull", "--rebase", "--quiet", remote, branch)
        time.sleep(backoff_s * attempt)
    raise GitError(f"could not push {branch} to {remote} after {attempts} attempts; the results are committed locally")


def added_in(loaded: LoadedResult) -> str | None:
    """The commit that added a result file to its git repository, or None (not in git, or not committed yet)."""
    proc = git(loaded.path.parent, "log", "--diff-filter=A", "--format=%H", "-1", "--", loaded.path.name, check=False)
    return proc.stdout.strip() or None if proc.returncode == 0 else None
