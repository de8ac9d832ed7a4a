"""What benchsite can run: one descriptor per framework and per launcher, as names and import paths.

Light on purpose: the schema and the suites read the allowed names from here, so
nothing heavy (no torch, no TensorFlow) is imported; a backend or a launcher is
imported only where a run needs it. Each registry is the built-in tuple below,
then what installed packages add through entry points (``benchsite.frameworks``,
``benchsite.launchers``), in that order.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import import_module, metadata
from typing import Any

FRAMEWORK_GROUP = "benchsite.frameworks"
LAUNCHER_GROUP = "benchsite.launchers"


@dataclass(frozen=True)
class Framework:
    """One framework: its backend, what a result records about it, and how its runs start."""

    name: str  # as results and suites spell it
    title: str  # as messages spell it
    backend: str  # "module:Class", a runners.frameworks.base.Backend
    packages: tuple[str, ...]  # distributions recorded in environment.packages
    modules: tuple[str, ...]  # what its worker imports; the preflight probe looks for them without importing
    versioned_by: tuple[str, ...]  # distributions whose version is run.framework_version, first installed wins
    precisions: tuple[str, ...]  # what the backend can run (the device may refuse more)
    extra: str  # the pyproject extra that installs it: pip install -e '.[extra]'
    launcher: str = "local"  # engine of its multi-process runs

    def load_backend(self) -> Any:
        """Import and return the backend class."""
        return load(self.backend)


@dataclass(frozen=True)
class Launcher:
    """One way to start a run's processes, keyed by the engine recorded in environment.launch."""

    engine: str
    target: str | None  # "module:object", a runners.launch.base.LauncherKind; None: recorded, started outside benchsite


FRAMEWORKS: tuple[Framework, ...] = (
    Framework(
        name="pytorch",
        title="PyTorch",
        backend="runners.frameworks.pytorch:PyTorchBackend",
        packages=("torch", "torchvision", "timm", "numpy", "pillow", "nvidia-ml-py"),
        modules=("torch", "torchvision", "timm", "numpy", "PIL"),
        versioned_by=("torch",),
        precisions=("fp32", "tf32", "amp-fp16", "amp-bf16", "int8"),
        extra="pytorch",
        launcher="torchrun",
    ),
    Framework(
        name="tensorflow",
        title="TensorFlow",
        backend="runners.frameworks.tensorflow:TensorFlowBackend",
        packages=("tensorflow", "tensorflow-cpu", "keras", "numpy", "nvidia-ml-py"),
        modules=("tensorflow", "numpy"),
        versioned_by=("tensorflow", "tensorflow-cpu"),
        precisions=("fp32", "tf32", "amp-fp16", "amp-bf16", "int8"),
        extra="tensorflow",
        launcher="tf-distribute",
    ),
)

LAUNCHERS: tuple[Launcher, ...] = (
    Launcher("local", "runners.launch.local:LOCAL"),
    Launcher("torchrun", "runners.launch.torchrun:TORCHRUN"),
    Launcher("tf-distribute", "runners.launch.tf_distribute:TF_DISTRIBUTE"),
    Launcher("slurm", None),  # the sbatch template runs `benchsite run` on each node
)


def load(target: str) -> Any:
    """The object a "module:attribute" path names."""
    module_name, _, attr = target.partition(":")
    return getattr(import_module(module_name), attr)


@functools.cache
def _entry_points(group: str) -> tuple[metadata.EntryPoint, ...]:
    return tuple(metadata.entry_points(group=group))


def framework_names() -> tuple[str, ...]:
    """Names of every framework, built-in first; reads entry-point names only, imports nothing."""
    return (*(f.name for f in FRAMEWORKS), *(ep.name for ep in _entry_points(FRAMEWORK_GROUP)))


def launch_engines() -> tuple[str, ...]:
    """Engines of every launcher, built-in first; imports nothing."""
    return (*(launcher.engine for launcher in LAUNCHERS), *(ep.name for ep in _entry_points(LAUNCHER_GROUP)))


def get_framework(name: str) -> Framework:
    """The descriptor of framework ``name`` (an entry point's module is imported here); ValueError naming the known ones."""
    for framework in FRAMEWORKS:
        if framework.name == name:
            return framework
    for ep in _entry_points(FRAMEWORK_GROUP):
        if ep.name == name:
            return ep.load()
    raise ValueError(f"unknown framework {name!r}; known: {', '.join(framework_names())}")


def get_launcher(engine: str) -> Any:
    """The launcher object of ``engine``; ValueError naming the known ones."""
    for launcher in LAUNCHERS:
        if launcher.engine == engine and launcher.target:
            return load(launcher.target)
    for ep in _entry_points(LAUNCHER_GROUP):
        if ep.name == engine:
            return ep.load()
    raise ValueError(f"no launcher for engine {engine!r}; known: {', '.join(launch_engines())}")


def launchers() -> list[Any]:
    """Every launcher object that benchsite itself starts, in registry order."""
    return [load(launcher.target) for launcher in LAUNCHERS if launcher.target] + [ep.load() for ep in _entry_points(LAUNCHER_GROUP)]
