"""Site settings as data (generator/site_settings.yaml): quality targets, leaderboard size, regression thresholds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import Field, ValidationError, model_validator

from generator.errors import BuildError
from runners.schema import SafeLoader, Strict, problems_from_validation
from runners.suites import find_named_suite

SETTINGS_FILE = Path(__file__).with_name("site_settings.yaml")


class QualityTarget(Strict):
    """HPC AI500's target quality and sensitivity n for one task on one dataset.

    In the settings file an entry gives ``metric`` and ``target``, or ``suite: NAME`` to take both from that
    suite's benchmarks of the task and dataset (one number, kept where the runners stop training on it).
    """

    task: str
    dataset: str
    metric: str
    target: Annotated[float, Field(gt=0)]
    n: Annotated[int, Field(ge=1)]

    @model_validator(mode="before")
    @classmethod
    def _target_from_suite(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "suite" not in data:
            return data
        data = dict(data)
        name = data.pop("suite")
        if "metric" in data or "target" in data:
            raise ValueError("give either suite or metric and target, not both")
        return {**data, **suite_target(str(name), data.get("task"), data.get("dataset"))}


def suite_target(name: str, task: Any, dataset: Any) -> dict[str, Any]:
    """The one quality target (metric and value) of a shipped suite's benchmarks of ``task`` on ``dataset``."""
    suite = find_named_suite(name)
    if suite is None:
        raise ValueError(f"suite {name!r}: no such shipped suite")
    found = {(b.quality_target.metric, b.quality_target.value) for b in suite.benchmarks if (b.task, b.dataset.name) == (task, dataset)}
    if len(found) != 1:
        problem = "has no benchmark of" if not found else f"disagrees on the target ({sorted(found)}) of"
        raise ValueError(f"suite {name!r} {problem} task {task!r} on dataset {dataset!r}")
    ((metric, value),) = found
    return {"metric": metric, "target": value}


class Board(Strict):
    title: str
    precisions: list[str] = Field([], description="Precisions admitted; empty admits every precision.")

    def admits(self, precision: str) -> bool:
        """Return True if a row of this precision belongs on the board."""
        return not self.precisions or precision in self.precisions


class LeaderboardSettings(Strict):
    top_n: Annotated[int, Field(ge=1)] = 10
    boards: list[Board] = [Board(title="Mixed precision"), Board(title="INT8", precisions=["int8"])]


class HistorySettings(Strict):
    recent_points: Annotated[int, Field(ge=1)] = 60
    max_points: Annotated[int, Field(ge=2)] = 100
    min_segment: Annotated[int, Field(ge=2)] = 5
    penalty_factor: Annotated[float, Field(gt=0)] = 8.0
    min_relative_change: Annotated[float, Field(ge=0)] = 0.03
    alpha: Annotated[float, Field(gt=0, lt=1)] = 0.001


class TrustSettings(Strict):
    """When a figure carries a 'noisy' mark (a single run always carries '1 run')."""

    max_cv: Annotated[float, Field(gt=0)] = 0.05
    max_latency_cv: Annotated[float, Field(gt=0)] = 0.25


class Settings(Strict):
    quality_targets: list[QualityTarget] = []
    training_flops_factor: Annotated[float, Field(gt=0)] = 3
    inference_batch_size: Annotated[int, Field(ge=1)] = 1
    leaderboard: LeaderboardSettings = LeaderboardSettings()
    history: HistorySettings = HistorySettings()
    trust: TrustSettings = TrustSettings()

    def quality_target(self, task: str, dataset: str) -> QualityTarget | None:
        """Return the quality target of a task on a dataset (matched by name), or None."""
        return next((t for t in self.quality_targets if t.task == task and t.dataset == dataset), None)


def load_settings(path: Path = SETTINGS_FILE) -> Settings:
    """Read and validate the settings file; raise BuildError naming every bad value."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=SafeLoader)  # noqa: S506 - safe loader
        return Settings.model_validate(data or {})
    except OSError as exc:
        raise BuildError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise BuildError(f"{path}: not valid YAML: {exc}") from None
    except ValidationError as exc:
        raise BuildError("\n".join(str(p) for p in problems_from_validation(path, exc))) from None
