"""The shape the architecture promises: the schema is light, the generator never loads a framework."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from conftest import benchsite

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
    loaded = loaded_after("import generator.cli, generator.build, generator.aggregate, generator.pages, generator.charts")
    assert not loaded & {"torch", "tensorflow", "timm", "keras"}


def test_runners_never_import_the_generator():
    offenders = [p for p in (ROOT / "runners").rglob("*.py") if "generator" in p.read_text().replace("torch.Generator", "")]
    assert not [p for p in offenders if "import generator" in p.read_text() or "from generator" in p.read_text()]


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
    from generator.cli import build_parser
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
    from generator.cli import build_parser
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
