"""Multi-process and multi-node runs through torchrun (torch.distributed.run); benchsite spawns nothing itself."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from runners.schema import Launch


@dataclass(frozen=True)
class TorchrunConfig:
    """torchrun's own options; see `torchrun --help`. Multi-node runs use its c10d rendezvous."""

    nproc_per_node: int = 1
    nnodes: int = 1
    rdzv_endpoint: str | None = None
    rdzv_id: str = "benchsite"

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
