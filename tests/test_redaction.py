"""Secrets in the environment never reach a result file: a worker that prints them has them redacted from its record."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from conftest import run_cli

from runners.environment import Redactor, redact, redactor
from runners.schema import Status, iter_result_files, read_result

TOKEN = "hf_SECRETtokenVALUE123456"
UNLISTED = "an-unlisted-value-long-enough"
SHORT = "abc1234"  # off the allowlist but under 8 characters: ordinary text, kept


def test_secret_named_and_long_unlisted_values_are_redacted():
    env = {
        "HF_TOKEN": TOKEN,
        "DB_PASSWORD": "pw-9876",
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI",
        "SOME_CREDENTIALS": "cred-1234",
        "MY_SETTING": UNLISTED,
        "SHORTY": SHORT,
        "OMP_NUM_THREADS": "12345678",  # on the allowlist: recorded, so not a secret
        "HOME": "/home/someone",  # known not to be secret: paths in a traceback stay readable
        "BENCHSITE_CACHE": "/srv/cache/benchsite",
        "BENCHSITE_API_TOKEN": "tok-4567",  # a secret-looking name is redacted whatever its prefix
    }
    text = f"token={TOKEN} pw=pw-9876 aws=wJalrXUtnFEMI c=cred-1234 s={UNLISTED} short={SHORT} omp=12345678"
    text += " /home/someone/x /srv/cache/benchsite/y tok-4567"
    assert Redactor(env)(text) == (
        "token=[HF_TOKEN redacted] pw=[DB_PASSWORD redacted] aws=[AWS_SECRET_ACCESS_KEY redacted] "
        f"c=[SOME_CREDENTIALS redacted] s=[MY_SETTING redacted] short={SHORT} omp=12345678"
        " /home/someone/x /srv/cache/benchsite/y [BENCHSITE_API_TOKEN redacted]"
    )


def test_a_record_assembled_in_this_process_redacts_its_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("BENCHSITE_TEST_API_KEY", TOKEN)
    redactor.cache_clear()
    try:
        assert redact(f"RuntimeError: bad key {TOKEN}") == "RuntimeError: bad key [BENCHSITE_TEST_API_KEY redacted]"
    finally:
        monkeypatch.delenv("BENCHSITE_TEST_API_KEY")
        redactor.cache_clear()


@pytest.mark.slow
def test_a_worker_that_prints_secrets_leaves_none_in_its_record(tmp_path: Path, dataset_cache: Path):
    """The worker is a real process that prints a token and its whole environment, then dies."""
    worker = tmp_path / "leaky-python"
    worker.write_text(  # the preflight probe runs in the real interpreter; the run itself leaks and dies
        f'#!/bin/sh\n[ "$2" = runners.launch.probe ] && exec {sys.executable} "$@"\n'
        'env\necho "loading model with token $HF_TOKEN"\necho "setting $MY_SETTING"\nexit 3\n'
    )
    worker.chmod(0o755)
    suite = tmp_path / "leaky.yaml"
    suite.write_text(
        "name: leaky\ndescription: a worker that prints its environment\n"
        f"python: {{pytorch: {worker}}}\nbenchmarks:\n"
        "  - {name: leaky, title: t, model: M, description: d, implementations: {pytorch: test_resnet},\n"
        "     dataset: {name: digits, image_size: 16, num_classes: 10}, quality_target: {value: 0.5}, modes: [inference],\n"
        "     training: {batch_size: 8, lr: 0.1, max_epochs: 1},\n"
        "     inference: {batch_sizes: [1], warmup_iterations: 1, min_iterations: 5, min_time_s: 0}}\n"
    )
    env_before = dict(os.environ)
    os.environ.update(HF_TOKEN=TOKEN, MY_SETTING=UNLISTED)
    try:
        proc = run_cli(["run", "--suite", str(suite), "--results", str(tmp_path / "r")], dataset_cache)
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    (path,) = iter_result_files(tmp_path / "r")
    record = read_result(path)
    assert record.run.status is Status.failed
    assert "loading model with token [HF_TOKEN redacted]" in record.run.error
    assert "setting [MY_SETTING redacted]" in record.run.error
    text = path.read_text()
    assert TOKEN not in text and UNLISTED not in text
    assert TOKEN not in proc.stdout + proc.stderr
