"""Write the fixtures in tests/data/ranked/ and tests/data/history/ from the committed templates.

Run: PYTHONPATH=. python tests/data/make_ranked.py   (deterministic; the output is committed)

ranked/: ImageNet runs on several GPUs with model_flops_per_sample, quality of
the timed model, per-class results and two dataset releases, for the rankings
and leaderboard pages. history/: 40 nightly inference runs of one setup whose
throughput drops 15% at night 28 amid 2% noise, and 40 of another with noise
only, for the history and regressions pages. nightly/: ResNet-50 v1.5 as the
nightly-gpu suite writes it (see make_nightly.py).
"""

from __future__ import annotations

import copy
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

HERE = Path(__file__).parent
CONVERGENCE = HERE / "valid" / "convergence.yaml"
INFERENCE = HERE / "valid" / "inference.yaml"
IMAGENET = {
    "name": "imagenet",
    "version": "ilsvrc2012",
    "released_utc": "2012-04-01T00:00:00Z",
    "checksum": None,
    "synthetic": False,
    "train_samples": 1281167,
    "val_samples": 50000,
    "num_classes": 1000,
    "image_size": 224,
}
RELABELLED = {**IMAGENET, "version": "ilsvrc2012-relabel-2026", "released_utc": "2026-10-01T00:00:00Z"}
GPUS = {"A100": ("NVIDIA A100-SXM4-80GB", "550.54.15"), "H100": ("NVIDIA H100 80GB HBM3", "550.90.07"), "T4": ("Tesla T4", "550.54.15")}
RESNET50_FLOPS = 8.18e9  # torch.utils.flop_counter.FlopCounterMode on timm resnet50 at 224x224, one sample
EFFNET_B0_FLOPS = 0.8e9


def stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def base(template: Path, run_id: str, benchmark: str, model: str, started: datetime, duration: float, gpu: str, devices: int) -> dict:
    data = yaml.safe_load(template.read_text(encoding="utf-8"))
    name, driver = GPUS[gpu]
    run = data["run"]
    run.update(
        id=run_id,
        suite="dgx-imagenet",
        benchmark=benchmark,
        model=model,
        started_utc=stamp(started),
        finished_utc=stamp(started + timedelta(seconds=duration)),
        duration_s=duration,
        repeat={"group": run_id, "index": 0, "count": 1},
    )
    env = data["environment"]
    env["host"]["hostname"] = f"{gpu.lower()}-node"
    env["device"] = "cuda"
    env["accelerators"] = {
        "kind": "nvidia",
        "probe": "nvml",
        "devices": [
            {"index": i, "name": name, "uuid": f"GPU-{gpu}-{i}", "memory_total_mib": 81920.0, "driver_version": driver}
            for i in range(devices)
        ],
    }
    env["launch"] = {"engine": "torchrun" if devices > 1 else "local", "nodes": 1, "procs_per_node": devices, "world_size": devices}
    data["dataset"] = copy.deepcopy(IMAGENET)
    return data


def convergence(run_id, benchmark, model, gpu, devices, precision, rate, top1, ttt, flops, started, subjects=None):
    data = base(CONVERGENCE, run_id, benchmark, model, started, (ttt or 40000) + 60, gpu, devices)
    data["run"]["precision"] = precision
    tr = data["training"]
    tr["batch_per_device"], tr["global_batch"] = 256, 256 * devices
    tr["throughput"]["samples_per_s"] = rate
    tr["throughput"]["compute_samples_per_s"] = None
    tr["time_to_target"] = {
        "metric": "top1",
        "target": 0.759,
        "reached": ttt is not None,
        "time_to_target_s": ttt,
        "init_time_s": 30.0,
        "epochs": 40,
        "max_epochs": 90,
        "eval_every": 1,
    }
    tr["curve"] = [{"epoch": 1, "train_loss": 2.0, "eval": {"top1": top1, "top5": 0.93}, "epoch_time_s": 60.0, "wall_time_s": 60.0}]
    tr["final_metrics"] = {"top1": top1, "top5": 0.93}
    tr["per_subject"] = [{"subject": s, "samples": 50, "metrics": {"top1": v}} for s, v in (subjects or [])]
    tr["model_flops_per_sample"] = flops
    return data


