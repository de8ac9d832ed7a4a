"""Check the whole plan before the first run: results folder, data folders, device and frameworks.

A wrong ``--data`` or a missing framework is found here, in one line, instead of
one failed record per run after every run has started.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from runners.record import RunSpec
from runners.suites import SuiteError
from runners.writing import check_writable

PROBE_TIMEOUT_S = 300.0
DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")
REPO_ROOT = Path(__file__).resolve().parents[2]


class PreflightError(SuiteError):
    """The plan cannot run on this machine as asked; the message says why in one line."""


def check_results_folder(folder: Path) -> None:
    """Refuse a results folder that cannot take a file (read-only, full, not a folder)."""
    try:
        check_writable(folder)
    except OSError as exc:
        raise PreflightError(f"results folder {folder} is not writable: {exc.strerror or exc}") from None


def check_image_folder(root: Path | None, spec: RunSpec) -> None:
    """Refuse a missing --data or one that does not look like train/<class>/*, val/<class>/*."""
    bench = spec.benchmark
    if root is None:
        raise PreflightError(
            f"benchmark {bench.name!r} reads an image folder: pass --data /path/to/imagenet (train/<class>/*, val/<class>/*)"
        )
    if not root.is_dir():
        raise PreflightError(f"--data {root}: no such folder")
    for split in ("train", "val"):
        folder = root / split
        classes = sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
        if not classes:
            raise PreflightError(f"--data {root}: expected {split}/<class>/ folders of images, found none in {folder}")
        if not any(p.is_file() for p in classes[0].iterdir()):
            raise PreflightError(f"--data {root}: {classes[0]} holds no files; expected {split}/<class>/<image>")
        expected = bench.dataset.num_classes
        if split == "train" and expected and len(classes) != expected:
            raise PreflightError(f"--data {root}: {split}/ has {len(classes)} class folders; benchmark {bench.name!r} expects {expected}")


def interpreter(spec: RunSpec) -> str:
    """The python that runs ``spec``'s worker: the suite's for its framework, else this one."""
    return spec.benchmark.python.get(spec.framework) or sys.executable


def check_framework(python: str, framework: str, device: str) -> str:
    """Find ``framework``'s modules in ``python`` and resolve ``device`` there; return the device it resolves to."""
    if not os.access(python, os.X_OK):
        raise PreflightError(f"python for {framework} is not an executable: {python}")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    try:
        proc = subprocess.run(
            [python, "-m", "runners.launch.probe", framework, device],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            env=env,
            timeout=PROBE_TIMEOUT_S,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PreflightError(f"{framework} in {python}: cannot start: {exc}") from None
    lines = proc.stdout.strip().splitlines()
    try:
        answer = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        last = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        raise PreflightError(f"{framework} cannot be checked in {python}: {last}") from None
    if "error" in answer:
        raise PreflightError(f"{framework} in {python}: {answer['error']}")
    return answer["device"]


def preflight(specs: list[RunSpec], results_dir: Path, device: str) -> None:
    """Check everything the planned runs need; raise PreflightError naming the first thing missing."""
    if not DEVICE.match(device):
        raise PreflightError(f"--device {device!r}: expected auto, cpu, cuda or cuda:N")
    check_results_folder(results_dir)
    for spec in specs:
        if spec.benchmark.dataset.reader == "imagefolder" and not spec.synthetic:
            check_image_folder(spec.data_dir, spec)
    for python, framework in sorted({(interpreter(s), s.framework) for s in specs}):
        check_framework(python, framework, device)
