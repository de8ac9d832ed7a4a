"""The PyTorch runner's modes, precisions, failure statuses, resume, repeats and torchrun, each for real on the CPU."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import assert_stored_latencies, run_cli

from runners.schema import Mode, Status, iter_result_files, read_result

pytestmark = pytest.mark.slow


def results_in(folder: Path) -> list:
    return [read_result(p) for p in iter_result_files(folder)]


@pytest.fixture(scope="module")
def modes_run(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, dataset_cache: Path):
    out = tmp_path_factory.mktemp("modes")
    proc = run_cli(["run", "--suite", str(data_dir / "suites" / "pt-modes.yaml"), "--results", str(out)], dataset_cache)
    return proc, results_in(out), out


def _one(results, benchmark: str, mode: Mode, precision: str = "fp32"):
    (match,) = [r for r in results if (r.run.benchmark, r.run.mode, r.run.precision) == (benchmark, mode, precision)]
    return match


def test_throughput_is_total_samples_over_window_time(modes_run):
    tp = _one(modes_run[1], "digits-test-resnet", Mode.throughput).training.throughput
    assert tp.samples_per_s == pytest.approx(tp.measured_samples / tp.measured_time_s)
    assert tp.measured_steps >= 8 and tp.measured_time_s >= 0.3 and tp.warmup_steps == 2
    assert tp.measured_samples == tp.measured_steps * 64
    assert tp.compute_samples_per_s > 0 and tp.data_time_mean_ms >= 0


def test_int8_quantizes_the_trained_weights_and_records_both_top1(modes_run):
    result = _one(modes_run[1], "digits-test-resnet", Mode.inference, "int8")
    inference = result.inference
    assert result.run.status is Status.success
    assert inference.weights.startswith("trained by run ")
    assert set(inference.quality) == {"top1", "reference_top1_fp32"}
    assert inference.quality["reference_top1_fp32"] >= 0.5  # the convergence run's target
    assert abs(inference.quality["top1"] - inference.quality["reference_top1_fp32"]) <= 0.05
    assert inference.precision_flags["quantization"].startswith("fx post-training static")


def test_fp32_inference_times_the_trained_weights_and_records_their_top1(modes_run):
    """Issue #11 item 2: every inference run scores the very weights it timed, so no page borrows a training run's accuracy."""
    results = modes_run[1]
    fp32, int8 = (_one(results, "digits-test-resnet", Mode.inference, p).inference for p in ("fp32", "int8"))
    trained = _one(results, "digits-test-resnet", Mode.convergence)
    assert fp32.weights.startswith(f"trained by run {trained.run.id} ")
    assert set(fp32.quality) == {"top1"} and fp32.quality["top1"] >= 0.5  # the trained weights, not a random 10 %
    assert fp32.quality["top1"] == pytest.approx(int8.quality["reference_top1_fp32"])  # the same weights, the same val set


def test_inference_stores_the_raw_latencies_behind_its_percentiles(modes_run):
    """Issue #15 item 6: schema_version 2 keeps each batch size's latencies, for `benchsite compare`."""
    for precision in ("fp32", "int8"):
        result = _one(modes_run[1], "digits-test-resnet", Mode.inference, precision)
        assert len(result.inference.results) == 2
        for point in result.inference.results:
            assert_stored_latencies(point)
    assert all(p.read_text(encoding="utf-8").startswith("schema_version: 3\n") for p in iter_result_files(modes_run[2]))


def test_fp32_never_silently_means_tf32_and_tf32_on_cpu_is_a_failed_record(modes_run):
    flags = _one(modes_run[1], "digits-test-resnet", Mode.throughput).training.precision_flags
    assert (flags["cuda.matmul.allow_tf32"], flags["cudnn.allow_tf32"], flags["float32_matmul_precision"]) == (False, False, "highest")
    failed = _one(modes_run[1], "tf32-on-cpu", Mode.throughput, "tf32")
    assert failed.run.status is Status.failed and "tf32 needs an NVIDIA GPU" in failed.run.error
    assert modes_run[0].returncode == 1  # one run failed, the others went on


