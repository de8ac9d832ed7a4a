"""Result files are untrusted input: they cannot make a build read the host, quote a file it was not given, or blow up a page.

One real site is built from a results folder that holds an attacker's files beside
valid ones (copies of tests/data/valid with one field changed): a suite name that is
a path, a symlink to a credentials file, a FIFO, files over the size limits, and a
valid file with many subjects.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from conftest import build_site

from generator.results import load_results
from runners.schema import (
    MAX_CURVE_POINTS,
    MAX_ERROR_CHARS,
    MAX_NAME_CHARS,
    MAX_SUBJECTS,
    ResultFileError,
    read_result,
    validate_data,
)
from runners.suites import SUITES_DIR, find_named_suite

REPO = Path(__file__).resolve().parents[1]
VALID = REPO / "tests" / "data" / "valid"
PRIVATE_TITLE = "PRIVATE-SUITE-TITLE-7f3a"
CREDENTIAL = "AKIAPRIVATEKEYVALUE42"
SUBJECTS_IN_FILE = 1500  # within the schema's limit, beyond what a page shows


def _sample(name: str) -> dict:
    return yaml.safe_load((VALID / name).read_text())


def _write(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _private_suite(folder: Path) -> Path:
    """A valid suite outside benchsite, with a title that must never be published."""
    suite = folder / "srv" / "private" / "suite.yaml"
    suite.parent.mkdir(parents=True)
    suite.write_text(
        "name: private\ndescription: not for publishing\nbenchmarks:\n"
        f"  - {{name: digits-resnet10t, title: {PRIVATE_TITLE}, model: M, description: secret plans,\n"
        "     implementations: {pytorch: resnet10t}, dataset: {name: digits}, quality_target: {value: 0.5}, modes: [convergence],\n"
        "     training: {batch_size: 8, lr: 0.1, max_epochs: 1}}\n"
    )
    return suite


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """Build a site from a results folder with hostile files; return (tmp, results, site)."""
    tmp = tmp_path_factory.mktemp("hostile")
    suite = _private_suite(tmp)
    results = tmp / "results"
    traversal = os.path.relpath(suite.with_suffix(""), SUITES_DIR)  # what SUITES_DIR / f"{name}.yaml" would resolve to
    conv, inf = _sample("convergence.yaml"), _sample("inference.yaml")
    conv["run"]["suite"] = inf["run"]["suite"] = traversal
    subject = conv["training"]["per_subject"][0]
    conv["training"]["per_subject"] = [{**subject, "subject": f"class-{i}"} for i in range(SUBJECTS_IN_FILE)]
    _write(results / "conv.yaml", conv)
    _write(results / "inf.yaml", inf)

    credentials = tmp / "home" / ".aws" / "credentials"
    credentials.parent.mkdir(parents=True)
    credentials.write_text(f"[default]\naws_access_key_id = {CREDENTIAL}\n")
    (results / "2026").mkdir()
    (results / "2026" / "creds.yaml").symlink_to(credentials)
    os.mkfifo(results / "2026" / "pipe.yaml")

    huge = _sample("convergence.yaml")
    huge["run"]["id"] = "huge-subjects"
    huge["training"]["per_subject"] = [{**subject, "subject": str(i)} for i in range(MAX_SUBJECTS + 1)]
    _write(results / "huge.yaml", huge)
    return tmp, results, build_site([results], tmp)


def _site_text(site: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in site.rglob("*") if p.suffix in (".html", ".xml", ".json", ".csv"))


def test_suite_names_from_results_are_never_paths(hostile):
    tmp, _, site = hostile
    assert PRIVATE_TITLE not in _site_text(site)
    absolute = str(tmp / "srv" / "private" / "suite")
    for name in (absolute, absolute + ".yaml", "../../../../../../srv/private/suite", "quick/../quick", ".quick"):
        assert find_named_suite(name, (tmp / "srv" / "private",)) is None, name
    assert find_named_suite("quick").name == "quick"
    assert find_named_suite("suite", (tmp / "srv" / "private",)).benchmarks[0].title == PRIVATE_TITLE  # a configured folder


def test_symlinks_and_fifos_are_refused_in_one_line_without_their_content(hostile):
    tmp, results, site = hostile
    report = load_results([results])
    problems = {Path(p.path).name: str(p) for p in report.problems}
    assert "is a symbolic link" in problems["creds.yaml"]
    assert "not a regular file" in problems["pipe.yaml"]
    data_page = (site / "data.html").read_text()
    assert "creds.yaml" in data_page and "is a symbolic link" in data_page
    for text in (_site_text(site), *problems.values()):
        assert CREDENTIAL not in text and "aws_access_key_id" not in text
        assert str(tmp / "home") not in text  # no target path either
    assert all("\n" not in p for p in problems.values())


def test_a_yaml_error_names_the_place_never_the_text(tmp_path: Path):
    path = tmp_path / "copied-credentials.yaml"
    path.write_text(f"[default]\naws_access_key_id = {CREDENTIAL}\n")
    with pytest.raises(ResultFileError) as info:
        read_result(path)
    message = str(info.value)
    assert "line 2" in message and CREDENTIAL not in message and "aws_access_key_id" not in message


@pytest.mark.parametrize(
    ("where", "value", "limit"),
    [
        (("training", "per_subject"), "subjects", MAX_SUBJECTS),
        (("training", "curve"), "curve", MAX_CURVE_POINTS),
        (("environment", "host", "hostname"), "x" * (MAX_NAME_CHARS + 1), MAX_NAME_CHARS),
        (("run", "model"), "m" * (MAX_NAME_CHARS + 1), MAX_NAME_CHARS),
        (("run", "error"), "e" * (MAX_ERROR_CHARS + 1), MAX_ERROR_CHARS),
        (("training", "hyperparameters", "notes"), "h" * 5000, 4096),
    ],
)
def test_every_list_and_string_has_a_limit_and_the_error_names_it(where, value, limit):
    data = _sample("convergence.yaml")
    if value == "subjects":
        value = data["training"]["per_subject"][:1] * (limit + 1)
    elif value == "curve":
        value = data["training"]["curve"][:1] * (limit + 1)
    node = data
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    if where[-1] == "error":
        data["run"]["status"] = "failed"
    with pytest.raises(ResultFileError) as info:
        validate_data(data, "f.yaml")
    (problem,) = info.value.problems
    assert problem.field.startswith(".".join(where[:2])), problem
    assert str(limit) in problem.message, problem


def test_batch_sizes_and_command_are_bounded():
    data = _sample("inference.yaml")
    data["inference"]["results"] = data["inference"]["results"][:1] * 65
    data["provenance"]["command"] = ["benchsite"] * 513
    with pytest.raises(ResultFileError) as info:
        validate_data(data, "f.yaml")
    assert {(p.field, str(64) in p.message or "512" in p.message) for p in info.value.problems} == {
        ("inference.results", True),
        ("provenance.command", True),
    }


def test_over_the_limits_is_refused_and_a_page_shows_a_bounded_number_per_run(hostile):
    _, results, site = hostile
    report = load_results([results])
    (huge,) = [p for p in report.problems if p.path.endswith("huge.yaml")]
    assert huge.field == "training.per_subject" and str(MAX_SUBJECTS) in huge.message
    board = (site / "leaderboard.html").read_text()
    rows = board.count('class="benchsite-subject-row"')
    assert 0 < rows <= 1000 < SUBJECTS_IN_FILE
    assert f"1000 of {SUBJECTS_IN_FILE} subjects shown" in board


def test_a_problem_never_quotes_a_value_and_bounds_a_key_it_names():
    data = _sample("inference.yaml")
    data["schema_version"] = f"v2 {CREDENTIAL}"
    with pytest.raises(ResultFileError) as info:
        validate_data(data, "f.yaml")
    assert CREDENTIAL not in str(info.value) and "unknown schema_version of type str" in str(info.value)
    data = _sample("inference.yaml")
    data["run"]["k" * 5000] = 1
    with pytest.raises(ResultFileError) as info:
        validate_data(data, "f.yaml")
    (problem,) = info.value.problems
    assert problem.field.startswith("run.kkk") and len(problem.field) <= 300
