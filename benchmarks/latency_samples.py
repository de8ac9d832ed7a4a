"""What storing raw inference latencies costs a result file: its size and the time to read and validate it.

For each committed inference result in results/ (schema_version 1, no samples), latencies shaped like the
run's own (lognormal around its p50 with its p99/p50 spread, one per timed iteration) are stored the way
benchsite stores them (runners.stats.stored_latency_samples: at most N evenly spaced, 4 significant digits,
one space-separated string), and, for comparison, as a YAML list of numbers. Rounds alternate the variants
(A B A B) so drift hits all alike; parse times (PyYAML's C safe loader, what a build pays per file before
validation) are the median per file with min-max over the rounds.
Usage: python benchmarks/latency_samples.py [--rounds 7] [--bounds 200,500,1000]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import yaml

from runners.schema import SafeDumper, SafeLoader, dump_result_yaml, read_result, result_to_data
from runners.stats import stored_latency_samples

ROOT = Path(__file__).resolve().parents[1]


def variants(bounds: list[int]) -> dict[str, list[bytes]]:
    """The committed inference results re-dumped without samples, and with samples at each bound as string and as list."""
    rng = np.random.default_rng(0)
    out: dict[str, list[bytes]] = {"none": []}
    for path in sorted((ROOT / "results").rglob("*inference*.yaml")):
        result = read_result(path)
        raw = []
        for p in result.inference.results:
            sigma = max(np.log(p.latency_ms.p99 / p.latency_ms.p50) / 2.326, 1e-3)
            raw.append(list(p.latency_ms.p50 * np.exp(rng.normal(0, sigma, p.sample_count))))
        out["none"].append(dump_result_yaml(result).encode())
        for bound in bounds:
            kept = [stored_latency_samples(r, bound) for r in raw]
            points = [p.model_copy(update={"latency_samples_ms": k}) for p, k in zip(result.inference.results, kept, strict=True)]
            with_samples = result.model_copy(update={"inference": result.inference.model_copy(update={"results": points})})
            out.setdefault(f"string {bound}", []).append(dump_result_yaml(with_samples).encode())
            data = result_to_data(with_samples)
            for point, k in zip(data["inference"]["results"], kept, strict=True):
                point["latency_samples_ms"] = [float(x) for x in k.split(" ")]
            text = yaml.dump(data, Dumper=SafeDumper, sort_keys=False, default_flow_style=None, width=120)
            out.setdefault(f"list {bound}", []).append(text.encode())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--bounds", default="200,500,1000")
    args = parser.parse_args()
    texts = variants([int(b) for b in args.bounds.split(",")])
    times: dict[str, list[float]] = {name: [] for name in texts}
    for _ in range(args.rounds):
        for name, files in texts.items():  # interleaved
            start = time.perf_counter()
            for text in files:
                yaml.load(text, Loader=SafeLoader)  # the C safe loader
            times[name].append((time.perf_counter() - start) / len(files) * 1000)
    print(f"{len(texts['none'])} inference results from results/, {args.rounds} rounds")
    for name, files in texts.items():
        sizes, t = [len(f) for f in files], times[name]
        print(
            f"{name:12} size median {statistics.median(sizes):7.0f} B (min {min(sizes)}, max {max(sizes)});"
            f" parse per file median {statistics.median(t):6.2f} ms ({min(t):.2f}-{max(t):.2f})"
        )


if __name__ == "__main__":
    main()
