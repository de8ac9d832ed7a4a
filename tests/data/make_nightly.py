"""Write tests/data/nightly/: ResNet-50 v1.5 results exactly as the nightly-gpu suite writes them.

Run: PYTHONPATH=. python tests/data/make_nightly.py   (deterministic; the output is committed)

The runner's own pieces shape every file: the suite definition (runners/suites/nightly-gpu.yaml) gives the benchmark,
model, recipe and precisions, runners.worker._dataset_record the dataset section (ImageNet read by the imagefolder
loader), the run ids follow runners.writing.new_run_id, and runners.writing.write_result validates and names each file.
Only what needs a GPU is given by hand: the measured numbers and the NVML facts of A100s at two power limits (400 W
and 250 W) and H100s, on 1 and 8 GPUs, in AMP (amp-fp16) and TF32. Every setup gets its own distinct accuracy and
throughput, so a test can tell any value that crossed from one setup to another.
"""

from __future__ import annotations

import copy
import hashlib
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from runners.datasets import DatasetInfo
from runners.record import RunSpec
from runners.schema import Launch, Mode, Repeat, Result, migrate
from runners.suites import config_hash, load_suite
from runners.worker import _dataset_record
from runners.writing import write_result

HERE = Path(__file__).parent
OUT = HERE / "nightly"
BENCHMARK = "resnet50-v1.5"
FLOPS = 8.18e9  # torch.utils.flop_counter on timm resnet50 at 224x224, one sample
IMAGENET = DatasetInfo("imagenet", "ilsvrc2012", Path("/data/imagenet"), "sha256:" + "5e" * 32, 1281167, 50000, 1000)
GPUS = {  # key: (name, driver, power limit W, host)
    "A100-400W": ("NVIDIA A100-SXM4-80GB", "550.54.15", 400.0, "dgx-a100-1"),
    "A100-250W": ("NVIDIA A100-SXM4-80GB", "550.54.15", 250.0, "dgx-a100-2"),
    "H100": ("NVIDIA H100 80GB HBM3", "550.90.07", 700.0, "dgx-h100-1"),
}
# Convergence: (gpu, devices, precision) -> (final top1 per repeat, time to target s, training samples/s)
CONVERGENCE = {
    ("A100-400W", 8, "amp-fp16"): ([0.7712, 0.7694, 0.7703], 22500.0, 22100.0),
    ("A100-400W", 8, "tf32"): ([0.7721], 41800.0, 11900.0),
    ("A100-250W", 8, "amp-fp16"): ([0.7681], 29300.0, 17050.0),
    ("A100-400W", 1, "amp-fp16"): ([0.7668], 171000.0, 2840.0),
    ("H100", 8, "amp-fp16"): ([0.7733, 0.7716], 12300.0, 40300.0),
}
# Throughput: (gpu, devices, precision) -> samples/s
THROUGHPUT = {
    ("A100-400W", 1, "tf32"): 1480.0,
    ("A100-400W", 8, "tf32"): 11390.0,
    ("A100-400W", 1, "amp-fp16"): 2870.0,
    ("A100-400W", 8, "amp-fp16"): 21640.0,
    ("A100-250W", 1, "amp-fp16"): 2210.0,
    ("A100-250W", 8, "amp-fp16"): 16930.0,
    ("H100", 1, "amp-fp16"): 5290.0,
    ("H100", 8, "amp-fp16"): 40980.0,
}
# Inference (1 GPU): (gpu, precision) -> (top1 of the timed model, samples/s at batch 1, samples/s at batch 256)
INFERENCE = {
    ("A100-400W", "amp-fp16"): (0.7699, 412.0, 9870.0),
    ("A100-400W", "tf32"): (0.7718, 301.0, 4120.0),
    ("A100-250W", "amp-fp16"): (0.7683, 377.0, 7420.0),
    ("H100", "amp-fp16"): (0.7731, 560.0, 18650.0),
    ("H100", "tf32"): (0.7726, 433.0, 8010.0),
}
# NVML board power: mean watts of each GPU over a run, by (gpu, precision) for training and inference (GPU i draws i W
# less than GPU 0, so a sum over the GPUs is told from a mean); None: that setup's GPU recorded no power.
TRAINING_POWER_W = {
    ("A100-400W", "amp-fp16"): 371.0,
    ("A100-400W", "tf32"): 356.0,
    ("A100-250W", "amp-fp16"): 243.0,
    ("H100", "amp-fp16"): 612.0,
}
INFERENCE_POWER_W = {
    ("A100-400W", "amp-fp16"): 287.0,
    ("A100-400W", "tf32"): 301.5,
    ("A100-250W", "amp-fp16"): 221.0,
    ("H100", "amp-fp16"): 452.0,
    ("H100", "tf32"): None,
}
TELEMETRY_INTERVAL_S = 0.1
# Board power over a timed window, as a multiple of the run's mean (which also covers set-up at lower power): training's
# measured steps draw 1.25x; an inference batch size from 0.7x (batch 1) up to 1.3x (batch 256).
TRAINING_WINDOW_FACTOR = 1.25
START = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


