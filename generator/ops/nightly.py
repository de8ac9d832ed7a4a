"""The nightly job: run a suite, validate what it wrote, commit, push (rebasing on a race), build and publish."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from generator.errors import BenchsiteError, InvalidResults
from generator.ops.gitops import commit_paths, push_with_rebase, repo_root
from generator.results import LoadedResult, load_results
from runners.launch import RunRequest, SuiteOutcome, run_suite


@dataclass(frozen=True)
class NightlyRequest:
    suite: str
    commit: bool = False
    push: bool = False
    publish_version: str | None = None
    aliases: list[str] = field(default_factory=list)
    remote: str = "origin"
    data_dir: Path | None = None
    device: str = "auto"
    synthetic: bool = False
    command: list[str] = field(default_factory=list)
    fail_on_regression: float | None = None  # threshold: compare tonight's runs with the results before them


class SuiteHadFailures(BenchsiteError):
    """Some runs did not succeed; their records are committed all the same."""


class Regressed(BenchsiteError):
    """Tonight's runs are significantly slower than the results before them; they are committed and published all the same."""


def commit_message(suite: str, outcome: SuiteOutcome, repo: Path) -> str:
    """One summary line (suite, machine, counts by status) and the files, one per line."""
    counts = ", ".join(f"{n} {status}" for status, n in sorted(outcome.counts().items()))
    files = "\n".join(f"- {run.path.relative_to(repo)}" for run in outcome.runs)
    return f"nightly: {suite} on {socket.gethostname()}: {len(outcome.runs)} run(s), {counts}\n\n{files}\n"


def _log(line: str) -> None:
    print(line, flush=True)  # before the CLI's final message on stderr, even when stdout is a pipe


def nightly(request: NightlyRequest, log: Callable[[str], None] = _log) -> str:
    """Do each step in order and say what it did; return the last step's summary line."""
    repo = repo_root(Path.cwd())
    results_dir = repo / "results"
    outcome = run_suite(
        RunRequest(
            suite=request.suite,
            results_dir=results_dir,
            data_dir=request.data_dir,
            device=request.device,
            synthetic=request.synthetic,
            command=request.command,
        ),
        print_line=log,
    )
    paths = [run.path for run in outcome.runs if not run.spooled]  # a spooled record is outside the repository
    report = load_results(paths)
    if report.problems:
        raise InvalidResults(f"{len(report.problems)} problem(s) in the files this run wrote, e.g. {report.problems[0]}")
    log(f"validated {len(report.results)} new result file(s)")
    regressions = _regressions(results_dir, report.results, request.fail_on_regression, log)
    if request.commit:
        suite_name = report.results[0].result.run.suite if report.results else request.suite
        commit = commit_paths(repo, paths, commit_message(suite_name, outcome, repo))
        log(f"committed {len(paths)} result file(s) as {commit[:12]}")
    if request.push:
        push_with_rebase(repo, request.remote, log=log)
    if request.publish_version:
        from generator.ops.publish import publish

        log(publish([results_dir], request.publish_version, request.aliases, repo, push=request.push, remote=request.remote))
    if outcome.stopped:
        raise BenchsiteError(outcome.stopped)
    failed = len(outcome.runs) - outcome.counts().get("success", 0)
    if failed:
        raise SuiteHadFailures(f"{failed} of {len(outcome.runs)} run(s) did not succeed; their records are in {results_dir}")
    if regressions:
        raise Regressed(
            f"{regressions} regression(s) beyond {request.fail_on_regression:.0%} against the results before this run (table above)"
        )
    return f"nightly {request.suite}: {len(outcome.runs)} run(s) succeeded"


def _regressions(results_dir: Path, new: list[LoadedResult], threshold: float | None, log: Callable[[str], None]) -> int:
    """With a threshold, log the comparison of the new runs with every earlier result and return its regression count."""
    if threshold is None:
        return 0
    from generator.ops.compare import Selection, compare, render

    new_paths = {r.path.resolve() for r in new}
    before = [r for r in load_results([results_dir]).results if r.path.resolve() not in new_paths]
    comparison = compare(
        Selection("results before this run", everything=True), before, Selection("this run", everything=True), new, threshold=threshold
    )
    log(render(comparison))
    return len(comparison.regressions)
