"""Faults an unlucky operator meets: a kill mid-checkpoint, a read-only or full disk, a wrong --data folder.

Real processes, real signals and real filesystems: a tmpfs mounted read-only or
tiny inside a private mount namespace (``unshare -m``, as root).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DATA, benchsite, run_cli

from runners.schema import Status, iter_result_files, read_result

pytestmark = pytest.mark.slow

UNRESUMABLE_SUITE = """\
name: killed-mid-checkpoint
description: Tests only; checkpoints every epoch and never reaches its target, so epoch 2 writes a checkpoint.
benchmarks:
  - name: digits-ckpt
    title: t
    model: TestResNet
    description: d
    implementations: {pytorch: test_resnet}
    dataset: {name: digits, image_size: 16, num_classes: 10}
    quality_target: {metric: top1, value: 0.999}
    modes: [convergence]
    checkpoint_every: 1
    timeout_s: 300
    training: {batch_size: 64, lr: 1.6, momentum: 0.9, max_epochs: 3, warmup_epochs: 0}
"""


def test_a_kill_between_the_checkpoint_writes_resumes_one_consistent_epoch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    suite = tmp_path / "suite.yaml"
    suite.write_text(UNRESUMABLE_SUITE)
    cache = tmp_path / "cache"  # its own, so the checkpoints folder holds this run's only
    monkeypatch.setenv("BENCHSITE_TEST_HOOK", "sigkill-between-checkpoint-writes:2")
    killed = run_cli(["run", "--suite", str(suite), "--results", str(tmp_path / "r")], cache)
    assert killed.returncode == 1 and "exited with code -9" in read_result(*iter_result_files(tmp_path / "r")).run.error
    # epoch 2's weights were written, its state was not: the only complete checkpoint is epoch 1's, weights and clock
    (folder,) = (cache / "checkpoints").iterdir()
    units = [p for p in folder.iterdir() if (p / "state.json").is_file()]
    assert [json.loads((u / "state.json").read_text())["epoch"] for u in units] == [1]
    torch = pytest.importorskip("torch")
    assert torch.load(units[0] / "model.pt", weights_only=True)["epoch"] == 1
    monkeypatch.delenv("BENCHSITE_TEST_HOOK")
    resumed = run_cli(["run", "--suite", str(suite), "--resume", "--results", str(tmp_path / "r")], cache)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "resumed from the checkpoint after epoch 1" in resumed.stdout
    (done,) = [r for r in map(read_result, iter_result_files(tmp_path / "r")) if r.run.status is Status.success]
    assert done.run.resumed and [e.epoch for e in done.training.curve] == [1, 2, 3]


# --- a read-only or full results folder or site folder --------------------------------------------------------------


def _can_mount() -> bool:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs tmpfs /mnt"], capture_output=True).returncode == 0


needs_mounts = pytest.mark.skipif(not _can_mount(), reason="needs root and unshare -m to mount a private tmpfs")

MOUNT = """
set -e
mount -t tmpfs -o size=$SIZE tmpfs "$BENCHSITE_TEST_DISK"
if [ "$MODE" = ro ]; then mount -o remount,ro "$BENCHSITE_TEST_DISK"; fi
if [ "$MODE" = full ]; then
    head -c $FILL /dev/zero > "$BENCHSITE_TEST_DISK/filler" 2>/dev/null || true
fi
shift
exec "$@"
"""


def on_tmpfs(disk: Path, mode: str, args: list[str], cache: Path, size: str = "256k", fill: int = 0, **env: str):
    """Run the CLI with ``disk`` a fresh tmpfs in a private mount namespace: read-only (ro), or full but ``fill`` bytes (full)."""
    disk.mkdir(exist_ok=True)
    environ = {
        **os.environ,
        "BENCHSITE_CACHE": str(cache),
        "BENCHSITE_TEST_DISK": str(disk),
        "MODE": mode,
        "SIZE": size,
        "FILL": str(fill),
        **env,
    }
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", MOUNT, "sh", "-", *benchsite(*args)],
        capture_output=True,
        text=True,
        env=environ,
        timeout=600,
    )


def spooled(cache: Path) -> list[Path]:
    return list(iter_result_files(cache / "spool")) if (cache / "spool").is_dir() else []


@needs_mounts
def test_a_read_only_results_folder_is_refused_before_any_run(tmp_path: Path):
    disk = tmp_path / "disk"
    proc = on_tmpfs(disk, "ro", ["run", "--suite", str(DATA / "suites" / "tiny.yaml"), "--results", str(disk)], tmp_path / "cache")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [f"benchsite run: error: results folder {disk} is not writable: Read-only file system"]
    assert "[1/" not in proc.stdout and not spooled(tmp_path / "cache")


@needs_mounts
def test_a_disk_that_fills_mid_suite_keeps_the_measurement_and_stops_cleanly(tmp_path: Path):
    """The preflight's small probe still fits; the first record does not: it goes to the spool, the suite stops."""
    disk, cache = tmp_path / "disk", tmp_path / "cache"
    suite = str(DATA / "suites" / "tiny.yaml")
    proc = on_tmpfs(disk, "full", ["run", "--suite", suite, "--results", str(disk)], cache, size="64k", fill=60 * 1024)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    (kept,) = spooled(cache)
    record = read_result(kept)
    assert record.run.status is Status.success and record.run.mode.value == "convergence"  # the measurement survived
    assert f"cannot write into {disk} (No space left on device); the record is kept in {kept}" in proc.stdout, proc.stdout
    assert proc.stderr.strip().splitlines() == [
        f"benchsite run: error: stopped after run 1 of 2: {disk} cannot be written; its record is in {kept}"
        " (move it into the results folder once it can take it)"
    ]
    assert "[2/2]" not in proc.stdout and "Traceback" not in proc.stdout + proc.stderr