def template(mode: Mode) -> dict:
    """A committed result of the same mode (throughput runs share the convergence layout, without time to target)."""
    name = "inference" if mode is Mode.inference else "convergence"
    path = HERE / "valid" / f"{name}.yaml"
    return migrate(yaml.safe_load(path.read_text(encoding="utf-8")), path)  # the samples may be of an older schema_version


def spec_of(mode: Mode, precision: str, devices: int, run_id: str, group: str, index: int, count: int) -> RunSpec:
    bench = next(b for b in load_suite("nightly-gpu").benchmarks if b.name == BENCHMARK)
    launch = Launch(engine="torchrun", procs_per_node=devices, world_size=devices) if devices > 1 else Launch(engine="local")
    command = ["benchsite", "run", "--suite", "nightly-gpu", "--data", "/data/imagenet"]
    command += ["--nproc-per-node", str(devices)] if devices > 1 else []
    return RunSpec(
        run_id=run_id,
        suite="nightly-gpu",
        benchmark=bench,
        framework="pytorch",
        mode=mode,
        precision=precision,
        seed=bench.seed + index,
        repeat=Repeat(group=group, index=index, count=count),
        results_dir=Path("/results"),
        data_dir=IMAGENET.root,
        command=command,
        launch=launch,
    )


def result(spec: RunSpec, gpu: str, started: datetime, duration_s: float) -> dict:
    """The sections every run shares, from the spec and the GPU's NVML facts."""
    name, driver, watts, host = GPUS[gpu]
    data = template(spec.mode)
    devices = spec.launch.world_size
    data["run"].update(
        id=spec.run_id,
        suite=spec.suite,
        benchmark=spec.benchmark.name,
        model=spec.benchmark.model,
        task=spec.benchmark.task,
        mode=spec.mode.value,
        precision=spec.precision,
        started_utc=started,
        finished_utc=started + timedelta(seconds=duration_s),
        duration_s=duration_s,
        repeat=spec.repeat.model_dump(),
    )
    data["provenance"].update(command=spec.command, config_hash=config_hash(spec.resolved_config()), seed=spec.seed)
    env = data["environment"]
    env["host"].update(hostname=host, cpu_model="AMD EPYC 7742 64-Core Processor", logical_cores=256, ram_gib=2015.6)
    env["device"] = "cuda"
    env["packages"] |= {"cuda": "12.4", "cudnn": "9.1.0", "nccl": "2.21.5"}  # torch.version.cuda, backends.cudnn, cuda.nccl
    env["accelerators"] = {
        "kind": "nvidia",
        "probe": "nvml",
        "devices": [
            {
                "index": i,
                "name": name,
                "uuid": f"GPU-{host}-{i}",
                "memory_total_mib": 81920.0,
                "driver_version": driver,
                "cuda_version": "12.4",
                "power_limit_w": watts,
            }
            for i in range(devices)
        ],
    }
    env["launch"] = spec.launch.model_dump()
    data["dataset"] = _dataset_record(IMAGENET, spec).model_dump(mode="json")
    return data


def precision_flags(precision: str) -> dict:
    """What the PyTorch runner records for tf32 and amp-fp16 (PytorchBackend.precision_flags)."""
    tf32 = precision == "tf32"
    return {
        "precision": precision,
        "cuda.matmul.allow_tf32": tf32,
        "cudnn.allow_tf32": tf32,
        "float32_matmul_precision": "high" if tf32 else "highest",
        "autocast_dtype": "float16" if precision == "amp-fp16" else None,
        "grad_scaler": precision == "amp-fp16",
        "quantization": None,
        "threads": 16,
    }


