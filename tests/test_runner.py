"""The runners for real: a tiny suite trains and measures on the CPU, and failures still end in records."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_cli

from runners.schema import Mode, Status, iter_result_files, read_result

pytestmark = pytest.mark.slow


def test_tiny_suite_writes_one_valid_file_per_mode(tiny_run):
    proc, by_mode, files = tiny_run.proc, tiny_run.by_mode, tiny_run.files
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(files) == 2
    assert set(by_mode) == {Mode.convergence, Mode.inference}
    assert all(r.run.status is Status.success for r in by_mode.values())
    assert "epoch 1/2" in proc.stdout  # progress per epoch on the terminal
    assert "result files in" in proc.stdout


def test_convergence_records_time_to_target_with_mlperf_boundaries(tiny_run):
    result = tiny_run.by_mode[Mode.convergence]
    ttt = result.training.time_to_target
    assert ttt.reached and ttt.metric == "top1" and ttt.target == 0.3
    assert ttt.init_time_s >= 0
    curve = result.training.curve
    assert [e.epoch for e in curve] == list(range(1, ttt.epochs + 1))
    # the clock stops at the end of the evaluation that reached the target
    assert ttt.time_to_target_s == pytest.approx(curve[-1].wall_time_s)
    assert curve[-1].eval["top1"] >= 0.3
    # time-to-train includes evaluation, so it exceeds pure training time
    assert ttt.time_to_target_s > sum(e.epoch_time_s for e in curve)
    tp = result.training.throughput
    assert tp.samples_per_s == pytest.approx(tp.measured_samples / tp.measured_time_s)
    assert result.training.precision_flags["cuda.matmul.allow_tf32"] is False
    assert len(result.training.per_subject) == 10


def test_inference_sweep_records_percentiles_method_and_sample_count(tiny_run):
    inference = tiny_run.by_mode[Mode.inference].inference
    assert [p.batch_size for p in inference.results] == [1, 4]
    assert inference.percentile_method == "linear"
    for point in inference.results:
        assert point.sample_count == point.iterations >= 20
        assert point.samples_per_s == pytest.approx(point.batch_size * point.iterations / point.duration_s)
        lat = point.latency_ms
        assert lat.min <= lat.p50 <= lat.p90 <= lat.p95 <= lat.p99 <= lat.max
        if point.sample_count < 500:
            assert "p99" in point.low_sample_percentiles


def test_environment_and_provenance_are_recorded(tiny_run):
    result = tiny_run.by_mode[Mode.inference]
    env = result.environment
    assert env.accelerators.kind in ("none", "nvidia")
    assert env.packages["torch"] and env.host.logical_cores >= 1
    if env.device == "cpu":  # CUDA, cuDNN and NCCL are recorded only when the run used them (tests/test_gpu.py)
        assert not {"cuda", "cudnn", "nccl"} & set(env.packages)
    assert result.provenance.config_hash.startswith("sha256:")
    assert result.dataset.name == "digits" and result.dataset.checksum.startswith("sha256:")
    assert result.dataset.train_samples + result.dataset.val_samples == 1797


def test_flops_per_sample_are_counted_from_the_model(tiny_run):
    training = tiny_run.by_mode[Mode.convergence].training
    inference = tiny_run.by_mode[Mode.inference].inference
    assert training.model_flops_per_sample > 0
    assert training.model_flops_per_sample == inference.model_flops_per_sample


def test_failures_end_in_records_and_the_suite_goes_on(tmp_path: Path, data_dir: Path, dataset_cache: Path):
    proc = run_cli(["run", "--suite", str(data_dir / "suites" / "failing.yaml"), "--results", str(tmp_path)], dataset_cache)
    assert proc.returncode == 1
    by_bench = {r.run.benchmark: r for r in map(read_result, iter_result_files(tmp_path))}
    assert set(by_bench) == {"unknown-model", "diverging", "too-slow"}
    assert by_bench["unknown-model"].run.status is Status.failed
    assert "no_such_model_xyz" in by_bench["unknown-model"].run.error
    assert by_bench["diverging"].run.status is Status.diverged
    assert "loss became" in by_bench["diverging"].run.error
    assert by_bench["too-slow"].run.status is Status.timeout
    assert "wall-clock limit of 5s" in by_bench["too-slow"].run.error
    assert "Traceback" not in proc.stderr


def test_unknown_suite_is_one_line_and_exit_1(dataset_cache: Path):
    proc = run_cli(["run", "--suite", "no-such-suite"], dataset_cache)
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0
    assert "unknown suite 'no-such-suite'" in proc.stderr and "quick" in proc.stderr


def test_image_folder_dataset_reads_a_users_folder(tmp_path: Path, tiny_run, dataset_cache: Path):
    """A suite on an ImageNet-style folder given with --data records that folder's facts, and the dataset the suite declares.

    The result names the dataset (name + release id), never the loader that read it (issue #11 item 3).
    """
    folder = next(dataset_cache.glob("datasets/sklearn-digits-v1-16px"))
    suite = tmp_path / "folder.yaml"
    suite.write_text(
        "name: folder\ndescription: an image folder given on the command line\nbenchmarks:\n"
        "  - {name: folder-test-resnet, title: t, model: TestResNet, description: d,\n"
        "     implementations: {pytorch: test_resnet},\n"
        "     dataset: {name: my-data, loader: imagefolder, version: my-release-2026-11, image_size: 16, num_classes: 10},\n"
        "     quality_target: {value: 0.5}, modes: [inference], training: {batch_size: 8, lr: 0.1, max_epochs: 1},\n"
        "     inference: {batch_sizes: [2], warmup_iterations: 1, min_iterations: 5, min_time_s: 0}}\n"
    )
    proc = run_cli(["run", "--suite", str(suite), "--results", str(tmp_path / "r"), "--data", str(folder)], dataset_cache)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (result,) = map(read_result, iter_result_files(tmp_path / "r"))
    assert (result.dataset.name, result.dataset.version) == ("my-data", "my-release-2026-11")
    assert 0 <= result.inference.quality["top1"] <= 1  # the timed weights (random here: no convergence run) scored on val
    assert result.dataset.train_samples == 1438 and result.dataset.num_classes == 10


def test_image_folder_without_data_is_refused_before_any_run_naming_the_option(tmp_path: Path, dataset_cache: Path):
    suite = tmp_path / "nodata.yaml"
    suite.write_text(
        "name: nodata\ndescription: d\nbenchmarks:\n"
        "  - {name: nodata, title: t, model: M, description: d, implementations: {pytorch: test_resnet},\n"
        "     dataset: {name: imagefolder, version: v1}, quality_target: {value: 0.5}, modes: [convergence],\n"
        "     training: {batch_size: 8, lr: 0.1, max_epochs: 1}}\n"
    )
    proc = run_cli(["run", "--suite", str(suite), "--results", str(tmp_path / "r")], dataset_cache)
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and "pass --data" in proc.stderr
    assert not (tmp_path / "r").exists()