@needs_mounts
def test_a_record_the_launcher_writes_for_a_dead_worker_is_spooled_too(tmp_path: Path):
    disk, cache = tmp_path / "disk", tmp_path / "cache"
    worker = tmp_path / "dying-python"
    worker.write_text(  # its last lines make the failed record larger than the free space the preflight probe used
        f'#!/bin/sh\n[ "$2" = runners.launch.probe ] && exec {sys.executable} "$@"\n'
        "for i in $(seq 30); do printf 'dying %0200d\\n' $i; done\nexit 3\n"
    )
    worker.chmod(0o755)
    suite = tmp_path / "dying.yaml"
    suite.write_text(
        f"name: dying\ndescription: d\npython: {{pytorch: {worker}}}\nbenchmarks:\n"
        "  - {name: dying, title: t, model: M, description: d, implementations: {pytorch: test_resnet},\n"
        "     dataset: {name: digits, image_size: 16, num_classes: 10}, quality_target: {value: 0.5}, modes: [inference],\n"
        "     training: {batch_size: 8, lr: 0.1, max_epochs: 1},\n"
        "     inference: {batch_sizes: [1], warmup_iterations: 1, min_iterations: 5, min_time_s: 0}}\n"
    )
    proc = on_tmpfs(disk, "full", ["run", "--suite", str(suite), "--results", str(disk)], cache, size="64k", fill=60 * 1024)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr
    (kept,) = spooled(cache)
    assert read_result(kept).run.status is Status.failed and "dying" in read_result(kept).run.error
    assert f"the record is kept in {kept}" in proc.stdout and "Traceback" not in proc.stdout + proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("benchsite run: error: stopped after run 1 of 1: ")


@needs_mounts
@pytest.mark.parametrize("mode", ["ro", "full"])
def test_a_read_only_or_full_site_folder_is_one_line_and_exit_1(tmp_path: Path, mode: str):
    disk = tmp_path / "disk"
    args = ["build", "--results", str(DATA / "valid"), "--site-dir", str(disk / "site")]
    proc = on_tmpfs(disk, mode, args, tmp_path / "cache", size="128k", fill=0 if mode == "ro" else 120 * 1024)
    assert proc.returncode == 1
    (line,) = proc.stderr.strip().splitlines()[-1:]
    assert line.startswith("benchsite build: error: ") and (
        "Read-only file system" in line or "No space left on device" in line or "disk is full" in line
    )
    assert "Traceback" not in proc.stderr


# --- preflight: the whole plan is checked before the first run --------------------------------------------------------


def _image_folder(root: Path, splits: tuple[str, ...] = ("train", "val"), classes: int = 1000) -> Path:
    for split in splits:
        for c in range(classes):
            (root / split / f"n{c:08d}").mkdir(parents=True)
            (root / split / f"n{c:08d}" / "a.JPEG").write_bytes(b"not read by the preflight")
    return root


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (None, "pass --data"),
        ("/nonexistent", "--data /nonexistent: no such folder"),
        ("no-val", "expected val/<class>/ folders"),
        ("flat", "expected train/<class>/ folders"),
        ("ten-classes", "train/ has 10 class folders; benchmark 'resnet50-v1.5' expects 1000"),
    ],
)
def test_a_missing_or_wrong_data_folder_is_refused_before_any_run(tmp_path: Path, data: str | None, says: str):
    if data == "no-val":
        data = str(_image_folder(tmp_path / data, splits=("train",)))
    elif data == "flat":
        (tmp_path / data / "train").mkdir(parents=True)
        (tmp_path / data / "train" / "a.JPEG").write_bytes(b"")
        data = str(tmp_path / data)
    elif data == "ten-classes":
        data = str(_image_folder(tmp_path / data, classes=10))
    args = ["run", "--suite", "nightly-gpu", "--results", str(tmp_path / "r"), *(["--data", data] if data else [])]
    proc = run_cli(args, tmp_path / "cache")
    assert proc.returncode == 1
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("benchsite run: error: ") and says in line, line
    assert "[1/" not in proc.stdout and not (tmp_path / "r").exists()


def test_an_unknown_or_absent_device_is_refused_before_any_run(tmp_path: Path):
    suite = str(DATA / "suites" / "tiny.yaml")
    unknown = run_cli(["run", "--suite", suite, "--device", "tpu", "--results", str(tmp_path / "r")], tmp_path / "cache")
    assert unknown.returncode == 1 and unknown.stderr.strip() == "benchsite run: error: --device 'tpu': expected auto, cpu, cuda or cuda:N"
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    absent = run_cli(["run", "--suite", suite, "--device", "cuda", "--results", str(tmp_path / "r")], tmp_path / "cache")
    assert absent.returncode == 1 and absent.stderr.strip().count("\n") == 0 and "no CUDA device" in absent.stderr
    assert not (tmp_path / "r").exists()


def test_dry_run_prints_the_plan_and_runs_nothing(tmp_path: Path):
    args = ["run", "--suite", "nightly-gpu", "--synthetic", "--mode", "throughput", "--dry-run", "--results", str(tmp_path / "r")]
    proc = run_cli(args, tmp_path / "cache")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    planned = [line for line in lines if line.startswith("[")]
    assert planned[0].startswith(f"[1/{len(planned)}] resnet50-v1.5 pytorch throughput ")
    assert f"{len(planned)} run(s) planned" in lines and lines[-1].startswith("preflight: ")
    assert not (tmp_path / "r").exists() and "Traceback" not in proc.stderr
