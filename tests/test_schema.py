"""The JSON Schema of a result file, ``benchsite schema``, and YAML round trips of the valid samples."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from runners.schema import SCHEMA_VERSION, dump_result_yaml, json_schema, read_result, read_result_bytes, result_to_data

REPO = Path(__file__).resolve().parents[1]
SAMPLES = sorted((REPO / "tests" / "data" / "valid").glob("*.yaml"))


def _validator():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


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
    validator = _validator()
    data = yaml.safe_load(sample.read_text())
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
