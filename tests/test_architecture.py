"""The shape the architecture promises: the schema is light, the generator never loads a framework."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
HEAVY = ("torch", "tensorflow", "timm", "keras", "mkdocs", "altair")


def loaded_after(import_line: str) -> set[str]:
    code = f"import sys; {import_line}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    return {name.split(".")[0] for name in out.split()}


def test_schema_module_imports_nothing_heavy():
    assert not loaded_after("import runners.schema, runners.suites") & set(HEAVY)


def test_generator_and_cli_never_import_a_framework():
    loaded = loaded_after("import generator.ops.cli, generator.build, generator.aggregate, generator.pages, generator.charts")
    assert not loaded & {"torch", "tensorflow", "timm", "keras"}


def test_runners_never_import_the_generator():
    offenders = [p for p in (ROOT / "runners").rglob("*.py") if "generator" in p.read_text().replace("torch.Generator", "")]
    assert not [p for p in offenders if "import generator" in p.read_text() or "from generator" in p.read_text()]


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
    probe = ROOT / "generator" / "pages.py"
    found = imported_modules(probe)
    assert "runners.schema" in found or "runners.suites" in found  # the pipeline does read a shared contract
    assert imported_modules(ROOT / "generator" / "ops" / "nightly.py") >= {"runners.launch", "generator.ops.gitops"}
    assert "generator.ops.serve" in imported_modules(ROOT / "generator" / "ops" / "cli.py")  # imported inside a function


def test_site_pipeline_imports_nothing_from_launching_or_operations():
    modules = pipeline_modules()
    assert {p.name for p in modules} >= {"build.py", "results.py", "aggregate.py", "charts.py", "pages.py"}
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
    generator_listings = [p.name for p in pipeline_modules() if "iter_result_files(" in p.read_text()]
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
