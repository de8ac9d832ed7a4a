"""Preflight probe, run in a worker's interpreter: ``python -m runners.launch.probe FRAMEWORK DEVICE``.

Finds the framework's modules without importing them (milliseconds); only a
device that names CUDA imports the backend and asks it for the device. Prints one
JSON line: ``{"device": ...}`` or ``{"error": ...}``.
"""

from __future__ import annotations

import importlib.util
import json
import sys

# What a worker of each framework imports besides the standard library and benchsite's core
FRAMEWORK_MODULES = {
    "pytorch": ("torch", "torchvision", "timm", "numpy", "PIL"),
    "tensorflow": ("tensorflow", "numpy"),
}


def _answer(framework: str, device: str) -> dict[str, str]:
    if framework not in FRAMEWORK_MODULES:
        return {"error": f"unknown framework {framework!r}"}
    missing = [name for name in FRAMEWORK_MODULES[framework] if importlib.util.find_spec(name) is None]
    if missing:
        return {"error": f"not installed: {', '.join(missing)} (pip install -e '.[{framework}]')"}
    if not device.startswith("cuda"):
        return {"device": device}
    from runners.frameworks import get_backend

    return {"device": get_backend(framework).resolve_device(device)}


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
