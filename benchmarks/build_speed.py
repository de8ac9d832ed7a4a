"""Time `benchsite build` on a realistic results tree at 1k, 10k (and 100k) files against the YAML parsing floor.

Run: python benchmarks/build_speed.py [--sizes 1000 10000] [--keep DIR] [--repeats N]

The tree is shaped like a year of nightlies: every night, each of 6 machines
(2x 8-GPU A100, 8-GPU H100, 4-GPU L40S, 1-GPU V100, a CPU box) runs each of 8
benchmarks in three modes -- one convergence run (AMP), four throughput runs
(TF32 and AMP on 1 GPU and on every GPU of the machine) and two inference
sweeps (TF32, AMP) -- 336 files a night, about 2% of them failed runs, with
drifting throughput, a few step changes (regressions) and per-night jitter.
1,000 files are 3 nights, 10,000 are 30 nights, 100,000 are 298 nights
(`results/YYYY/MM/DD/<run-id>.yaml`, derived from the fixtures in tests/data/).
Each of the 336 slots of a night is dumped to YAML once with placeholders for its
id, times, repeat group and speed-dependent numbers; a file is that text with the
night's values formatted in (byte-identical to yaml.dump of the same document,
see synthetic()), written by a process pool (--jobs), so 100,000 files take
about a minute, not hours.

For each size it measures, each build in a fresh process (`python -c build(...)`,
so that the peak RSS is that build's alone), interleaved with the floor so that
both see the same load on a shared machine:

  floor      parsing every file with PyYAML's C safe loader in one process, nothing else
  cold       build() with empty build and site folders
  no-change  build() again, nothing changed
  +1         build() after one new result file was added

and prints the medians (min-max over --repeats), the cold/floor ratio, the cold
build's CPU time and peak RSS, the site's size (and its data/ part) and its
largest page. With --without-drawing it also times, after each cold build, a
cold build whose charts are not drawn (vl-convert replaced by an empty SVG):
what the build costs around vl-convert, which the charts' fixed cost hides.
Goals (issue 12): cold <= 1.5x floor; no-change < 5 s; +1 < 5 s at 10k and
< 15 s at 100k; peak RSS < 1 GB at 100k; site < 100 MB; no page > 500 KB.
"""

from __future__ import annotations

import argparse
import copy
import multiprocessing
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from runners.schema import read_result, result_to_data  # noqa: E402

DATA = ROOT / "tests" / "data"
TEMPLATES = {
    "convergence": DATA / "valid" / "convergence.yaml",
    "inference": DATA / "valid" / "inference.yaml",
    "throughput": DATA / "site" / "2026" / "11" / "26" / "effnet-throughput-tf32-1gpu.yaml",
}
# hostname, accelerator, driver, GPUs, speed factor
MACHINES = [
    ("dgx-a100-01", "NVIDIA A100-SXM4-80GB", "550.54.15", 8, 1.0),
    ("dgx-a100-02", "NVIDIA A100-SXM4-80GB", "550.54.15", 8, 1.0),
    ("dgx-h100-01", "NVIDIA H100 80GB HBM3", "550.90.07", 8, 2.1),
    ("l40s-01", "NVIDIA L40S", "550.90.07", 4, 0.8),
    ("v100-01", "Tesla V100-SXM2-32GB", "535.183.01", 1, 0.4),
    ("ci-cpu", "", "", 0, 0.01),
]
BENCHMARKS = [
    ("imagenet-resnet50", "ResNet-50 v1.5", 2500.0),
    ("imagenet-resnext101-32x4d", "ResNeXt101-32x4d", 1100.0),
    ("imagenet-se-resnext101-32x4d", "SE-ResNeXt101-32x4d", 1000.0),
    ("imagenet-efficientnet-b0", "EfficientNet-B0", 2900.0),
    ("imagenet-efficientnet-b4", "EfficientNet-B4", 450.0),
    ("imagenet-resnet50-v1", "ResNet-50 v1", 2400.0),
    ("digits-small-cnn", "small CNN", 90000.0),
    ("digits-resnet10t", "ResNet-10t", 20000.0),
]
START = datetime(2025, 12, 1, 1, 0, tzinfo=UTC)


