"""PyTorch backend: timm models (pretrained=False), torchvision ImageFolder data, SGD or RMSprop with a cosine schedule.

Multi-process runs come from torchrun: the backend joins the process group
that torchrun's environment describes (NCCL on GPU, gloo on CPU) and wraps the
model in DistributedDataParallel. Needs only torch, torchvision, timm, numpy
and the schema module.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import timm
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler
from torchvision import datasets, transforms

from runners import testhooks
from runners.checkpoints import latest_checkpoint, save_checkpoint_unit, write_json_atomic
from runners.frameworks import torch_models
from runners.frameworks.base import RANDOM_INIT, Backend, Diverged, EpochStats, EvalStats, StepStats, UnsupportedPrecision
from runners.schema import atomic_path

if TYPE_CHECKING:
    from runners.suites import TrainingSpec

AMP_DTYPES = {"amp-fp16": torch.float16, "amp-bf16": torch.bfloat16}
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
INT8_CALIBRATION_BATCHES = 8


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch so a run repeats."""
    random.seed(seed)
    np.random.seed(seed)  # also seeds libraries that use NumPy's legacy global state
    torch.manual_seed(seed)


def create_model(name: str, num_classes: int) -> torch.nn.Module:
    """A model by name with random weights: benchsite's own models, then timm's registry (never downloads weights)."""
    if name in torch_models.MODELS:
        return torch_models.MODELS[name](num_classes)
    return timm.create_model(name, pretrained=False, num_classes=num_classes)


OPTIMIZERS: dict[str, Callable[[list[dict[str, Any]], float, TrainingSpec], torch.optim.Optimizer]] = {
    "sgd": lambda groups, lr, cfg: torch.optim.SGD(groups, lr=lr, momentum=cfg.momentum, nesterov=cfg.nesterov),
    "rmsprop": lambda groups, lr, cfg: torch.optim.RMSprop(
        groups, lr=lr, alpha=cfg.rmsprop_alpha, eps=cfg.rmsprop_eps, momentum=cfg.momentum
    ),
}


def _transforms(dataset_name: str, size: int) -> tuple[Any, Any]:
    if dataset_name == "digits":  # small grey digits: light geometric jitter only
        norm = transforms.Normalize((0.5,) * 3, (0.5,) * 3)
        train = transforms.Compose([transforms.RandomAffine(8, translate=(0.08, 0.08)), transforms.ToTensor(), norm])
        return train, transforms.Compose([transforms.ToTensor(), norm])
    norm = transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)
    train = transforms.Compose(
        [transforms.RandomResizedCrop(size, scale=(0.08, 1.0)), transforms.RandomHorizontalFlip(), transforms.ToTensor(), norm]
    )
    val = transforms.Compose([transforms.Resize(round(size * 256 / 224)), transforms.CenterCrop(size), transforms.ToTensor(), norm])
    return train, val


def _install_test_hook(model: torch.nn.Module) -> None:
    hook = testhooks.active()
    if hook == "oom":

        def raise_oom(module: torch.nn.Module, args: Any) -> None:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 80.00 GiB (raised by BENCHSITE_TEST_HOOK=oom)")

        model.register_forward_pre_hook(raise_oom)
    elif hook == "crash":

        def raise_crash(module: torch.nn.Module, args: Any) -> None:
            raise RuntimeError("crash inside the model's forward (raised by BENCHSITE_TEST_HOOK=crash)")

        model.register_forward_pre_hook(raise_crash)


