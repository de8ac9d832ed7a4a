"""Multi-worker TensorFlow runs: one worker process per task, each told its place by TF_CONFIG.

TensorFlow's MultiWorkerMirroredStrategy does the coordination; this launcher
only starts the processes (all on localhost by default, or this machine's tasks
of a cluster given as host:port addresses), sets ``TF_CONFIG``, ``RANK`` and
``WORLD_SIZE`` for each, enforces the wall-clock limit, and writes a failure
record when task 0 (which writes the result) leaves none.
"""

from __future__ import annotations

import argparse
import json
import socket
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from runners.launch.base import positive_int
from runners.launch.local import worker_command
from runners.launch.processes import LaunchOutcome, Worker, run_workers
from runners.record import RunSpec
from runners.schema import Launch, Status


@dataclass(frozen=True)
class TfDistributeConfig:
    """A cluster of ``workers`` tasks; ``hosts`` gives their host:port addresses (default: free localhost ports).

    On a multi-machine cluster every machine runs the launcher with the same
    ``hosts`` and its own ``tasks``; the machine with task 0 writes the result.
    """

    workers: int = 2
    hosts: tuple[str, ...] = ()
    tasks: tuple[int, ...] | None = None
    engine = "tf-distribute"

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


def _task(spec_path: Path, addresses: list[str], index: int, workers: int) -> Worker:
    """Task ``index`` of the cluster: the worker command, told its place by TF_CONFIG, RANK and WORLD_SIZE."""
    env = {"TF_CONFIG": tf_config(addresses, index), "RANK": str(index), "WORLD_SIZE": str(workers)}
    return Worker(worker_command(spec_path), env, prefix="" if index == 0 else f"[task {index}] ")


def launch_tf_distribute(
    spec: RunSpec, config: TfDistributeConfig, timeout_s: float, print_line: Callable[[str], None] = print
) -> LaunchOutcome:
    """Run ``spec`` on every local task of the cluster; task 0 writes the result, or this writes a failure record."""
    spec = spec.model_copy(update={"launch": config.launch})
    addresses = config.addresses()
    tasks = list(config.tasks if config.tasks is not None else range(config.workers))
    run = run_workers(
        spec,
        lambda spec_path: [_task(spec_path, addresses, index, config.workers) for index in tasks],
        timeout_s,
        print_line,
        tmp_prefix="benchsite-tf-",
    )
    if run.written is None and not run.timed_out and 0 not in tasks:  # task 0 runs on another machine and writes the result there
        status = Status.success if all(code == 0 for code in run.codes) else Status.failed
        return LaunchOutcome(status, spec.results_dir, run.seconds)
    return run.outcome(f"tf-distribute workers exited with codes {run.codes} and task 0 wrote no result")


class TfDistributeLauncher:
    """TF_CONFIG worker processes for frameworks whose descriptor names the engine 'tf-distribute'."""

    engine = "tf-distribute"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        tfd = parser.add_argument_group("multi-worker TensorFlow (tf.distribute MultiWorkerMirroredStrategy)")
        tfd.add_argument("--tf-workers", type=positive_int, default=1, metavar="N", help="worker processes (TF_CONFIG tasks)")
        tfd.add_argument("--tf-hosts", metavar="H:P,...", help="every worker's host:port, in task order (multi-machine)")
        tfd.add_argument("--tf-task", type=int, action="append", metavar="I", help="the task index(es) this machine runs")

    def config(self, args: argparse.Namespace) -> TfDistributeConfig | None:
        if args.tf_workers <= 1 and not args.tf_hosts:
            return None
        hosts = tuple(h for h in (args.tf_hosts or "").split(",") if h)
        try:
            return TfDistributeConfig(
                workers=len(hosts) or args.tf_workers, hosts=hosts, tasks=tuple(args.tf_task) if args.tf_task else None
            )
        except ValueError as exc:
            raise ValueError(f"--tf-workers/--tf-hosts: {exc}") from None

    def launch(self, spec: RunSpec, config: TfDistributeConfig, timeout_s: float, print_line: Callable[[str], None]) -> LaunchOutcome:
        return launch_tf_distribute(spec, config, timeout_s=timeout_s, print_line=print_line)


TF_DISTRIBUTE = TfDistributeLauncher()
