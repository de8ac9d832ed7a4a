"""Malformed result files: every defect is reported as ``path: field: message``, by the API and by ``benchsite validate``.

Each file in tests/data/malformed/ is a valid sample with one defect. Cases that need
raw bytes or size (non-UTF-8, over the size limit) and the several-defects file are
built into tmp_path instead of being committed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from generator.results import load_results
from runners.schema import (
    MAX_RESULT_FILE_BYTES,
    SCHEMA_VERSION,
    Problem,
    ResultFileError,
    read_result,
    read_result_bytes,
    upgrade_command,
    validate_data,
)

REPO = Path(__file__).resolve().parents[1]
VALID = REPO / "tests" / "data" / "valid"
MALFORMED = REPO / "tests" / "data" / "malformed"
# tests/data/malformed/python_tag.yaml asks os.system to `touch` this name in the current folder.
PAYLOAD_MARKER = "benchsite-yaml-payload-ran"


def _substitute(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"{old!r} should occur once in the sample"
    return text.replace(old, new)


def _build_oversize(folder: Path) -> Path:
    text = (VALID / "inference.yaml").read_bytes()
    padding = MAX_RESULT_FILE_BYTES + 1 - len(text) - len(b"# \n")
    path = folder / "oversize.yaml"
    path.write_bytes(text + b"# " + b"x" * padding + b"\n")
    assert path.stat().st_size == MAX_RESULT_FILE_BYTES + 1
    return path


def _build_non_utf8(folder: Path) -> Path:
    raw = (VALID / "convergence.yaml").read_bytes()
    assert raw.count(b"hostname: ci-box\n") == 1
    path = folder / "non_utf8.yaml"
    path.write_bytes(raw.replace(b"hostname: ci-box\n", b"hostname: ci-b\xf6x\n"))  # Latin-1 o-umlaut
    return path


def _build_several_defects(folder: Path) -> Path:
    text = (VALID / "inference.yaml").read_text()
    text = _substitute(text, "  status: success\n", "  status: crashed\n")
    text = _substitute(text, "  model: ResNet-10t\n", "")
    text = _substitute(text, "  duration_s: 90.0\n", "  duration_s: .nan\n")
    text = _substitute(text, "      p99: 14.3\n", "      p99: 10.0\n")
    text = _substitute(text, "schema_version: 1\n", "schema_version: 1\nnotes: a key the schema does not know\n")
    path = folder / "several_defects.yaml"
    path.write_text(text)
    return path


# byte offset of the Latin-1 byte in the non-UTF-8 case
_NON_UTF8_OFFSET = (VALID / "convergence.yaml").read_bytes().index(b"hostname: ci-box") + len(b"hostname: ci-b")
STATUS_CHOICES = "Input should be 'success', 'failed', 'diverged', 'oom' or 'timeout'"


@dataclass(frozen=True)
class Case:
    """One malformed file and the problems it must produce: (field, key phrase of the message)."""

    id: str
    expected: tuple[tuple[str, str], ...]
    file: str | None = None  # a file in tests/data/malformed/
    build: Callable[[Path], Path] | None = None  # or a builder that writes it into a folder

    def materialise(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        if self.build is not None:
            return self.build(folder)
        assert self.file is not None
        return Path(shutil.copyfile(MALFORMED / self.file, folder / self.file))


CASES = [
    Case("wrong-type", (("run.duration_s", "Input should be a valid number"),), file="wrong_type_duration.yaml"),
    Case("missing-field", (("run.model", "Field required"),), file="missing_run_model.yaml"),
    Case("nan", (("inference.results[1].latency_ms.mean", "must be a finite number, got nan"),), file="nan_latency_mean.yaml"),
    Case("inf", (("inference.results[0].samples_per_s", "must be a finite number, got inf"),), file="inf_samples_per_s.yaml"),
    Case("negative-latency", (("inference.results[0].latency_ms.min", "greater than or equal to 0"),), file="negative_latency.yaml"),
    Case("unordered-latency", (("inference.results[2].latency_ms", "p99 (10.0) must be >= p95"),), file="unordered_latency.yaml"),
    Case("unknown-status", (("run.status", STATUS_CHOICES),), file="unknown_status.yaml"),
    Case(
        "unknown-schema-version",
        (("schema_version", "unknown schema_version 0; this benchsite reads 1 to 3"),),
        file="unknown_schema_version.yaml",
    ),
    Case(
        "newer-schema-version",
        (("schema_version", "4 is newer than this benchsite reads (3); upgrade with: "),),
        file="newer_schema_version.yaml",
    ),
    Case(
        "bool-schema-version",
        (("schema_version", "unknown schema_version True; this benchsite reads 1 to 3"),),
        file="schema_version_bool.yaml",
    ),
    Case("missing-schema-version", (("schema_version", "missing; every result file must carry it"),), file="missing_schema_version.yaml"),
    Case("not-yaml", (("<file>", "not valid YAML: while parsing a flow sequence at line 27"),), file="not_yaml.yaml"),
    Case("empty", (("<file>", "file is empty"),), file="empty.yaml"),
    Case(
        "python-tag",
        (("<file>", "refused by safe YAML loading: could not determine a constructor for the tag 'tag:yaml.org,2002:python/object/apply"),),
        file="python_tag.yaml",
    ),
    Case("top-level-list", (("<file>", "must be a mapping, got list"),), file="top_level_list.yaml"),
    Case("unknown-key", (("telemetry.host_peak_rss_mb", "Extra inputs are not permitted"),), file="unknown_key_typo.yaml"),
    Case("finished-before-started", (("run.finished_utc", "must not be before started_utc"),), file="finished_before_started.yaml"),
    Case("failed-without-error", (("run.error", "required when status is 'failed'"),), file="failed_without_error.yaml"),
    Case(
        "accelerators-none-with-devices",
        (("environment.accelerators.devices", "must be empty when kind is 'none'"),),
        file="accelerators_none_with_devices.yaml",
    ),
    Case(
        "convergence-without-time-to-target",
        (("training.time_to_target", "required for a successful convergence run"),),
        file="convergence_without_time_to_target.yaml",
    ),
    Case(
        "bad-config-hash", (("provenance.config_hash", "String should match pattern '^sha256:[0-9a-f]{64}$'"),), file="bad_config_hash.yaml"
    ),
    Case(
        "oversize",
        (("<file>", f"{MAX_RESULT_FILE_BYTES + 1} bytes is over the {MAX_RESULT_FILE_BYTES}-byte limit"),),
        build=_build_oversize,
    ),
    Case("non-utf8", (("<file>", f"not UTF-8 text: invalid start byte at byte {_NON_UTF8_OFFSET}"),), build=_build_non_utf8),
    Case(
        "several-defects",
        (
            ("inference.results[2].latency_ms", "p99 (10.0) must be >= p95"),
            ("notes", "Extra inputs are not permitted"),
            ("run.duration_s", "must be a finite number, got nan"),
            ("run.model", "Field required"),
            ("run.status", STATUS_CHOICES),
        ),
        build=_build_several_defects,
    ),
]


def assert_problems(problems: list[Problem], path: Path, expected: tuple[tuple[str, str], ...]) -> None:
    """Exactly the expected (field, phrase) problems, each about ``path`` and each one line."""
    got = sorted(problems, key=lambda p: (p.field, p.message))
    assert [p.field for p in got] == sorted(field for field, _ in expected), [str(p) for p in got]
    for problem, (_, phrase) in zip(got, sorted(expected), strict=True):
        assert problem.path == str(path)
        assert phrase in problem.message, str(problem)
        assert "\n" not in problem.message
        assert str(problem) == f"{path}: {problem.field}: {problem.message}"


def test_malformed_folder_matches_the_cases():
    """Every committed malformed file has a case, and there are enough of them."""
    committed = {p.name for p in MALFORMED.glob("*.yaml")}
    assert committed == {c.file for c in CASES if c.file}
    assert len(committed) >= 16


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_read_result_reports_each_problem(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)  # where the python-tag payload would leave its marker
    path = case.materialise(tmp_path / "results")
    with pytest.raises(ResultFileError) as info:
        read_result(path)
    assert_problems(info.value.problems, path, case.expected)
    assert str(info.value) == "\n".join(str(p) for p in info.value.problems)
    assert not (tmp_path / PAYLOAD_MARKER).exists()


def test_a_file_newer_than_this_benchsite_is_one_line_naming_the_upgrade(tmp_path: Path):
    """Issue #15 item 6: a newer file is refused by its version alone (not by the fields that version added), the rest load."""
    assert SCHEMA_VERSION == 3  # the fixture says 4: one past what this benchsite reads
    newer = Path(shutil.copyfile(MALFORMED / "newer_schema_version.yaml", tmp_path / "newer.yaml"))
    shutil.copyfile(VALID / "inference.yaml", tmp_path / "older.yaml")
    with pytest.raises(ResultFileError) as info:
        read_result(newer)
    assert str(info.value) == f"{newer}: schema_version: 4 is newer than this benchsite reads (3); upgrade with: {upgrade_command()}"
    report = load_results([tmp_path])
    assert [r.path.name for r in report.results] == ["older.yaml"]
    assert [str(p) for p in report.problems] == [str(info.value)]


