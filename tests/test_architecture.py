"""The shape the architecture promises: the schema is light, the generator never loads a framework."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
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
