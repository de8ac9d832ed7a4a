"""Open data: every valid result as flat records, written as CSV and JSON downloads of the site."""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections import Counter
from collections.abc import Iterable
from typing import Any

from generator.facts import accelerator_name, driver_version, power_limit
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


def _gzip(content: bytes) -> bytes:
    """Compress reproducibly: no file name, mtime 0, so an unchanged month is byte for byte the same file."""
    return gzip.compress(content, compresslevel=6, mtime=0)


def _csv_rows(fields: list[str], records: list[dict[str, Any]], header: bool = False) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    if header:
        writer.writeheader()
    writer.writerows(records)
    return out.getvalue().encode()


def _json_items(records: list[dict[str, Any]]) -> bytes:
    return ",".join(json.dumps(r, separators=(",", ":"), ensure_ascii=False) for r in records).encode()


# A download is a series of gzip members (gzip, zcat, pandas and every gzip reader read them as one stream):
# the header or JSON punctuation, then one member per day, so a new night compresses its own day only.
PART_KINDS = ("runs", "inference", "json-runs", "json-inference")
_RUNS_HEADER = _gzip(_csv_rows(RUN_FIELDS, [], header=True))
_INFERENCE_HEADER = _gzip(_csv_rows(INFERENCE_FIELDS, [], header=True))
_JSON_GLUE = {text: _gzip(text) for text in (b'{"runs":[', b",", b'],"inference":[', b"]}")}


def month(loaded: LoadedResult) -> str:
    """The month a run's downloads are filed under: 'YYYY-MM' of its start (UTC)."""
    return day(loaded)[:7]


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
    counts = Counter(month(loaded) for loaded in results)
    return sorted(counts.items(), reverse=True)


def day(loaded: LoadedResult) -> str:
    """The day a run's share of its month's downloads is filed under: 'YYYY-MM-DD' of its start (UTC)."""
    return loaded.facts.started_utc.date().isoformat()


def by_day(results: Iterable[LoadedResult]) -> dict[str, dict[str, list[LoadedResult]]]:
    """Results by month and day, each day's runs in the order of the downloads (start time, then file)."""
    grouped: dict[str, dict[str, list[LoadedResult]]] = {}
    for loaded in sorted(results, key=lambda r: (r.facts.started_utc, r.source)):
        when = day(loaded)
        grouped.setdefault(when[:7], {}).setdefault(when, []).append(loaded)
    return grouped


def day_parts(results: list[LoadedResult], links: dict[str, str]) -> dict[str, bytes]:
    """One day's share of its month's downloads (PART_KINDS), each compressed on its own; an empty share is b''."""
    runs = [run_record(r, links[r.file]) for r in results]
    points = [row for r in results for row in inference_records(r, links[r.file])]
    parts = {
        "runs": _csv_rows(RUN_FIELDS, runs),
        "inference": _csv_rows(INFERENCE_FIELDS, points),
        "json-runs": _json_items(runs),
        "json-inference": _json_items(points),
    }
    return {kind: _gzip(content) if content else b"" for kind, content in parts.items()}


def month_files(when: str, days: list[dict[str, bytes]]) -> dict[str, bytes]:
    """Return one month's download files from the day_parts() of its days, in order."""

    def items(kind: str) -> bytes:
        return _JSON_GLUE[b","].join(d[kind] for d in days if d[kind])

    json_document = [_JSON_GLUE[b'{"runs":['], items("json-runs"), _JSON_GLUE[b'],"inference":['], items("json-inference")]
    return {
        download_name("runs", when): _RUNS_HEADER + b"".join(d["runs"] for d in days),
        download_name("inference", when): _INFERENCE_HEADER + b"".join(d["inference"] for d in days),
        download_name("json", when): b"".join([*json_document, _JSON_GLUE[b"]}"]]),
    }


def downloads(results: list[LoadedResult], links: dict[str, str]) -> dict[str, bytes]:
    """Return the download files (name -> gzip content): per month, runs and inference points as CSV and as JSON.

    Split per month so that a new night rewrites one month's files, and compressed (about 10x): a year of
    nightlies stays a few MB. Concatenating the months gives every valid result. (The build keeps each
    day's parts between builds: generator.build.data_files.)
    """
    files: dict[str, bytes] = {}
    for when, days in by_day(results).items():
        files |= month_files(when, [day_parts(mine, links) for mine in days.values()])
    return files
