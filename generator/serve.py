"""Serve the site locally: generate the docs folder, run `mkdocs serve`, regenerate when inputs change."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from generator.build import default_work_dir, generate, log, mkdocs_env
from generator.errors import BenchsiteError
from generator.pages import TEMPLATES_DIR

POLL_S = 1.0


def snapshot(paths: Iterable[Path]) -> dict[str, tuple[int, int]]:
    """Return (mtime_ns, size) of every file under the given files or folders."""
    state = {}
    for root in paths:
        for path in [root] if root.is_file() else root.rglob("*"):
            if path.is_file():
                stat = path.stat()
                state[str(path)] = (stat.st_mtime_ns, stat.st_size)
    return state


SITE = Path("site")  # mkdocs serve builds into a temporary folder; this only names the build folder, build/site/


def regenerate(results: list[Path]) -> None:
    """Regenerate the docs folder; report a problem instead of stopping the server."""
    try:
        generate(results, SITE, work_dir=default_work_dir(SITE))
    except BenchsiteError as exc:
        log(f"error: {exc}")


def serve(results: Iterable[str | os.PathLike[str]], dev_addr: str) -> None:
    """Build the docs folder, serve it with `mkdocs serve` and regenerate it when results or templates change."""
    results = [Path(p) for p in results]
    watched = [*results, TEMPLATES_DIR]
    # no data_dir: the downloads and result copies go into the docs folder, so that mkdocs serve serves them too
    config = generate(results, SITE, work_dir=default_work_dir(SITE))
    server = subprocess.Popen([sys.executable, "-m", "mkdocs", "serve", "-f", str(config), "-a", dev_addr], env=mkdocs_env())
    state = snapshot(watched)
    try:
        while server.poll() is None:
            time.sleep(POLL_S)
            if (new := snapshot(watched)) != state:
                state = new
                log("inputs changed; regenerating")
                regenerate(results)
    finally:
        server.terminate()
        server.wait()
    if server.returncode not in (0, -15):
        raise BenchsiteError(f"mkdocs serve exited with {server.returncode}")
