"""The shape the architecture promises: the schema is light, the generator never loads a framework."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from runners.schema import SCHEMA_VERSION, upgrade_command

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


# --- issue #15 item 6: a schema that can evolve ------------------------------------------------------------------


def test_validate_reads_a_v1_file_through_the_migrations_and_refuses_a_newer_one_in_one_line(tmp_path: Path):
    results = tmp_path / "results"
    results.mkdir()
    shutil.copyfile(ROOT / "tests" / "data" / "v1" / "inference.yaml", results / "v1.yaml")  # a real run's file of 2026-11-26
    shutil.copyfile(ROOT / "tests" / "data" / "malformed" / "newer_schema_version.yaml", results / "v3.yaml")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    cli = [sys.executable, "-m", "generator.cli", "validate", str(results)]
    proc = subprocess.run(cli, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert (proc.returncode, proc.stdout) == (1, f"1 valid, 1 invalid result file(s) in {results}\n")
    newer = f"schema_version: 3 is newer than this benchsite reads ({SCHEMA_VERSION}); upgrade with: {upgrade_command()}"
    assert proc.stderr.splitlines()[0] == f"{results / 'v3.yaml'}: {newer}"
