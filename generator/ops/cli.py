"""The ``benchsite`` command: parse arguments, call one function, turn errors into one line."""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path

from generator.errors import BenchsiteError, InvalidResults
from runners import __version__
from runners.suites import SuiteError

DEFAULT_RESULTS = Path("results")
DEFAULT_SITE = Path("site")


def _cmd_run(args: argparse.Namespace) -> int:
    from runners.launch import RunRequest, run_suite
    from runners.record import RunOptions
    from runners.registry import launchers

    try:
        configs = tuple(config for launcher in launchers() if (config := launcher.config(args)) is not None)
    except ValueError as exc:
        raise BenchsiteError(str(exc)) from None
    request = RunRequest(
        suite=args.suite,
        benchmarks=args.benchmark or [],
        modes=args.mode or [],
        timeout_s=args.timeout,
        repeats=args.repeats,
        precisions=args.precision or [],
        frameworks=args.framework or [],
        launchers=configs,
        command=["benchsite", *sys.argv[1:]],
        **{name: getattr(args, name) for name in RunOptions.cli_options()},
    )
    if args.dry_run:
        return _dry_run(request)
    outcome = run_suite(request)
    if outcome.stopped:
        raise BenchsiteError(outcome.stopped)
    return 0 if outcome.all_succeeded else 1


def _dry_run(request) -> int:
    from runners.launch import describe_plan, plan_suite
    from runners.launch.preflight import preflight

    suite, specs = plan_suite(request)
    print("\n".join(describe_plan(suite, specs, request)))
    preflight(specs, request.results_dir, request.device)
    print("preflight: results folder writable, data folders, device and frameworks found; nothing was run")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from generator.results import load_results

    report = load_results(args.paths)
    for problem in report.problems:
        print(problem, file=sys.stderr)
    good, bad = len(report.results), len(report.bad_files)
    print(f"{good} valid, {bad} invalid result file(s) in {', '.join(map(str, args.paths))}")
    if report.problems:
        raise InvalidResults(f"{len(report.problems)} problem(s) in {bad} file(s)")
    return 0


def _cmd_build(args: argparse.Namespace) -> int:
    from generator.build import build
    from generator.ops.gitops import added_in

    _check_writable(args.site_dir, "--site-dir")
    try:
        site_index = build(
            args.results, args.site_dir, strict=args.strict, work_dir=args.build_dir, source_url=args.source_url, added_in=added_in
        )
    except OSError as exc:  # a disk that fills up while the site is written
        raise BenchsiteError(f"cannot write {exc.filename or args.site_dir}: {exc.strerror or exc}") from None
    except sqlite3.OperationalError as exc:  # the parse cache in the build folder, beside the site, on the same full disk
        raise BenchsiteError(f"cannot write the build folder's parse cache: {exc}") from None
    print(site_index)
    return 0


def _check_writable(folder: Path, option: str) -> None:
    """Refuse, in one line, a folder where a file cannot be created and written (read-only, full, not a folder)."""
    from runners.writing import check_writable

    try:
        check_writable(folder)
    except OSError as exc:
        raise BenchsiteError(f"{option} {folder} is not writable: {exc.strerror or exc}") from None


def _cmd_compare(args: argparse.Namespace) -> int:
    from generator.ops.compare import run_compare

    text, regressed = run_compare(args.a, args.b, args.results or [DEFAULT_RESULTS], args.metric or [], args.threshold, args.format)
    print(text)
    return 1 if regressed else 0


def _percentage(text: str) -> float:
    """'5%' or '0.05' as 0.05."""
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a percentage such as 5%") from None
    if not 0 <= value < 10:
        raise argparse.ArgumentTypeError(f"{text!r} is out of range")
    return value


def _cmd_serve(args: argparse.Namespace) -> int:
    from generator.ops.serve import serve

    serve(results=args.results, dev_addr=args.dev_addr)
    return 0


