"""The feature support matrix of a model page: what the results show a model was run with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from generator.results import LoadedResult
from runners.schema import Result, Status

MIXED_PRECISIONS = ("amp", "fp16", "bf16", "amp-fp16", "amp-bf16", "mixed")


@dataclass(frozen=True)
class Feature:
    """A feature and how a run shows it was used."""

    name: str
    shown_by: Callable[[Result], bool]
    precision: str | None = None  # a suite listing this precision declares the feature


@dataclass(frozen=True)
class FeatureSupport:
    """One row of the matrix: measured (with the first run that shows it), declared by the suite, or neither."""

    name: str
    evidence: LoadedResult | None
    declared: bool

    @property
    def status(self) -> str:
        return "Yes" if self.evidence else "Declared by the suite, not yet measured" if self.declared else "Not measured"


def _flags(result: Result) -> dict[str, Any]:
    flags: dict[str, Any] = {}
    for section in (result.training, result.inference):
        if section is not None:
            flags |= section.precision_flags | section.options
    return flags


def _flag(result: Result, *names: str) -> bool:
    flags = _flags(result)
    return any(flags.get(name) not in (None, False, "", 0, "none", "off") for name in names)


def _precision(result: Result) -> str:
    return (result.inference.precision if result.inference else result.run.precision).lower()


FEATURES: list[Feature] = [
    Feature("Automatic mixed precision (AMP)", lambda r: _precision(r) in MIXED_PRECISIONS or _flag(r, "autocast", "amp"), "amp"),
    Feature("TF32 tensor cores", lambda r: _precision(r) == "tf32" or _flag(r, "tf32", "cuda.matmul.allow_tf32"), "tf32"),
    Feature("channels_last (NHWC) memory format", lambda r: _flag(r, "channels_last")),
    Feature("Graph compilation (torch.compile)", lambda r: _flag(r, "compile", "torch_compile")),
    Feature("XLA", lambda r: _flag(r, "xla", "jit_compile")),
    Feature("Multi-GPU training", lambda r: r.environment.launch.world_size > 1 and r.environment.accelerators.kind != "none"),
    Feature("Multi-node training", lambda r: r.environment.launch.nodes > 1),
    Feature("Gradient accumulation", lambda r: r.training is not None and r.training.grad_accum_steps > 1),
    Feature("INT8 inference (post-training quantization)", lambda r: r.inference is not None and _precision(r) == "int8", "int8"),
    Feature("Inference latency sweep", lambda r: r.inference is not None and len(r.inference.results) > 1),
]


def feature_support(runs: list[LoadedResult], suite_precisions: list[str]) -> list[FeatureSupport]:
    """Return the matrix for a model from its successful runs, newest evidence first, and the suite's training and inference precisions."""
    ok = [r for r in reversed(runs) if r.result.run.status is Status.success]
    declared = {p.lower() for p in suite_precisions}
    return [
        FeatureSupport(f.name, next((r for r in ok if f.shown_by(r.result)), None), f.precision is not None and f.precision in declared)
        for f in FEATURES
    ]
