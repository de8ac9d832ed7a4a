"""Write tests/data/compare/: two nights of ResNet-50 throughput runs with known differences, for `benchsite compare`.

Run: PYTHONPATH=. python tests/data/make_compare.py   (deterministic; the output is committed)

The files are shaped by make_nightly's pieces (the nightly-gpu suite, the runner's dataset record, write_result). Night A
(2026-11-24) ran torch 2.14.1, night B (2026-11-25) torch 2.15.0; each setup ran 5 repeats a night:
- H100, 1 GPU, amp-fp16: B is 10% slower, repeats within 0.5% -> a significant regression;
- A100 400 W, 1 GPU, amp-fp16: B is 1% faster, repeats spread 3% -> inside the noise, "no change";
- A100 400 W, 1 GPU, tf32: night A only; H100, 8 GPUs, amp-fp16: night B only -> listed on one side;
- H100 amp-fp16 inference, one run a night with its raw latencies stored (schema 2): batch 1 is 12% slower on night B
  (a Mann-Whitney U test on the samples finds it), batch 256 draws from the same distribution both nights.
"""

from __future__ import annotations

import shutil
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

import make_nightly  # noqa: E402
import numpy as np  # noqa: E402

from runners.schema import Mode, Repeat, Result  # noqa: E402
from runners.stats import latency_stats, stored_latency_samples  # noqa: E402
from runners.writing import write_result  # noqa: E402

OUT = HERE / "compare"
NIGHTS = {"A": (datetime(2026, 11, 24, 1, 0, tzinfo=UTC), "2.14.1"), "B": (datetime(2026, 11, 25, 1, 0, tzinfo=UTC), "2.15.0")}
NOISE = (1.0, 1.004, 0.997, 1.002, 0.998)  # H100 repeats: within 0.5%
WIDE = (1.0, 1.03, 0.97, 1.02, 0.985)  # A100 repeats: spread 3%
# (gpu, devices, precision) -> {night: [samples/s per repeat]}
RUNS = {
    ("H100", 1, "amp-fp16"): {"A": [5290.0 * f for f in NOISE], "B": [5290.0 * 0.9 * f for f in reversed(NOISE)]},
    ("A100-400W", 1, "amp-fp16"): {"A": [2870.0 * f for f in WIDE], "B": [2870.0 * 1.01 * f for f in reversed(WIDE)]},
    ("A100-400W", 1, "tf32"): {"A": [1480.0 * f for f in NOISE]},
    ("H100", 8, "amp-fp16"): {"B": [40980.0 * f for f in NOISE]},
}


def repeat_run(key: tuple, night: str, index: int, count: int, rate: float, started: datetime, torch: str) -> Result:
    """One throughput repeat of ``key`` on ``night``, with that night's torch and repeat group."""
    gpu, devices, precision = key
    run_id, group = make_nightly.ids(Mode.throughput, precision, gpu, devices, started, index)
    spec = make_nightly.spec_of(Mode.throughput, precision, devices, run_id, f"{group}-{started:%Y%m%d}", index, count)
    data = make_nightly.result(spec, gpu, started, 180.0)
    data["training"] |= make_nightly.training(spec, round(rate, 1))
    data["training"] |= {"time_to_target": None, "curve": [], "final_metrics": {}, "per_subject": []}
    data["run"]["framework_version"] = torch
    data["run"]["repeat"] = Repeat(group=f"{group}-{started:%Y%m%d}", index=index, count=count).model_dump()
    data["environment"]["packages"]["torch"] = torch
    return Result.model_validate(data)


# H100 amp-fp16 inference, ms per batch: (night A, night B) at batch 1 and 256; the other sizes are not timed here
LATENCY_MS = {1: (1.80, 1.80 * 1.12), 256: (13.7, 13.7)}
SAMPLES = 400


def inference_run(night: str, started: datetime, torch: str) -> Result:
    """One inference sweep (batch 1 and 256) with its raw latencies, drawn with a fixed seed per night and batch size."""
    data = make_nightly.inference(("H100", "amp-fp16"), 0.7731, 560.0, 18650.0, started).model_dump(mode="json")
    template = data["inference"]["results"][0]
    data["inference"]["results"] = []
    for batch, (ms_a, ms_b) in LATENCY_MS.items():
        ms = ms_a if night == "A" else ms_b
        rng = np.random.default_rng(1000 * batch + ord(night))
        raw = [float(x) for x in stored_latency_samples(list(rng.normal(ms, ms * 0.03, SAMPLES))).split()]
        seconds = sum(raw) / 1000
        data["inference"]["results"].append(
            template
            | {
                "batch_size": batch,
                "iterations": SAMPLES,
                "duration_s": seconds,
                "samples_per_s": batch * SAMPLES / seconds,
                "latency_ms": latency_stats(raw).model_dump(),
                "sample_count": SAMPLES,
                "low_sample_percentiles": [],
                "latency_samples_ms": " ".join(f"{x:g}" for x in raw),
            }
        )
    data["inference"]["min_iterations"] = SAMPLES
    data["run"]["framework_version"] = torch
    data["run"]["repeat"]["group"] += f"-{started:%Y%m%d}"
    data["environment"]["packages"]["torch"] = torch
    return Result.model_validate(data)


def write() -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    for night, (start, torch) in NIGHTS.items():
        t = start
        for key, by_night in RUNS.items():
            rates = by_night.get(night, [])
            for index, rate in enumerate(rates):
                write_result(repeat_run(key, night, index, len(rates), rate, t, torch), OUT)
                t += timedelta(minutes=4)
        write_result(inference_run(night, t, torch), OUT)


if __name__ == "__main__":
    write()