def _cmd_nightly(args: argparse.Namespace) -> int:
    from generator.ops.nightly import NightlyRequest, nightly

    if args.publish and not args.version:
        raise BenchsiteError("--publish needs --version")
    request = NightlyRequest(
        suite=args.suite,
        commit=args.commit,
        push=args.push,
        publish_version=args.version if args.publish else None,
        aliases=args.alias or [],
        remote=args.remote,
        data_dir=args.data,
        device=args.device,
        synthetic=args.synthetic,
        command=["benchsite", *sys.argv[1:]],
        fail_on_regression=args.fail_on_regression,
    )
    print(nightly(request))
    return 0


def _cmd_publish(args: argparse.Namespace) -> int:
    from generator.ops.gitops import repo_root
    from generator.ops.publish import publish

    print(
        publish(
            args.results,
            args.version,
            args.alias or [],
            repo_root(Path.cwd()),
            push=args.push,
            remote=args.remote,
            strict=args.strict,
            source_url=args.source_url,
        )
    )
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    from runners.schema import json_schema

    print(json.dumps(json_schema(), indent=2))
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


SOURCE_URL_HELP = (
    "link each number to its result file here instead of a copy in the site's data/, e.g."
    " https://github.com/ORG/REPO/blob/{commit}/results/{path}"
)


