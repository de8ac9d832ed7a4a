"""What changed between the runs around a change point (generator/changes.py)."""

from __future__ import annotations

from pathlib import Path

from generator.changes import what_changed
from generator.formats import package_version
from runners.schema import read_result

HISTORY = Path(__file__).parent / "data" / "history" / "2026"


def planted(night: int):
    (path,) = HISTORY.glob(f"*/*/hist-planted-{night}.yaml")
    return read_result(path)


def test_the_torch_upgrade_at_the_planted_change_point_is_the_one_line():
    assert [str(c) for c in what_changed(planted(27), planted(28))] == ["torch 2.14.1 → 2.15.0"]
    assert what_changed(planted(26), planted(27)) == []


def test_driver_power_dataset_commit_and_packages_each_get_a_line_packages_first():
    before = planted(27)
    env = before.environment
    device = env.accelerators.devices[0].model_copy(update={"driver_version": "560.28.03", "power_limit_w": 300.0})
    after = before.model_copy(
        update={
            "environment": env.model_copy(
                update={
                    "packages": {**env.packages, "cudnn": "91002", "timm": "1.0.32"},
                    "accelerators": env.accelerators.model_copy(update={"devices": [device]}),
                }
            ),
            "dataset": before.dataset.model_copy(update={"version": "ilsvrc2012-v2"}),
            "provenance": before.provenance.model_copy(update={"git_commit": "fedcba9876543210" * 2}),
        }
    )
    lines = [str(c) for c in what_changed(before, after)]
    dataset = before.dataset
    assert lines[:2] == ["timm 1.0.31 → 1.0.32", "cudnn not recorded → 9.10.2"]  # cuDNN's integer, as its users write it
    assert "GPU driver 550.54.15 → 560.28.03" in lines and "power limit (W) not recorded → 300" in lines
    assert f"dataset release {dataset.name} {dataset.version} → {dataset.name} ilsvrc2012-v2" in lines
    assert "benchsite commit 0123456789ab → fedcba987654" in lines and len(lines) == 6


def test_cudnn_versions_print_as_their_users_write_them_and_every_other_version_as_recorded():
    # torch.backends.cudnn.version() on the H100 of results/2026/11/27 gave 91900; cuDNN 8 counted in thousands
    assert [package_version("cudnn", v) for v in ("91900", "90100", "8907", "8600")] == ["9.19.0", "9.1.0", "8.9.7", "8.6.0"]
    assert [package_version("cudnn", v) for v in ("9", "9.1.0", "")] == ["9", "9.1.0", ""]  # TensorFlow's major, a dotted one
    assert package_version("torch", "2.14.1") == "2.14.1" and package_version("nccl", "22809") == "22809"
