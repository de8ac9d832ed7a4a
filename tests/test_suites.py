"""The shipped suites load, plan and name only models that exist, without downloading anything."""

from __future__ import annotations

from pathlib import Path

import pytest
import timm

from runners.launch import RunRequest, plan_runs
from runners.launch.torchrun import TorchrunConfig
from runners.schema import Mode
from runners.suites import SuiteError, list_suites, load_suite


def test_shipped_suites_validate():
    assert {"quick", "nightly-gpu"} <= set(list_suites())
    for name in list_suites():
        assert load_suite(name).benchmarks


def test_nightly_gpu_follows_the_seed_recipe_and_targets():
    suite = load_suite("nightly-gpu")
    targets = {b.name: b.quality_target.value for b in suite.benchmarks}
    assert targets["resnet50-v1.5"] == 0.76 and targets["resnext101-32x4d"] == 0.792 and targets["se-resnext101-32x4d"] == 0.799
    for bench in suite.benchmarks:
        t = bench.training
        assert (t.momentum, t.lr, t.lr_reference_batch, t.weight_decay, t.label_smoothing) == (0.875, 0.256, 256, 1 / 16384, 0.1)
        assert t.schedule == "cosine" and not t.bn_weight_decay and t.warmup_epochs > 0
        model = timm.create_model(bench.implementations["pytorch"], pretrained=False, num_classes=10)
        assert sum(p.numel() for p in model.parameters()) > 1_000_000
    assert suite.benchmark("efficientnet-b4").dataset.image_size == 380


def test_synthetic_throughput_plan_needs_no_data_and_skips_convergence():
    request = RunRequest(suite="nightly-gpu", modes=["throughput"], synthetic=True, results_dir=Path("r"))
    specs = plan_runs(load_suite("nightly-gpu"), request)
    assert len(specs) == 14 and {s.mode for s in specs} == {Mode.throughput}  # 5 PyTorch + 2 TensorFlow, x 2 precisions
    assert {s.precision for s in specs} == {"tf32", "amp-fp16"} and all(s.synthetic for s in specs)


def test_torchrun_plan_records_world_size_and_command():
    torchrun = TorchrunConfig(nproc_per_node=8, nnodes=2, rdzv_endpoint="node1:29400", rdzv_id="job7")
    (spec, *_) = plan_runs(load_suite("nightly-gpu"), RunRequest(suite="nightly-gpu", torchrun=torchrun, results_dir=Path("r")))
    assert (spec.launch.engine, spec.launch.world_size, spec.launch.nodes) == ("torchrun", 16, 2)
    cmd = torchrun.command(Path("spec.json"))
    assert "--rdzv-endpoint=node1:29400" in cmd and "--nproc-per-node=8" in cmd and cmd[-3:] == ["--module", "runners.worker", "spec.json"]


def test_unknown_benchmark_names_the_known_ones():
    with pytest.raises(SuiteError, match=r"has no benchmark 'nope'; it has: resnet50-v1\.5"):
        plan_runs(load_suite("nightly-gpu"), RunRequest(suite="nightly-gpu", benchmarks=["nope"]))


def test_sbatch_template_uses_srun_and_torchrun_rendezvous():
    text = (Path(__file__).resolve().parents[1] / "runners" / "slurm" / "benchsite.sbatch").read_text()
    assert "srun" in text and "--rdzv-endpoint" in text and text.count("SUITE_ARGS=") == 1


def test_each_framework_gets_its_own_launcher():
    from runners.launch.tf_distribute import TfDistributeConfig

    request = RunRequest(
        suite="nightly-gpu",
        modes=["throughput"],
        synthetic=True,
        results_dir=Path("r"),
        torchrun=TorchrunConfig(nproc_per_node=4),
        tf_distribute=TfDistributeConfig(workers=2),
    )
    engines = {(s.framework, s.launch.engine, s.launch.world_size) for s in plan_runs(load_suite("nightly-gpu"), request)}
    assert engines == {("pytorch", "torchrun", 4), ("tensorflow", "tf-distribute", 2)}
    only_torchrun = RunRequest(suite="nightly-gpu", synthetic=True, results_dir=Path("r"), torchrun=TorchrunConfig(nproc_per_node=4))
    tf_specs = [s for s in plan_runs(load_suite("nightly-gpu"), only_torchrun) if s.framework == "tensorflow"]
    assert tf_specs and all(s.launch.engine == "local" for s in tf_specs)
