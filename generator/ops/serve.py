"""Serve the site locally: generate the docs folder, run `mkdocs serve`, regenerate when inputs change."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from generator.build import default_work_dir, generate, log, mkdocs_env
from generator.errors import BenchsiteError
from generator.pages.templates import TEMPLATES_DIR

POLL_S = 1.0
STOP_GRACE_S = 10.0


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


def check_port_free(dev_addr: str) -> None:
    """Refuse, in one line, an address where something already listens (a previous serve, another server)."""
    host, _, port = dev_addr.rpartition(":")
    try:
        address = (host or "127.0.0.1", int(port))
    except ValueError:
        raise BenchsiteError(f"--dev-addr {dev_addr!r}: expected HOST:PORT") from None
    with socket.socket(socket.AF_INET6 if ":" in address[0] else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: only a listener makes it busy
        try:
            probe.bind(address)
        except OSError as exc:
            raise BenchsiteError(f"cannot serve on {dev_addr}: {exc.strerror or exc}; stop what listens there or pick --dev-addr") from None


class _Stopped(Exception):
    """SIGTERM or SIGHUP arrived: stop the server like Ctrl-C does."""


def _raise_stopped(signum: int, frame: object) -> None:
    raise _Stopped(signum)


def stop(server: subprocess.Popen, grace_s: float = STOP_GRACE_S) -> None:
    """Stop `mkdocs serve` and everything it started (its own process group): SIGTERM, then SIGKILL after ``grace_s``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, sig)
        try:
            server.wait(timeout=grace_s)
            return
        except subprocess.TimeoutExpired:
            continue


def serve(results: Iterable[str | os.PathLike[str]], dev_addr: str) -> None:
    """Build the docs folder, serve it with `mkdocs serve` and regenerate it when results or templates change.

    `mkdocs serve` runs in its own process group; SIGINT, SIGTERM and SIGHUP
    stop it (and all it started) before this returns, so the port is free again.
    """
    results = [Path(p) for p in results]
    watched = [*results, TEMPLATES_DIR]
    check_port_free(dev_addr)
    # no data_dir: the downloads and result copies go into the docs folder, so that mkdocs serve serves them too
    config = generate(results, SITE, work_dir=default_work_dir(SITE))
    previous = {sig: signal.signal(sig, _raise_stopped) for sig in (signal.SIGTERM, signal.SIGHUP)}
    server = subprocess.Popen(
        [sys.executable, "-m", "mkdocs", "serve", "-f", str(config), "-a", dev_addr], env=mkdocs_env(), start_new_session=True
    )
    state = snapshot(watched)
    try:
        while server.poll() is None:
            time.sleep(POLL_S)
            if (new := snapshot(watched)) != state:
                state = new
                log("inputs changed; regenerating")
                regenerate(results)
    except (_Stopped, KeyboardInterrupt):
        log("stopping the server")
    finally:
        stop(server)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if server.returncode not in (0, -signal.SIGTERM, -signal.SIGINT):
        raise BenchsiteError(f"mkdocs serve exited with {server.returncode}")