def test_python_tag_payload_never_runs(tmp_path: Path):
    marker = tmp_path / "payload-ran"
    text = (VALID / "inference.yaml").read_text()
    text = _substitute(text, "  model: ResNet-10t\n", f"  model: !!python/object/apply:os.system ['touch {marker}']\n")
    path = tmp_path / "payload.yaml"
    path.write_text(text)
    for read in (lambda: read_result(path), lambda: read_result_bytes(path.read_bytes(), path)):
        with pytest.raises(ResultFileError) as info:
            read()
        assert [(p.field, p.message.split(":")[0]) for p in info.value.problems] == [("<file>", "refused by safe YAML loading")]
    assert not load_results([tmp_path]).results
    assert not marker.exists()


def test_several_defects_are_collected_and_raised_once(tmp_path: Path):
    """validate_data collects every problem and raises once, not at the first one."""
    import yaml

    path = _build_several_defects(tmp_path)
    data = yaml.safe_load(path.read_text())
    with pytest.raises(ResultFileError) as info:
        validate_data(data, path)
    assert len(info.value.problems) == 5
    assert len({p.field for p in info.value.problems}) == 5  # no field reported twice (NaN and pydantic agree)


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[Path, Case]]:
    """All malformed cases plus the two valid samples in one results folder."""
    folder = tmp_path_factory.mktemp("mixed") / "results"
    bad = {case.materialise(folder / "bad"): case for case in CASES}
    (folder / "good").mkdir()
    for name in ("convergence.yaml", "inference.yaml"):
        shutil.copyfile(VALID / name, folder / "good" / name)
    return folder, bad


