"""`benchsite compare`, end to end on fixtures with known differences (tests/data/make_compare.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import benchsite

from generator.ops.cli import main

FIXTURES = Path(__file__).parent / "data" / "compare"
H100 = "1x NVIDIA H100 80GB HBM3"
A100_AMP = "1x NVIDIA A100-SXM4-80GB (driver 550.54.15, 400 W limit), pytorch, amp-fp16"


@dataclass(frozen=True)
class Outcome:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def compare(capsys: pytest.CaptureFixture[str]):
    """The real CLI's compare command, in this process (one test below runs it as a subprocess)."""

    def run(*args: str) -> Outcome:
        code = main(["compare", *args])
        out, err = capsys.readouterr()
        return Outcome(code, out, err)

    return run


def test_the_console_script_exits_1_on_a_regression():
    proc = subprocess.run(benchsite("compare", "2026-11-24", "2026-11-25", "--results", str(FIXTURES)), capture_output=True, text=True)
    assert proc.returncode == 1 and "1.11x slower" in proc.stdout, proc.stderr


def rows_of(proc: Outcome) -> list[dict]:
    return json.loads(proc.stdout)["rows"]


def row(rows: list[dict], setup_start: str, verdict_start: str = "", metric: str = "throughput") -> dict:
    (found,) = [r for r in rows if r["setup"].startswith(setup_start) and r["verdict"].startswith(verdict_start) and r["metric"] == metric]
    return found


@pytest.mark.parametrize(("a", "b"), [("2026-11-24", "2026-11-25"), ("framework_version=2.14.1", "framework_version=2.15.0")])
def test_a_ten_percent_regression_with_repeats_fails_and_a_one_percent_change_in_the_noise_does_not(compare, a: str, b: str):
    proc = compare(a, b, "--results", str(FIXTURES), "--format", "json")
    assert proc.returncode == 1, proc.stderr
    rows = rows_of(proc)
    slower = row(rows, H100)
    assert slower["verdict"] == "1.11x slower" and slower["regressed"] and slower["p"] < 0.001
    assert slower["test"] == "Welch t-test, 5 vs 5 repeats" and (slower["a_n"], slower["b_n"]) == (5, 5)
    assert abs(slower["ratio"] - 0.9) < 0.002
    noise = row(rows, A100_AMP)
    assert noise["verdict"] == "no change" and not noise["regressed"] and noise["p"] > 0.05 and abs(noise["ratio"] - 1.01) < 0.002


def test_rows_on_one_side_only_are_listed_not_dropped(compare):
    rows = rows_of(compare("2026-11-24", "2026-11-25", "--results", str(FIXTURES), "--metric", "throughput", "--format", "json"))
    only_a = row(rows, "1x NVIDIA A100-SXM4-80GB (driver 550.54.15, 400 W limit), pytorch, tf32", "only in A")
    only_b = row(rows, "8x NVIDIA H100", "only in B")
    assert only_a["a_text"].startswith("1480 ") and only_b["b_text"].startswith("40988 ")
    assert len(rows) == 4


def test_text_output_reads_like_asv_compare_and_a_higher_threshold_passes(compare):
    proc = compare("2026-11-24", "2026-11-25", "--results", str(FIXTURES), "--threshold", "15%")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "A = 2026-11-24, B = 2026-11-25: 8 pair(s), 0 regression(s), 2 row(s) on one side only"
    assert lines[2].split() == ["change", "B/A", "p", "A", "B", "metric", "setup"]
    h100 = next(line for line in lines if H100 in line and "  throughput (batch 256)" in line)
    assert h100.startswith("no change") and "0.900" in h100  # 11% slower is within a 15% threshold


def test_filters_pair_setups_apart_on_the_field_they_name(compare):
    a, b = "accelerator=A100,precision=amp-fp16", "accelerator=H100,precision=amp-fp16"
    proc = compare(a, b, "--results", str(FIXTURES), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    faster = row(rows_of(proc), A100_AMP)
    assert faster["verdict"] == "1.64x faster" and " -> 1x NVIDIA H100 80GB HBM3 (driver 550.90.07, 700 W limit)" in faster["setup"]


def test_single_runs_have_no_test_and_the_factor_alone_decides(compare):
    runs = sorted(p.stem for p in FIXTURES.rglob("*.yaml"))
    rows = rows_of(compare("2026-11-24", "2026-11-25", "--results", str(FIXTURES), "--format", "json"))
    a_run, b_run = row(rows, H100)["a_runs"][0], row(rows, H100)["b_runs"][0]
    assert a_run in runs and b_run in runs
    proc = compare(a_run, b_run, "--results", str(FIXTURES), "--format", "json")
    single = row(rows_of(proc), H100)
    assert proc.returncode == 1 and single["p"] is None and single["verdict"].endswith("x slower")
    assert single["why"].startswith("untested: a single run a side")


def test_git_refs_of_the_results_repository_select_each_side(compare, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    repo, results = tmp_path / "repo", tmp_path / "repo" / "results"
    shutil.copytree(FIXTURES / "2026" / "11" / "24", results / "2026" / "11" / "24")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "night A"], check=True)
    shutil.copytree(FIXTURES / "2026" / "11" / "25", results / "2026" / "11" / "25")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "night B"], check=True)
    monkeypatch.chdir(repo)
    proc = compare("HEAD~1", "HEAD", "--results", "results", "--format", "json")
    assert proc.returncode == 1, proc.stderr
    rows = rows_of(proc)
    assert row(rows, H100)["verdict"] == "1.11x slower"
    assert row(rows, "8x NVIDIA H100")["verdict"] == "only in B"
    assert not [r for r in rows if ", tf32," in r["setup"]]  # the same tf32 runs at both commits: no comparison to make


@pytest.mark.parametrize(
    ("a", "message"),
    [("gpu=H100", "unknown filter 'gpu'"), ("no-such-run", "no-such-run: matches no run id, repeat group or night")],
)
def test_a_side_that_selects_nothing_is_one_clear_line(compare, a: str, message: str):
    proc = compare(a, "2026-11-25", "--results", str(FIXTURES))
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and message in proc.stderr


def test_the_readme_shows_what_compare_prints(compare):
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    shown = readme.split("$ benchsite compare 2026-11-24 2026-11-25 --results tests/data/compare\n", 1)[1].split("\n$ echo $?", 1)[0]
    proc = compare("2026-11-24", "2026-11-25", "--results", str(FIXTURES))
    assert proc.stdout.rstrip("\n") == shown


def test_stored_latency_samples_are_compared_with_a_rank_test_even_for_single_runs(compare):
    proc = compare("2026-11-24", "2026-11-25", "--results", str(FIXTURES), "--metric", "latency_p50", "--format", "json")
    rows = {r["variant"]: r for r in rows_of(proc)}
    assert proc.returncode == 1 and set(rows) == {"batch 1", "batch 256"}
    slower, same = rows["batch 1"], rows["batch 256"]
    assert slower["verdict"] == "1.12x slower" and slower["p"] < 1e-6 and slower["test"] == "Mann-Whitney U, 200 vs 200 samples"
    assert same["verdict"] == "no change" and same["p"] > 0.05 and (same["a_n"], same["b_n"]) == (1, 1)
