"""The CUDA path on a real NVIDIA GPU: event timing, AMP, TF32, channels_last, compile, NVML telemetry, NCCL DDP.

Marker ``gpu``; every test skips cleanly without CUDA. On the GPU machine,
``bash benchmarks/gpu_check.sh`` runs them (``pytest -m gpu tests/test_gpu.py``).
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from conftest import DATA, run_cli  # noqa: E402 - after the importorskip above
from torch.utils import benchmark as torch_benchmark  # noqa: E402

from runners.frameworks.pytorch import PyTorchBackend  # noqa: E402
from runners.launch import RunRequest, plan_runs, run_suite  # noqa: E402
from runners.launch.torchrun import TorchrunConfig  # noqa: E402
from runners.modes import get_mode  # noqa: E402
from runners.schema import Mode, Status, iter_result_files, read_result  # noqa: E402
from runners.suites import load_suite  # noqa: E402

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs an NVIDIA GPU: torch.cuda.is_available() is False"),
]

GPU_SUITE = DATA / "suites" / "gpu.yaml"


def make_backend(benchmark: str, mode: str, precision: str, results: Path) -> PyTorchBackend:
    """The runner's backend for one run of the GPU test suite, in this process (it sets the precision flags)."""
    request = RunRequest(
        suite=str(GPU_SUITE), benchmarks=[benchmark], modes=[mode], precisions=[precision], results_dir=results, synthetic=True
    )
    (spec,) = plan_runs(load_suite(GPU_SUITE), request)
    return PyTorchBackend(spec, None, PyTorchBackend.resolve_device("cuda"))


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory, dataset_cache: Path):
    """Real tf32 throughput and inference runs of ResNet-50 through the CLI, each in its worker process."""
    out = tmp_path_factory.mktemp("gpu-results")
    args = ["run", "--suite", str(GPU_SUITE), "--benchmark", "gpu-resnet50", "--synthetic", "--device", "cuda", "--precision", "tf32"]
    proc = run_cli([*args, "--results", str(out)], dataset_cache)
    results = {r.run.mode: r for r in map(read_result, iter_result_files(out))}
    assert proc.returncode == 0 and set(results) == {Mode.throughput, Mode.inference}, proc.stdout[-3000:] + proc.stderr[-3000:]
    return results


def test_cuda_event_latency_agrees_with_torch_benchmark_timer(tmp_path: Path):
    backend = make_backend("gpu-resnet50", "inference", "amp-fp16", tmp_path)
    backend.build_model(train=False)
    batch = backend.inference_batch(128)
    for _ in range(20):
        backend.infer(batch)
    timer = torch_benchmark.Timer("backend.infer(batch)", globals={"backend": backend, "batch": batch})
    events_ms, timer_ms = [], []
    for _ in range(3):  # interleaved, so clock changes hit both timers alike
        events_ms += [backend.timed_infer(batch) for _ in range(50)]
        timer_ms.append(timer.blocked_autorange(min_run_time=0.5).median * 1000)
    assert backend.timer == "torch.cuda.Event"
    assert statistics.median(events_ms) == pytest.approx(statistics.median(timer_ms), rel=0.03)


@pytest.mark.parametrize("precision", ["amp-fp16", "amp-bf16"])
def test_amp_training_steps_stay_finite_and_learn(precision: str, tmp_path: Path):
    backend = make_backend("gpu-resnet50", "throughput", precision, tmp_path)
    backend.build_model(train=True)
    backend.open_throughput_data(synthetic=True)
    images, labels = backend.cached_batch
    losses = [float(backend._step(images, labels, 1, apply=True)) for _ in range(30)]
    assert all(math.isfinite(loss) for loss in losses), losses
    assert all(bool(torch.isfinite(p).all()) for p in backend.model.parameters())
    assert min(losses[-5:]) < losses[0], losses  # the optimizer stepped: the scaler did not skip every step
    flags = backend.precision_flags()
    assert flags["autocast_dtype"] == {"amp-fp16": "float16", "amp-bf16": "bfloat16"}[precision]
    assert flags["grad_scaler"] is (precision == "amp-fp16")
    if precision == "amp-fp16":
        assert 0 < backend.scaler.get_scale() < math.inf


def test_tf32_flags_recorded_are_the_ones_in_effect(tmp_path: Path):
    a, b = torch.randn(2048, 2048, device="cuda"), torch.randn(2048, 2048, device="cuda")
    exact = a.double() @ b.double()
    flags, errors = {}, {}
    for precision in ("fp32", "tf32"):
        backend = make_backend("gpu-resnet50", "throughput", precision, tmp_path)
        flags[precision] = backend.precision_flags()
        errors[precision] = float(((a @ b).double() - exact).abs().mean() / exact.abs().mean())
    on, off = flags["tf32"], flags["fp32"]
    assert (on["cuda.matmul.allow_tf32"], on["cudnn.allow_tf32"], on["float32_matmul_precision"]) == (True, True, "high")
    assert (off["cuda.matmul.allow_tf32"], off["cudnn.allow_tf32"], off["float32_matmul_precision"]) == (False, False, "highest")
    # TF32 keeps 10 mantissa bits: its matmul error is orders of magnitude above full fp32's
    assert errors["fp32"] < 1e-5 and errors["tf32"] > 10 * errors["fp32"], errors