def night_plan() -> list[tuple[tuple, tuple, str, str, int]]:
    """The runs of one night: (machine, benchmark, mode, precision, devices)."""
    plan = []
    for machine in MACHINES:
        gpus = machine[3]
        precisions = ["tf32", "amp-fp16"] if gpus else ["fp32", "fp32"]
        counts = [1, gpus] if gpus > 1 else [1, 1]
        for bench in BENCHMARKS:
            plan.append((machine, bench, "convergence", precisions[1], counts[-1]))
            plan += [(machine, bench, "throughput", p, n) for p in precisions for n in counts]
            plan += [(machine, bench, "inference", p, 1) for p in precisions]
    return plan


PLAN = night_plan()


def _gpus(name: str, driver: str, count: int) -> dict:
    devices = [
        {"index": i, "name": name, "uuid": f"GPU-{i:08d}", "memory_total_mib": 81920.0, "driver_version": driver, "power_limit_w": 400.0}
        for i in range(count)
    ]
    return {"kind": "nvidia", "devices": devices, "probe": "nvml"}


def synthetic(templates: dict, n: int, rng: random.Random) -> dict:
    """Return the n-th file of the tree: a varied, schema-valid copy of a fixture result (the reference for render())."""
    night, slot = divmod(n, len(PLAN))
    failed = rng.random() < 0.02
    level = _level(night, slot, rng)
    data = _shaped(templates, slot, failed, lambda f: f(level))
    started = START + timedelta(days=night, seconds=slot * 60)
    run = data["run"]
    run["id"] = f"{started:%Y%m%dT%H%M%SZ}-{run['benchmark']}-{PLAN[slot][2]}-{n:07d}"
    run["started_utc"] = started.isoformat().replace("+00:00", "Z")
    run["finished_utc"] = (started + timedelta(seconds=run["duration_s"])).isoformat().replace("+00:00", "Z")
    run["repeat"]["group"] = f"{PLAN[slot][0][0]}-{night}-{slot}"
    return data


def _level(night: int, slot: int, rng: random.Random) -> float:
    """This run's speed relative to its machine's first night: slow drift, a 10% step down after night 100 on one
    machine, and per-night noise."""
    hostname, speed = PLAN[slot][0][0], PLAN[slot][0][4]
    return speed * (1 + 0.0005 * night) * (0.9 if night > 100 and hostname == "dgx-a100-02" else 1.0) * rng.gauss(1, 0.02)


def _shaped(templates: dict, slot: int, failed: bool, scaled) -> dict:
    """The document of a run in this slot of the night, its numbers that follow the night's speed level given by
    scaled(f) for f(level) -> value; its id, times and repeat group are filled in by the caller."""
    (hostname, gpu, driver, _, _), (bench, model, rate), mode, precision, devices = PLAN[slot]
    data = copy.deepcopy(templates[mode])
    run = data["run"]
    run.update(benchmark=bench, model=model, suite="nightly-gpu", precision=precision, status="success", error=None)
    run["repeat"] = {"group": None, "index": 0, "count": 1}
    if failed:
        run["status"], run["error"] = "failed", "RuntimeError: CUDA error: an illegal memory access was encountered\n(last log lines)"
    env = data["environment"]
    env["host"]["hostname"] = hostname
    env["accelerators"] = _gpus(gpu, driver, devices) if gpu else {"kind": "none", "devices": [], "probe": "no NVIDIA GPU"}
    env["device"] = "cuda" if gpu else "cpu"
    env["launch"] = {"engine": "torchrun" if devices > 1 else "local", "nodes": 1, "procs_per_node": devices, "world_size": devices}
    if mode == "inference":
        data["inference"]["precision"] = precision
        for point in data["inference"]["results"]:
            point["samples_per_s"] = scaled(lambda level, v=point["samples_per_s"]: v * level)
            point["latency_ms"] = {k: scaled(lambda level, v=v: v / level) for k, v in point["latency_ms"].items()}
    elif data.get("training"):
        training = data["training"]
        training["global_batch"] = training["batch_per_device"] * devices
        if training.get("throughput"):
            training["throughput"]["samples_per_s"] = scaled(lambda level: rate * level * devices)
        ttt = training.get("time_to_target")
        if ttt and ttt.get("reached") and ttt.get("time_to_target_s"):
            ttt["time_to_target_s"] = scaled(lambda level, v=ttt["time_to_target_s"]: v / level)
    return data


