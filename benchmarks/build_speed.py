"""Time `benchsite build` on 1,000 and 10,000 synthetic result files against the YAML parsing floor.

Run: python benchmarks/build_speed.py [--sizes 1000 10000] [--keep DIR]

For each size it writes schema-valid result files (derived from the fixtures in
tests/data/ with varied ids, dates, hosts, precisions, GPU counts and batch
sizes) into a temporary folder, then measures, in this one process:

  floor    reading and parsing every file with PyYAML's C safe loader, nothing else
  build    a full build(): load + validate + aggregate + charts + pages + mkdocs build
  rebuild  build() again with nothing changed (parse cache warm)

Goals (issue 4): build <= 1.5x floor; rebuild < 5 s.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from generator.build import build  # noqa: E402
from runners.schema import read_result, result_to_data  # noqa: E402

DATA = ROOT / "tests" / "data"
TEMPLATES = {
    "convergence": DATA / "valid" / "convergence.yaml",
    "inference": DATA / "valid" / "inference.yaml",
    "throughput": DATA / "site" / "2026" / "11" / "26" / "effnet-throughput-tf32-1gpu.yaml",
}
HOSTS = [("dgx-a100-01", "NVIDIA A100-SXM4-80GB", "550.54.15"), ("dgx-h100-01", "NVIDIA H100 80GB HBM3", "550.90.07"), ("ci-cpu", "", "")]
PRECISIONS = ["fp32", "tf32", "amp"]
START = datetime(2026, 1, 1, tzinfo=UTC)


def _gpus(name: str, driver: str, count: int) -> dict:
    devices = [
        {"index": i, "name": name, "uuid": f"GPU-{i:08d}", "memory_total_mib": 81920.0, "driver_version": driver, "power_limit_w": 400.0}
        for i in range(count)
    ]
    return {"kind": "nvidia", "devices": devices, "probe": "nvml"}


def synthetic(template: dict, mode: str, n: int, rng: random.Random) -> dict:
    """Return a varied, schema-valid copy of a fixture result: the n-th synthetic file."""
    data = copy.deepcopy(template)
    night = n // 40  # about 40 runs a night
    started = START + timedelta(days=night, minutes=n % 40 * 7)
    hostname, gpu, driver = HOSTS[n % len(HOSTS)]
    devices = 1 if not gpu else rng.choice([1, 1, 8])
    precision = "fp32" if not gpu else PRECISIONS[n % len(PRECISIONS)]
    run = data["run"]
    run["id"] = f"{started:%Y%m%dT%H%M%SZ}-{run['benchmark']}-{mode}-{n:06d}"
    run["precision"] = precision
    run["started_utc"] = started.isoformat().replace("+00:00", "Z")
    run["finished_utc"] = (started + timedelta(seconds=run["duration_s"])).isoformat().replace("+00:00", "Z")
    run["repeat"] = {"group": f"night-{night}-{hostname}-{precision}-{devices}", "index": 0, "count": 1}
    env = data["environment"]
    env["host"]["hostname"] = hostname
    env["accelerators"] = _gpus(gpu, driver, devices) if gpu else {"kind": "none", "devices": [], "probe": "no NVIDIA GPU"}
    env["device"] = "cuda" if gpu else "cpu"
    env["launch"] = {"engine": "torchrun" if devices > 1 else "local", "nodes": 1, "procs_per_node": devices, "world_size": devices}
    jitter = rng.uniform(0.9, 1.1)
    if mode == "inference":
        data["inference"]["precision"] = precision
        for point in data["inference"]["results"]:
            point["samples_per_s"] *= jitter
            point["latency_ms"] = {k: v / jitter for k, v in point["latency_ms"].items()}
    elif data.get("training"):
        training = data["training"]
        training["global_batch"] = training["batch_per_device"] * devices
        training["throughput"]["samples_per_s"] *= jitter * devices
        if training.get("time_to_target") and training["time_to_target"]["reached"]:
            training["time_to_target"]["time_to_target_s"] *= jitter
    return data


def write_results(folder: Path, count: int) -> int:
    """Write ``count`` synthetic result files under folder/YYYY/MM/DD/; return the bytes written."""
    rng = random.Random(count)
    templates = {mode: result_to_data(read_result(path)) for mode, path in TEMPLATES.items()}
    modes = list(templates)
    total = 0
    for n in range(count):
        mode = modes[n % len(modes)]
        data = synthetic(templates[mode], mode, n, rng)
        day = datetime.fromisoformat(data["run"]["started_utc"])
        path = folder / f"{day:%Y/%m/%d}" / f"{data['run']['id']}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        text = yaml.dump(data, Dumper=yaml.CSafeDumper, sort_keys=False, allow_unicode=True, width=120)
        path.write_text(text, encoding="utf-8")
        total += len(text)
    return total


def floor(folder: Path) -> float:
    """Read and parse every file with the C safe loader; return seconds."""
    t0 = time.perf_counter()
    for path in sorted(folder.rglob("*.yaml")):
        yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    return time.perf_counter() - t0


def timed_build(folder: Path, out: Path) -> float:
    t0 = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()):
        build([folder], out / "site", work_dir=out / "build")
    return time.perf_counter() - t0


def largest_page(site: Path) -> tuple[str, int, int]:
    pages = list(site.rglob("*.html"))
    biggest = max(pages, key=lambda p: p.stat().st_size)
    return biggest.relative_to(site).as_posix(), biggest.stat().st_size, len(pages)


def measure(count: int, keep: Path | None) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix=f"benchsite-bench-{count}-"))
    try:
        results = tmp / "results"
        size = write_results(results, count)
        floor(results)  # warm the page cache so both sides read from memory
        floor_s = floor(results)
        build_s = timed_build(results, tmp)
        rebuild_s = timed_build(results, tmp)
        page, page_bytes, pages = largest_page(tmp / "site")
        if keep:
            shutil.copytree(tmp / "site", keep / f"site-{count}", dirs_exist_ok=True)
        return dict(
            count=count,
            mib=size / 2**20,
            floor=floor_s,
            build=build_s,
            rebuild=rebuild_s,
            page=page,
            page_kib=page_bytes / 1024,
            pages=pages,
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--keep", type=Path, help="copy each built site here for inspection")
    args = parser.parse_args()
    rows = [measure(n, args.keep) for n in args.sizes]
    print(f"{'files':>6} {'MiB':>6} {'floor s':>8} {'build s':>8} {'ratio':>6} {'rebuild s':>9} {'pages':>5}  largest page")
    for r in rows:
        print(
            f"{r['count']:>6} {r['mib']:>6.1f} {r['floor']:>8.2f} {r['build']:>8.2f} {r['build'] / r['floor']:>6.2f}"
            f" {r['rebuild']:>9.2f} {r['pages']:>5}  {r['page']} ({r['page_kib']:.0f} KiB)"
        )
    print("goals: build <= 1.5x floor; rebuild < 5 s")


if __name__ == "__main__":
    main()
