"""The shape the architecture promises: the schema is light, the generator never loads a framework."""

from __future__ import annotations

import subprocess
import sys
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
    loaded = loaded_after("import generator.cli, generator.build, generator.aggregate, generator.pages, generator.charts")
    assert not loaded & {"torch", "tensorflow", "timm", "keras"}


def test_runners_never_import_the_generator():
    offenders = [p for p in (ROOT / "runners").rglob("*.py") if "generator" in p.read_text().replace("torch.Generator", "")]
    assert not [p for p in offenders if "import generator" in p.read_text() or "from generator" in p.read_text()]