def _dump(data: dict) -> str:
    return yaml.dump(data, Dumper=yaml.CSafeDumper, sort_keys=False, allow_unicode=True, width=120)


def _yaml_float(value: float) -> str:
    """A float as PyYAML's SafeRepresenter writes it (the values here are finite)."""
    text = repr(value).lower()
    return text.replace("e", ".0e", 1) if "." not in text and "e" in text else text


class Skeletons:
    """The YAML text of each slot of a night (and of its failed variant) dumped once with placeholders, so that a
    file of the tree is string formatting, not a deep copy and a YAML dump: the same bytes as yaml.dump(synthetic())."""

    def __init__(self) -> None:
        self.templates = {mode: result_to_data(read_result(path)) for mode, path in TEMPLATES.items()}
        self.cache: dict[tuple[int, bool], tuple[list[str], list]] = {}

    def skeleton(self, slot: int, failed: bool) -> tuple[list[str], list]:
        key = (slot, failed)
        if key not in self.cache:
            formulas: list = []

            def scaled(f):
                formulas.append(f)
                return f"XQF{len(formulas) - 1}QX"

            data = _shaped(self.templates, slot, failed, scaled)
            run = data["run"]
            run["id"], run["started_utc"], run["finished_utc"] = "XQIDQX", "XQSTARTQX", "XQENDQX"
            run["repeat"]["group"] = "XQGROUPQX"
            self.cache[key] = (re.split(r"XQ(\w+?)QX", _dump(data)), formulas)
        return self.cache[key]

    def render(self, n: int) -> tuple[str, str]:
        """Return (relative path, YAML text) of the n-th file of the tree."""
        rng = random.Random(n)
        night, slot = divmod(n, len(PLAN))
        failed = rng.random() < 0.02
        level = _level(night, slot, rng)
        pieces, formulas = self.skeleton(slot, failed)
        started = START + timedelta(days=night, seconds=slot * 60)
        duration = self.templates[PLAN[slot][2]]["run"]["duration_s"]
        run_id = f"{started:%Y%m%dT%H%M%SZ}-{PLAN[slot][1][0]}-{PLAN[slot][2]}-{n:07d}"
        fields = {
            "ID": run_id,
            "START": "'" + started.isoformat().replace("+00:00", "Z") + "'",
            "END": "'" + (started + timedelta(seconds=duration)).isoformat().replace("+00:00", "Z") + "'",
            "GROUP": f"{PLAN[slot][0][0]}-{night}-{slot}",
        }
        out = [
            piece if i % 2 == 0 else fields[piece] if piece in fields else _yaml_float(formulas[int(piece[1:])](level))
            for i, piece in enumerate(pieces)
        ]
        return f"{started:%Y/%m/%d}/{run_id}.yaml", "".join(out)


_SKELETONS: Skeletons | None = None


def _write_chunk(args: tuple[str, int, int]) -> int:
    global _SKELETONS
    folder, start, stop = args
    if _SKELETONS is None:
        _SKELETONS = Skeletons()
    total = 0
    made: set[Path] = set()
    for n in range(start, stop):
        relative, text = _SKELETONS.render(n)
        path = Path(folder) / relative
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        path.write_text(text, encoding="utf-8")
        total += len(text)
    return total


