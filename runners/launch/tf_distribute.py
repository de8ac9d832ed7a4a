"""Multi-worker TensorFlow runs: one worker process per task, each told its place by TF_CONFIG.

TensorFlow's MultiWorkerMirroredStrategy does the coordination; this launcher
only starts the processes (all on localhost by default, or this machine's tasks
of a cluster given as host:port addresses), sets ``TF_CONFIG``, ``RANK`` and
``WORLD_SIZE`` for each, enforces the wall-clock limit, and writes a failure
record when task 0 (which writes the result) leaves none.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from runners.launch.local import OUTPUT_TAIL_LINES, LaunchOutcome, worker_command
from runners.record import RunSpec, assemble, capture_environment, planned_dataset
from runners.schema import Launch, Status, read_result, utc_now
from runners.telemetry.nvml import accelerator_facts
from runners.writing import write_result

FAILURE_GRACE_S = 15.0  # after one worker fails, the others wait on collectives forever: stop them


@dataclass(frozen=True)
class TfDistributeConfig:
    """A cluster of ``workers`` tasks; ``hosts`` gives their host:port addresses (default: free localhost ports).

    On a multi-machine cluster every machine runs the launcher with the same
    ``hosts`` and its own ``tasks``; the machine with task 0 writes the result.
    """

    workers: int = 2
    hosts: tuple[str, ...] = ()
    tasks: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        if self.hosts and len(self.hosts) != self.workers:
            raise ValueError(f"{len(self.hosts)} host address(es) given for {self.workers} workers")
        if self.workers % self.nodes:
            raise ValueError(f"{self.workers} workers do not divide evenly over {self.nodes} hosts")

    @property
    def nodes(self) -> int:
        return len({address.rsplit(":", 1)[0] for address in self.hosts}) or 1

    @property
    def launch(self) -> Launch:
        return Launch(engine="tf-distribute", nodes=self.nodes, procs_per_node=self.workers // self.nodes, world_size=self.workers)

    def addresses(self) -> list[str]:
        """The cluster's worker addresses: the given hosts, or free ports on localhost."""
        if self.hosts:
            return list(self.hosts)
        with ExitStack() as stack:  # hold every socket until all ports are chosen, so none repeats
            sockets = [stack.enter_context(socket.socket()) for _ in range(self.workers)]
            for sock in sockets:
                sock.bind(("localhost", 0))
            return [f"localhost:{sock.getsockname()[1]}" for sock in sockets]


def tf_config(addresses: list[str], index: int) -> str:
    """The TF_CONFIG of worker ``index`` in a cluster of ``addresses``."""
    return json.dumps({"cluster": {"worker": addresses}, "task": {"type": "worker", "index": index}})


def _stream(pipe, prefix: str, tail: deque[str], print_line: Callable[[str], None]) -> None:
    for line in iter(pipe.readline, ""):
        line = prefix + line.rstrip("\n")
        tail.append(line)
        print_line(line)


def _wait(procs: list[subprocess.Popen], timeout_s: float) -> bool:
    """Wait for every process; stop all on the deadline or soon after one fails. True when the deadline passed."""
    deadline = time.monotonic() + timeout_s
    failed_at: float | None = None
    while any(p.poll() is None for p in procs):
        now = time.monotonic()
        if failed_at is None and any(p.returncode not in (None, 0) for p in procs):
            failed_at = now
        if now >= deadline or (failed_at is not None and now - failed_at > FAILURE_GRACE_S):
            for proc in procs:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            return now >= deadline
        time.sleep(0.2)
    return False


def launch_tf_distribute(
    spec: RunSpec, config: TfDistributeConfig, timeout_s: float, print_line: Callable[[str], None] = print
) -> LaunchOutcome:
    """Run ``spec`` on every local task of the cluster; task 0 writes the result, or this writes a failure record."""
    spec = spec.model_copy(update={"launch": config.launch})
    started, clock = utc_now(), time.monotonic()
    addresses = config.addresses()
    tasks = list(config.tasks if config.tasks is not None else range(config.workers))
    tail: deque[str] = deque(maxlen=OUTPUT_TAIL_LINES)
    with tempfile.TemporaryDirectory(prefix="benchsite-tf-") as tmp:
        spec_path = Path(tmp) / "spec.json"
        spec_path.write_text(spec.model_dump_json())
        procs, readers = [], []
        for index in tasks:
            env = {
                **os.environ,
                "PYTHONUNBUFFERED": "1",
                "TF_CONFIG": tf_config(addresses, index),
                "RANK": str(index),
                "WORLD_SIZE": str(config.workers),
            }
            proc = subprocess.Popen(
                worker_command(spec_path),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env=env,
                start_new_session=True,
                cwd=Path(__file__).resolve().parents[2],
            )
            prefix = "" if index == 0 else f"[task {index}] "
            reader = threading.Thread(target=_stream, args=(proc.stdout, prefix, tail, print_line), daemon=True)
            reader.start()
            procs.append(proc)
            readers.append(reader)
        timed_out = _wait(procs, timeout_s)
        for reader in readers:
            reader.join(timeout=5)
        out_file = spec_path.with_name(spec_path.name + ".out")
        if out_file.is_file():
            path = Path(out_file.read_text())
            return LaunchOutcome(read_result(path).run.status, path, time.monotonic() - clock)
    codes = [p.returncode for p in procs]
    if timed_out:
        status, why = Status.timeout, f"run exceeded its wall-clock limit of {timeout_s:g}s and was killed"
    elif 0 not in tasks:  # task 0 runs on another machine and writes the result there
        status = Status.success if all(code == 0 for code in codes) else Status.failed
        return LaunchOutcome(status, spec.results_dir, time.monotonic() - clock)
    else:
        status, why = Status.failed, f"tf-distribute workers exited with codes {codes} and task 0 wrote no result"
    result = assemble(
        spec,
        status=status,
        error=why + "\n--- last lines ---\n" + "\n".join(tail),
        started=started,
        finished=utc_now(),
        environment=capture_environment(spec, spec.device, accelerator_facts()),
        dataset=planned_dataset(spec),
    )
    return LaunchOutcome(status, write_result(result, spec.results_dir), time.monotonic() - clock)
