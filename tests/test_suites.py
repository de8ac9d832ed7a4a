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
    assert targets["efficientnet-b0"] == 0.776 and targets["efficientnet-b4"] == 0.829
    for bench in suite.benchmarks:
        t = bench.training
        if bench.name.startswith("efficientnet"):  # DeepLearningExamples' EfficientNet recipe
            assert (t.optimizer, t.rmsprop_alpha, t.rmsprop_eps, t.momentum, t.lr_reference_batch) == ("rmsprop", 0.9, 0.01, 0.9, 4096)
            assert (t.warmup_epochs, t.max_epochs, t.label_smoothing) == (16, 400, 0.1)
        else:
            assert (t.optimizer, t.momentum, t.lr, t.lr_reference_batch, t.weight_decay) == ("sgd", 0.875, 0.256, 256, 1 / 16384)
            assert t.label_smoothing == 0.1 and t.warmup_epochs == 8
        assert t.schedule == "cosine" and not t.bn_weight_decay
        if "pytorch" in bench.implementations:
            model = timm.create_model(bench.implementations["pytorch"], pretrained=False, num_classes=10)
            assert sum(p.numel() for p in model.parameters()) > 1_000_000
    b0, b4 = suite.benchmark("efficientnet-b0").training, suite.benchmark("efficientnet-b4").training
    assert (b0.lr, b0.weight_decay, b4.lr, b4.weight_decay) == (0.08, 1e-5, 0.16, 5e-6)
    assert suite.benchmark("efficientnet-b4").dataset.image_size == 380
    # keras.applications' ResNet50 is v1: its own benchmark, never one row with timm's v1.5
    assert suite.benchmark("resnet50-v1").implementations == {"tensorflow": "ResNet50"}
    assert "tensorflow" not in suite.benchmark("resnet50-v1.5").implementations


def test_rmsprop_settings_under_another_optimizer_are_refused(tmp_path: Path):
    suite = tmp_path / "bad.yaml"
    suite.write_text(
        "name: bad\ndescription: d\nbenchmarks:\n"
        "  - {name: b, title: t, model: M, description: d, implementations: {pytorch: resnet18},\n"
        "     dataset: {name: digits}, quality_target: {value: 0.5}, modes: [convergence],\n"
        "     training: {batch_size: 8, lr: 0.1, max_epochs: 1, rmsprop_eps: 0.01}}\n"
    )
    with pytest.raises(SuiteError, match="rmsprop_eps: only used by optimizer 'rmsprop', not 'sgd'"):
        load_suite(str(suite))


def test_synthetic_throughput_plan_needs_no_data_and_skips_convergence():
    request = RunRequest(suite="nightly-gpu", modes=["throughput"], synthetic=True, results_dir=Path("r"))
    specs = plan_runs(load_suite("nightly-gpu"), request)
    assert len(specs) == 16 and {s.mode for s in specs} == {Mode.throughput}  # 5 PyTorch + 3 TensorFlow, x 2 precisions
    assert {s.precision for s in specs} == {"tf32", "amp-fp16"} and all(s.synthetic for s in specs)


def test_torchrun_plan_records_world_size_and_command():
    torchrun = TorchrunConfig(nproc_per_node=8, nnodes=2, rdzv_endpoint="node1:29400", rdzv_id="job7")
    (spec, *_) = plan_runs(load_suite("nightly-gpu"), RunRequest(suite="nightly-gpu", launchers=(torchrun,), results_dir=Path("r")))
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
        launchers=(TorchrunConfig(nproc_per_node=4), TfDistributeConfig(workers=2)),
    )
    engines = {(s.framework, s.launch.engine, s.launch.world_size) for s in plan_runs(load_suite("nightly-gpu"), request)}
    assert engines == {("pytorch", "torchrun", 4), ("tensorflow", "tf-distribute", 2)}
    only_torchrun = RunRequest(suite="nightly-gpu", synthetic=True, results_dir=Path("r"), launchers=(TorchrunConfig(nproc_per_node=4),))
    tf_specs = [s for s in plan_runs(load_suite("nightly-gpu"), only_torchrun) if s.framework == "tensorflow"]
    assert tf_specs and all(s.launch.engine == "local" for s in tf_specs)