def test_synthetic_throughput_records_synthetic_data(tmp_path: Path, data_dir: Path, dataset_cache: Path):
    suite = str(data_dir / "suites" / "pt-modes.yaml")
    proc = run_cli(
        ["run", "--suite", suite, "--benchmark", "digits-test-resnet", "--mode", "throughput", "--synthetic", "--results", str(tmp_path)],
        dataset_cache,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (result,) = results_in(tmp_path)
    assert result.dataset.synthetic and result.dataset.name == "synthetic"
    assert result.training.throughput.samples_per_s > 0


@pytest.mark.parametrize(("hook", "status", "phrase"), [("oom", Status.oom, "out of memory"), ("crash", Status.failed, "crash inside")])
def test_errors_raised_inside_the_model_end_in_their_status(hook, status, phrase, tmp_path, data_dir, dataset_cache, monkeypatch):
    monkeypatch.setenv("BENCHSITE_TEST_HOOK", hook)
    suite = str(data_dir / "suites" / "tiny.yaml")
    proc = run_cli(["run", "--suite", suite, "--mode", "convergence", "--results", str(tmp_path)], dataset_cache)
    assert proc.returncode == 1
    (result,) = results_in(tmp_path)
    assert result.run.status is status and phrase in result.run.error


def test_sigkill_mid_run_then_resume_finishes_it(tmp_path: Path, data_dir: Path, dataset_cache: Path, monkeypatch):
    suite = str(data_dir / "suites" / "resumable.yaml")
    monkeypatch.setenv("BENCHSITE_TEST_HOOK", "sigkill-after-epoch:1")
    killed = run_cli(["run", "--suite", suite, "--results", str(tmp_path)], dataset_cache)
    assert killed.returncode == 1
    (dead,) = results_in(tmp_path)
    assert dead.run.status is Status.failed and "exited with code -9" in dead.run.error
    monkeypatch.delenv("BENCHSITE_TEST_HOOK")
    resumed = run_cli(["run", "--suite", suite, "--resume", "--results", str(tmp_path)], dataset_cache)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "resumed from the checkpoint after epoch 1" in resumed.stdout
    (done,) = [r for r in results_in(tmp_path) if r.run.status is Status.success]
    assert done.run.resumed is True
    curve = done.training.curve
    assert curve[0].epoch == 1 and len(curve) == done.training.time_to_target.epochs >= 2
    assert done.training.time_to_target.time_to_target_s == pytest.approx(curve[-1].wall_time_s)


def test_repeats_run_seeds_as_one_group(tmp_path: Path, data_dir: Path, dataset_cache: Path):
    suite = str(data_dir / "suites" / "tiny.yaml")
    proc = run_cli(["run", "--suite", suite, "--mode", "convergence", "--repeats", "3", "--results", str(tmp_path)], dataset_cache)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = results_in(tmp_path)
    assert len({r.run.repeat.group for r in results}) == 1
    assert sorted((r.run.repeat.index, r.provenance.seed) for r in results) == [(0, 0), (1, 1), (2, 2)]
    assert all(r.run.repeat.count == 3 for r in results)


def test_torchrun_two_processes_train_and_write_exactly_one_file(tmp_path: Path, data_dir: Path, dataset_cache: Path):
    suite = str(data_dir / "suites" / "tiny.yaml")
    proc = run_cli(["run", "--suite", suite, "--mode", "convergence", "--nproc-per-node", "2", "--results", str(tmp_path)], dataset_cache)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (result,) = results_in(tmp_path)
    launch = result.environment.launch
    assert (launch.engine, launch.world_size, launch.procs_per_node) == ("torchrun", 2, 2)
    training = result.training
    assert (training.batch_per_device, training.global_batch, training.weak_scaling) == (64, 128, True)
    assert training.options["ddp"] is True
    tp = training.throughput
    assert tp.samples_per_s_per_device == pytest.approx(tp.samples_per_s / 2)
    assert [e.epoch for e in training.curve] == [1, 2]
    assert proc.stdout.count("epoch 1/2") == 1  # progress from rank 0 only


def test_each_timed_window_records_the_board_power_of_that_window_only(tmp_path: Path):
    """Energy per image divides a window's power by that window's throughput: the modes ask the worker's NVML sampler
    (here over a fake NVML whose energy counter rises at 300 W) for the power of exactly the windows they time."""
    from test_environment import steady_nvml

    from runners.frameworks.pytorch import PyTorchBackend
    from runners.launch import RunRequest, plan_runs
    from runners.modes import get_mode
    from runners.suites import load_suite
    from runners.telemetry.nvml import NvmlSampler

    suite = Path(__file__).parent.parent / "benchmarks" / "gpu_check_dry_run.yaml"
    for mode in ("throughput", "inference"):
        request = RunRequest(suite=str(suite), modes=[mode], results_dir=tmp_path, synthetic=True, device="cpu")
        (spec,) = plan_runs(load_suite(suite), request)
        backend = PyTorchBackend(spec, None, "cpu")
        sampler = backend.power_meter = NvmlSampler(steady_nvml(1, counter_w=300.0), [0], interval_s=0.01).start()
        try:
            measured = get_mode(mode)(backend, progress=lambda line: None)
        finally:
            sampler.stop()
        windows = [measured.training.throughput] if mode == "throughput" else measured.inference.results
        assert len(windows) == (1 if mode == "throughput" else 2)
        for window in windows:
            assert window.power.method == "energy counter" and window.power.gpus == 1 and window.power.readings >= 2
            assert window.power.power_w == pytest.approx(300.0, rel=0.02)
    assert PyTorchBackend(spec, None, "cpu").window_power(0.0, 1e9) is None  # no sampler (a CPU machine): no figure
