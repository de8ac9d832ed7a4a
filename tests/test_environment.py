"""Environment capture: the allowlist, NVML facts through a fake module, and the explicit 'none'."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from runners.environment import allowlisted_env, host_facts
from runners.telemetry import nvml as nvml_facts


def test_only_allowlisted_variables_are_recorded_never_secrets():
    environ = {
        "OMP_NUM_THREADS": "2",
        "CUDA_VISIBLE_DEVICES": "0,1",
        "NCCL_DEBUG": "INFO",
        "NCCL_IB_AUTH_KEY": "x",
        "HF_TOKEN": "hf_secret",
        "AWS_SECRET_ACCESS_KEY": "s",
        "GITHUB_TOKEN": "t",
        "HOME": "/root",
        "PATH": "/bin",
    }
    assert allowlisted_env(environ) == {"CUDA_VISIBLE_DEVICES": "0,1", "NCCL_DEBUG": "INFO", "OMP_NUM_THREADS": "2"}


def test_host_facts_describe_this_machine():
    host = host_facts()
    assert host.logical_cores >= 1 and host.ram_gib > 0 and host.cpu_model and host.os


class FakeNVMLError(Exception):
    pass


def fake_nvml(devices: int) -> SimpleNamespace:
    """A stand-in for pynvml with the calls benchsite makes; real NVML runs in the gpu-marked test."""
    handles = [f"h{i}" for i in range(devices)]
    return SimpleNamespace(
        NVMLError=FakeNVMLError,
        NVML_CLOCK_SM=1,
        NVML_CLOCK_MEM=2,
        nvmlDeviceGetCount=lambda: devices,
        nvmlSystemGetDriverVersion=lambda: b"550.54.15",
        nvmlSystemGetCudaDriverVersion=lambda: 12040,
        nvmlDeviceGetHandleByIndex=lambda i: handles[i],
        nvmlDeviceGetName=lambda h: "NVIDIA A100-SXM4-80GB",
        nvmlDeviceGetUUID=lambda h: f"GPU-{h}",
        nvmlDeviceGetMemoryInfo=lambda h: SimpleNamespace(total=80 * 2**30),
        nvmlDeviceGetCudaComputeCapability=lambda h: (8, 0),
        nvmlDeviceGetPowerManagementLimit=lambda h: 400000,
        nvmlDeviceGetMaxClockInfo=lambda h, kind: {1: 1410, 2: 1593}[kind],
    )


def test_nvml_facts_through_the_interface():
    facts = nvml_facts.accelerator_facts(fake_nvml(2))
    assert facts.kind == "nvidia" and len(facts.devices) == 2
    gpu = facts.devices[1]
    assert (gpu.name, gpu.uuid, gpu.memory_total_mib) == ("NVIDIA A100-SXM4-80GB", "GPU-h1", 81920.0)
    assert (gpu.driver_version, gpu.cuda_version, gpu.compute_capability) == ("550.54.15", "12.4", "8.0")
    assert (gpu.power_limit_w, gpu.sm_clock_max_mhz, gpu.memory_clock_max_mhz) == (400.0, 1410, 1593)


def test_unsupported_nvml_field_stays_empty():
    fake = fake_nvml(1)

    def not_supported(handle):
        raise FakeNVMLError("Not Supported")

    fake.nvmlDeviceGetPowerManagementLimit = not_supported
    assert nvml_facts.accelerator_facts(fake).devices[0].power_limit_w is None


def test_no_devices_is_an_explicit_none():
    facts = nvml_facts.accelerator_facts(fake_nvml(0))
    assert facts.kind == "none" and facts.devices == [] and "no devices" in facts.probe


def test_this_machine_without_nvidia_records_none_without_error():
    facts = nvml_facts.accelerator_facts()
    if facts.kind == "nvidia":
        pytest.skip("this machine has an NVIDIA GPU; covered by the gpu-marked test")
    assert facts.devices == [] and facts.probe


@pytest.mark.gpu
def test_real_nvml_on_a_gpu_machine():
    module, probe = nvml_facts.load_nvml()
    if module is None:
        pytest.skip(f"no NVIDIA GPU here ({probe})")
    facts = nvml_facts.accelerator_facts()
    assert facts.kind == "nvidia" and facts.devices[0].memory_total_mib > 0 and facts.devices[0].driver_version


def sampling_nvml(devices: int = 1) -> SimpleNamespace:
    """The fake NVML plus the sampling calls; each call returns the next value of a small ramp."""
    fake = fake_nvml(devices)
    ticks = {"n": 0}

    def tick() -> int:
        ticks["n"] += 1
        return ticks["n"]

    fake.NVML_TEMPERATURE_GPU = 0
    fake.nvmlDeviceGetPowerUsage = lambda h: 200_000 + 10_000 * tick()  # mW
    fake.nvmlDeviceGetTotalEnergyConsumption = lambda h: 1_000_000 + 50_000 * tick()  # mJ, monotonic
    fake.nvmlDeviceGetClockInfo = lambda h, kind: 1410
    fake.nvmlDeviceGetTemperature = lambda h, kind: 60 + tick() % 5
    fake.nvmlDeviceGetUtilizationRates = lambda h: SimpleNamespace(gpu=90, memory=40)
    fake.nvmlDeviceGetMemoryInfo = lambda h: SimpleNamespace(total=80 * 2**30, used=(10 + tick() % 3) * 2**30)
    fake.nvmlDeviceGetCurrentClocksEventReasons = lambda h: 0x4 | 0x20  # power cap + thermal
    return fake


def test_sampler_summarises_power_energy_clocks_and_throttling():
    import time

    sampler = nvml_facts.NvmlSampler(sampling_nvml(2), [0, 1], interval_s=0.01).start()
    time.sleep(0.1)
    gpus = sampler.stop()
    assert [g.index for g in gpus] == [0, 1]
    for gpu in gpus:
        assert gpu.samples >= 2
        assert 200 < gpu.power_mean_w <= gpu.power_max_w
        assert gpu.energy_j > 0  # difference of the total-energy counter, in joules
        assert gpu.sm_clock_mean_mhz == 1410 and gpu.utilization_mean_pct == 90
        assert 10 * 1024 <= gpu.memory_used_max_mib <= 12 * 1024
        assert gpu.throttle_reasons == ["sw_power_cap", "sw_thermal_slowdown"]


def steady_nvml(devices: int, counter_w: float | None) -> SimpleNamespace:
    """The sampling fake NVML with an energy counter rising at ``counter_w`` watts of perf_counter time (None: not
    supported) and power readings of a steady 250 W, so a figure says which of the two it came from."""
    import time

    fake = sampling_nvml(devices)
    fake.nvmlDeviceGetPowerUsage = lambda h: 250_000  # mW
    if counter_w is None:

        def unsupported(handle):
            raise fake.NVMLError("Not Supported")

        fake.nvmlDeviceGetTotalEnergyConsumption = unsupported
    else:
        fake.nvmlDeviceGetTotalEnergyConsumption = lambda h: round(time.perf_counter() * counter_w * 1000)  # mJ
    return fake


def _timed_window(sampler, seconds: float) -> tuple[float, float]:
    import time

    time.sleep(0.05)
    start = time.perf_counter()
    time.sleep(seconds)
    end = time.perf_counter()
    time.sleep(0.05)
    return start, end


def test_window_power_is_the_energy_counters_joules_over_its_seconds_summed_over_the_gpus():
    sampler = nvml_facts.NvmlSampler(steady_nvml(2, counter_w=300.0), [0, 1], interval_s=0.01).start()
    start, end = _timed_window(sampler, 0.2)
    sampler.stop()
    power = sampler.window_power(start, end)
    assert power.method == "energy counter" and power.gpus == 2 and power.readings >= 5
    assert power.power_w == pytest.approx(2 * 300.0, rel=0.01)  # the counter's rate, not the 250 W readings
    assert sampler.window_power(end + 10, end + 11) is None  # no reading inside: no figure


def test_window_power_falls_back_to_the_power_readings_without_an_energy_counter():
    sampler = nvml_facts.NvmlSampler(steady_nvml(1, counter_w=None), [0], interval_s=0.01).start()
    start, end = _timed_window(sampler, 0.1)
    (gpu,) = sampler.stop()
    power = sampler.window_power(start, end)
    assert (power.method, power.gpus, power.power_w) == ("power readings", 1, 250.0) and power.readings >= 3
    assert gpu.energy_j is None and gpu.power_mean_w == 250.0


def test_clock_event_names():
    assert nvml_facts.clock_event_names(0) == []
    assert nvml_facts.clock_event_names(0x1 | 0x40) == ["gpu_idle", "hw_thermal_slowdown"]


def test_no_sampler_without_nvidia_gpus():
    assert nvml_facts.start_sampler(nvml_facts.Accelerators(kind="none", devices=[], probe="test")) is None


@pytest.mark.gpu
def test_real_sampler_on_a_gpu_machine():
    import time

    facts = nvml_facts.accelerator_facts()
    if facts.kind != "nvidia":
        pytest.skip(f"no NVIDIA GPU here ({facts.probe})")
    sampler = nvml_facts.start_sampler(facts, interval_s=0.05)
    time.sleep(0.3)
    (gpu, *_) = sampler.stop()
    assert gpu.samples >= 2 and gpu.power_mean_w and gpu.memory_used_max_mib