def write_results(folder: Path, start: int, count: int, jobs: int = 1) -> int:
    """Write files start..start+count-1 of the tree under folder/YYYY/MM/DD/ (in a pool of jobs processes when
    jobs > 1); return the bytes written."""
    chunk = 2000
    parts = [(str(folder), s, min(s + chunk, start + count)) for s in range(start, start + count, chunk)]
    if jobs <= 1 or len(parts) == 1:
        return sum(map(_write_chunk, parts))
    with multiprocessing.Pool(jobs) as pool:
        return sum(pool.imap_unordered(_write_chunk, parts))


FLOOR = """
import sys, yaml
from pathlib import Path
for path in sorted(Path(sys.argv[1]).rglob("*.yaml")):
    yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
"""
BUILD = """
import sys
from pathlib import Path
from generator.build import build
build([sys.argv[1]], Path(sys.argv[2]), work_dir=Path(sys.argv[3]))
"""
# --without-drawing: the same cold build with vl-convert's drawing left out (every chart an empty SVG), to show what the
# build costs around the charts' SVGs. Its site is thrown away: it is not a site anyone should publish.
UNDRAWN = (
    """
import generator.charts
EMPTY = '<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>'
def _draw(specs):  # handed to the chart pool by name: __main__._draw, there too after the fork
    return [EMPTY for _ in specs]
def to_svg(spec):
    return EMPTY
generator.charts._draw, generator.charts.to_svg = _draw, to_svg
"""
    + BUILD
)


def run_timed(code: str, *args: str) -> tuple[float, int, str, float]:
    """Run python -c code in a fresh process; return (seconds, peak RSS in bytes, stderr, CPU seconds: user and
    system time of the process and of every process it waited for, its pools' workers included)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code, *args], env=env, stderr=subprocess.PIPE, text=True)
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        sys.exit(f"build failed:\n{stderr[-3000:]}")
    return seconds, usage.ru_maxrss * 1024, stderr, usage.ru_utime + usage.ru_stime


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def largest_page(site: Path) -> tuple[str, int, int]:
    pages = list(site.rglob("*.html"))
    biggest = max(pages, key=lambda p: p.stat().st_size)
    return biggest.relative_to(site).as_posix(), biggest.stat().st_size, len(pages)


def timings_line(stderr: str) -> str:
    """The build's 'timings:' line, and its peak RSS after each phase (generator.build.Phases)."""
    found = {tag: ln.split(tag, 1)[1].strip() for ln in stderr.splitlines() for tag in ("timings:", "peak RSS after:") if tag in ln}
    return found.get("timings:", "") + (f"\n      peak RSS after: {found['peak RSS after:']}" if "peak RSS after:" in found else "")


