"""Open data: every valid result as flat records, written as CSV and JSON downloads of the site."""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterable
from typing import Any

from generator.aggregate import accelerator_name, driver_version, power_limit
from generator.results import LoadedResult

RUN_FIELDS = [
    "file",
    "id",
    "suite",
    "benchmark",
    "model",
    "framework",
    "framework_version",
    "mode",
    "precision",
    "status",
    "started_utc",
    "finished_utc",
    "duration_s",
    "repeat_group",
    "repeat_index",
    "seed",
    "command",
    "hostname",
    "accelerator",
    "devices",
    "driver",
    "power_limit_w",
    "dataset",
    "dataset_version",
    "batch_per_device",
    "global_batch",
    "train_samples_per_s",
    "time_to_target_s",
    "target_metric",
    "target",
    "final_top1",
    "final_top5",
    "error",
]
INFERENCE_FIELDS = [
    "file",
    "id",
    "benchmark",
    "model",
    "framework",
    "precision",
    "accelerator",
    "driver",
    "power_limit_w",
    "dataset_version",
    "batch_size",
    "resolution",
    "samples_per_s",
    "latency_mean_ms",
    "latency_p50_ms",
    "latency_p90_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "sample_count",
]


def run_record(loaded: LoadedResult, href: str) -> dict[str, Any]:
    """Flatten one result into the columns of runs.csv."""
    res = loaded.result
    run, training = res.run, res.training
    ttt = training.time_to_target if training else None
    finals = training.final_metrics if training else {}
    return {
        "file": href,
        "id": run.id,
        "suite": run.suite,
        "benchmark": run.benchmark,
        "model": run.model,
        "framework": run.framework,
        "framework_version": run.framework_version,
        "mode": run.mode.value,
        "precision": run.precision,
        "status": run.status.value,
        "started_utc": run.started_utc.isoformat(),
        "finished_utc": run.finished_utc.isoformat(),
        "duration_s": run.duration_s,
        "repeat_group": run.repeat.group,
        "repeat_index": run.repeat.index,
        "seed": res.provenance.seed,
        "command": " ".join(res.provenance.command),
        "hostname": res.environment.host.hostname,
        "accelerator": accelerator_name(res),
        "devices": res.environment.launch.world_size,
        "driver": driver_version(res),
        "power_limit_w": power_limit(res),
        "dataset": res.dataset.name,
        "dataset_version": res.dataset.version,
        "batch_per_device": training.batch_per_device if training else None,
        "global_batch": training.global_batch if training else None,
        "train_samples_per_s": training.throughput.samples_per_s if training and training.throughput else None,
        "time_to_target_s": ttt.time_to_target_s if ttt else None,
        "target_metric": ttt.metric if ttt else None,
        "target": ttt.target if ttt else None,
        "final_top1": finals.get("top1"),
        "final_top5": finals.get("top5"),
        "error": (run.error or "").strip().splitlines()[0][:200] if run.error else None,
    }


def inference_records(loaded: LoadedResult, href: str) -> list[dict[str, Any]]:
    """Flatten the latency sweep of one result into rows of inference.csv."""
    res = loaded.result
    if res.inference is None:
        return []
    common = {
        "file": href,
        "id": res.run.id,
        "benchmark": res.run.benchmark,
        "model": res.run.model,
        "framework": res.run.framework,
        "precision": res.inference.precision,
        "accelerator": accelerator_name(res),
        "driver": driver_version(res),
        "power_limit_w": power_limit(res),
        "dataset_version": res.dataset.version,
    }
    return [
        common
        | {
            "batch_size": p.batch_size,
            "resolution": p.resolution,
            "samples_per_s": p.samples_per_s,
            "latency_mean_ms": p.latency_ms.mean,
            "latency_p50_ms": p.latency_ms.p50,
            "latency_p90_ms": p.latency_ms.p90,
            "latency_p95_ms": p.latency_ms.p95,
            "latency_p99_ms": p.latency_ms.p99,
            "sample_count": p.sample_count,
        }
        for p in res.inference.results
    ]


def _csv(fields: list[str], records: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return out.getvalue().encode()


def _gzip(content: bytes) -> bytes:
    """Compress reproducibly: no file name, mtime 0, so an unchanged month is byte for byte the same file."""
    return gzip.compress(content, compresslevel=6, mtime=0)


def month(loaded: LoadedResult) -> str:
    """The month a run's downloads are filed under: 'YYYY-MM' of its start (UTC)."""
    return f"{loaded.result.run.started_utc:%Y-%m}"


DOWNLOAD_KINDS = {
    "runs": "runs-{month}.csv.gz",
    "inference": "inference-{month}.csv.gz",
    "json": "results-{month}.json.gz",
}


def download_name(kind: str, when: str) -> str:
    """The file name of one month's download of a kind ('runs', 'inference' or 'json')."""
    return DOWNLOAD_KINDS[kind].format(month=when)


def months(results: Iterable[LoadedResult]) -> list[tuple[str, int]]:
    """Every month with runs, newest first, with its number of runs."""
    counts: dict[str, int] = {}
    for loaded in results:
        counts[month(loaded)] = counts.get(month(loaded), 0) + 1
    return sorted(counts.items(), reverse=True)


def downloads(results: list[LoadedResult], links: dict[str, str]) -> dict[str, bytes]:
    """Return the download files (name -> gzip content): per month, runs and inference points as CSV and as JSON.

    Split per month so that a new night rewrites one month's files, and compressed (about 10x): a year of
    nightlies stays a few MB. Concatenating the months gives every valid result.
    """
    by_month: dict[str, list[LoadedResult]] = {}
    for loaded in sorted(results, key=lambda r: (r.result.run.started_utc, r.source)):
        by_month.setdefault(month(loaded), []).append(loaded)
    files = {}
    for when, mine in by_month.items():
        runs = [run_record(r, links[str(r.path)]) for r in mine]
        points = [row for r in mine for row in inference_records(r, links[str(r.path)])]
        document = json.dumps({"runs": runs, "inference": points}, separators=(",", ":"), ensure_ascii=False).encode()
        files[download_name("runs", when)] = _gzip(_csv(RUN_FIELDS, runs))
        files[download_name("inference", when)] = _gzip(_csv(INFERENCE_FIELDS, points))
        files[download_name("json", when)] = _gzip(document)
    return files