class PyTorchBackend(Backend):
    name = "pytorch"
    oom_errors = (torch.OutOfMemoryError,)
    weights_file = "weights.pt"

    @classmethod
    def resolve_device(cls, requested: str) -> str:
        if requested == "auto":
            requested = "cuda" if torch.cuda.is_available() else "cpu"
        if requested.startswith("cuda") and not torch.cuda.is_available():
            raise UnsupportedPrecision("device 'cuda' requested but torch sees no CUDA device")
        if requested == "cuda" and "LOCAL_RANK" in os.environ:
            return f"cuda:{int(os.environ['LOCAL_RANK'])}"
        return requested

    def library_versions(self) -> dict[str, str]:
        if not self.device.startswith("cuda"):
            return {}
        versions = {"cuda": torch.version.cuda or "", "cudnn": str(torch.backends.cudnn.version() or "")}
        with contextlib.suppress(AttributeError, RuntimeError):  # a build without NCCL
            versions["nccl"] = ".".join(map(str, torch.cuda.nccl.version()))
        return {name: version for name, version in versions.items() if version}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        precision, on_gpu = self.spec.precision, self.device.startswith("cuda")
        if precision == "int8" and on_gpu:
            raise UnsupportedPrecision("int8 on the GPU needs a backend such as TensorRT or torchao, which is not installed")
        self.check_precision()
        allow_tf32 = precision == "tf32"
        torch.backends.cuda.matmul.allow_tf32 = allow_tf32
        torch.backends.cudnn.allow_tf32 = allow_tf32
        torch.set_float32_matmul_precision("high" if allow_tf32 else "highest")
        torch.backends.cudnn.benchmark = self.spec.benchmark.options.cudnn_benchmark
        self.autocast_dtype = AMP_DTYPES.get(precision)
        self.scaler = torch.amp.GradScaler(self.device.split(":")[0], enabled=precision == "amp-fp16")
        self.torch_device = torch.device(self.device)
        if on_gpu:
            if self.torch_device.index is None:  # set_device and DDP's device_ids need an index: plain 'cuda' is the current one
                self.torch_device = torch.device("cuda", torch.cuda.current_device())
            torch.cuda.set_device(self.torch_device)
        self.world = self.spec.launch.world_size
        # torchrun means DDP, even for one process: a 1-GPU torchrun run times the code path of the 8-GPU one
        self.distributed = self.world > 1 or self.spec.launch.engine == "torchrun"
        if self.distributed and not dist.is_initialized():
            dist.init_process_group(backend="nccl" if on_gpu else "gloo")
        self.rank = dist.get_rank() if self.distributed else 0
        seed_everything(self.spec.seed + self.rank)
        self.memory_format = torch.channels_last if self.spec.benchmark.options.channels_last else torch.contiguous_format

    def precision_flags(self) -> dict[str, Any]:
        return {
            "precision": self.spec.precision,
            "cuda.matmul.allow_tf32": torch.backends.cuda.matmul.allow_tf32,
            "cudnn.allow_tf32": torch.backends.cudnn.allow_tf32,
            "float32_matmul_precision": torch.get_float32_matmul_precision(),
            "autocast_dtype": str(self.autocast_dtype).removeprefix("torch.") if self.autocast_dtype else None,
            "grad_scaler": self.scaler.is_enabled(),
            "quantization": "fx post-training static, x86 qconfig" if self.spec.precision == "int8" else None,
            "threads": torch.get_num_threads(),
        }

    def options(self) -> dict[str, Any]:
        return {**super().options(), "cudnn_benchmark": torch.backends.cudnn.benchmark, "ddp": self.distributed}

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.split(":")[0], dtype=self.autocast_dtype)

    def _sync(self) -> None:
        if self.device.startswith("cuda"):
            torch.cuda.synchronize(self.torch_device)

    def _to_device(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        images = images.to(self.torch_device, non_blocking=True).contiguous(memory_format=self.memory_format)
        return images, labels.to(self.torch_device, non_blocking=True)

    # --- model ------------------------------------------------------------------

    def build_model(self, train: bool) -> None:
        self.model = create_model(self.spec.benchmark.implementations["pytorch"], self.num_classes)
        self.model.to(self.torch_device, memory_format=self.memory_format)
        _install_test_hook(self.model)
        self.compile_time_s = None
        if not train:
            self.model.eval()
            self.forward_model = self.model
            if self.dataset is not None:  # real data: time the trained weights, if a convergence run left them
                self.weights = self.load_trained_weights() or RANDOM_INIT
            if self.spec.precision == "int8":
                self._quantize()
            elif self.spec.benchmark.options.compile:
                self.forward_model = torch.compile(self.model)
            return
        cfg = self.spec.benchmark.training
        decay, no_decay = [], []
        for param in self.model.parameters():  # no weight decay on batch-norm weights and biases (1-D tensors)
            (no_decay if param.ndim <= 1 and not cfg.bn_weight_decay else decay).append(param)
        self.base_lr = self.scaled_lr()
        groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        self.optimizer = OPTIMIZERS[cfg.optimizer](groups, self.base_lr, cfg)
        self.criterion = torch.nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
        self.train_model: torch.nn.Module = self.model
        if self.distributed:
            device_ids = [self.torch_device.index] if self.device.startswith("cuda") else None
            self.train_model = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=device_ids)
        if self.spec.benchmark.options.compile:
            self.train_model = torch.compile(self.train_model)

    # --- data -------------------------------------------------------------------

    def _loader(self, folder: Path, transform: Any, train: bool) -> DataLoader:
        cfg = self.spec.benchmark.training
        dataset = datasets.ImageFolder(folder, transform)
        sampler = DistributedSampler(dataset, shuffle=True, seed=self.spec.seed) if train and self.world > 1 else None
        generator = torch.Generator().manual_seed(self.spec.seed)
        return DataLoader(
            dataset,
            batch_size=cfg.batch_size if train else max(cfg.batch_size, 128),
            shuffle=train and sampler is None,
            sampler=sampler,
            drop_last=train,
            num_workers=cfg.workers,
            generator=generator,
            pin_memory=self.device.startswith("cuda"),
            persistent_workers=cfg.workers > 0,
        )

    def open_data(self) -> None:
        train_tf, val_tf = _transforms(self.dataset.name, self.spec.benchmark.dataset.image_size)
        self.train_loader = self._loader(self.dataset.root / "train", train_tf, train=True)
        self.val_loader = self._loader(self.dataset.root / "val", val_tf, train=False)
        self.val_set = self.val_loader.dataset
        self.steps_per_epoch = len(self.train_loader) // self.spec.benchmark.training.grad_accum_steps

    def open_throughput_data(self, synthetic: bool) -> None:
        cfg, size = self.spec.benchmark.training, self.spec.benchmark.dataset.image_size
        if synthetic:
            images = torch.randn(cfg.batch_size, 3, size, size)
            labels = torch.randint(0, self.num_classes, (cfg.batch_size,))
            self.cached_batch = self._to_device(images, labels)
            self.stream = itertools.repeat(self.cached_batch)
            return
        self.open_data()
        batches = (self._to_device(*batch) for _ in itertools.count() for batch in self.train_loader)
        self.cached_batch = next(batches)
        self.stream = batches

    # --- training ---------------------------------------------------------------

    def _lr_at(self, step: int, total_steps: int) -> float:
        cfg = self.spec.benchmark.training
        warmup = cfg.warmup_epochs * self.steps_per_epoch
        if step < warmup:
            return self.base_lr * (step + 1) / warmup
        if cfg.schedule == "constant":
            return self.base_lr
        progress = (step - warmup) / max(1, total_steps - warmup)
        return self.base_lr * 0.5 * (1 + math.cos(math.pi * progress))

    def _step(self, images: torch.Tensor, labels: torch.Tensor, accumulate: int, apply: bool) -> torch.Tensor:
        with self._autocast():
            loss = self.criterion(self.train_model(images), labels) / accumulate
        self.scaler.scale(loss).backward()
        if apply:
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.optimizer.zero_grad(set_to_none=True)
        return loss.detach() * accumulate

    def train_epoch(self, epoch: int, total_epochs: int) -> EpochStats:
        accumulate = self.spec.benchmark.training.grad_accum_steps
        self.train_model.train()
        if isinstance(self.train_loader.sampler, DistributedSampler):
            self.train_loader.sampler.set_epoch(epoch)
        else:  # shuffle by (seed, epoch) as DistributedSampler does: a resumed run sees the order it would have
            self.train_loader.generator.manual_seed(self.epoch_seed(epoch))
        total_steps = total_epochs * self.steps_per_epoch
        step = (epoch - 1) * self.steps_per_epoch
        losses: list[torch.Tensor] = []
        samples, data_time = 0, 0.0
        lr = self._lr_at(step, total_steps)
        start = waited = time.perf_counter()
        with self.oom_as_status(f"in epoch {epoch}"):
            # whole optimizer steps only: a last micro-batch short of a step would leak into the next epoch
            for i, batch in enumerate(itertools.islice(self.train_loader, self.steps_per_epoch * accumulate)):
                data_time += time.perf_counter() - waited
                images, labels = self._to_device(*batch)
                apply = (i + 1) % accumulate == 0
                if apply:
                    lr = self._lr_at(step, total_steps)
                    for group in self.optimizer.param_groups:
                        group["lr"] = lr
                    step += 1
                losses.append(self._step(images, labels, accumulate, apply))
                samples += images.shape[0]
                waited = time.perf_counter()
            self._sync()
        elapsed = time.perf_counter() - start
        loss_mean = float(torch.stack(losses).mean()) if losses else float("nan")
        if not math.isfinite(loss_mean):
            raise Diverged(f"training loss became {loss_mean} in epoch {epoch} (lr {lr:.4g})")
        return EpochStats(samples * self.world, len(losses), loss_mean, elapsed, data_time, lr)

    def train_steps(self, steps: int, cached_batch: bool) -> StepStats:
        self.train_model.train()
        data_time = 0.0
        with self.oom_as_status("in a throughput window"):
            for _ in range(steps):
                waited = time.perf_counter()
                images, labels = self.cached_batch if cached_batch else next(self.stream)
                data_time += time.perf_counter() - waited
                self._step(images, labels, 1, apply=True)
            self._sync()
        return StepStats(samples=steps * self.spec.benchmark.training.batch_size, steps=steps, data_time_s=data_time)

    @torch.inference_mode()
    def evaluate(self) -> EvalStats:
        self.model.eval()
        num_classes = len(self.val_set.classes)
        k = min(5, num_classes)
        correct1 = correct_k = 0
        loss_sum = 0.0
        per_class_total = torch.zeros(num_classes, dtype=torch.long)
        per_class_correct = torch.zeros(num_classes, dtype=torch.long)
        with self.oom_as_status("in evaluation"):
            for batch in self.val_loader:
                images, labels = self._to_device(*batch)
                with self._autocast():
                    logits = self.model(images)
                loss_sum += float(torch.nn.functional.cross_entropy(logits.float(), labels, reduction="sum"))
                top = logits.topk(k, dim=1).indices
                hit1 = (top[:, 0] == labels).cpu()
                correct1 += int(hit1.sum())
                correct_k += int((top == labels[:, None]).any(dim=1).sum())
                per_class_total += torch.bincount(labels.cpu(), minlength=num_classes)
                per_class_correct += torch.bincount(labels.cpu()[hit1], minlength=num_classes)
        n = len(self.val_set)
        metrics = {"top1": correct1 / n, f"top{k}": correct_k / n, "loss": loss_sum / n}
        subjects = [
            (name, int(per_class_total[i]), {"top1": float(per_class_correct[i]) / max(1, int(per_class_total[i]))})
            for i, name in enumerate(self.val_set.classes)
        ]
        stats = EvalStats(metrics, subjects)
        if self.world > 1:  # every rank stops on rank 0's verdict
            shared = [stats]
            dist.broadcast_object_list(shared, src=0)
            stats = shared[0]
        return stats

    def flops_per_sample(self) -> float | None:
        """Count one sample's forward pass with torch.utils.flop_counter (a multiply-add is 2 FLOPs)."""
        from torch.utils.flop_counter import FlopCounterMode

        size = self.spec.benchmark.dataset.image_size
        sample = torch.zeros(1, 3, size, size, device=self.torch_device)
        was_training = self.model.training
        self.model.eval()
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            self.model(sample)
        self.model.train(was_training)
        return float(counter.get_total_flops())

    # --- checkpoints and trained weights ----------------------------------------

    def save_checkpoint(self, folder: Path, state: dict[str, Any]) -> None:
        if self.rank != 0:
            return
        weights = {
            "epoch": state["epoch"],
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": torch.get_rng_state(),
        }
        save_checkpoint_unit(folder, state, lambda unit: torch.save(weights, unit / "model.pt"))

    def load_checkpoint(self, folder: Path) -> dict[str, Any] | None:
        if (found := latest_checkpoint(folder)) is None:
            return None
        unit, state = found
        saved = torch.load(unit / "model.pt", map_location=self.torch_device, weights_only=True)
        self.model.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.scaler.load_state_dict(saved["scaler"])
        torch.set_rng_state(saved["rng"])
        return state

    def save_trained_weights(self, folder: Path, meta: dict[str, Any]) -> None:
        if self.rank != 0:
            return
        with atomic_path(folder / "weights.pt") as tmp:  # unique per run: two runs of one configuration never share it
            torch.save(self.model.state_dict(), tmp)
        write_json_atomic(folder / "meta.json", meta)

    # --- inference --------------------------------------------------------------

    def _val_images(self, count: int, train: bool = False) -> torch.Tensor:
        _, val_tf = _transforms(self.dataset.name, self.spec.benchmark.dataset.image_size)
        folder = datasets.ImageFolder(self.dataset.root / ("train" if train else "val"), val_tf)
        step = max(1, len(folder) // count) if train else 1
        images = [folder[(i * step) % len(folder)][0] for i in range(count)]
        return torch.stack(images)

    def _quantize(self) -> None:
        """Post-training static INT8 quantization (FX graph mode, x86 qconfig), calibrated on real training images."""
        from torch.ao.quantization import get_default_qconfig_mapping
        from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

        size = self.spec.benchmark.dataset.image_size
        calibration = self._val_images(INT8_CALIBRATION_BATCHES * 32, train=True).split(32)
        prepared = prepare_fx(self.model, get_default_qconfig_mapping("x86"), (torch.zeros(1, 3, size, size),))
        with torch.inference_mode():
            for batch in calibration:
                prepared(batch)
        self.forward_model = convert_fx(prepared)
        self.quality = {"top1": self._top1(self.forward_model), "reference_top1_fp32": self._top1(self.model)}

    def read_weights(self, path: Path) -> None:
        self.model.load_state_dict(torch.load(path, map_location=self.torch_device, weights_only=True))

    def timed_model_quality(self) -> dict[str, float]:
        """Top-1 on the validation set of the very model the sweep times, in its precision, off the clock."""
        return {"top1": self._top1(self.forward_model)}

    @torch.inference_mode()
    def _top1(self, model: torch.nn.Module) -> float:
        _, val_tf = _transforms(self.dataset.name, self.spec.benchmark.dataset.image_size)
        loader = DataLoader(
            datasets.ImageFolder(self.dataset.root / "val", val_tf), batch_size=128, num_workers=self.spec.benchmark.training.workers
        )
        correct = 0
        for batch in loader:
            images, labels = self._to_device(*batch)
            with self._autocast():
                correct += int((model(images).argmax(1) == labels).sum())
        return correct / len(loader.dataset)

    def inference_batch(self, batch_size: int) -> torch.Tensor:
        if self.dataset is None:  # --synthetic
            size = self.spec.benchmark.dataset.image_size
            return torch.randn(batch_size, 3, size, size, device=self.torch_device).contiguous(memory_format=self.memory_format)
        return self._val_images(batch_size).to(self.torch_device).contiguous(memory_format=self.memory_format)

    @property
    def timer(self) -> str:  # type: ignore[override]
        return "torch.cuda.Event" if self.device.startswith("cuda") else "time.perf_counter+synchronize"

    def timed_infer(self, batch: torch.Tensor) -> float:
        """On a GPU, time the forward pass with CUDA events (synchronising on the end event only)."""
        if not self.device.startswith("cuda"):
            return super().timed_infer(batch)
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        with torch.inference_mode(), self.oom_as_status(f"at batch {batch.shape[0]}"), self._autocast():
            start.record()
            self.forward_model(batch)
            end.record()
        end.synchronize()
        return start.elapsed_time(end)

    @torch.inference_mode()
    def infer(self, batch: torch.Tensor) -> None:
        with self.oom_as_status(f"at batch {batch.shape[0]}"), self._autocast():
            self.forward_model(batch)
        self._sync()

    def memory_peaks_mib(self) -> tuple[float | None, float | None]:
        if not self.device.startswith("cuda"):
            return None, None
        return torch.cuda.max_memory_allocated() / 2**20, torch.cuda.max_memory_reserved() / 2**20

    def close(self) -> None:
        if self.distributed and dist.is_initialized():
            dist.destroy_process_group()
