"""The JSON Schema of a result file, ``benchsite schema``, and YAML round trips of the valid samples."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from runners.schema import (
    MAX_LATENCY_SAMPLES,
    MIGRATIONS,
    SCHEMA_VERSION,
    ResultFileError,
    SafeLoader,
    dump_result_yaml,
    json_schema,
    migrate,
    read_result,
    read_result_bytes,
    result_to_data,
    validate_data,
)

REPO = Path(__file__).resolve().parents[1]
SAMPLES = sorted((REPO / "tests" / "data" / "valid").glob("*.yaml"))
# A real run's file as benchsite wrote it before schema_version 2 (a copy of one in results/), kept as it is.
V1_INFERENCE = REPO / "tests" / "data" / "v1" / "inference.yaml"


def _validator():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


# Texts whose tag or value depends on more than the text (quoting, an explicit tag, an anchor), and tags whose
# construction fails after it started; each is loaded twice, so the second load comes from the loader's memo.
TRICKY_YAML = [
    "a: yes\nb: 'yes'\nc: !!str yes\nd: Yes",
    "a: 1\nb: '1'\nc: !!float 1\nd: !!str 1\ne: 0x1f\nf: 017\ng: 1_000\nh: 1e3\ni: 1.0e3",
    "a: .nan\nb: .inf\nc: -.inf\nd: ~\ne: null\nf: ''\ng:",
    "a: 2026-11-27\nb: 2026-11-27 01:02:03Z\nc: '2026-11-27'",
    "x: &n 5\ny: *n\nz: [*n, *n]",
    "a: !!binary aGk=",
    "a: !!seq x",
    "a: !!map x",
    "a: !!python/object:os.system x",
    "a: !custom 3",
    "a: 1\na: 2",
    "<<: {a: 1}\nb: 2",
]


def _load_or_error(text: str, safe_loader: type[yaml.SafeLoader] | type[SafeLoader]) -> str:
    """What a safe loader makes of text, as repr (1 and 1.0 are equal, but not the same value), or its error's name."""
    try:
        return repr(yaml.load(text, Loader=safe_loader))  # only ever a safe loader: PyYAML's or ours
    except yaml.YAMLError as exc:
        return type(exc).__name__


def test_the_remembering_safe_loader_loads_exactly_what_pyyaml_safe_loader_does():
    expected = [_load_or_error(text, yaml.SafeLoader) for text in TRICKY_YAML]  # the pure-Python reference
    for _ in range(2):
        assert [_load_or_error(text, SafeLoader) for text in TRICKY_YAML] == expected
    for sample in SAMPLES:
        text = sample.read_text(encoding="utf-8")
        assert yaml.load(text, Loader=SafeLoader) == yaml.load(text, Loader=yaml.SafeLoader)


def test_samples_exist():
    assert [p.name for p in SAMPLES] == ["convergence.yaml", "inference.yaml"]


def test_json_schema_is_valid_json_schema():
    _validator()  # check_schema raises SchemaError on an invalid schema


def test_json_schema_basics():
    schema = json_schema()
    json.dumps(schema)  # plain JSON
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"benchsite-result-v{SCHEMA_VERSION}.schema.json"
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) >= {"schema_version", "run", "provenance", "environment", "dataset"}
    assert schema["properties"]["schema_version"]["const"] == SCHEMA_VERSION


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.stem)
def test_valid_samples_validate_against_the_json_schema(sample: Path):
    """The JSON Schema describes a file of the current version: the committed (version 1) samples once migrated."""
    validator = _validator()
    data = migrate(yaml.safe_load(sample.read_text()), sample)
    assert list(validator.iter_errors(data)) == []
    assert list(validator.iter_errors(result_to_data(read_result(sample)))) == []


def test_json_schema_requires_schema_version_and_rejects_unknown_keys():
    validator = _validator()
    data = yaml.safe_load(SAMPLES[0].read_text())
    without = {k: v for k, v in data.items() if k != "schema_version"}
    assert any(e.validator == "required" and "schema_version" in e.message for e in validator.iter_errors(without))
    assert not validator.is_valid({**data, "schema_version": 7})
    assert not validator.is_valid({**data, "run": {**data["run"], "benchmrk": "typo"}})


