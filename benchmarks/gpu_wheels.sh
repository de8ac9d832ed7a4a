#!/usr/bin/env bash
# Download, here (with network), the wheels that benchmarks/gpu_check.sh installs offline on the GPU machine.
#
# That machine's python3 has torch, timm, numpy, pyyaml and nvidia-ml-py but no pydantic and no pytest;
# it has no network. This fetches pydantic and pytest with their dependencies as binary wheels for
# CPython 3.11-3.14 on manylinux x86_64 (whichever minor version it runs) into .gpu-wheels/ (git-ignored),
# which travels with the working tree. Usage, from the repository root:  bash benchmarks/gpu_wheels.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
dest=${1:-.gpu-wheels}
python=${PYTHON:-python3}
requirements=("pydantic>=2.6,<3" "pyyaml>=6" "pytest>=8" "pytest-timeout>=2.3")
mkdir -p "$dest"
for version in 3.11 3.12 3.13 3.14; do
  "$python" -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
    --python-version "$version" --implementation cp \
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
    --dest "$dest" "${requirements[@]}"
done
echo "$(ls "$dest"/*.whl | wc -l) wheels, $(du -sh "$dest" | cut -f1) in $dest:"
ls "$dest"
