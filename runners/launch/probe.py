"""Preflight probe, run in a worker's interpreter: ``python -m runners.launch.probe FRAMEWORK DEVICE``.

Finds the framework's modules without importing them (milliseconds); only a
device that names CUDA imports the backend and asks it for the device. Prints one
JSON line: ``{"device": ...}`` or ``{"error": ...}``.
"""

from __future__ import annotations

import importlib.util
import json
import sys

from runners.registry import framework_names, get_framework


def _answer(name: str, device: str) -> dict[str, str]:
    if name not in framework_names():
        return {"error": f"unknown framework {name!r}"}
    framework = get_framework(name)
    missing = [module for module in framework.modules if importlib.util.find_spec(module) is None]
    if missing:
        hint = f" (pip install -e '.[{framework.extra}]')" if framework.extra else ""
        return {"error": f"not installed: {', '.join(missing)}{hint}"}
    if not device.startswith("cuda"):
        return {"device": device}
    return {"device": framework.load_backend().resolve_device(device)}


def main(argv: list[str]) -> int:
    """Print whether ``argv[0]``'s modules are there and what device ``argv[1]`` resolves to, as JSON."""
    try:
        answer = _answer(*argv)
    except Exception as exc:  # noqa: BLE001 - any failure to import or resolve is the answer
        answer = {"error": f"{type(exc).__name__}: {' '.join(str(exc).split())}"}
    print(json.dumps(answer), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
