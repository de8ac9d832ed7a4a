"""The GitHub workflows validate against GitHub's workflow schema (check-jsonschema's vendored copy, offline)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

WORKFLOWS = sorted((Path(__file__).resolve().parents[1] / ".github" / "workflows").glob("*.yml"))


def test_workflows_validate_against_the_github_schema():
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "nightly.yml", "pages.yml"}
    cmd = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_nightly_runs_the_nightly_command_on_a_matrix_and_publishes_once_in_a_concurrency_group():
    flow = yaml.safe_load((WORKFLOWS[0].parent / "nightly.yml").read_text())
    triggers = flow[True] if True in flow else flow["on"]  # YAML 1.1 reads the key `on` as true
    assert "schedule" in triggers and "workflow_dispatch" in triggers
    run, publish = flow["jobs"]["run"], flow["jobs"]["publish"]
    assert len(run["strategy"]["matrix"]["machine"]) >= 2
    assert any("benchsite nightly" in step.get("run", "") and "--commit --push" in step["run"] for step in run["steps"])
    assert publish["needs"] == "run" and publish["concurrency"]["group"] == "gh-pages"
    assert any("benchsite publish" in step.get("run", "") for step in publish["steps"])


def test_ci_runs_the_readme_test_command():
    readme = (WORKFLOWS[0].parents[2] / "README.md").read_text()
    assert "bash .ci/run" in readme and "bash .ci/run" in (WORKFLOWS[0].parent / "ci.yml").read_text()


def test_readme_shows_every_command_ci_runs():
    root = WORKFLOWS[0].parents[2]
    readme = (root / "README.md").read_text()
    script = (root / ".ci" / "run").read_text()
    for command in (
        '.venv/bin/python -m pip install -q "torch==2.14.1" "torchvision==0.29.1" -e ".[pytorch,tensorflow,test]"',
        ".venv/bin/ruff check .",
        ".venv/bin/ruff format --check .",
        ".venv/bin/python -m pytest",
    ):
        assert command in script and command in readme, command