def window_power(devices: int, power_w: float | None, factor: float) -> dict | None:
    """What runners.telemetry.nvml.NvmlSampler.window_power records: the sum over the GPUs of each one's window power."""
    if power_w is None:
        return None
    watts = sum((power_w - i) * factor for i in range(devices))
    return {"power_w": watts, "gpus": devices, "readings": 100, "method": "energy counter"}


def inference_window_factor(batch: int) -> float:
    return 0.7 + 0.6 * (batch - 1) / 255


def training(spec: RunSpec, rate: float, power_w: float | None) -> dict:
    devices, batch = spec.launch.world_size, spec.benchmark.training.batch_size
    steps = 500
    return {
        "batch_per_device": batch,
        "global_batch": batch * devices,
        "grad_accum_steps": 1,
        "optimizer": spec.benchmark.training.optimizer,
        "hyperparameters": spec.benchmark.training.recorded(),
        "precision_flags": precision_flags(spec.precision),
        "options": {**spec.benchmark.options.model_dump(), "ddp": devices > 1},
        "throughput": {
            "samples_per_s": rate,
            "samples_per_s_per_device": rate / devices,
            "compute_samples_per_s": rate * 1.02,
            "data_time_mean_ms": 0.4,
            "warmup_steps": spec.benchmark.throughput.warmup_steps if spec.mode is Mode.throughput else 0,
            "measured_steps": steps,
            "measured_samples": steps * batch * devices,
            "measured_time_s": steps * batch * devices / rate,
            "timer": "time.perf_counter+synchronize",
            "power": window_power(devices, power_w, TRAINING_WINDOW_FACTOR),
        },
        "weak_scaling": True,
        "model_flops_per_sample": FLOPS,
    }


def convergence(key: tuple, index: int, count: int, top1: float, ttt: float, rate: float, started: datetime) -> Result:
    gpu, devices, precision = key
    run_id, group = ids(Mode.convergence, precision, gpu, devices, started, index)
    spec = spec_of(Mode.convergence, precision, devices, run_id, group, index, count)
    data = result(spec, gpu, started, ttt + 240.0)
    tr = data["training"] = {**data["training"], **training(spec, rate, TRAINING_POWER_W[(gpu, precision)])}
    epochs = 38
    tr["time_to_target"] = {
        "metric": "top1",
        "target": spec.benchmark.quality_target.value,
        "reached": True,
        "time_to_target_s": ttt,
        "init_time_s": 41.0,
        "epochs": epochs,
        "max_epochs": spec.benchmark.training.max_epochs,
        "eval_every": 1,
    }
    per_epoch = ttt / epochs
    tr["curve"] = [
        {
            "epoch": e,
            "train_loss": round(6.9 * 0.93**e, 4),
            "eval": {"top1": round(top1 * (1 - 0.6 * 0.9**e), 4), "top5": round(min(0.99, 0.93 * (1 - 0.4 * 0.9**e)), 4)},
            "epoch_time_s": per_epoch * 0.97,
            "wall_time_s": per_epoch * e,
            "lr": 0.256 * devices,
        }
        for e in range(1, epochs + 1)
    ]
    tr["curve"][-1]["eval"]["top1"] = top1
    tr["final_metrics"] = {"top1": top1, "top5": 0.9321}
    tr["per_subject"] = []
    data["telemetry"]["gpus"] = gpu_telemetry(devices, TRAINING_POWER_W[(gpu, precision)], data["run"]["duration_s"])
    return Result.model_validate(data)


def throughput(key: tuple, rate: float, started: datetime) -> Result:
    gpu, devices, precision = key
    run_id, group = ids(Mode.throughput, precision, gpu, devices, started, 0)
    spec = spec_of(Mode.throughput, precision, devices, run_id, group, 0, 1)
    data = result(spec, gpu, started, 180.0)
    data["training"] |= training(spec, rate, TRAINING_POWER_W[(gpu, precision)])
    data["training"] |= {"time_to_target": None, "curve": [], "final_metrics": {}, "per_subject": []}
    data["telemetry"]["gpus"] = gpu_telemetry(devices, TRAINING_POWER_W[(gpu, precision)], 180.0)
    return Result.model_validate(data)


