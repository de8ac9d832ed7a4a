"""A bare reference for benchsite's numbers: the suite's model, batch, precision and memory format in a plain loop.

timm's benchmark.py approach, with nothing of benchsite's harness: a timm model
with random weights on one synthetic batch already on the device; training is a
plain loop (autocast, GradScaler for amp-fp16, the suite's optimizer and label
smoothing) timed with ``time.perf_counter`` and the device synchronised at the
window's ends; inference times each forward pass with ``time.perf_counter`` and a
synchronise after it, under torch.inference_mode (and again under torch.no_grad),
and reports the median (p50, numpy's linear method).
Prints one JSON object; ``benchmarks/gpu_check.py`` divides benchsite's figures by it.

Usage: python benchmarks/gpu_check_reference.py --suite nightly-gpu --benchmark resnet50-v1.5 --precision amp-fp16
       [--device cuda] [--train-warmup 5] [--train-steps 40] [--batch-sizes 1,256] [--infer-warmup 5] [--iterations 50]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from typing import Any

import numpy as np
import timm
import torch

from runners.suites import Benchmark, load_suite

AMP_DTYPES = {"amp-fp16": torch.float16, "amp-bf16": torch.bfloat16}


def set_precision(precision: str, cudnn_benchmark: bool) -> None:
    """TF32 only for 'tf32', as benchsite's runner sets it; cudnn.benchmark as the suite says."""
    tf32 = precision == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    torch.set_float32_matmul_precision("high" if tf32 else "highest")
    torch.backends.cudnn.benchmark = cudnn_benchmark


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager[Any]:
    dtype = AMP_DTYPES.get(precision)
    return torch.autocast(device.type, dtype=dtype) if dtype else contextlib.nullcontext()


def build(bench: Benchmark, device: torch.device) -> tuple[torch.nn.Module, torch.memory_format]:
    torch.manual_seed(0)
    fmt = torch.channels_last if bench.options.channels_last else torch.contiguous_format
    model = timm.create_model(bench.implementations["pytorch"], pretrained=False, num_classes=bench.dataset.num_classes or 1000)
    return model.to(device, memory_format=fmt), fmt


def optimizer_for(bench: Benchmark, model: torch.nn.Module) -> torch.optim.Optimizer:
    cfg = bench.training
    lr = cfg.lr * cfg.batch_size / cfg.lr_reference_batch
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(
            model.parameters(), lr=lr, alpha=cfg.rmsprop_alpha, eps=cfg.rmsprop_eps, momentum=cfg.momentum, weight_decay=cfg.weight_decay
        )
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=cfg.momentum, nesterov=cfg.nesterov, weight_decay=cfg.weight_decay)


def train_images_per_s(bench: Benchmark, precision: str, device: torch.device, warmup: int, steps: int) -> dict[str, float]:
    """Images per second of ``steps`` plain training steps on one batch, synchronised at the window's ends."""
    model, fmt = build(bench, device)
    model.train()
    optimizer = optimizer_for(bench, model)
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "amp-fp16")
    criterion = torch.nn.CrossEntropyLoss(label_smoothing=bench.training.label_smoothing)
    batch, size = bench.training.batch_size, bench.dataset.image_size
    images = torch.randn(batch, 3, size, size, device=device).contiguous(memory_format=fmt)
    labels = torch.randint(0, bench.dataset.num_classes or 1000, (batch,), device=device)

    def step() -> None:
        with autocast(device, precision):
            loss = criterion(model(images), labels)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(warmup):
        step()
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    elapsed = time.perf_counter() - start
    return {"images_per_s": steps * batch / elapsed, "steps": steps, "time_s": elapsed, "batch_size": batch}


def _p50_ms(model: torch.nn.Module, images: torch.Tensor, grad_mode: Any, device: torch.device, precision: str, iterations: int) -> float:
    latencies = []
    with grad_mode(), autocast(device, precision):
        for _ in range(iterations):
            start = time.perf_counter()
            model(images)
            sync(device)
            latencies.append((time.perf_counter() - start) * 1000)
    return float(np.percentile(latencies, 50, method="linear"))


def inference_p50_ms(
    bench: Benchmark, precision: str, device: torch.device, batch_sizes: list[int], warmup: int, iterations: int
) -> dict[str, dict[str, float]]:
    """Median latency of each batch size: perf_counter around one forward pass and a synchronise.

    ``p50_ms`` runs under torch.inference_mode, as benchsite's runner does; ``p50_ms_no_grad`` under torch.no_grad, as
    timm's benchmark.py does, timed right after it. The first H100 check (2026-11-27) had the reference in no_grad
    only and found benchsite 13% faster at batch 1 (a launch-bound point) and equal at 256; the pair tells whether
    the grad mode is that difference.
    """
    model, fmt = build(bench, device)
    model.eval()
    size = bench.dataset.image_size
    points = {}
    for batch in batch_sizes:
        images = torch.randn(batch, 3, size, size, device=device).contiguous(memory_format=fmt)
        with torch.inference_mode(), autocast(device, precision):
            for _ in range(max(warmup, 1)):
                model(images)
        sync(device)
        points[str(batch)] = {
            "p50_ms": _p50_ms(model, images, torch.inference_mode, device, precision, iterations),
            "p50_ms_no_grad": _p50_ms(model, images, torch.no_grad, device, precision, iterations),
            "iterations": iterations,
        }
    return points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="nightly-gpu")
    parser.add_argument("--benchmark", default="resnet50-v1.5")
    parser.add_argument("--precision", default="amp-fp16")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--train-warmup", type=int, default=5)
    parser.add_argument("--train-steps", type=int, default=40)
    parser.add_argument("--batch-sizes", default="1,256", help="inference batch sizes, comma-separated")
    parser.add_argument("--infer-warmup", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=50, help="timed forward passes per batch size")
    args = parser.parse_args()
    bench = load_suite(args.suite).benchmark(args.benchmark)
    device = torch.device(args.device)
    set_precision(args.precision, bench.options.cudnn_benchmark)
    report = {
        "benchmark": bench.name,
        "model": bench.implementations["pytorch"],
        "precision": args.precision,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "channels_last": bench.options.channels_last,
        "torch": torch.__version__,
        "train": train_images_per_s(bench, args.precision, device, args.train_warmup, args.train_steps),
        "inference": inference_p50_ms(
            bench, args.precision, device, [int(b) for b in args.batch_sizes.split(",")], args.infer_warmup, args.iterations
        ),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