def measure(count: int, repeats: int, keep: Path | None, jobs: int, without_drawing: bool = False) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix=f"benchsite-bench-{count}-"))
    try:
        results = tmp / "results"
        t0 = time.perf_counter()
        size = write_results(results, 0, count, jobs)
        generated = time.perf_counter() - t0
        site, work = tmp / "site", tmp / "build"
        floors, colds, nochange, plus1, rss, phases, cpus, undrawn, undrawn_cpus = [], [], [], [], [], [], [], [], []
        run_timed(FLOOR, str(results))  # warm the page cache so both sides read from memory
        added = count
        for _ in range(repeats):  # interleaved: floor, cold, floor, no-change, +1
            floors.append(run_timed(FLOOR, str(results))[0])
            shutil.rmtree(site, ignore_errors=True)
            shutil.rmtree(work, ignore_errors=True)
            seconds, peak, stderr, cpu = run_timed(BUILD, str(results), str(site), str(work))
            colds.append(seconds)
            cpus.append(cpu)
            rss.append(peak)
            phases.append(timings_line(stderr))
            if without_drawing:
                bare_site, bare_work = tmp / "site-undrawn", tmp / "build-undrawn"
                seconds, _, stderr, cpu = run_timed(UNDRAWN, str(results), str(bare_site), str(bare_work))
                undrawn.append(seconds)
                undrawn_cpus.append(cpu)
                phases.append("without drawing: " + timings_line(stderr).split("\n")[0])
                shutil.rmtree(bare_site)
                shutil.rmtree(bare_work)
            floors.append(run_timed(FLOOR, str(results))[0])
            nochange.append(run_timed(BUILD, str(results), str(site), str(work))[0])
            write_results(results, added, 1)
            added += 1
            seconds, peak, stderr, _ = run_timed(BUILD, str(results), str(site), str(work))
            plus1.append(seconds)
            phases.append("+1: " + timings_line(stderr))
            phases.append(f"+1 peak RSS {peak / 2**20:.0f} MiB")
        page, page_bytes, pages = largest_page(site)
        row = dict(
            count=count,
            generated=generated,
            mib=size / 2**20,
            floor=floors,
            cold=colds,
            cold_cpu=cpus,
            undrawn=undrawn,
            undrawn_cpu=undrawn_cpus,
            nochange=nochange,
            plus1=plus1,
            rss=max(rss),
            site=folder_size(site),
            data=folder_size(site / "data") if (site / "data").is_dir() else 0,
            page=page,
            page_kib=page_bytes / 1024,
            pages=pages,
            phases=phases,
        )
        if keep:
            shutil.copytree(site, keep / f"site-{count}", dirs_exist_ok=True)
        return row
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def fmt(values: list[float]) -> str:
    med = statistics.median(values)
    return f"{med:.1f}" if len(values) == 1 else f"{med:.1f} ({min(values):.1f}-{max(values):.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeats", type=int, default=1, help="interleaved repeats per size (default 1)")
    parser.add_argument("--keep", type=Path, help="copy each built site here for inspection")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes writing the tree (default: cores)")
    parser.add_argument(
        "--without-drawing",
        action="store_true",
        help="also time each cold build with vl-convert's drawing left out (empty SVGs): what the build costs around the charts",
    )
    args = parser.parse_args()
    import vl_convert  # only for its version, in the header

    print(f"tree: {len(BENCHMARKS)} benchmarks x {len(MACHINES)} machines x 3 modes = {len(PLAN)} files a night")
    print(f"machine: {os.cpu_count()} cores; vl-convert {vl_convert.__version__}; python {sys.version.split()[0]}")
    for n in args.sizes:
        r = measure(n, args.repeats, args.keep, args.jobs, args.without_drawing)
        ratio = statistics.median(r["cold"]) / statistics.median(r["floor"])
        print(
            f"{r['count']} files ({r['mib']:.0f} MiB, {-(-r['count'] // len(PLAN))} nights, written in {r['generated']:.1f} s"
            f" = {r['count'] / r['generated']:.0f} files/s): floor {fmt(r['floor'])} s,"
            f" cold {fmt(r['cold'])} s = {ratio:.2f}x floor, no-change {fmt(r['nochange'])} s, +1 {fmt(r['plus1'])} s,"
            f" peak RSS {r['rss'] / 2**20:.0f} MiB, site {r['site'] / 2**20:.1f} MiB (data/ {r['data'] / 2**20:.1f} MiB),"
            f" {r['pages']} pages, largest {r['page']} {r['page_kib']:.0f} KiB",
            flush=True,
        )
        print(f"    cold build's CPU time (user + system, its pools included): {fmt(r['cold_cpu'])} s", flush=True)
        if r["undrawn"]:
            bare = statistics.median(r["undrawn"]) / statistics.median(r["floor"])
            print(
                f"    cold without drawing the charts: {fmt(r['undrawn'])} s = {bare:.2f}x floor, CPU {fmt(r['undrawn_cpu'])} s",
                flush=True,
            )
        for line in r["phases"]:
            print(f"    {line}", flush=True)
    print("goals: cold <= 1.5x floor; no-change < 5 s; +1 < 5 s (10k), < 15 s (100k); RSS < 1 GiB; site < 100 MB; page < 500 KB")


if __name__ == "__main__":
    main()
