"""NVIDIA GPU facts through NVML (nvidia-ml-py, ``import pynvml``), behind a thin interface.

Everything NVML-specific goes through an ``nvml`` module object, so tests pass a
fake one and a machine without an NVIDIA driver records an explicit "none".
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from runners.schema import Accelerator, Accelerators, GpuTelemetry, WindowPower


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def load_nvml() -> tuple[ModuleType | None, str]:
    """Import and initialise pynvml; return (module, "nvml") or (None, why not)."""
    try:
        import pynvml
    except ImportError:
        return None, "pynvml (nvidia-ml-py) not installed"
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        return None, f"NVML unavailable: {exc}"
    return pynvml, "nvml"


def _optional(call, *args) -> Any:
    if call is None:
        return None
    try:
        return call(*args)
    except Exception:  # noqa: BLE001 - NVML raises per-field "not supported" errors; the field stays empty
        return None


def _device_facts(nvml: Any, index: int, driver: str, cuda: str | None) -> Accelerator:
    handle = nvml.nvmlDeviceGetHandleByIndex(index)
    capability = _optional(nvml.nvmlDeviceGetCudaComputeCapability, handle)
    power_mw = _optional(nvml.nvmlDeviceGetPowerManagementLimit, handle)
    return Accelerator(
        index=index,
        name=_text(nvml.nvmlDeviceGetName(handle)),
        uuid=_text(nvml.nvmlDeviceGetUUID(handle)),
        memory_total_mib=round(nvml.nvmlDeviceGetMemoryInfo(handle).total / 2**20, 1),
        driver_version=driver,
        cuda_version=cuda,
        compute_capability=f"{capability[0]}.{capability[1]}" if capability else None,
        power_limit_w=power_mw / 1000 if power_mw is not None else None,
        sm_clock_max_mhz=_optional(nvml.nvmlDeviceGetMaxClockInfo, handle, nvml.NVML_CLOCK_SM),
        memory_clock_max_mhz=_optional(nvml.nvmlDeviceGetMaxClockInfo, handle, nvml.NVML_CLOCK_MEM),
    )


def accelerator_facts(nvml: Any | None = None, probe: str = "nvml") -> Accelerators:
    """Describe every visible NVIDIA GPU, or record explicitly that there is none."""
    if nvml is None:
        nvml, probe = load_nvml()
        if nvml is None:
            return Accelerators(kind="none", devices=[], probe=probe)
    try:
        count = nvml.nvmlDeviceGetCount()
        driver = _text(nvml.nvmlSystemGetDriverVersion())
        cuda_int = _optional(nvml.nvmlSystemGetCudaDriverVersion)
        cuda = f"{cuda_int // 1000}.{cuda_int % 1000 // 10}" if cuda_int else None
        devices = [_device_facts(nvml, i, driver, cuda) for i in range(count)]
    except nvml.NVMLError as exc:
        return Accelerators(kind="none", devices=[], probe=f"NVML error: {exc}")
    if not devices:
        return Accelerators(kind="none", devices=[], probe="NVML: no devices")
    return Accelerators(kind="nvidia", devices=devices, probe=probe)


# --- sampling during a run ----------------------------------------------------

# NVML's clock-event ("throttle") reason bits, named as nvmlClocksEventReason*.
CLOCK_EVENT_REASONS = {
    0x1: "gpu_idle",
    0x2: "applications_clocks_setting",
    0x4: "sw_power_cap",
    0x8: "hw_slowdown",
    0x10: "sync_boost",
    0x20: "sw_thermal_slowdown",
    0x40: "hw_thermal_slowdown",
    0x80: "hw_power_brake_slowdown",
    0x100: "display_clock_setting",
}


def clock_event_names(mask: int) -> list[str]:
    """Names of the reason bits set in an NVML clock-event mask."""
    return [name for bit, name in CLOCK_EVENT_REASONS.items() if mask & bit]


def _clock_event_mask(nvml: Any, handle: Any) -> int:
    call = getattr(nvml, "nvmlDeviceGetCurrentClocksEventReasons", None) or nvml.nvmlDeviceGetCurrentClocksThrottleReasons
    return int(call(handle))


def _mask_names(masks: list[float]) -> list[str]:
    combined = 0
    for mask in masks:
        combined |= int(mask)
    return clock_event_names(combined)


@dataclass(frozen=True)
class Reading:
    """One NVML reading taken at every sample, and the GpuTelemetry fields its series summarises into."""

    read: Callable[[Any, Any], float]  # (nvml, handle) -> the value in the unit of the fields
    summaries: tuple[tuple[str, Callable[[list[float]], Any]], ...]  # (GpuTelemetry field, series -> value)


# The one definition of what is sampled: a new GPU telemetry field is a line here plus its field in the schema.
READINGS: tuple[Reading, ...] = (
    Reading(lambda nvml, h: nvml.nvmlDeviceGetPowerUsage(h) / 1000, (("power_mean_w", statistics.fmean), ("power_max_w", max))),
    # energy from NVML's total-energy counter (last minus first sample, mJ -> J), never from integrating power
    Reading(lambda nvml, h: nvml.nvmlDeviceGetTotalEnergyConsumption(h), (("energy_j", lambda mj: (mj[-1] - mj[0]) / 1000),)),
    Reading(lambda nvml, h: float(nvml.nvmlDeviceGetClockInfo(h, nvml.NVML_CLOCK_SM)), (("sm_clock_mean_mhz", statistics.fmean),)),
    Reading(lambda nvml, h: float(nvml.nvmlDeviceGetTemperature(h, nvml.NVML_TEMPERATURE_GPU)), (("temperature_max_c", max),)),
    Reading(lambda nvml, h: float(nvml.nvmlDeviceGetUtilizationRates(h).gpu), (("utilization_mean_pct", statistics.fmean),)),
    Reading(lambda nvml, h: nvml.nvmlDeviceGetMemoryInfo(h).used / 2**20, (("memory_used_max_mib", max),)),
    Reading(_clock_event_mask, (("throttle_reasons", _mask_names),)),
)


POWER, ENERGY = 0, 1  # READINGS' board power (W) and total-energy counter (mJ), which timed windows are measured from


class NvmlSampler:
    """Sample every visible GPU on a background thread; ``stop()`` returns one GpuTelemetry per GPU.

    Each sample's power and energy readings are also kept with their ``time.perf_counter()``, so that
    ``window_power(start, end)`` gives the board power of a window the modes timed with the same clock.
    """

    def __init__(self, nvml: Any, indices: list[int], interval_s: float = 0.1) -> None:
        self.nvml, self.indices, self.interval_s = nvml, indices, interval_s
        self.handles = {i: nvml.nvmlDeviceGetHandleByIndex(i) for i in indices}
        self.series: dict[int, list[list[float]]] = {i: [[] for _ in READINGS] for i in indices}
        self.timed: dict[int, list[tuple[float, float | None, float | None]]] = {i: [] for i in indices}  # (t, W, mJ)
        self.samples = dict.fromkeys(indices, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="benchsite-nvml", daemon=True)

    def _sample(self, index: int) -> None:
        handle = self.handles[index]
        read = []
        for reading, values in zip(READINGS, self.series[index], strict=True):
            value = _optional(reading.read, self.nvml, handle)
            if value is not None:
                values.append(value)
            read.append(value)
        self.timed[index].append((time.perf_counter(), read[POWER], read[ENERGY]))
        self.samples[index] += 1

    def window_power(self, start: float, end: float) -> WindowPower | None:
        """Board power between two ``time.perf_counter()`` instants, summed over the GPUs; None with too few readings.

        Per GPU: the total-energy counter's joules between the first and last readings inside the window, over the
        seconds between them (two readings at least); else, where the counter is not supported, the mean of the power
        readings inside it. NVML's power reading is itself averaged over up to a second on recent GPUs; the counter is not.
        """
        watts, counts, methods = [], [], set()
        for index in self.indices:
            inside = [sample for sample in list(self.timed[index]) if start <= sample[0] <= end]
            energy = [(t, mj) for t, _, mj in inside if mj is not None]
            power = [w for _, w, _ in inside if w is not None]
            if len(energy) >= 2 and energy[-1][0] > energy[0][0]:
                watts.append((energy[-1][1] - energy[0][1]) / 1000 / (energy[-1][0] - energy[0][0]))
                counts.append(len(energy))
                methods.add("energy counter")
            elif power:
                watts.append(statistics.fmean(power))
                counts.append(len(power))
                methods.add("power readings")
            else:
                return None
        if not watts:
            return None
        method = "power readings" if "power readings" in methods else "energy counter"
        return WindowPower(power_w=sum(watts), gpus=len(watts), readings=min(counts), method=method)

    def _loop(self) -> None:
        while True:
            for index in self.indices:
                self._sample(index)
            if self._stop.wait(self.interval_s):
                break

    def start(self) -> NvmlSampler:
        """Take a first sample and keep sampling until stop()."""
        self._thread.start()
        return self

    def stop(self) -> list[GpuTelemetry]:
        """Take a last sample, stop the thread and summarise each GPU."""
        self._stop.set()
        self._thread.join()
        return [self._summary(i) for i in self.indices]

    def _summary(self, index: int) -> GpuTelemetry:
        fields = {
            name: summarise(values)
            for reading, values in zip(READINGS, self.series[index], strict=True)
            if values
            for name, summarise in reading.summaries
        }
        return GpuTelemetry(index=index, samples=self.samples[index], interval_s=self.interval_s, **fields)


def start_sampler(accelerators: Accelerators, interval_s: float = 0.1) -> NvmlSampler | None:
    """Start sampling the run's GPUs, or return None on a machine without NVIDIA GPUs."""
    if accelerators.kind != "nvidia":
        return None
    nvml, _ = load_nvml()
    if nvml is None:
        return None
    return NvmlSampler(nvml, [d.index for d in accelerators.devices], interval_s).start()
