"""`benchsite serve` for real: SIGTERM stops its `mkdocs serve` child and frees the port; a busy port is one line."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import DATA, benchsite

pytestmark = pytest.mark.slow

START_TIMEOUT_S = 300


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def test_sigterm_stops_mkdocs_serve_and_frees_the_port(tmp_path: Path):
    port = _free_port()
    serve = subprocess.Popen(
        benchsite("serve", "--results", str(DATA / "valid"), "--dev-addr", f"127.0.0.1:{port}"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    children: list[int] = []
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _answers(port):
            assert serve.poll() is None and time.monotonic() < deadline, serve.stderr.read() if serve.poll() is not None else "slow"
            time.sleep(1)
        children = _children(serve.pid)
        assert children, "mkdocs serve should run as a child process"
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=60) == 0
        assert not [pid for pid in children if _alive(pid)]
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0  # nothing listens there any more
    finally:
        for pid in [serve.pid, *children]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        serve.wait()


def test_a_busy_port_is_one_line_and_exit_1():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            benchsite("serve", "--results", str(DATA / "valid"), "--dev-addr", f"127.0.0.1:{port}"),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"benchsite serve: error: cannot serve on 127.0.0.1:{port}: Address already in use; stop what listens there or pick --dev-addr"
    ]