def inference(run_id, benchmark, model, gpu, precision, points, top1, flops, memory, started, dataset=IMAGENET):
    data = base(INFERENCE, run_id, benchmark, model, started, 120.0, gpu, 1)
    data["run"]["precision"] = precision
    data["dataset"] = copy.deepcopy(dataset)
    inf = data["inference"]
    inf["precision"] = precision
    inf["quality"] = {"top1": top1} if top1 is not None else {}
    inf["weights"] = "trained by run r50-a100-amp-conv"
    inf["model_flops_per_sample"] = flops
    template = inf["results"][0]
    inf["results"] = []
    for batch, rate in points:
        ms = batch / rate * 1000
        lat = {
            "mean": ms,
            "stdev": ms * 0.05,
            "min": ms * 0.9,
            "p50": ms,
            "p90": ms * 1.05,
            "p95": ms * 1.08,
            "p99": ms * 1.12,
            "max": ms * 1.2,
        }
        point = {**copy.deepcopy(template), "batch_size": batch, "resolution": 224, "samples_per_s": rate, "latency_ms": lat}
        point["duration_s"] = point["iterations"] * batch / rate
        inf["results"].append(point)
    data["telemetry"]["gpus"] = [{"index": 0, "samples": 100, "interval_s": 0.1, "memory_used_max_mib": memory}]
    return data


def write(folder: Path, name: str, data: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120), encoding="utf-8")


def ranked() -> None:
    out = HERE / "ranked"
    t = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
    subjects = [("tench", 0.82), ("goldfish", 0.9), ("great white shark", 0.66)]
    r50, eff = ("imagenet-resnet50", "ResNet-50"), ("imagenet-efficientnet-b0", "EfficientNet-B0")
    write(
        out,
        "r50-a100x8-amp-conv",
        convergence("r50-a100x8-amp-conv", *r50, "A100", 8, "amp", 20000.0, 0.763, 3600.0, RESNET50_FLOPS, t, subjects),
    )
    write(out, "r50-h100x8-amp-conv", convergence("r50-h100x8-amp-conv", *r50, "H100", 8, "amp", 30000.0, 0.75, None, RESNET50_FLOPS, t))
    write(
        out, "r50-a100x1-tf32-conv", convergence("r50-a100x1-tf32-conv", *r50, "A100", 1, "tf32", 2600.0, 0.765, 30000.0, RESNET50_FLOPS, t)
    )
    write(
        out, "r50-t4x1-fp32-conv-noflops", convergence("r50-t4x1-fp32-conv-noflops", *r50, "T4", 1, "fp32", 400.0, 0.761, 200000.0, None, t)
    )
    t += timedelta(days=1)
    write(
        out,
        "r50-a100-amp-inf",
        inference("r50-a100-amp-inf", *r50, "A100", "amp", [(1, 400.0), (64, 8000.0)], 0.762, RESNET50_FLOPS, 5120.0, t),
    )
    write(
        out,
        "r50-h100-amp-inf",
        inference("r50-h100-amp-inf", *r50, "H100", "amp", [(1, 500.0), (64, 12000.0)], 0.762, RESNET50_FLOPS, 6144.0, t),
    )
    write(
        out,
        "r50-t4-int8-inf",
        inference("r50-t4-int8-inf", *r50, "T4", "int8", [(1, 250.0), (64, 4000.0)], 0.755, RESNET50_FLOPS, 2048.0, t, RELABELLED),
    )
    write(
        out,
        "eff-a100-amp-inf",
        inference("eff-a100-amp-inf", *eff, "A100", "amp", [(1, 600.0), (64, 15000.0)], 0.771, EFFNET_B0_FLOPS, 3072.0, t),
    )
    write(
        out,
        "eff-a100-fp32-inf-noquality",
        inference("eff-a100-fp32-inf-noquality", *eff, "A100", "fp32", [(1, 300.0)], None, None, 3000.0, t),
    )


def history() -> None:
    out = HERE / "history"
    rng = random.Random(6)
    for series, gpu, drop_at, hour in (("planted", "A100", 28, 2), ("noise", "H100", None, 3)):
        for night in range(40):
            started = datetime(2026, 9, 1, hour, 0, tzinfo=UTC) + timedelta(days=night)
            rate = 1000.0 * rng.gauss(1.0, 0.02) * (0.85 if drop_at is not None and night >= drop_at else 1.0)
            run_id = f"hist-{series}-{night:02d}"
            data = inference(run_id, "imagenet-resnet50", "ResNet-50", gpu, "fp32", [(32, round(rate, 2))], None, None, 4000.0, started)
            data["run"]["suite"] = "nightly"
            write(out / f"{started:%Y/%m/%d}", run_id, data)


if __name__ == "__main__":
    import make_nightly

    ranked()
    history()
    make_nightly.nightly()
