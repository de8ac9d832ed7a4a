"""Publish the site as a version on the gh-pages branch with mike (versions.json, aliases, older versions frozen)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from generator.build import generate
from generator.errors import BuildError
from generator.ops.gitops import added_in, git

MKDOCS_ENV = {"NO_MKDOCS_2_WARNING": "1"}
MIKE = [sys.executable, "-c", "import sys; from mike.driver import main; sys.exit(main())"]  # mike has no __main__


def publish(
    results: Iterable[str | os.PathLike[str]],
    version: str,
    aliases: list[str],
    repo: Path,
    push: bool = False,
    remote: str = "origin",
    branch: str = "gh-pages",
    strict: bool = False,
    source_url: str | None = None,
) -> str:
    """Generate the site from ``results`` and ``mike deploy`` it as ``version`` (+ aliases) to ``branch`` of ``repo``.

    The pages go into the version's folder; the data (downloads, schema, result copies) goes once to data/ at
    the branch's root, beside the versions, and every version links there: a release freezes pages, not a
    second copy of the data.
    """
    work_dir = repo / "build"
    data_dir = work_dir / "data"
    config = generate(
        results,
        work_dir / "site",
        strict=strict,
        work_dir=work_dir,
        versioned=True,
        source_url=source_url,
        data_dir=data_dir,
        added_in=added_in,
    )
    options = ["--config-file", str(config), "--update-aliases", "--remote", remote, "--branch", branch]
    options += ["--message", f"Publish benchsite {version}"]
    cmd = [*MIKE, "deploy", *options, version, *aliases]
    _mike(cmd, repo, f"mike deploy {version}")
    if "latest" in aliases:  # the site's root redirects to the latest version
        default = [*MIKE, "set-default", "--config-file", str(config), "--remote", remote, "--branch", branch]
        _mike([*default, "latest"], repo, "mike set-default latest")
    commit_data(repo, branch, data_dir, f"Publish benchsite data with {version}")
    if push:
        git(repo, "push", "--quiet", remote, f"{branch}:{branch}")
    where = f"{remote}/{branch}" if push else f"local branch {branch}"
    return f"published version {version}{' (' + ', '.join(aliases) + ')' if aliases else ''} to {where}"


def mike_env() -> dict[str, str]:
    """The environment for mike: it runs `mkdocs` from PATH, so put this interpreter's scripts first.

    Without this, `.venv/bin/benchsite publish` fails outside an activated venv.
    """
    scripts = str(Path(sys.executable).parent)
    return {**os.environ, **MKDOCS_ENV, "PATH": os.pathsep.join([scripts, os.environ.get("PATH", "")])}


def _mike(cmd: list[str], repo: Path, what: str) -> None:
    """Run one mike command in repo; raise BuildError with the end of its output if it fails."""
    proc = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, env=mike_env(), timeout=900)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
        raise BuildError(f"{what} failed:\n{tail}")


def commit_data(repo: Path, branch: str, data_dir: Path, message: str) -> None:
    """Make data/ at the root of ``branch`` hold exactly the files of data_dir (dot files aside), in one commit if changed."""
    with tempfile.TemporaryDirectory(prefix="benchsite-pages-") as tmp:
        tree = Path(tmp) / "tree"
        git(repo, "worktree", "add", "--quiet", str(tree), branch)
        try:
            target = tree / "data"
            shutil.rmtree(target, ignore_errors=True)
            for path in sorted(data_dir.rglob("*")):
                if path.is_file() and path.name[0] != ".":
                    dest = target / path.relative_to(data_dir)
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, dest)
            git(tree, "add", "--all", "--", "data")
            if git(tree, "diff", "--cached", "--quiet", check=False).returncode != 0:
                git(tree, "commit", "--quiet", "-m", message)
        finally:
            git(repo, "worktree", "remove", "--force", str(tree))