def inference(key: tuple, top1: float, rate1: float, rate256: float, started: datetime) -> Result:
    gpu, precision = key
    run_id, group = ids(Mode.inference, precision, gpu, 1, started, 0)
    spec = spec_of(Mode.inference, precision, 1, run_id, group, 0, 1)
    sweep = spec.benchmark.inference
    data = result(spec, gpu, started, 400.0)
    inf = data["inference"]
    point = inf["results"][0]
    inf.update(
        precision=precision,
        timer="torch.cuda.Event",
        min_iterations=sweep.min_iterations,
        min_time_s=sweep.min_time_s,
        precision_flags=precision_flags(precision),
        options={**spec.benchmark.options.model_dump(), "ddp": False},
        weights=f"trained by run {run_id.replace('inference', 'convergence')} ({precision}, 38 epochs)",
        quality={"top1": top1},
        model_flops_per_sample=FLOPS,
        results=[],
    )
    for batch in sweep.batch_sizes:
        rate = rate1 + (rate256 - rate1) * (batch - 1) / 255
        ms = batch / rate * 1000
        iterations = max(sweep.min_iterations, round(sweep.min_time_s * rate / batch))
        lat = {"mean": ms, "stdev": ms * 0.02, "min": ms * 0.97, "p50": ms * 0.995, "p90": ms * 1.01}
        lat |= {"p95": ms * 1.02, "p99": ms * 1.04, "max": ms * 1.1}
        inf["results"].append(
            {
                **copy.deepcopy(point),
                "batch_size": batch,
                "resolution": spec.benchmark.dataset.image_size,
                "warmup_iterations": sweep.warmup_iterations,
                "iterations": iterations,
                "duration_s": iterations * batch / rate,
                "samples_per_s": rate,
                "latency_ms": lat,
                "sample_count": iterations,
                "low_sample_percentiles": [],
                "power": window_power(1, INFERENCE_POWER_W[key], inference_window_factor(batch)),
            }
        )
    data["telemetry"]["gpus"] = gpu_telemetry(1, INFERENCE_POWER_W[key], 400.0)
    data["telemetry"]["gpus"][0]["memory_used_max_mib"] = 3000.0 + rate256 / 10
    return Result.model_validate(data)


def gpu_telemetry(devices: int, power_w: float | None, duration_s: float) -> list[dict]:
    """What runners.telemetry.nvml.NvmlSampler records per GPU: samples, interval, mean power and the energy counter."""
    samples = round(duration_s / TELEMETRY_INTERVAL_S)
    gpus = []
    for i in range(devices):
        watts = None if power_w is None else power_w - i
        energy = None if watts is None else round(watts * duration_s, 1)
        gpus.append({"index": i, "samples": samples, "interval_s": TELEMETRY_INTERVAL_S, "power_mean_w": watts, "energy_j": energy})
    return gpus


def ids(mode: Mode, precision: str, gpu: str, devices: int, started: datetime, index: int) -> tuple[str, str]:
    """A run id in new_run_id's format (time stamp, benchmark-mode-framework-precision, 8 hex digits) and its group."""
    tag = hashlib.sha256(f"{gpu}-{devices}-{precision}-{mode.value}".encode()).hexdigest()
    slug = f"{BENCHMARK}-{mode.value}-pytorch-{precision}"
    return f"{started:%Y%m%dT%H%M%SZ}-{slug}-{tag[index : index + 8]}", f"{slug}-{tag[:8]}"


def nightly() -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    t = START
    for key, (top1s, ttt, rate) in CONVERGENCE.items():
        for index, top1 in enumerate(top1s):
            write_result(convergence(key, index, len(top1s), top1, ttt + 100 * index, rate, t), OUT)
            t += timedelta(minutes=7)
    for key, rate in THROUGHPUT.items():
        write_result(throughput(key, rate, t), OUT)
        t += timedelta(minutes=7)
    for key, (top1, rate1, rate256) in INFERENCE.items():
        write_result(inference(key, top1, rate1, rate256, t), OUT)
        t += timedelta(minutes=7)


if __name__ == "__main__":
    nightly()
