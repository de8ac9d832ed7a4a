"""A toy framework for benchsite's tests: a NumPy reference backend that trains a logistic regression on digits.

One module plus one entry-point line (``benchsite.frameworks``) is all it takes
to add a framework: nothing in benchsite lists it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from runners.frameworks.base import Backend, Diverged, EpochStats, EvalStats, UnsupportedPrecision
from runners.registry import Framework

FRAMEWORK = Framework(
    name="numpy-ref",
    title="NumPy reference",
    backend="benchsite_toy_numpy:NumpyBackend",
    packages=("numpy", "pillow"),
    modules=("numpy", "PIL"),
    versioned_by=("numpy",),
    precisions=("fp32",),
    extra="",
)


def _read_split(folder: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Every image of an image folder as a row of grey values in [0, 1], with its label and the class names."""
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    rows, labels = [], []
    for label, name in enumerate(classes):
        for path in sorted((folder / name).glob("*.png")):
            rows.append(np.asarray(Image.open(path).convert("L"), dtype=np.float32).ravel() / 255.0)
            labels.append(label)
    return np.stack(rows), np.asarray(labels), classes


class NumpyBackend(Backend):
    name = "numpy-ref"
    timer = "time.perf_counter"

    @classmethod
    def resolve_device(cls, requested: str) -> str:
        if requested not in ("auto", "cpu"):
            raise UnsupportedPrecision(f"the NumPy reference runs on the CPU only, not {requested!r}")
        return "cpu"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.check_precision()
        self.rng = np.random.default_rng(self.spec.seed)

    def precision_flags(self) -> dict[str, Any]:
        return {"precision": self.spec.precision, "dtype": "float32"}

    def build_model(self, train: bool) -> None:
        size = self.spec.benchmark.dataset.image_size
        self.weights_matrix = np.zeros((size * size, self.num_classes), dtype=np.float32)
        self.bias = np.zeros(self.num_classes, dtype=np.float32)
        self.lr = self.scaled_lr()

    def open_data(self) -> None:
        self.train_x, self.train_y, _ = _read_split(self.dataset.root / "train")
        self.val_x, self.val_y, self.classes = _read_split(self.dataset.root / "val")

    def _logits(self, x: np.ndarray) -> np.ndarray:
        return x @ self.weights_matrix + self.bias

    def train_epoch(self, epoch: int, total_epochs: int) -> EpochStats:
        batch = self.spec.benchmark.training.batch_size
        order = np.random.default_rng(self.epoch_seed(epoch)).permutation(len(self.train_y))
        losses = []
        began = time.perf_counter()
        for start in range(0, len(order) - batch + 1, batch):
            x, y = self.train_x[order[start : start + batch]], self.train_y[order[start : start + batch]]
            logits = self._logits(x)
            probs = np.exp(logits - logits.max(axis=1, keepdims=True))
            probs /= probs.sum(axis=1, keepdims=True)
            losses.append(float(-np.log(probs[np.arange(len(y)), y] + 1e-12).mean()))
            probs[np.arange(len(y)), y] -= 1.0
            self.weights_matrix -= self.lr * (x.T @ probs) / len(y)
            self.bias -= self.lr * probs.mean(axis=0)
        loss = float(np.mean(losses))
        if not np.isfinite(loss):
            raise Diverged(f"training loss became {loss} in epoch {epoch}")
        steps = len(losses)
        elapsed = time.perf_counter() - began
        return EpochStats(samples=steps * batch, steps=steps, loss_mean=loss, time_s=elapsed, data_time_s=0.0, lr=self.lr)

    def evaluate(self) -> EvalStats:
        predicted = self._logits(self.val_x).argmax(axis=1)
        hits = predicted == self.val_y
        per_class = [
            (name, int((self.val_y == i).sum()), {"top1": float(hits[self.val_y == i].mean())}) for i, name in enumerate(self.classes)
        ]
        return EvalStats({"top1": float(hits.mean())}, per_class)

    def inference_batch(self, batch_size: int) -> np.ndarray:
        if self.dataset is None:  # --synthetic
            size = self.spec.benchmark.dataset.image_size
            return self.rng.random((batch_size, size * size), dtype=np.float32)
        val_x = _read_split(self.dataset.root / "val")[0]
        return val_x[np.arange(batch_size) % len(val_x)]

    def infer(self, batch: np.ndarray) -> None:
        self._logits(batch).argmax(axis=1)
