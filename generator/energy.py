"""Energy figures of a setup's latest repeat group, from the NVML board power its runs recorded (generator.derived does the
arithmetic): average power, joules per sample and kWh to train, each a mean over the runs with n, or why there is none."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from generator.aggregate import ConvergenceRow, LatencyRow
from generator.derived import Summary, board_power_w, energy_kwh, energy_per_sample_j
from generator.results import LoadedResult
from runners.schema import Result, WindowPower

CPU_RUN = "no GPU power on a CPU run"
NO_POWER = "a GPU of this run recorded no power (telemetry.gpus[].power_mean_w)"
NO_TELEMETRY = "the run recorded no NVML telemetry (telemetry.gpus)"
# Energy per image divides the power of the very window whose throughput it divides by: a run's average over its whole
# length also covers model building, cuDNN's autotuning and data set-up at a fraction of the power (on the first H100
# run, 293 W over the run against up to 604 W while timed), so it would understate joules per image.
NO_WINDOW_POWER = "no board power over the timed window was recorded (files from before 2026-11-28 have only the whole run's)"


@dataclass(frozen=True)
class Energy:
    """A figure over a setup's runs (mean with n), or None and the reason shown in its place."""

    summary: Summary | None
    reason: str = ""


def run_power(result: Result) -> tuple[float | None, str]:
    """Return a run's average power, the sum of its GPUs' mean board power, or None and why not."""
    if result.environment.accelerators.kind == "none":
        return None, CPU_RUN
    gpus, devices = result.telemetry.gpus, result.environment.launch.world_size
    if not gpus:
        return None, NO_TELEMETRY
    if len(gpus) != devices:
        return None, f"NVML power recorded for {len(gpus)} GPU(s), the run used {devices}"
    power = board_power_w([g.power_mean_w for g in gpus])
    return (power, "") if power is not None else (None, NO_POWER)


Figure = Callable[[Result], tuple[float | None, str]]  # one run's figure, or None and why (an empty why: no reason to give)


def _over_runs(runs: list[LoadedResult], figure: Figure, missing: str) -> Energy:
    """The mean of ``figure`` over the runs that have one; else the last reason a run gave, else ``missing``."""
    values, reason = [], missing
    for loaded in runs:
        value, why = figure(loaded.result)
        if value is not None:
            values.append(value)
        elif why:
            reason = why
    return Energy(Summary.of(values)) if values else Energy(None, reason)


def _with_run_power(figure: Callable[[Result, float], float | None]) -> Figure:
    """A figure of the run's average power: None and why where the run has none."""

    def of(result: Result) -> tuple[float | None, str]:
        power, why = run_power(result)
        return (None, why) if power is None else (figure(result, power), "")

    return of


def average_power(runs: list[LoadedResult]) -> Energy:
    """Average board power (W) of a setup's runs."""
    return _over_runs(runs, _with_run_power(lambda _, power: power), NO_POWER)


def _window_energy_per_sample(result: Result, power: WindowPower | None, samples_per_s: float) -> tuple[float | None, str]:
    """Joules per sample of one timed window: its board power over its samples per second, or None and why not."""
    if power is None:  # a CPU run, a GPU without power readings, or a file from before window power: say which
        whole, why = run_power(result)
        return None, why if whole is None else NO_WINDOW_POWER
    devices = result.environment.launch.world_size
    if power.gpus != devices:
        return None, f"board power over the timed window recorded for {power.gpus} GPU(s), the run used {devices}"
    return energy_per_sample_j(power.power_w, samples_per_s), ""


def training_energy_per_sample(runs: list[LoadedResult]) -> Energy:
    """Joules per training sample: each run's board power over its measured steps over its training throughput."""

    def per_sample(result: Result) -> tuple[float | None, str]:
        rate = result.training.throughput if result.training else None
        return _window_energy_per_sample(result, rate.power, rate.samples_per_s) if rate else (None, "")

    return _over_runs(runs, per_sample, "no training throughput recorded")


def energy_to_train(row: ConvergenceRow) -> Energy:
    """kWh to the quality target: each run's average power times its time to target, over the runs that reached it."""

    def kwh(result: Result, power: float) -> float | None:
        ttt = result.training.time_to_target
        return energy_kwh(power, ttt.time_to_target_s) if ttt and ttt.reached and ttt.time_to_target_s is not None else None

    return _over_runs(row.runs, _with_run_power(kwh), "no run reached the target")


def inference_energy_per_sample(row: LatencyRow) -> Energy:
    """Joules per sample at one batch size: the board power over that batch size's timed iterations over its throughput."""
    value, reason = _window_energy_per_sample(row.source.result, row.point.power, row.point.samples_per_s)
    return Energy(Summary.of([value])) if value is not None else Energy(None, reason)
