"""Datasets as real image folders: digits written once from scikit-learn, or a user's ImageNet-style folder.

Framework-neutral: PyTorch and TensorFlow readers both take the folder this
module prepares and the facts (version, checksum, counts) it records.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

DIGITS_VERSION = "sklearn-digits-v1"
DIGITS_VAL_FRACTION = 0.2
DIGITS_SPLIT_SEED = 20261125
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".JPEG", ".webp", ".bmp")


class DatasetError(Exception):
    """A dataset folder that is missing or malformed."""


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    version: str
    root: Path
    checksum: str
    train_samples: int
    val_samples: int
    num_classes: int


def default_cache_dir() -> Path:
    """Where prepared datasets live: $BENCHSITE_CACHE or ~/.cache/benchsite."""
    return Path(os.environ.get("BENCHSITE_CACHE", Path.home() / ".cache" / "benchsite"))


def _write_digits(folder: Path, image_size: int) -> None:
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(DIGITS_SPLIT_SEED)
    for label in range(10):
        indices = np.flatnonzero(digits.target == label)
        rng.shuffle(indices)
        n_val = round(len(indices) * DIGITS_VAL_FRACTION)
        for split, chosen in (("val", indices[:n_val]), ("train", indices[n_val:])):
            out = folder / split / str(label)
            out.mkdir(parents=True, exist_ok=True)
            for i in chosen:
                pixels = (digits.images[i] * (255.0 / 16.0)).clip(0, 255).astype("uint8")
                image = Image.fromarray(pixels, mode="L").resize((image_size, image_size), Image.Resampling.BILINEAR)
                image.convert("RGB").save(out / f"{i:04d}.png", optimize=False)


def prepare_digits(cache_dir: Path | None = None, image_size: int = 32) -> DatasetInfo:
    """Write scikit-learn's digits as ``train/<class>/*.png`` and ``val/<class>/*.png`` once; return its facts."""
    root = (cache_dir or default_cache_dir()) / "datasets" / f"{DIGITS_VERSION}-{image_size}px"
    if not (root / ".complete").is_file():
        root.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".digits-", dir=root.parent))
        try:
            _write_digits(staging, image_size)
            (staging / ".complete").write_text(DIGITS_VERSION + "\n")
            try:
                staging.rename(root)
            except OSError:  # another process finished first; use its copy
                if not (root / ".complete").is_file():
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return describe_image_folder(root, name="digits", version=DIGITS_VERSION)


def _images(split_dir: Path) -> list[Path]:
    return sorted(p for p in split_dir.rglob("*") if p.suffix in IMAGE_SUFFIXES and p.is_file())


def describe_image_folder(root: Path, name: str, version: str, checksum_files: bool = True) -> DatasetInfo:
    """Count an image folder and checksum its listing (and, for small folders, its bytes)."""
    root = Path(root)
    for split in ("train", "val"):
        if not (root / split).is_dir():
            raise DatasetError(f"{root}: expected an ImageNet-style folder with {split}/<class>/<image> inside")
    train, val = _images(root / "train"), _images(root / "val")
    classes = sorted(p.name for p in (root / "train").iterdir() if p.is_dir())
    if not train or not val or len(classes) < 2:
        raise DatasetError(f"{root}: needs images under train/ and val/ in at least two class folders")
    digest = hashlib.sha256()
    for path in (*train, *val):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        # Hashing every byte of ImageNet (150 GB) would take longer than a run; the listing
        # and sizes identify it, the bytes are hashed only for small folders like digits.
        digest.update(path.read_bytes() if checksum_files else str(path.stat().st_size).encode())
    return DatasetInfo(name, version, root, "sha256:" + digest.hexdigest(), len(train), len(val), len(classes))
