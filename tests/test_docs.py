"""The first ten minutes: what the README promises a new user, and the site's home telling the shipped examples apart."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import DATA, ROOT, build_site

from generator.ops.cli import build_parser
from generator.pages.home import shipped_examples
from generator.results import load_results
from runners.schema import ResultFileError, iter_result_files, validate_data

README = (ROOT / "README.md").read_text()


def _section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start:end]


def test_the_main_command_says_disk_time_and_python3_venv_next_to_it():
    main = README.index('python3 -m venv .venv && .venv/bin/pip install -q "torch==2.14.1"')
    nearby = README[main : main + 1500]
    assert "python3-venv" in nearby and "7.6 GB" in nearby and "CUDA build" in nearby
    assert re.search(r"\d+ to \d+ minutes", nearby)


def test_the_commands_block_lists_every_command_and_option():
    block = _section("Commands").split("```text\n", 1)[1].split("```", 1)[0]
    parser = build_parser()
    (commands,) = [a for a in parser._actions if a.dest == "command"]
    for name, sub in commands.choices.items():
        assert f"benchsite {name}" in block, name
        options = [o for a in sub._actions for o in a.option_strings if o.startswith("--") and o != "--help"]
        missing = [o for o in options if not re.search(re.escape(o) + r"\b", block)]
        assert not missing, (name, missing)


def test_the_upgrade_hint_fits_a_clone():
    data = {"schema_version": 7}
    with pytest.raises(ResultFileError) as info:
        validate_data(data, "f.yaml")
    message = info.value.problems[0].message
    assert (ROOT / ".git").exists() and "git pull" in message and "pip install -U" not in message


def test_the_readme_says_how_to_keep_your_own_results_apart():
    section = README[README.index("### Your own results, apart from the examples") :]
    assert "benchsite run --suite quick --results my-results" in section
    assert "benchsite build --results my-results " in section


def test_the_home_page_says_which_runs_are_the_shipped_examples(tmp_path: Path):
    shipped = len(list(iter_result_files(ROOT / "results")))
    assert shipped and shipped_examples(load_results([DATA / "valid"]).results) == 0
    site = build_site([ROOT / "results", DATA / "valid"], tmp_path)
    home = (site / "index.html").read_text()
    assert f"{shipped} of these {shipped + 2} run(s) are the examples shipped with benchsite" in home