def test_channels_last_reaches_weights_and_inputs(tmp_path: Path):
    backend = make_backend("gpu-resnet50", "inference", "tf32", tmp_path)
    backend.build_model(train=False)
    weight = backend.model.conv1.weight
    assert weight.is_contiguous(memory_format=torch.channels_last) and not weight.is_contiguous()
    assert backend.inference_batch(8).is_contiguous(memory_format=torch.channels_last)
    assert backend.options()["channels_last"] is True
    plain = make_backend("gpu-compiled", "inference", "fp32", tmp_path)
    plain.build_model(train=False)
    assert plain.options()["channels_last"] is False and plain.inference_batch(8).is_contiguous()


def test_compile_records_its_time_and_runs_compiled_graphs(tmp_path: Path):
    import torch._dynamo

    torch._dynamo.reset()
    backend = make_backend("gpu-compiled", "inference", "fp32", tmp_path)
    section = get_mode("inference")(backend, progress=lambda line: None).inference
    assert section.options["compile"] is True and section.compile_time_s > 0
    assert isinstance(backend.forward_model, torch._dynamo.eval_frame.OptimizedModule)
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] >= 1
    batch = backend.inference_batch(8)
    with torch.inference_mode():
        torch.testing.assert_close(backend.forward_model(batch), backend.model(batch), rtol=1e-3, atol=1e-3)


def test_a_real_run_records_nvml_telemetry(recorded):
    for result in recorded.values():
        accelerators = result.environment.accelerators
        assert accelerators.kind == "nvidia" and accelerators.devices[0].name and accelerators.devices[0].driver_version
        gpu = result.telemetry.gpus[0]
        assert gpu.samples > 0
        sampled = (gpu.power_mean_w, gpu.energy_j, gpu.sm_clock_mean_mhz, gpu.memory_used_max_mib)
        assert all(value is not None and value > 0 for value in sampled), gpu
        assert result.telemetry.framework_peak_allocated_mib > 0
        windows = [result.training.throughput] if result.training else result.inference.results
        for window in windows:  # the power of each timed window, which energy per image divides by
            assert window.power is not None and window.power.power_w > 0 and window.power.gpus == 1, window
            assert window.power.method == "energy counter" and window.power.readings >= 2
        packages = result.environment.packages  # the GPU libraries torch used, for "what changed" on a regression
        assert packages["cuda"] == torch.version.cuda and packages["cudnn"] == str(torch.backends.cudnn.version())


def test_a_real_run_records_tf32_channels_last_and_cuda_events(recorded):
    training = recorded[Mode.throughput].training
    flags = training.precision_flags
    assert (flags["cuda.matmul.allow_tf32"], flags["cudnn.allow_tf32"], flags["float32_matmul_precision"]) == (True, True, "high")
    assert (training.options["channels_last"], training.options["cudnn_benchmark"], training.options["ddp"]) == (True, True, False)
    assert training.throughput.samples_per_s > 0 and recorded[Mode.throughput].environment.device == "cuda"
    inference = recorded[Mode.inference].inference
    assert inference.timer == "torch.cuda.Event" and inference.precision_flags["cuda.matmul.allow_tf32"] is True
    assert [p.batch_size for p in inference.results] == [1, 128]


def test_torchrun_world_size_one_trains_with_ddp_over_nccl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    assert torch.distributed.is_nccl_available()
    monkeypatch.setenv("NCCL_DEBUG", "INFO")  # NCCL then logs its initialisation: proof the process group is NCCL's
    request = RunRequest(
        suite=str(GPU_SUITE),
        benchmarks=["gpu-ddp"],
        results_dir=tmp_path,
        device="cuda",
        synthetic=True,
        launchers=(TorchrunConfig(nproc_per_node=1),),
        command=["pytest", "tests/test_gpu.py"],
    )
    lines: list[str] = []
    (run,) = run_suite(request, print_line=lines.append).runs
    result = read_result(run.path)
    assert result.run.status is Status.success, result.run.error
    assert (result.environment.launch.engine, result.environment.launch.world_size) == ("torchrun", 1)
    assert result.training.options["ddp"] is True and result.training.throughput.samples_per_s > 0
    assert any("NCCL INFO" in line for line in lines), "\n".join(lines[-40:])