def _cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def _benchsite() -> list[str]:
    script = Path(sys.executable).with_name("benchsite")
    if script.exists():
        return [str(script)]
    found = shutil.which("benchsite")
    return [found] if found else [sys.executable, "-m", "generator.ops.cli"]


def test_cli_validate_prints_every_problem(mixed_folder: tuple[Path, dict[Path, Case]], tmp_path: Path):
    folder, bad = mixed_folder
    proc = subprocess.run(
        [sys.executable, "-m", "generator.ops.cli", "validate", str(folder)],
        cwd=tmp_path,
        env=_cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    n_problems = sum(len(case.expected) for case in bad.values())
    assert proc.stdout == f"2 valid, {len(bad)} invalid result file(s) in {folder}\n"

    *lines, last = proc.stderr.splitlines()
    assert last == f"benchsite validate: error: {n_problems} problem(s) in {len(bad)} file(s)"
    assert len(lines) == n_problems
    by_path: dict[Path, list[tuple[str, str]]] = {}
    for line in lines:
        path, field, message = line.split(": ", 2)
        by_path.setdefault(Path(path), []).append((field, message))
    assert set(by_path) == set(bad)  # every bad file mentioned, no good file
    for path, case in bad.items():
        got = sorted(by_path[path])
        assert [field for field, _ in got] == sorted(field for field, _ in case.expected), (path, got)
        for (_, message), (_, phrase) in zip(got, sorted(case.expected), strict=True):
            assert phrase in message, (path, message)
    assert not (tmp_path / PAYLOAD_MARKER).exists()


def test_load_results_keeps_good_files_and_collects_problems(mixed_folder: tuple[Path, dict[Path, Case]]):
    folder, bad = mixed_folder
    report = load_results([folder])
    assert report.files == len(bad) + 2
    assert sorted(r.source for r in report.results) == ["good/convergence.yaml", "good/inference.yaml"]
    assert {r.result.run.mode.value for r in report.results} == {"convergence", "inference"}
    assert report.bad_files == sorted(str(p) for p in bad)
    for path, case in bad.items():
        assert_problems([p for p in report.problems if p.path == str(path)], path, case.expected)


def test_cli_validate_valid_samples_exit_zero():
    proc = subprocess.run(
        [*_benchsite(), "validate", "tests/data/valid"], cwd=REPO, env=_cli_env(), capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "2 valid, 0 invalid result file(s) in tests/data/valid\n"
    assert proc.stderr == ""


def test_cli_validate_single_bad_file_exits_one_without_traceback(tmp_path: Path):
    proc = subprocess.run(
        [*_benchsite(), "validate", str(MALFORMED / "unordered_latency.yaml"), str(VALID / "inference.yaml")],
        cwd=tmp_path,
        env=_cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        f"{MALFORMED / 'unordered_latency.yaml'}: inference.results[2].latency_ms: p99 (10.0) must be >= p95 (12.649999999999999)",
        "benchsite validate: error: 1 problem(s) in 1 file(s)",
    ]
    assert proc.stdout.startswith("1 valid, 1 invalid result file(s) in ")