def test_cli_schema_prints_the_json_schema():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-m", "generator.ops.cli", "schema"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == json_schema()


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.stem)
def test_valid_samples_round_trip(sample: Path):
    result = read_result(sample)
    text = dump_result_yaml(result)
    again = read_result_bytes(text.encode("utf-8"), sample)
    assert again == result
    assert dump_result_yaml(again) == text  # stable: a second trip writes the same bytes
    assert yaml.safe_load(text) == result_to_data(result)


# --- issue #15 item 6: a schema that can evolve ---------------------------------


def test_migrations_step_one_version_at_a_time_up_to_the_current_one():
    assert len(MIGRATIONS) == SCHEMA_VERSION - 1
    for version, step in enumerate(MIGRATIONS, start=1):
        data = {"schema_version": version, "run": {"id": "x"}}
        assert step(data) == {"schema_version": version + 1, "run": {"id": "x"}}
        assert data["schema_version"] == version  # the parsed mapping is not changed in place


def test_a_v1_file_reads_through_the_migration_as_the_current_version():
    raw = yaml.safe_load(V1_INFERENCE.read_text())
    assert raw["schema_version"] == 1 and all("latency_samples_ms" not in p for p in raw["inference"]["results"])
    result = read_result(V1_INFERENCE)
    assert result.schema_version == SCHEMA_VERSION == 3
    data = result_to_data(result)
    assert [p.pop("latency_samples_ms") for p in data["inference"]["results"]] == [None, None, None]  # not invented
    assert [p.pop("power") for p in data["inference"]["results"]] == [None, None, None]  # a later optional field: null
    assert data == {**raw, "schema_version": 3}  # and nothing else changed
    text = dump_result_yaml(result)
    assert text.startswith("schema_version: 3\n") and read_result_bytes(text.encode(), V1_INFERENCE) == result


def _with_samples(result, index: int, samples: str):
    points = list(result.inference.results)
    points[index] = points[index].model_copy(update={"latency_samples_ms": samples})
    return result.model_copy(update={"inference": result.inference.model_copy(update={"results": points})})


def test_latency_samples_round_trip_as_a_few_wide_lines_and_match_the_json_schema():
    result = read_result(V1_INFERENCE)
    count = result.inference.results[2].sample_count
    values = [round(1.5 + (i % 17) * 0.01237, 4) for i in range(count)]
    result = _with_samples(result, 2, " ".join(map(str, values)))
    text = dump_result_yaml(result)
    (line,) = [x for x in text.splitlines() if "latency_samples_ms: 1" in x]
    assert line.startswith("    latency_samples_ms: 1.5 1.5124 1.5247 ")
    assert len(text.splitlines()) < len(dump_result_yaml(read_result(V1_INFERENCE)).splitlines()) + count // 10
    again = read_result_bytes(text.encode(), V1_INFERENCE)
    assert again == result and again.inference.results[2].latency_samples() == values
    assert list(_validator().iter_errors(yaml.safe_load(text))) == []


@pytest.mark.parametrize(
    ("samples", "phrase"),
    [
        (" ".join(["1.5"] * 203), "203 samples, more than sample_count 202"),
        (" ".join(["1"] * (MAX_LATENCY_SAMPLES + 1)), f"{MAX_LATENCY_SAMPLES + 1} samples is over the {MAX_LATENCY_SAMPLES}-sample limit"),
        ("", "String should match pattern"),
        ("1.0 -0.5", "String should match pattern"),
        ("1.0 nan", "String should match pattern"),
        ("1.0  2.0", "String should match pattern"),
        ([1.0, 2.0], "Input should be a valid string"),
    ],
    ids=["over-sample-count", "over-the-limit", "empty", "negative", "nan", "two-spaces", "a-list"],
)
def test_latency_samples_are_checked_and_bounded(samples, phrase: str):
    result = read_result(V1_INFERENCE)
    assert result.inference.results[2].sample_count == 202
    data = result_to_data(result)
    data["inference"]["results"][2]["latency_samples_ms"] = samples
    with pytest.raises(ResultFileError) as info:
        validate_data(data, "f.yaml")
    (problem,) = info.value.problems
    assert problem.field.startswith("inference.results[2].latency_samples_ms") and phrase in problem.message, str(problem)
