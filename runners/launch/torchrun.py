"""Multi-process and multi-node runs through torchrun (torch.distributed.run); benchsite spawns nothing itself."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from runners.launch.base import positive_int
from runners.launch.local import launch_local
from runners.launch.processes import LaunchOutcome
from runners.record import RunSpec
from runners.schema import Launch


@dataclass(frozen=True)
class TorchrunConfig:
    """torchrun's own options; see `torchrun --help`. Multi-node runs use its c10d rendezvous."""

    nproc_per_node: int = 1
    nnodes: int = 1
    rdzv_endpoint: str | None = None
    rdzv_id: str = "benchsite"
    engine = "torchrun"

    @property
    def launch(self) -> Launch:
        return Launch(
            engine="torchrun", nodes=self.nnodes, procs_per_node=self.nproc_per_node, world_size=self.nnodes * self.nproc_per_node
        )

    def command(self, spec_path: Path) -> list[str]:
        """The torchrun command line that runs one spec on every process; rank 0 writes the result."""
        cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={self.nproc_per_node}", f"--nnodes={self.nnodes}"]
        if self.nnodes > 1 or self.rdzv_endpoint:
            cmd += ["--rdzv-backend=c10d", f"--rdzv-endpoint={self.rdzv_endpoint or 'localhost:29400'}", f"--rdzv-id={self.rdzv_id}"]
        else:
            cmd += ["--standalone"]
        return [*cmd, "--module", "runners.worker", str(spec_path)]


class TorchrunLauncher:
    """torchrun's processes for frameworks whose descriptor names the engine 'torchrun'."""

    engine = "torchrun"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        dist = parser.add_argument_group("multi-GPU / multi-node (torchrun)")
        dist.add_argument("--nproc-per-node", type=positive_int, default=1, metavar="N", help="processes (GPUs) per node")
        dist.add_argument("--nnodes", type=positive_int, default=1, metavar="N", help="number of nodes")
        dist.add_argument("--rdzv-endpoint", metavar="HOST:PORT", help="torchrun c10d rendezvous endpoint (multi-node)")
        dist.add_argument("--rdzv-id", default="benchsite", help="torchrun rendezvous id (default: benchsite)")

    def config(self, args: argparse.Namespace) -> TorchrunConfig | None:
        if args.nproc_per_node <= 1 and args.nnodes <= 1:
            return None
        return TorchrunConfig(args.nproc_per_node, args.nnodes, args.rdzv_endpoint, args.rdzv_id)

    def launch(self, spec: RunSpec, config: TorchrunConfig, timeout_s: float, print_line: Callable[[str], None]) -> LaunchOutcome:
        return launch_local(spec, timeout_s=timeout_s, print_line=print_line, command=config.command)


TORCHRUN = TorchrunLauncher()
