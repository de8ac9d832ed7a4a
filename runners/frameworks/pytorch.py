"""PyTorch backend: timm models (pretrained=False), torchvision ImageFolder data, SGD with a cosine schedule."""

from __future__ import annotations

import contextlib
import math
import random
import time
from typing import Any

import numpy as np
import timm
import torch
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from runners.frameworks.base import Backend, Diverged, EpochStats, EvalStats, OutOfMemory, UnsupportedPrecision

AMP_DTYPES = {"amp-fp16": torch.float16, "amp-bf16": torch.bfloat16}
PRECISIONS = ("fp32", "tf32", *AMP_DTYPES)
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch so a run repeats."""
    random.seed(seed)
    np.random.seed(seed)  # also seeds libraries that use NumPy's legacy global state
    torch.manual_seed(seed)


def _transforms(dataset_name: str, size: int) -> tuple[Any, Any]:
    if dataset_name == "digits":  # small grey digits: light geometric jitter only
        norm = transforms.Normalize((0.5,) * 3, (0.5,) * 3)
        train = transforms.Compose([transforms.RandomAffine(8, translate=(0.08, 0.08)), transforms.ToTensor(), norm])
        return train, transforms.Compose([transforms.ToTensor(), norm])
    norm = transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)
    train = transforms.Compose(
        [
            transforms.RandomResizedCrop(size, scale=(0.08, 1.0)),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            norm,
        ]
    )
    val = transforms.Compose([transforms.Resize(round(size * 256 / 224)), transforms.CenterCrop(size), transforms.ToTensor(), norm])
    return train, val


class PyTorchBackend(Backend):
    name = "pytorch"
    timer = "time.perf_counter+synchronize"

    @classmethod
    def resolve_device(cls, requested: str) -> str:
        if requested == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        if requested.startswith("cuda") and not torch.cuda.is_available():
            raise UnsupportedPrecision("device 'cuda' requested but torch sees no CUDA device")
        return requested

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        precision = self.spec.precision
        if precision not in PRECISIONS:
            known = ", ".join(PRECISIONS)
            raise UnsupportedPrecision(f"precision {precision!r} is not supported by the PyTorch runner; use one of {known}")
        if precision == "tf32" and not self.device.startswith("cuda"):
            raise UnsupportedPrecision("tf32 needs an NVIDIA GPU (Ampere or newer); this run is on the CPU")
        allow_tf32 = precision == "tf32"
        torch.backends.cuda.matmul.allow_tf32 = allow_tf32
        torch.backends.cudnn.allow_tf32 = allow_tf32
        torch.set_float32_matmul_precision("high" if allow_tf32 else "highest")
        self.autocast_dtype = AMP_DTYPES.get(precision)
        self.scaler = torch.amp.GradScaler(self.device.split(":")[0], enabled=precision == "amp-fp16")
        self.torch_device = torch.device(self.device)
        seed_everything(self.spec.seed)

    def precision_flags(self) -> dict[str, Any]:
        return {
            "precision": self.spec.precision,
            "cuda.matmul.allow_tf32": torch.backends.cuda.matmul.allow_tf32,
            "cudnn.allow_tf32": torch.backends.cudnn.allow_tf32,
            "float32_matmul_precision": torch.get_float32_matmul_precision(),
            "autocast_dtype": str(self.autocast_dtype).removeprefix("torch.") if self.autocast_dtype else None,
            "grad_scaler": self.scaler.is_enabled(),
            "cudnn.benchmark": torch.backends.cudnn.benchmark,
            "threads": torch.get_num_threads(),
        }

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.split(":")[0], dtype=self.autocast_dtype)

    # --- model and data -----------------------------------------------------

    def build_model(self, train: bool) -> None:
        bench = self.spec.benchmark
        num_classes = self.dataset.num_classes if self.dataset else (bench.dataset.num_classes or 1000)
        self.model = timm.create_model(bench.implementations["pytorch"], pretrained=False, num_classes=num_classes)
        self.model.to(self.torch_device)
        if not train:
            self.model.eval()
            return
        cfg = bench.training
        decay, no_decay = [], []
        for param in self.model.parameters():  # no weight decay on batch-norm weights and biases (1-D tensors)
            (no_decay if param.ndim <= 1 and not cfg.bn_weight_decay else decay).append(param)
        self.base_lr = cfg.lr * self.global_batch / cfg.lr_reference_batch
        self.optimizer = torch.optim.SGD(
            [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=self.base_lr,
            momentum=cfg.momentum,
            nesterov=cfg.nesterov,
        )
        self.criterion = torch.nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)

    @property
    def global_batch(self) -> int:
        cfg = self.spec.benchmark.training
        return cfg.batch_size * cfg.grad_accum_steps * self.spec.launch.world_size

    def open_data(self) -> None:
        cfg = self.spec.benchmark.training
        train_tf, val_tf = _transforms(self.dataset.name, self.spec.benchmark.dataset.image_size)
        self.train_set = datasets.ImageFolder(self.dataset.root / "train", train_tf)
        self.val_set = datasets.ImageFolder(self.dataset.root / "val", val_tf)
        generator = torch.Generator().manual_seed(self.spec.seed)
        pin = self.device.startswith("cuda")
        self.train_loader = DataLoader(
            self.train_set,
            batch_size=cfg.batch_size,
            shuffle=True,
            drop_last=True,
            num_workers=cfg.workers,
            generator=generator,
            pin_memory=pin,
        )
        self.val_loader = DataLoader(
            self.val_set, batch_size=max(cfg.batch_size, 128), shuffle=False, num_workers=cfg.workers, pin_memory=pin
        )
        self.steps_per_epoch = len(self.train_loader) // cfg.grad_accum_steps

    # --- training -------------------------------------------------------------

    def _lr_at(self, step: int, total_steps: int) -> float:
        cfg = self.spec.benchmark.training
        warmup = cfg.warmup_epochs * self.steps_per_epoch
        if step < warmup:
            return self.base_lr * (step + 1) / warmup
        if cfg.schedule == "constant":
            return self.base_lr
        progress = (step - warmup) / max(1, total_steps - warmup)
        return self.base_lr * 0.5 * (1 + math.cos(math.pi * progress))

    def _sync(self) -> None:
        if self.device.startswith("cuda"):
            torch.cuda.synchronize(self.torch_device)

    def train_epoch(self, epoch: int, total_epochs: int) -> EpochStats:
        cfg = self.spec.benchmark.training
        self.model.train()
        total_steps = total_epochs * self.steps_per_epoch
        step = (epoch - 1) * self.steps_per_epoch
        losses: list[torch.Tensor] = []
        samples = data_time = 0.0
        lr = self._lr_at(step, total_steps)
        start = time.perf_counter()
        waited = start
        try:
            for i, (images, labels) in enumerate(self.train_loader):
                data_time += time.perf_counter() - waited
                images = images.to(self.torch_device, non_blocking=True)
                labels = labels.to(self.torch_device, non_blocking=True)
                with self._autocast():
                    loss = self.criterion(self.model(images), labels) / cfg.grad_accum_steps
                self.scaler.scale(loss).backward()
                losses.append(loss.detach() * cfg.grad_accum_steps)
                samples += images.shape[0]
                if (i + 1) % cfg.grad_accum_steps == 0:
                    lr = self._lr_at(step, total_steps)
                    for group in self.optimizer.param_groups:
                        group["lr"] = lr
                    self.scaler.step(self.optimizer)
                    self.scaler.update()
                    self.optimizer.zero_grad(set_to_none=True)
                    step += 1
                waited = time.perf_counter()
            self._sync()
        except torch.OutOfMemoryError as exc:
            raise OutOfMemory(f"out of memory in epoch {epoch}: {exc}") from exc
        elapsed = time.perf_counter() - start
        loss_mean = float(torch.stack(losses).mean()) if losses else float("nan")
        if not math.isfinite(loss_mean):
            raise Diverged(f"training loss became {loss_mean} in epoch {epoch} (lr {lr:.4g})")
        return EpochStats(int(samples), len(losses), loss_mean, elapsed, data_time, lr)

    @torch.inference_mode()
    def evaluate(self) -> EvalStats:
        self.model.eval()
        num_classes = len(self.val_set.classes)
        k = min(5, num_classes)
        correct1 = correct5 = 0
        loss_sum = 0.0
        per_class_total = torch.zeros(num_classes, dtype=torch.long)
        per_class_correct = torch.zeros(num_classes, dtype=torch.long)
        for images, labels in self.val_loader:
            images, labels = images.to(self.torch_device), labels.to(self.torch_device)
            with self._autocast():
                logits = self.model(images)
            loss_sum += float(torch.nn.functional.cross_entropy(logits.float(), labels, reduction="sum"))
            top = logits.topk(k, dim=1).indices
            hit1 = (top[:, 0] == labels).cpu()
            correct1 += int(hit1.sum())
            correct5 += int((top == labels[:, None]).any(dim=1).sum())
            per_class_total += torch.bincount(labels.cpu(), minlength=num_classes)
            per_class_correct += torch.bincount(labels.cpu()[hit1], minlength=num_classes)
        n = len(self.val_set)
        metrics = {"top1": correct1 / n, f"top{k}": correct5 / n, "loss": loss_sum / n}
        subjects = [
            (name, int(per_class_total[i]), {"top1": float(per_class_correct[i]) / max(1, int(per_class_total[i]))})
            for i, name in enumerate(self.val_set.classes)
        ]
        return EvalStats(metrics, subjects)

    # --- inference ------------------------------------------------------------

    def inference_batch(self, batch_size: int) -> torch.Tensor:
        _, val_tf = _transforms(self.dataset.name, self.spec.benchmark.dataset.image_size)
        val_set = datasets.ImageFolder(self.dataset.root / "val", val_tf)
        images = [val_set[i % len(val_set)][0] for i in range(batch_size)]
        batch = torch.stack(images).to(self.torch_device)
        return batch

    @torch.inference_mode()
    def infer(self, batch: torch.Tensor) -> None:
        try:
            with self._autocast():
                self.model(batch)
            self._sync()
        except torch.OutOfMemoryError as exc:
            raise OutOfMemory(f"out of memory at batch {batch.shape[0]}: {exc}") from exc

    def memory_peaks_mib(self) -> tuple[float | None, float | None]:
        if not self.device.startswith("cuda"):
            return None, None
        return torch.cuda.max_memory_allocated() / 2**20, torch.cuda.max_memory_reserved() / 2**20
