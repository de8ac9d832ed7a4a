"""The console shows benchsite's progress; library messages go to each run's log file, and live with --verbose."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import run_cli

from runners.schema import iter_result_files, read_result

pytestmark = pytest.mark.slow

CHATTY = """\
#!/bin/sh
[ "$2" = runners.launch.probe ] && exec {python} "$@"
echo "epoch 1/1 progress of the run"
echo "I0000 00:00:1.0 cpu_feature_guard.cc: oneDNN custom operations are on" >&2
echo "UserWarning: please use the new quantization API" >&2
exit 3
"""


def _chatty_suite(tmp_path: Path) -> Path:
    """A suite whose worker prints progress on stdout and library chatter on stderr, as a real worker does."""
    worker = tmp_path / "chatty-python"
    worker.write_text(CHATTY.format(python=sys.executable))
    worker.chmod(0o755)
    suite = tmp_path / "chatty.yaml"
    suite.write_text(
        f"name: chatty\ndescription: d\npython: {{pytorch: {worker}}}\nbenchmarks:\n"
        "  - {name: chatty, title: t, model: M, description: d, implementations: {pytorch: test_resnet},\n"
        "     dataset: {name: digits, image_size: 16, num_classes: 10}, quality_target: {value: 0.5}, modes: [inference],\n"
        "     training: {batch_size: 8, lr: 0.1, max_epochs: 1},\n"
        "     inference: {batch_sizes: [1], warmup_iterations: 1, min_iterations: 5, min_time_s: 0}}\n"
    )
    return suite


@pytest.mark.parametrize("verbose", [False, True])
def test_library_messages_go_to_the_run_log_and_live_only_with_verbose(tmp_path: Path, verbose: bool):
    args = ["run", "--suite", str(_chatty_suite(tmp_path)), "--results", str(tmp_path / "r"), *(["--verbose"] if verbose else [])]
    proc = run_cli(args, tmp_path / "cache")
    console = proc.stdout + proc.stderr
    assert "epoch 1/1 progress of the run" in console
    assert ("oneDNN" in console) is verbose and ("UserWarning" in console) is verbose
    (path,) = iter_result_files(tmp_path / "r")
    record = read_result(path)
    log = Path(record.run.log).expanduser()
    assert log.is_relative_to(tmp_path / "cache" / "logs") and log.name == f"{record.run.id}.log"
    text = log.read_text()
    assert "epoch 1/1 progress of the run" in text and "oneDNN custom operations" in text and "UserWarning" in text
    assert "oneDNN custom operations" in record.run.error  # the record's last lines keep every stream


def test_two_workers_printing_at_once_never_merge_their_console_lines(tmp_path: Path, capfd: pytest.CaptureFixture[str]):
    """print() writes a line and its newline apart; two workers' reader threads must not interleave them."""
    import threading
    from collections import deque

    from runners.launch.processes import RunLog

    log = RunLog(tmp_path / "run.log", deque(maxlen=10), print, verbose=False)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter can, as a loaded 2-core machine does
    try:
        threads = [threading.Thread(target=lambda p=p: [log.add(f"{p}line {i}", True) for i in range(3000)]) for p in ("", "[task 1] ")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
        log.close()
    lines = capfd.readouterr().out.splitlines()
    assert len(lines) == 6000 and all(line.count("line") == 1 for line in lines)
    assert (tmp_path / "run.log").read_text().count("\n") == 6000
