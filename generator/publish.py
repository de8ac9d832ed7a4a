"""Publish the site as a version on the gh-pages branch with mike (versions.json, aliases, older versions frozen)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from generator.build import generate
from generator.errors import BuildError

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
) -> str:
    """Generate the site from ``results`` and ``mike deploy`` it as ``version`` (+ aliases) to ``branch`` of ``repo``."""
    work_dir = repo / "build"
    config = generate(results, work_dir / "site", strict=strict, work_dir=work_dir, versioned=True)
    options = ["--config-file", str(config), "--update-aliases", "--remote", remote, "--branch", branch]
    options += ["--message", f"Publish benchsite {version}"] + (["--push"] if push else [])
    cmd = [*MIKE, "deploy", *options, version, *aliases]
    _mike(cmd, repo, f"mike deploy {version}")
    if "latest" in aliases:  # the site's root redirects to the latest version
        default = [*MIKE, "set-default", "--config-file", str(config), "--remote", remote, "--branch", branch]
        _mike([*default, *(["--push"] if push else []), "latest"], repo, "mike set-default latest")
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