def _add_run_options(run: argparse.ArgumentParser) -> None:
    """The options every run carries (RunOptions' fields) and each registered launcher's options."""
    from runners.record import RunOptions
    from runners.registry import launchers

    for name, opt in RunOptions.cli_options().items():
        field = RunOptions.model_fields[name]
        run.add_argument(opt.flag, dest=name, default=field.default, help=field.description, **dict(opt.argparse))
    for launcher in launchers():
        launcher.add_arguments(run)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="benchsite", description="Run deep-learning benchmarks and publish them as a static site.")
    parser.add_argument("--version", action="version", version=f"benchsite {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run a suite; write one YAML file per run into the results folder")
    run.add_argument("--suite", default="quick", help="suite name from runners/suites/ or a path to a suite YAML (default: quick)")
    run.add_argument("--benchmark", action="append", metavar="NAME", help="run only this benchmark (repeatable)")
    run.add_argument("--mode", action="append", choices=["convergence", "throughput", "inference"], help="run only this mode (repeatable)")
    run.add_argument("--framework", action="append", metavar="NAME", help="run only this framework's implementations (repeatable)")
    run.add_argument("--timeout", type=float, help="wall-clock limit per run in seconds (default: the benchmark's timeout_s)")
    run.add_argument(
        "--repeats", type=_positive_int, default=1, metavar="N", help="convergence runs per configuration, seeds seed..seed+N-1"
    )
    run.add_argument("--precision", action="append", metavar="P", help="run this precision instead of each benchmark's list (repeatable)")
    run.add_argument("--dry-run", action="store_true", help="print the planned runs and check them (preflight), run nothing")
    _add_run_options(run)
    run.set_defaults(func=_cmd_run)

    validate = sub.add_parser("validate", help="check result files; print every problem as 'path: field: message'")
    validate.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="result files or folders")
    validate.set_defaults(func=_cmd_validate)

    build = sub.add_parser("build", help="generate the site's source from results and build it with mkdocs")
    build.add_argument("--results", type=Path, action="append", help="results folder (repeatable; default: results)")
    build.add_argument("--site-dir", type=Path, default=DEFAULT_SITE, help="where to write the HTML site (default: site)")
    build.add_argument("--strict", action="store_true", help="fail on any invalid result file instead of skipping it")
    build.add_argument("--build-dir", type=Path, help="generated Markdown and caches (default: build/<site dir name> beside it)")
    build.add_argument("--source-url", metavar="TEMPLATE", help=SOURCE_URL_HELP)
    build.set_defaults(func=_cmd_build)

    serve = sub.add_parser("serve", help="build, serve on localhost and rebuild when results or templates change")
    serve.add_argument("--results", type=Path, action="append", help="results folder (repeatable; default: results)")
    serve.add_argument("--dev-addr", default="127.0.0.1:8000", help="address to serve on (default: 127.0.0.1:8000)")
    serve.set_defaults(func=_cmd_serve)

    nightly = sub.add_parser("nightly", help="run a suite, validate, commit and push its results, then build and publish")
    nightly.add_argument("--suite", default="quick", help="suite name or path (default: quick)")
    nightly.add_argument("--commit", action="store_true", help="commit the new result files with a summary message")
    nightly.add_argument("--push", action="store_true", help="push, rebasing and retrying when another machine pushed first")
    nightly.add_argument("--publish", action="store_true", help="build the site and deploy it with mike (needs --version)")
    nightly.add_argument("--version", metavar="V", help="site version to publish, e.g. 2026.11")
    nightly.add_argument("--alias", action="append", metavar="A", help="alias of the version, e.g. latest (repeatable)")
    nightly.add_argument("--remote", default="origin", help="git remote (default: origin)")
    nightly.add_argument("--data", type=Path, help="ImageNet-style image folder for suites that need one")
    nightly.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    nightly.add_argument("--synthetic", action="store_true", help="time on-device random tensors (throughput/inference only)")
    nightly.add_argument(
        "--fail-on-regression",
        nargs="?",
        const=0.05,
        type=_percentage,
        metavar="THRESHOLD",
        help="compare this run with the results before it (as benchsite compare) and exit 1 on a significant regression "
        "beyond THRESHOLD (default 5%%); the results are committed and published first",
    )
    nightly.set_defaults(func=_cmd_nightly)

    publish = sub.add_parser("publish", help="build the site and deploy it as a version to gh-pages with mike")
    publish.add_argument("--version", required=True, metavar="V", help="version to deploy, e.g. 2026.11")
    publish.add_argument("--alias", action="append", metavar="A", help="alias, e.g. latest (repeatable)")
    publish.add_argument("--results", type=Path, action="append", help="results folder (repeatable; default: results)")
    publish.add_argument("--push", action="store_true", help="push gh-pages to the remote")
    publish.add_argument("--remote", default="origin", help="git remote (default: origin)")
    publish.add_argument("--strict", action="store_true", help="fail on any invalid result file")
    publish.add_argument("--source-url", metavar="TEMPLATE", help=SOURCE_URL_HELP)
    publish.set_defaults(func=_cmd_publish)

    compare = sub.add_parser(
        "compare",
        help="compare two sets of results setup by setup; exit 1 when a change beyond --threshold is a significant regression",
        description="A and B each select results: a run id, a repeat group, a night (2026-11-25), a git ref of the results "
        "repository (HEAD~1), or filters such as accelerator=H100,precision=amp-fp16 or framework_version=2.14.1.",
    )
    compare.add_argument("a", metavar="A", help="the baseline")
    compare.add_argument("b", metavar="B", help="what is compared with it")
    compare.add_argument("--results", type=Path, action="append", help="results folder (repeatable; default: results)")
    compare.add_argument(
        "--metric",
        action="append",
        metavar="M",
        help="throughput, time_to_target, latency_p50, latency_p99, inference_throughput (repeatable; default: all)",
    )
    compare.add_argument("--threshold", type=_percentage, default=0.05, help="smallest change that counts (default: 5%%)")
    compare.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    compare.set_defaults(func=_cmd_compare)

    schema = sub.add_parser("schema", help="print the JSON Schema of a result file")
    schema.set_defaults(func=_cmd_schema)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``benchsite`` console script."""
    args = build_parser().parse_args(argv)
    if args.command in ("build", "serve", "publish") and not args.results:
        args.results = [DEFAULT_RESULTS]
    try:
        return args.func(args)
    except (BenchsiteError, SuiteError) as exc:
        print(f"benchsite {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"benchsite {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
