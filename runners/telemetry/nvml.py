"""NVIDIA GPU facts through NVML (nvidia-ml-py, ``import pynvml``), behind a thin interface.

Everything NVML-specific goes through an ``nvml`` module object, so tests pass a
fake one and a machine without an NVIDIA driver records an explicit "none".
"""

from __future__ import annotations

import statistics
import threading
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from runners.schema import Accelerator, Accelerators, GpuTelemetry


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


@dataclass
class _Series:
    power_w: list[float] = field(default_factory=list)
    sm_clock_mhz: list[float] = field(default_factory=list)
    temperature_c: list[float] = field(default_factory=list)
    utilization_pct: list[float] = field(default_factory=list)
    memory_used_mib: list[float] = field(default_factory=list)
    reasons: int = 0
    energy_start_mj: float | None = None
    energy_end_mj: float | None = None
    samples: int = 0


class NvmlSampler:
    """Sample every visible GPU on a background thread; ``stop()`` returns one GpuTelemetry per GPU.

    Energy comes from NVML's total-energy counter (difference between the first
    and the last sample), never from integrating power samples.
    """

    def __init__(self, nvml: Any, indices: list[int], interval_s: float = 0.1) -> None:
        self.nvml, self.indices, self.interval_s = nvml, indices, interval_s
        self.handles = {i: nvml.nvmlDeviceGetHandleByIndex(i) for i in indices}
        self.series = {i: _Series() for i in indices}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="benchsite-nvml", daemon=True)

    def _sample(self, index: int) -> None:
        nvml, handle, series = self.nvml, self.handles[index], self.series[index]
        power = _optional(nvml.nvmlDeviceGetPowerUsage, handle)
        if power is not None:
            series.power_w.append(power / 1000)
        energy = _optional(nvml.nvmlDeviceGetTotalEnergyConsumption, handle)
        if energy is not None:
            series.energy_start_mj = energy if series.energy_start_mj is None else series.energy_start_mj
            series.energy_end_mj = energy
        for values, call, args in (
            (series.sm_clock_mhz, nvml.nvmlDeviceGetClockInfo, (handle, nvml.NVML_CLOCK_SM)),
            (series.temperature_c, nvml.nvmlDeviceGetTemperature, (handle, nvml.NVML_TEMPERATURE_GPU)),
        ):
            value = _optional(call, *args)
            if value is not None:
                values.append(float(value))
        rates = _optional(nvml.nvmlDeviceGetUtilizationRates, handle)
        if rates is not None:
            series.utilization_pct.append(float(rates.gpu))
        memory = _optional(nvml.nvmlDeviceGetMemoryInfo, handle)
        if memory is not None:
            series.memory_used_mib.append(memory.used / 2**20)
        reasons = _optional(
            getattr(nvml, "nvmlDeviceGetCurrentClocksEventReasons", None) or nvml.nvmlDeviceGetCurrentClocksThrottleReasons, handle
        )
        series.reasons |= int(reasons or 0)
        series.samples += 1

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
        s = self.series[index]
        energy = None
        if s.energy_start_mj is not None and s.energy_end_mj is not None:
            energy = (s.energy_end_mj - s.energy_start_mj) / 1000
        return GpuTelemetry(
            index=index,
            samples=s.samples,
            interval_s=self.interval_s,
            power_mean_w=statistics.fmean(s.power_w) if s.power_w else None,
            power_max_w=max(s.power_w, default=None),
            energy_j=energy,
            sm_clock_mean_mhz=statistics.fmean(s.sm_clock_mhz) if s.sm_clock_mhz else None,
            temperature_max_c=max(s.temperature_c, default=None),
            utilization_mean_pct=statistics.fmean(s.utilization_pct) if s.utilization_pct else None,
            memory_used_max_mib=max(s.memory_used_mib, default=None),
            throttle_reasons=clock_event_names(s.reasons),
        )


def start_sampler(accelerators: Accelerators, interval_s: float = 0.1) -> NvmlSampler | None:
    """Start sampling the run's GPUs, or return None on a machine without NVIDIA GPUs."""
    if accelerators.kind != "nvidia":
        return None
    nvml, _ = load_nvml()
    if nvml is None:
        return None
    return NvmlSampler(nvml, [d.index for d in accelerators.devices], interval_s).start()
