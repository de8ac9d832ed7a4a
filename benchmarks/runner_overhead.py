"""Harness overhead of the PyTorch runner, measured side by side in one process on this machine.

1. Training throughput: the runner's throughput mode against a bare hand-written
   training loop of the same model, batch and optimizer (goal: ratio >= 0.98).
2. Inference p50: the runner's inference mode against torch.utils.benchmark.Timer's
   median for the same model and batch (goal: within 3%).

Rounds alternate bare / runner so drift hits both alike; the median ratio is reported.
Usage: python benchmarks/runner_overhead.py [--model resnet10t] [--size 32] [--batch 32] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import timm
import torch
import torch.utils.benchmark as tbench

from runners.frameworks.pytorch import PyTorchBackend
from runners.modes import inference as inference_mode
from runners.modes import throughput as throughput_mode
from runners.record import RunSpec
from runners.schema import Mode, Repeat
from runners.suites import Benchmark


def make_spec(model: str, size: int, batch: int, mode: Mode, steps: int) -> RunSpec:
    bench = Benchmark.model_validate(
        {
            "name": "overhead",
            "title": "overhead",
            "model": model,
            "description": "harness overhead",
            "implementations": {"pytorch": model},
            "dataset": {"name": "synthetic", "image_size": size, "num_classes": 10},
            "quality_target": {"value": 0.5},
            "modes": [mode.value],
            "training": {"batch_size": batch, "lr": 0.1, "momentum": 0.9, "max_epochs": 1, "lr_reference_batch": batch},
            "throughput": {"warmup_steps": 5, "min_steps": steps, "min_time_s": 0},
            "inference": {"batch_sizes": [batch], "warmup_iterations": 10, "min_iterations": steps * 4, "min_time_s": 0},
        }
    )
    return RunSpec(
        run_id="overhead",
        suite="benchmark",
        benchmark=bench,
        framework="pytorch",
        mode=mode,
        precision="fp32",
        seed=0,
        repeat=Repeat(group="overhead", index=0, count=1),
        results_dir=Path("/nonexistent"),
        synthetic=True,
        command=["benchmarks/runner_overhead.py"],
    )


def bare_training(model_name: str, size: int, batch: int, steps: int) -> float:
    """Samples per second of a plain loop: same model, SGD, cross-entropy, one synthetic batch."""
    torch.manual_seed(0)
    model = timm.create_model(model_name, pretrained=False, num_classes=10).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    images, labels = torch.randn(batch, 3, size, size), torch.randint(0, 10, (batch,))
    for _ in range(5):
        loss = torch.nn.functional.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    start = time.perf_counter()
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return steps * batch / (time.perf_counter() - start)


def runner_training(model: str, size: int, batch: int, steps: int) -> float:
    spec = make_spec(model, size, batch, Mode.throughput, steps)
    backend = PyTorchBackend(spec, None, "cpu")
    section = throughput_mode.run(backend, progress=lambda line: None)["training"]
    return section.throughput.compute_samples_per_s  # synthetic data: the cached batch, like the bare loop


def timer_p50_ms(model_name: str, size: int, batch: int, steps: int) -> float:
    """torch.utils.benchmark.Timer's median for the same model and batch, in milliseconds."""
    torch.manual_seed(0)
    model = timm.create_model(model_name, pretrained=False, num_classes=10).eval()
    images = torch.randn(batch, 3, size, size)
    timer = tbench.Timer(
        "model(images)",
        setup="torch.set_grad_enabled(False)",
        globals={"model": model, "images": images},
        num_threads=torch.get_num_threads(),
    )
    timer.timeit(10)  # warm-up
    median_ms = timer.blocked_autorange(min_run_time=1.0).median * 1000
    torch.set_grad_enabled(True)  # the Timer's setup turned autograd off for this thread
    return median_ms


def runner_p50_ms(model: str, size: int, batch: int, steps: int) -> float:
    spec = make_spec(model, size, batch, Mode.inference, steps)
    backend = PyTorchBackend(spec, None, "cpu")
    section = inference_mode.run(backend, progress=lambda line: None)["inference"]
    return section.results[0].latency_ms.p50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet10t")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    common = (args.model, args.size, args.batch, args.steps)
    print(
        f"model {args.model}, {args.size}px, batch {args.batch}, {args.steps} steps per window, {args.rounds} rounds, "
        f"{torch.get_num_threads()} threads, torch {torch.__version__}"
    )
    train_ratios, infer_ratios = [], []
    for round_ in range(1, args.rounds + 1):
        bare, runner = bare_training(*common), runner_training(*common)
        timer, ours = timer_p50_ms(*common), runner_p50_ms(*common)
        train_ratios.append(runner / bare)
        infer_ratios.append(ours / timer)
        print(
            f"round {round_}: training bare {bare:8.1f} samples/s, runner {runner:8.1f} (ratio {runner / bare:.3f}); "
            f"inference p50 Timer {timer:.3f} ms, runner {ours:.3f} ms (ratio {ours / timer:.3f})"
        )
    train, infer = statistics.median(train_ratios), statistics.median(infer_ratios)
    print(
        f"training throughput ratio runner/bare (median of {args.rounds}): {train:.3f}  goal >= 0.98  "
        f"{'met' if train >= 0.98 else 'NOT met'}"
    )
    print(
        f"inference p50 ratio runner/Timer (median of {args.rounds}): {infer:.3f}  goal within 3%  "
        f"{'met' if abs(infer - 1) <= 0.03 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
