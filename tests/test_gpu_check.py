"""The GPU machine's one command, benchmarks/gpu_check.sh, run here on the CPU so it cannot rot between GPU runs.

Also: the options it relies on (``--window-scale``, ``--precision``), a torchrun run of
one process, and the offline install of the wheels it carries.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from conftest import ROOT

from generator.ops.cli import build_parser
from runners.launch import RunRequest, plan_runs, run_suite
from runners.launch.torchrun import TorchrunConfig
from runners.record import provenance
from runners.schema import Mode, Status, iter_result_files, read_result
from runners.suites import config_hash, load_suite

DRY_RUN_SUITE = ROOT / "benchmarks" / "gpu_check_dry_run.yaml"
WHEELS = ROOT / ".gpu-wheels"


def test_window_scale_shortens_every_window_and_provenance_says_so():
    request = RunRequest(suite="nightly-gpu", benchmarks=["resnet50-v1.5"], modes=["throughput", "inference"], synthetic=True)
    full = plan_runs(load_suite("nightly-gpu"), request)
    short = plan_runs(
        load_suite("nightly-gpu"),
        RunRequest(**{**request.__dict__, "window_scale": 0.1, "precisions": ["amp-bf16"]}),
    )
    assert [(s.mode, s.precision) for s in short] == [(Mode.throughput, "amp-bf16"), (Mode.inference, "amp-bf16")]
    bench, suite_bench = short[0].benchmark, full[0].benchmark
    assert (suite_bench.throughput.warmup_steps, suite_bench.throughput.min_steps, suite_bench.throughput.min_time_s) == (50, 200, 30)
    assert (bench.throughput.warmup_steps, bench.throughput.min_steps, bench.throughput.min_time_s) == (5, 20, pytest.approx(3.0))
    assert (bench.inference.warmup_iterations, bench.inference.min_iterations, bench.inference.min_time_s) == (5, 50, pytest.approx(0.5))
    assert bench.inference.batch_sizes == suite_bench.inference.batch_sizes and bench.training == suite_bench.training
    assert (provenance(short[0]).window_scale, provenance(full[0]).window_scale) == (0.1, None)
    assert config_hash(short[0].resolved_config()) != config_hash(full[0].resolved_config())


def test_framework_keeps_only_that_frameworks_runs_of_a_benchmark_with_two():
    """The GPU machine has no TensorFlow: EfficientNet's PyTorch runs must be plannable (and preflighted) alone."""
    request = RunRequest(suite="nightly-gpu", benchmarks=["efficientnet-b0"], modes=["throughput"], synthetic=True)
    both = plan_runs(load_suite("nightly-gpu"), request)
    only = plan_runs(load_suite("nightly-gpu"), RunRequest(**{**request.__dict__, "frameworks": ["pytorch"]}))
    assert {s.framework for s in both} == {"pytorch", "tensorflow"}
    assert [(s.framework, s.precision) for s in only] == [("pytorch", "tf32"), ("pytorch", "amp-fp16")]
    args = build_parser().parse_args(["run", "--framework", "pytorch", "--framework", "tensorflow"])
    assert args.framework == ["pytorch", "tensorflow"]


@pytest.mark.parametrize("value", ["0", "1.5", "-0.1"])
def test_window_scale_outside_0_1_is_a_usage_error(value: str, capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["run", "--window-scale", value])
    assert exit_info.value.code == 2 and "must be > 0 and <= 1" in capsys.readouterr().err


@pytest.mark.slow
def test_torchrun_of_one_process_is_a_ddp_run(tmp_path: Path):
    request = RunRequest(
        suite=str(DRY_RUN_SUITE),
        modes=["throughput"],
        synthetic=True,
        device="cpu",
        window_scale=0.5,
        results_dir=tmp_path,
        launchers=(TorchrunConfig(nproc_per_node=1),),
    )
    (run,) = run_suite(request, print_line=lambda line: None).runs
    result = read_result(run.path)
    assert result.run.status is Status.success, result.run.error
    assert (result.environment.launch.engine, result.environment.launch.world_size) == ("torchrun", 1)
    assert result.training.options["ddp"] is True  # gloo here, NCCL on a GPU (tests/test_gpu.py)


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("gpu-out")
    env = {**os.environ, "PYTHON": sys.executable, "OUT": str(out)}
    proc = subprocess.run(
        ["bash", "benchmarks/gpu_check.sh", "--device", "cpu"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
    )
    figures = json.loads((out / "figures.json").read_text())
    unpacked = tmp_path_factory.mktemp("unpacked")
    with tarfile.open(out / "results.tar.gz") as tar:
        tar.extractall(unpacked, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))  # Debian 3.11.2 lacks filter=
    return proc, out, figures, unpacked


def _results(folder: Path) -> dict[Mode, object]:
    return {r.run.mode: r for r in map(read_result, iter_result_files(folder))}


