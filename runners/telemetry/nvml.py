"""NVIDIA GPU facts through NVML (nvidia-ml-py, ``import pynvml``), behind a thin interface.

Everything NVML-specific goes through an ``nvml`` module object, so tests pass a
fake one and a machine without an NVIDIA driver records an explicit "none".
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from runners.schema import Accelerator, Accelerators


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
