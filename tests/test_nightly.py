"""The nightly job against a local bare repository: two machines push at once, nothing is lost, publish works."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import benchsite

pytestmark = pytest.mark.slow


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def clone(origin: Path, dest: Path) -> Path:
    subprocess.run(["git", "clone", "--quiet", str(origin), str(dest)], check=True)
    git(dest, "config", "user.name", "nightly bot")
    git(dest, "config", "user.email", "nightly@example.invalid")
    return dest


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    bare = tmp_path / "origin.git"
    subprocess.run(["git", "init", "--quiet", "--bare", "--initial-branch=main", str(bare)], check=True)
    seed = clone(bare, tmp_path / "seed")
    (seed / "results").mkdir()
    (seed / "results" / ".gitkeep").write_text("")
    (seed / "README.md").write_text("benchmark results\n")
    git(seed, "add", ".")
    git(seed, "commit", "--quiet", "-m", "start")
    git(seed, "push", "--quiet", "origin", "HEAD:main")
    return bare


def nightly(repo: Path, cache: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "BENCHSITE_CACHE": str(cache)}
    return subprocess.Popen(benchsite("nightly", *args), cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_two_machines_push_at_once_and_no_result_is_lost(origin, tmp_path, data_dir, dataset_cache):
    machines = [clone(origin, tmp_path / name) for name in ("gpu-a", "gpu-b")]
    suite = str(data_dir / "suites" / "tiny-inference.yaml")  # one short run a machine: the race is in the push
    procs = [nightly(m, dataset_cache, "--suite", suite, "--commit", "--push") for m in machines]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], "\n\n".join(outputs)
    # both started from the same commit, so whoever pushed second was rejected once and rebased
    assert sum("push rejected" in out for out in outputs) == 1
    files = [f for f in git(origin, "ls-tree", "-r", "--name-only", "main").split() if f.endswith(".yaml")]
    assert len(files) == 2
    log = git(origin, "log", "--format=%s", "main").splitlines()
    assert len(log) == 3 and sum(line.startswith("nightly: tiny-inference on ") for line in log) == 2
    assert all("1 run(s), 1 success" in line for line in log[:2])


def test_a_failing_suite_still_commits_its_failure_records(origin, tmp_path, dataset_cache):
    machine = clone(origin, tmp_path / "gpu-c")
    suite = tmp_path / "broken.yaml"
    suite.write_text(
        "name: broken\ndescription: d\nbenchmarks:\n"
        "  - {name: broken, title: t, model: M, description: d, implementations: {pytorch: no_such_model_xyz},\n"
        "     dataset: {name: digits, image_size: 16, num_classes: 10}, quality_target: {value: 0.5},\n"
        "     modes: [convergence], training: {batch_size: 8, lr: 0.1, max_epochs: 1}}\n"
    )
    proc = nightly(machine, dataset_cache, "--suite", str(suite), "--commit")
    out = proc.communicate(timeout=300)[0]
    assert proc.returncode == 1
    assert "1 of 1 run(s) did not succeed" in out.strip().splitlines()[-1]
    assert "Traceback" not in out
    head = git(machine, "log", "-1", "--format=%s")
    assert head.startswith("nightly: broken on ") and "1 failed" in head
    assert len(git(machine, "show", "--name-only", "--format=", "HEAD").split()) == 1


def test_publish_deploys_a_version_and_its_alias_to_gh_pages(origin, tmp_path, data_dir):
    machine = clone(origin, tmp_path / "publisher")
    results = machine / "results"
    for name in ("convergence.yaml", "inference.yaml"):
        (results / name).write_bytes((data_dir / "valid" / name).read_bytes())
    proc = subprocess.run(
        benchsite("publish", "--version", "2026.11", "--alias", "latest", "--push"),
        cwd=machine,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "published version 2026.11 (latest) to origin/gh-pages" in proc.stdout
    versions = json.loads(git(origin, "show", "gh-pages:versions.json"))
    assert [(v["version"], v["aliases"]) for v in versions] == [("2026.11", ["latest"])]
    tree = git(origin, "ls-tree", "-r", "--name-only", "gh-pages").split()
    assert "2026.11/index.html" in tree and any(p.startswith("2026.11/models/") for p in tree)


def test_fail_on_regression_compares_tonight_with_the_results_before_it(origin, tmp_path, data_dir, dataset_cache, tiny_run):
    """A prior inference run of the same machine and setup that took 1 µs a batch: tonight is slower whatever the load."""
    from datetime import timedelta

    from runners.schema import Mode, Result
    from runners.writing import write_result

    machine = clone(origin, tmp_path / "gpu-d")
    data = tiny_run.by_mode[Mode.inference].model_dump(mode="json")
    run = data["run"]
    run["id"] += "-prior"
    run["repeat"]["group"] += "-prior"
    for point in data["inference"]["results"]:
        point["latency_ms"] = dict.fromkeys(point["latency_ms"], 0.001) | {"stdev": 0.0}
        point["samples_per_s"] = point["batch_size"] / 1e-6
        point["duration_s"] = point["iterations"] * 1e-6
        if point.get("latency_samples_ms"):  # the raw latencies compare decides on (Mann-Whitney U)
            point["latency_samples_ms"] = " ".join("0.001" for _ in point["latency_samples_ms"].split())
    prior = Result.model_validate(data)
    day = timedelta(days=1)
    earlier = prior.run.model_copy(update={"started_utc": prior.run.started_utc - day, "finished_utc": prior.run.finished_utc - day})
    prior = prior.model_copy(update={"run": earlier})
    path = write_result(prior, machine / "results")
    git(machine, "add", str(path))
    git(machine, "commit", "--quiet", "-m", "last night")
    proc = nightly(machine, dataset_cache, "--suite", str(data_dir / "suites" / "tiny-inference.yaml"), "--commit", "--fail-on-regression")
    out = proc.communicate(timeout=600)[0]
    assert proc.returncode == 1, out
    assert "A = results before this run, B = this run:" in out
    slower = [line for line in out.splitlines() if "latency_p50 (batch 1)" in line]
    assert len(slower) == 1 and "x slower" in slower[0].split("  ")[0]
    assert "regression(s) beyond 5% against the results before this run" in out.strip().splitlines()[-1]
    assert git(machine, "log", "-1", "--format=%s").startswith("nightly: tiny-inference on ")  # committed all the same
