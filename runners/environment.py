"""Capture where a run happened: host facts, allowlisted environment variables, git provenance.

Framework-neutral and standard-library only, so every runner (and a vendor
container) records the same facts the same way.
"""

from __future__ import annotations

import os
import platform
import re
import socket
import subprocess
from importlib import metadata
from pathlib import Path

from runners.schema import Host

# Only these variables are recorded; a name that looks like a credential is
# refused even if it matches (HF_TOKEN, WANDB_API_KEY, AWS_SECRET_ACCESS_KEY...).
ENV_ALLOWLIST = frozenset(
    {
        "CUDA_VISIBLE_DEVICES",
        "CUDA_DEVICE_ORDER",
        "CUDA_LAUNCH_BLOCKING",
        "CUBLAS_WORKSPACE_CONFIG",
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "OPENBLAS_CORETYPE",
        "KMP_AFFINITY",
        "NVIDIA_VISIBLE_DEVICES",
        "NVIDIA_DRIVER_CAPABILITIES",
        "NVIDIA_PYTORCH_VERSION",
        "NVIDIA_TENSORFLOW_VERSION",
        "PYTORCH_CUDA_ALLOC_CONF",
        "TORCH_CUDNN_V8_API_ENABLED",
        "TF_ENABLE_ONEDNN_OPTS",
        "TF_XLA_FLAGS",
        "TF_GPU_ALLOCATOR",
        "TF_CPP_MIN_LOG_LEVEL",
        "XLA_FLAGS",
        "SLURM_JOB_ID",
        "SLURM_NNODES",
        "SLURM_NTASKS",
        "SLURM_JOB_PARTITION",
        "WORLD_SIZE",
        "LOCAL_WORLD_SIZE",
        "MASTER_PORT",
    }
)
ENV_ALLOWED_PREFIXES = ("NCCL_",)
SECRET_LOOKING = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|API_KEY|PRIVATE|_KEY$|AUTH", re.IGNORECASE)


def allowlisted_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment variables benchsite records: the allowlist, never anything secret-looking."""
    environ = dict(os.environ if environ is None else environ)
    return {
        name: value
        for name, value in sorted(environ.items())
        if (name in ENV_ALLOWLIST or name.startswith(ENV_ALLOWED_PREFIXES)) and not SECRET_LOOKING.search(name)
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _ram_gib() -> float:
    try:
        pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        return round(pages * page_size / 2**30, 2)
    except (ValueError, OSError, AttributeError):
        return 0.0


def _os_name() -> str:
    try:
        return platform.freedesktop_os_release().get("PRETTY_NAME", platform.system())
    except OSError:
        return f"{platform.system()} {platform.release()}"


def host_facts() -> Host:
    """CPU model, logical cores, RAM, OS and kernel of this machine."""
    return Host(
        hostname=socket.gethostname(),
        cpu_model=_cpu_model(),
        logical_cores=os.cpu_count() or 1,
        ram_gib=_ram_gib(),
        os=_os_name(),
        kernel=platform.release(),
    )


def package_versions(names: tuple[str, ...]) -> dict[str, str]:
    """Installed versions of the named distributions; missing ones are left out."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def git_state(source_dir: Path | None = None) -> tuple[str | None, bool | None]:
    """Commit and dirty flag of the benchsite checkout that runs (results/ changes ignored)."""
    cwd = source_dir or Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--", ".", ":(exclude)results"],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None, None
    return commit or None, bool(status.strip())
