"""The shape the architecture promises: the schema is light, the generator never loads a framework."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections import Counter
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from conftest import DATA, benchsite

from runners.schema import SCHEMA_VERSION, upgrade_command
from runners.suites import SuiteError, load_suite

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "tensorflow", "timm", "keras", "mkdocs", "altair")


def loaded_after(import_line: str) -> set[str]:
    code = f"import sys; {import_line}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    return {name.split(".")[0] for name in out.split()}


def test_schema_module_imports_nothing_heavy():
    assert not loaded_after("import runners.schema, runners.suites") & set(HEAVY)


def test_generator_and_cli_never_import_a_framework():
    loaded = loaded_after("import generator.ops.cli, generator.build, generator.aggregate, generator.pages.site, generator.charts")
    assert not loaded & {"torch", "tensorflow", "timm", "keras"}


def test_runners_never_import_the_generator():
    offenders = [p for p in (ROOT / "runners").rglob("*.py") if "generator" in p.read_text().replace("torch.Generator", "")]
    assert not [p for p in offenders if "import generator" in p.read_text() or "from generator" in p.read_text()]


# --- Pages and rankings: one module + one entry-point line each; an import graph without cycles -------------------------

PLUGINS = ROOT / "tests" / "data" / "plugins"


def build_with(plugins: list[str], results: Path, tmp: Path) -> subprocess.CompletedProcess[str]:
    """Run the real `benchsite build` with the extension folders of tests/data/plugins/ on its PYTHONPATH."""
    path = [str(PLUGINS / name) for name in plugins] + [str(ROOT), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in path if p)}
    args = benchsite("build", "--results", str(results), "--site-dir", str(tmp / "site"), "--build-dir", str(tmp / "build"))
    return subprocess.run(args, capture_output=True, text=True, env=env, cwd=tmp, timeout=600)


def test_a_page_kind_and_a_ranking_of_another_package_are_one_module_and_one_entry_point_line_each(tmp_path: Path):
    from generator.pages.rankings import RANKINGS
    from generator.pages.site import PAGE_KINDS
    from runners.schema import iter_result_files, read_result

    proc = build_with(["toy_page", "toy_ranking"], DATA / "ranked", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert len(PAGE_KINDS) == 9 and len(RANKINGS) == 4  # the built-in ones, in the order below
    nav = yaml.safe_load((tmp_path / "build" / "mkdocs.yml").read_text(encoding="utf-8"))["nav"]
    assert [next(iter(entry)) for entry in nav] == [
        "Home",
        "Performance",
        "Models",
        "Data",
        "Systems",
        "Leaderboard",
        "Rankings",
        "Regressions",
        "Hosts",
    ]
    rankings = next(entry["Rankings"] for entry in nav if "Rankings" in entry)
    assert [next(iter(r.values())) for r in rankings] == [
        "rankings/time-to-quality.md",
        "rankings/inference.md",
        "rankings/valid-flops.md",
        "rankings/devices.md",
        "rankings/result-files.md",
    ]
    assert rankings[-1] == {"Toy: result files per model": "rankings/result-files.md"}

    runs = [read_result(p) for p in iter_result_files(DATA / "ranked")]
    per_model = Counter(r.run.benchmark for r in runs)
    ranked = (tmp_path / "site" / "rankings" / "result-files.html").read_text(encoding="utf-8")
    shown = [int(n) for n in re.findall(r'<td class="toy-model">[^<]+</td><td data-sort="(\d+)">', ranked)]
    assert shown == sorted(per_model.values(), reverse=True) and len(shown) == len(per_model)
    assert 'href="result-files.html"' in (tmp_path / "site" / "rankings" / "devices.html").read_text(encoding="utf-8")

    hosts = (tmp_path / "site" / "hosts.html").read_text(encoding="utf-8")
    per_host = Counter(r.environment.host.hostname for r in runs)
    assert re.findall(r'<li class="toy-host">([^<]+)</li>', hosts) == [f"{h}: {n} run(s)" for h, n in sorted(per_host.items())]
    assert 'href="hosts.html"' in (tmp_path / "site" / "index.html").read_text(encoding="utf-8")  # in every page's nav


def test_an_extension_that_does_not_load_or_takes_a_built_in_name_is_named_in_one_line(monkeypatch):
    from generator.errors import BuildError
    from generator.pages.site import page_kinds

    with monkeypatch.context() as patch:
        patch.syspath_prepend(str(PLUGINS / "broken"))
        with pytest.raises(BuildError, match=r"^entry point benchsite.pages: broken = no_such_module:page: ModuleNotFoundError: "):
            page_kinds()
    monkeypatch.syspath_prepend(str(PLUGINS / "clash"))
    with pytest.raises(BuildError, match=r"^entry point benchsite.pages: the name 'home' is taken$"):
        page_kinds()


def test_installing_an_extension_changes_the_code_every_build_cache_is_keyed_by(monkeypatch):
    from generator.build import _code_digest

    before = _code_digest()
    monkeypatch.syspath_prepend(str(PLUGINS / "toy_page"))
    assert _code_digest() != before  # so a build after installing it renders its pages, not "nothing changed"


def import_graph(*packages: str) -> dict[str, set[str]]:
    """Every module of the packages -> the modules of the packages it imports, read from the source with ast.

    Imports at module level, inside functions and under TYPE_CHECKING all count; ``from a.b import c`` counts as
    importing the module a.b.c where there is one, else a.b. That importing a.b.c first runs a/__init__.py is not
    counted (a package whose __init__ imports its own modules is not a cycle)."""
    files = {p: p.relative_to(ROOT).with_suffix("").parts for top in packages for p in (ROOT / top).rglob("*.py")}
    modules = {p: ".".join(parts[:-1] if parts[-1] == "__init__" else parts) for p, parts in files.items()}
    known = set(modules.values())
    graph: dict[str, set[str]] = {}
    for path, name in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], *([base] if base else [])])
                imported |= {f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names}
        graph[name] = (imported & known) - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of a graph: its strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = [stack.pop()]
            while component[-1] != node:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_import_graph_of_the_generator_and_the_runners_has_no_cycle():
    graph = import_graph("generator", "runners")
    assert {"generator.pages.site", "generator.pages.base", "generator.build", "runners.worker"} <= graph.keys()
    assert "generator.pages.base" in graph["generator.pages.home"]  # the graph sees the imports it checks
    assert "generator.pages.site" in graph["generator.build"]  # including those inside functions
    assert cycles(graph) == []
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]  # and a cycle would be found


def test_every_benchmark_chart_is_built_by_one_definition():
    tree = ast.parse((ROOT / "generator" / "charts.py").read_text(encoding="utf-8"))
    builders = {
        func.name
        for func in ast.walk(tree)
        if isinstance(func, ast.FunctionDef)
        for call in ast.walk(func)
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "ChartSpec"
    }
    assert builders == {"line_figure", "history_spec"}  # accuracy, loss, latency, throughput-batch, scaling: line_figure


# --- The CLI and operations apart from the site pipeline (issue 15, item 4) ---

PIPELINE_MUST_NOT_IMPORT = ("runners.launch", "runners.frameworks", "runners.modes", "generator.ops")


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (function-local imports included), relative ones made absolute."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]) if node.level else ""
            module = ".".join(filter(None, [base, node.module]))
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def pipeline_modules() -> list[Path]:
    return [p for p in sorted((ROOT / "generator").rglob("*.py")) if "ops" not in p.relative_to(ROOT / "generator").parts]


def test_imported_modules_sees_absolute_and_function_local_imports():
    probe = ROOT / "generator" / "pages" / "site.py"
    found = imported_modules(probe)
    assert "runners.schema" in found or "runners.suites" in found  # the pipeline does read a shared contract
    assert imported_modules(ROOT / "generator" / "ops" / "nightly.py") >= {"runners.launch", "generator.ops.gitops"}
    assert "generator.ops.serve" in imported_modules(ROOT / "generator" / "ops" / "cli.py")  # imported inside a function


def test_site_pipeline_imports_nothing_from_launching_or_operations():
    modules = pipeline_modules()
    assert {p.name for p in modules} >= {"build.py", "results.py", "aggregate.py", "charts.py", "site.py"}
    offenders = {
        f"{p.relative_to(ROOT)}: {name}"
        for p in modules
        for name in imported_modules(p)
        if any(name == bad or name.startswith(bad + ".") for bad in PIPELINE_MUST_NOT_IMPORT)
    }
    assert not offenders, sorted(offenders)


def test_operations_live_in_their_own_package_and_the_console_script_points_there():
    assert not [name for name in ("cli", "nightly", "gitops", "publish", "serve") if (ROOT / "generator" / f"{name}.py").exists()]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["benchsite"] == "generator.ops.cli:main"


def test_site_pipeline_reaches_into_runners_only_through_the_two_shared_contracts():
    shared = ("runners.schema", "runners.suites")
    crossing = {
        f"{p.relative_to(ROOT)}: {name}"
        for p in pipeline_modules()
        for name in imported_modules(p)
        if name.startswith("runners")
        and name not in ("runners", "runners.__version__")
        and not any(name == ok or name.startswith(ok + ".") for ok in shared)
    }
    assert not crossing, sorted(crossing)


# --- issue #15 item 6: a schema that can evolve ------------------------------------------------------------------


def test_validate_reads_a_v1_file_through_the_migrations_and_refuses_a_newer_one_in_one_line(tmp_path: Path):
    results = tmp_path / "results"
    results.mkdir()
    shutil.copyfile(ROOT / "tests" / "data" / "v1" / "inference.yaml", results / "v1.yaml")  # a real run's file of 2026-11-26
    shutil.copyfile(ROOT / "tests" / "data" / "malformed" / "newer_schema_version.yaml", results / "newer.yaml")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    cli = [sys.executable, "-m", "generator.ops.cli", "validate", str(results)]
    proc = subprocess.run(cli, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert (proc.returncode, proc.stdout) == (1, f"1 valid, 1 invalid result file(s) in {results}\n")
    newer = f"schema_version: {SCHEMA_VERSION + 1} is newer than this benchsite reads ({SCHEMA_VERSION}); upgrade with: {upgrade_command()}"
    assert proc.stderr.splitlines()[0] == f"{results / 'newer.yaml'}: {newer}"


# --- One source of truth each (issue 15, item 5) ---


def test_one_strict_base_model_and_every_strict_model_derives_from_it():
    from generator import settings
    from runners import record, schema, suites

    hand_rolled = [
        f"{p.relative_to(ROOT)}:{node.lineno}"
        for p in [*sorted((ROOT / "generator").rglob("*.py")), *sorted((ROOT / "runners").rglob("*.py"))]
        for node in ast.walk(ast.parse(p.read_text()))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "ConfigDict"
    ]
    assert hand_rolled == [f"runners/schema.py:{_config_line(ROOT / 'runners' / 'schema.py')}"]
    for model in (suites.Suite, suites.Benchmark, suites.QualityTarget, settings.Settings, settings.QualityTarget, record.RunSpec):
        assert issubclass(model, schema.Strict), model
        assert model.model_config["extra"] == "forbid" and model.model_config["allow_inf_nan"] is False


def _config_line(path: Path) -> int:
    tree = ast.parse(path.read_text())
    (strict,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Strict"]
    return next(n.lineno for n in ast.walk(strict) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "ConfigDict")


def test_the_digits_quality_target_lives_in_the_quick_suite_only():
    from generator.settings import load_settings
    from runners.suites import load_suite

    entries = yaml.safe_load((ROOT / "generator" / "site_settings.yaml").read_text())["quality_targets"]
    (digits,) = [e for e in entries if e["dataset"] == "digits"]
    assert digits["suite"] == "quick" and "target" not in digits and "metric" not in digits
    digits_benchmarks = [b for b in load_suite("quick").benchmarks if b.dataset.name == "digits"]
    suite_targets = {(b.quality_target.metric, b.quality_target.value) for b in digits_benchmarks}
    target = load_settings().quality_target("image-classification", "digits")
    assert {(target.metric, target.target)} == suite_targets and target.n == 5


def test_a_quality_target_from_a_suite_that_cannot_give_one_names_the_entry(tmp_path: Path):
    from generator.errors import BuildError
    from generator.settings import load_settings

    bad = tmp_path / "settings.yaml"
    bad.write_text(
        "quality_targets:\n"
        "  - {task: segmentation, dataset: digits, suite: quick, n: 5}\n"
        "  - {task: image-classification, dataset: digits, suite: nope, n: 5}\n"
        "  - {task: image-classification, dataset: digits, suite: quick, target: 0.5, n: 5}\n"
    )
    with pytest.raises(BuildError) as err:
        load_settings(bad)
    assert str(err.value).splitlines() == [
        f"{bad}: quality_targets[0]: suite 'quick' has no benchmark of task 'segmentation' on dataset 'digits'",
        f"{bad}: quality_targets[1]: suite 'nope': no such shipped suite",
        f"{bad}: quality_targets[2]: give either suite or metric and target, not both",
    ]


def test_both_loaders_walk_the_results_roots_the_same_way(tmp_path: Path):
    from generator.cache import load_results_cached
    from generator.results import load_results

    root = tmp_path / "results"
    (root / "a").mkdir(parents=True)
    for fixture in sorted((DATA / "valid").glob("*.yaml")):
        shutil.copy(fixture, root / "a" / fixture.name)
    (root / "a" / "broken.yaml").write_text("schema_version: 1\nrun: [\n")
    (root / "a" / "link.yaml").symlink_to(DATA / "valid" / "inference.yaml")
    (root / ".hidden.yaml").write_text("not read")
    roots = [root, tmp_path / "missing"]

    plain, cached = load_results(roots), load_results_cached(roots, tmp_path / "cache.sqlite")
    assert plain.files == cached.files == 4  # two valid, one broken, one link (refused, never followed)
    assert sorted(map(str, plain.problems)) == sorted(map(str, cached.problems))
    assert {Path(p.path).name for p in plain.problems} == {"broken.yaml", "link.yaml", "missing"}
    assert [r.source for r in plain.results] == [r.source for r in cached.results] == ["a/convergence.yaml", "a/inference.yaml"]
    listing = r"iter_result_files\(|result_file_(paths|folders)\("
    generator_listings = [p.name for p in pipeline_modules() if re.search(listing, p.read_text())]
    assert generator_listings == ["results.py"]


# Moves and links that are not a file written in place, each for its reason.
NOT_FILE_WRITES = {
    ("runners/checkpoints.py", "os.replace"): "a whole checkpoint folder renamed into place",
    ("runners/datasets.py", "staging.rename"): "a prepared dataset folder renamed into place",
    ("runners/writing.py", "tempfile.mkstemp"): "check_writable's probe, removed at once",
    ("generator/build.py", "os.link"): "result files linked, not copied, into the data folder",
}


def test_every_file_is_written_atomically_through_one_helper():
    def hand_rolled(node: ast.AST) -> str | None:
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute) or not isinstance(node.func.value, ast.Name):
            return None
        owner, name = node.func.value.id, node.func.attr
        if owner in ("os", "tempfile"):
            found = name in ("replace", "rename", "link", "mkstemp")
        else:
            found = name in ("rename", "hardlink_to") or (name == "replace" and "tmp" in owner)
        return f"{owner}.{name}" if found else None

    found = {
        (str(p.relative_to(ROOT)), call)
        for p in [*(ROOT / "generator").rglob("*.py"), *(ROOT / "runners").rglob("*.py")]
        for call in map(hand_rolled, ast.walk(ast.parse(p.read_text())))
        if call
    }
    assert found - NOT_FILE_WRITES.keys() == {("runners/schema.py", "os.replace"), ("runners/schema.py", "os.link")}


def test_write_atomic_replaces_whole_or_not_at_all(tmp_path: Path):
    from runners.schema import atomic_path, write_atomic

    target = tmp_path / "deep" / "page.md"
    assert write_atomic(target, "first") == target and target.read_text() == "first"
    write_atomic(target, b"second")
    assert target.read_bytes() == b"second"
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~_umask())  # like write_text: readable where served from
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("writer died")
    with pytest.raises(FileExistsError):
        write_atomic(target, "third", overwrite=False, fsync=True)
    assert target.read_text() == "second" and sorted(p.name for p in target.parent.iterdir()) == ["page.md"]
    keras_style = tmp_path / "model.weights.h5"
    with atomic_path(keras_style) as tmp:
        assert tmp.name.startswith(".tmp-") and tmp.name.endswith(".weights.h5") and tmp.parent == tmp_path
        tmp.write_bytes(b"w")
    assert keras_style.read_bytes() == b"w"


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


# --- runners: a framework is one module + one registry line (issue #15, item 1) ---------------------------------

TOY_FRAMEWORK = ROOT / "tests" / "data" / "plugins" / "toy_framework"
TOY_SUITE = ROOT / "tests" / "data" / "suites" / "toy-framework.yaml"


def _with_toy_framework(cache: Path) -> dict[str, str]:
    """The environment of a benchsite with the toy framework installed: its folder on the path, as a wheel would put it."""
    path = os.pathsep.join(p for p in (str(TOY_FRAMEWORK), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "BENCHSITE_CACHE": str(cache)}


def test_the_toy_framework_is_one_module_and_one_entry_point_line():
    (module,) = TOY_FRAMEWORK.glob("*.py")
    (dist_info,) = TOY_FRAMEWORK.glob("*.dist-info")
    lines = [line for line in (dist_info / "entry_points.txt").read_text().splitlines() if line.strip()]
    assert lines == ["[benchsite.frameworks]", f"numpy-ref = {module.stem}:FRAMEWORK"]


def test_the_toy_framework_runs_end_to_end_into_valid_results_and_onto_its_model_page(tmp_path: Path, dataset_cache: Path):
    env, results, site = _with_toy_framework(dataset_cache), tmp_path / "results", tmp_path / "site"
    run = subprocess.run(benchsite("run", "--suite", str(TOY_SUITE), "--results", str(results)), capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    files = sorted(results.rglob("*.yaml"))
    records = {r["run"]["mode"]: r for r in (yaml.safe_load(p.read_text()) for p in files)}
    assert sorted(records) == ["convergence", "inference"]
    convergence = records["convergence"]
    assert (convergence["run"]["framework"], convergence["run"]["status"]) == ("numpy-ref", "success")
    assert convergence["training"]["time_to_target"]["reached"] and convergence["training"]["final_metrics"]["top1"] >= 0.8
    assert set(convergence["environment"]["packages"]) == {"numpy", "pillow"}  # the descriptor's packages, nothing else
    assert convergence["run"]["framework_version"] == metadata.version("numpy")
    assert records["inference"]["inference"]["results"][0]["latency_ms"]["p50"] > 0

    validate = subprocess.run(benchsite("validate", str(results)), capture_output=True, text=True, env=env)
    assert validate.returncode == 0 and "2 valid, 0 invalid" in validate.stdout, validate.stdout + validate.stderr
    build = subprocess.run(
        benchsite("build", "--results", str(results), "--site-dir", str(site), "--build-dir", str(tmp_path / "build")),
        capture_output=True,
        text=True,
        env=env,
    )
    assert build.returncode == 0, build.stderr
    page = (site / "models" / "digits-logreg.html").read_text()
    convergence_file = next(p for p in files if "-convergence-" in p.name).relative_to(results).as_posix()
    row = page[page.index("numpy-ref · fp32 · digits") :].split("</tr>", 1)[0]
    assert f"data/results/{convergence_file}" in row and f"{100 * convergence['training']['final_metrics']['top1']:.2f}" in row


def test_a_framework_needs_no_edit_of_benchsites_lists(tmp_path: Path):
    sources = [*(ROOT / "runners").rglob("*.py"), *(ROOT / "runners").rglob("*.yaml"), *(ROOT / "generator").rglob("*.py")]
    assert not [p for p in [*sources, ROOT / "pyproject.toml"] if "numpy-ref" in p.read_text()]
    check = (
        "import json; from runners import registry, schema, suites;"
        f"suite = suites.load_suite({str(TOY_SUITE)!r});"
        "print(json.dumps([registry.framework_names(), list(suite.benchmarks[0].implementations),"
        " schema.json_schema()['$defs']['Run']['properties']['framework']['enum']]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, check=True, cwd=ROOT, env=_with_toy_framework(tmp_path)
    ).stdout
    names, implemented, allowed = json.loads(out)
    assert names == ["pytorch", "tensorflow", "numpy-ref"] and implemented == ["numpy-ref"] and allowed == names
    with pytest.raises(SuiteError, match=r"implementations\.numpy-ref.*'pytorch' or 'tensorflow'"):
        load_suite(TOY_SUITE)  # this interpreter does not have the toy installed: a clear error, not a crash


# --- runners: a run option and a GPU telemetry field are each defined once (issue #15) ---------------------------


def test_a_run_option_is_defined_once_on_the_spec_type_and_reaches_every_run_and_the_record():
    from generator.ops.cli import build_parser
    from runners.launch import RunRequest, plan_runs
    from runners.record import RunOptions, provenance

    (commands,) = [a for a in build_parser()._actions if a.dest == "command"]
    offered = {a.dest: a for a in commands.choices["run"]._actions}
    for name, opt in RunOptions.cli_options().items():  # the CLI's option comes from the field: flag, help, default
        action = offered[name]
        field = RunOptions.model_fields[name]
        assert (action.option_strings, action.help, action.default) == ([opt.flag], field.description, field.default)
    chosen = {
        "results_dir": Path("/r"),
        "data_dir": Path("/d"),
        "cache_dir": Path("/c"),
        "device": "cpu",
        "synthetic": True,
        "resume": True,
        "window_scale": 0.5,
        "verbose": True,
        "command": ["benchsite", "run"],
    }
    assert set(chosen) == set(RunOptions.model_fields)  # a new option must be added here, and nowhere else in benchsite
    specs = plan_runs(load_suite("nightly-gpu"), RunRequest(suite="nightly-gpu", modes=["throughput"], **chosen))
    assert specs and all(spec.run_options() == chosen for spec in specs)
    assert provenance(specs[0]).window_scale == 0.5  # provenance=True: recorded under its own name


def test_every_gpu_telemetry_field_comes_from_one_nvml_reading():
    from runners.schema import GpuTelemetry
    from runners.telemetry.nvml import READINGS

    summarised = [name for reading in READINGS for name, _ in reading.summaries]
    assert sorted(summarised) == sorted(set(GpuTelemetry.model_fields) - {"index", "samples", "interval_s"})


def test_each_launcher_is_found_by_engine_and_brings_its_own_options():
    from generator.ops.cli import build_parser
    from runners.registry import get_framework, get_launcher, launch_engines, launchers

    assert launch_engines() == ("local", "torchrun", "tf-distribute", "slurm")
    assert [launcher.engine for launcher in launchers()] == ["local", "torchrun", "tf-distribute"]
    assert get_launcher(get_framework("pytorch").launcher).engine == "torchrun"
    args = build_parser().parse_args(["run", "--nproc-per-node", "4", "--tf-workers", "2"])
    configs = [config for launcher in launchers() if (config := launcher.config(args)) is not None]
    assert [(c.engine, c.launch.world_size) for c in configs] == [("torchrun", 4), ("tf-distribute", 2)]
    with pytest.raises(ValueError, match="no launcher for engine 'slurm'"):
        get_launcher("slurm")  # recorded by the sbatch template's runs, started outside benchsite


def test_the_registries_import_no_backend_and_no_launcher():
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, runners.registry; print(' '.join(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout.split()
    assert [name for name in loaded if name.startswith("runners.")] == ["runners.registry"]
    assert not {name.split(".")[0] for name in loaded} & {*HEAVY, "pydantic", "numpy"}