@pytest.mark.slow
def test_dry_run_runs_every_step_and_leaves_four_files(dry_run):
    proc, out, figures, unpacked = dry_run
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert sorted(p.name for p in out.iterdir()) == ["figures.json", "junit.xml", "report.txt", "results.tar.gz"]
    assert {s["status"] for s in figures["steps"]} == {"ok"}, figures["steps"]
    order = [s["name"] for s in figures["steps"]]
    assert order[:2] == ["facts", "install"] and order[-1] == "validate"
    # the first ratio round before the tests: a lent GPU's budget may end any step after them
    steps = ("test-resnet round 1", "reference round 1", "gpu tests", "reference round 2")
    assert [order.index(step) for step in steps] == sorted(order.index(step) for step in steps)
    assert figures["tests"] and set(figures["tests"].values()) == {"skipped"}  # no CUDA here: every gpu test skips cleanly
    assert any((unpacked / "logs").iterdir())  # each step's log comes back too
    assert "benchsite / bare reference" in (out / "report.txt").read_text()


@pytest.mark.slow
def test_dry_run_results_are_real_shortened_runs(dry_run):
    _, _, _, unpacked = dry_run
    for folder in (unpacked / "results", unpacked / "round-2" / "results"):
        results = _results(folder)
        assert set(results) == {Mode.throughput, Mode.inference}
        for result in results.values():
            assert result.run.status is Status.success and result.run.suite == "gpu-check-dry-run"
            assert result.run.precision == "fp32" and result.environment.device == "cpu"
            assert result.provenance.window_scale == 0.5 and "--window-scale" in result.provenance.command
    assert "--precision" in _results(unpacked / "round-2" / "results")[Mode.throughput].provenance.command


@pytest.mark.slow
def test_dry_run_ratios_divide_the_recorded_figures_by_the_reference(dry_run):
    _, _, figures, unpacked = dry_run
    assert [r["round"] for r in figures["rounds"]] == [1, 2]
    for round_, folder in zip(figures["rounds"], ("results", "round-2/results"), strict=True):
        by_mode = _results(unpacked / folder)
        reference, ratios = round_["reference"], round_["ratios"]
        throughput = by_mode[Mode.throughput].training.throughput
        assert reference["train"]["steps"] == throughput.measured_steps and reference["channels_last"] is True
        assert ratios["training_images_per_s"] == pytest.approx(throughput.samples_per_s / reference["train"]["images_per_s"])
        for point in by_mode[Mode.inference].inference.results:  # batch 1 and the largest, 16
            ref = reference["inference"][str(point.batch_size)]
            assert ref["iterations"] >= point.iterations
            assert ratios[f"inference_p50_batch_{point.batch_size}"] == pytest.approx(point.latency_ms.p50 / ref["p50_ms"])
            no_grad = round_["ratios_vs_no_grad"][f"inference_p50_batch_{point.batch_size}"]
            assert no_grad == pytest.approx(point.latency_ms.p50 / ref["p50_ms_no_grad"])
    summary = figures["ratios"]["training_images_per_s"]
    assert summary["goal"] == ">= 0.95" and summary["min"] <= summary["median"] <= summary["max"] and len(summary["rounds"]) == 2


def _offline() -> list[str]:
    """``unshare -n``: run without any network when this user may; else nothing (--no-index still forbids registries)."""
    try:
        works = subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=10).returncode == 0
    except OSError:
        works = False
    return ["unshare", "-n"] if works else []


@pytest.mark.skipif(not any(WHEELS.glob("*.whl")), reason="no .gpu-wheels/: run `bash benchmarks/gpu_wheels.sh` (needs network)")
def test_carried_wheels_install_offline_into_a_fresh_venv(tmp_path: Path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    python = venv / "bin" / "python"
    install = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-index", "--find-links", str(WHEELS)]
    subprocess.run([*_offline(), *install, "pydantic", "pyyaml"], check=True, timeout=120)
    probe = "import pydantic, runners.schema, runners.suites; print(pydantic.VERSION, runners.suites.load_suite('nightly-gpu').name)"
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([str(python), "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.split()[1] == "nightly-gpu", proc.stderr
    assert subprocess.run([str(python), "-c", "import torch"], env=env, capture_output=True).returncode != 0  # only the wheels


@pytest.mark.skipif(not any(WHEELS.glob("*.whl")), reason="no .gpu-wheels/: run `bash benchmarks/gpu_wheels.sh` (needs network)")
def test_without_pip_the_check_unzips_the_wheels_for_this_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
    gpu_check = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "gpu_check", gpu_check)  # its dataclasses look their module up there
    spec.loader.exec_module(gpu_check)
    check = gpu_check.Check(
        gpu_check.CPU_PLAN, sys.executable, tmp_path / "out", tmp_path, WHEELS, facts={"python": platform.python_version()}
    )
    gpu_check._unzip_wheels(check, tmp_path / "deps")
    probe = "import pydantic, yaml, pytest, runners.schema; print(pydantic.__file__)"
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path / "deps")])}
    proc = subprocess.run([sys.executable, "-S", "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith(str(tmp_path / "deps")), proc.stderr
