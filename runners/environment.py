"""Capture where a run happened: host facts, allowlisted environment variables, git provenance.

Framework-neutral and standard-library only, so every runner (and a vendor
container) records the same facts the same way.
"""

from __future__ import annotations

import functools
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


# Values redacted from everything a run records (its error text and log tails, its command line):
# every variable whose name looks secret, and every variable off the allowlist with a value long
# enough to be a credential (a library that prints a token or dumps its environment publishes nothing).
SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|KEY|CREDENTIAL|AUTH|PRIVATE", re.IGNORECASE)
MIN_SECRET_NAME_VALUE_CHARS = 4  # below this a "secret" value matches ordinary text and is no secret
MIN_UNLISTED_VALUE_CHARS = 8
# Off the allowlist yet known not to be secret: the shell's and Python's own, and benchsite's settings (paths in
# a traceback stay readable). A secret-looking name is redacted even here.
NOT_SECRET = frozenset({"PATH", "HOME", "PWD", "OLDPWD", "SHELL", "USER", "LOGNAME", "LANG", "TERM", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV"})
NOT_SECRET_PREFIXES = ("BENCHSITE_", "LC_", "XDG_")


def is_allowlisted(name: str) -> bool:
    """Whether the variable ``name`` is one benchsite records."""
    return (name in ENV_ALLOWLIST or name.startswith(ENV_ALLOWED_PREFIXES)) and not SECRET_LOOKING.search(name)


def secret_values(environ: dict[str, str] | None = None) -> dict[str, str]:
    """Map each value to redact to the name of its variable."""
    environ = dict(os.environ if environ is None else environ)
    found = {}
    for name, value in sorted(environ.items()):
        if SECRET_NAME.search(name) and len(value) >= MIN_SECRET_NAME_VALUE_CHARS:
            found[value] = name
        elif not is_allowlisted(name) and not _known_not_secret(name) and len(value) >= MIN_UNLISTED_VALUE_CHARS:
            found.setdefault(value, name)
    return found


def _known_not_secret(name: str) -> bool:
    return name in NOT_SECRET or name.startswith(NOT_SECRET_PREFIXES)


class Redactor:
    """Replace the values of secret-looking environment variables in text by ``[NAME redacted]``."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        self.names = secret_values(environ)
        longest_first = sorted(self.names, key=len, reverse=True)
        self.pattern = re.compile("|".join(map(re.escape, longest_first))) if longest_first else None

    def __call__(self, text: str) -> str:
        if self.pattern is None:
            return text
        return self.pattern.sub(lambda m: f"[{self.names[m.group()]} redacted]", text)


@functools.cache
def redactor() -> Redactor:
    """The redactor of this process's environment (read once)."""
    return Redactor()


def redact(text: str) -> str:
    """``text`` with the values of this process's secret-looking environment variables replaced."""
    return redactor()(text)


def allowlisted_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment variables benchsite records: the allowlist, never anything secret-looking."""
    environ = dict(os.environ if environ is None else environ)
    return {name: value for name, value in sorted(environ.items()) if is_allowlisted(name)}


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
