"""TensorFlow backend: Keras models (weights=None), tf.data image-folder pipelines, a tf.distribute training loop.

One loop serves every launch: the default strategy on one device,
MirroredStrategy over several local GPUs, MultiWorkerMirroredStrategy when the
tf-distribute launcher sets TF_CONFIG. Mixed precision is Keras' policy
(mixed_float16 with a dynamic LossScaleOptimizer, mixed_bfloat16); XLA is
``jit_compile``. INT8 is TFLite post-training full-integer quantization run by
the TFLite interpreter on the CPU. Needs only TensorFlow, Keras, NumPy and the
schema module.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter out of the run's log

import keras
import numpy as np
import tensorflow as tf

from runners import testhooks
from runners.checkpoints import latest_checkpoint, save_checkpoint_unit, write_json_atomic
from runners.datasets import IMAGE_SUFFIXES
from runners.frameworks.base import RANDOM_INIT, Backend, Diverged, EpochStats, EvalStats, RunFailure, StepStats, UnsupportedPrecision
from runners.schema import atomic_path

if TYPE_CHECKING:
    from runners.suites import TrainingSpec

KERAS_POLICIES = {"fp32": "float32", "tf32": "float32", "amp-fp16": "mixed_float16", "amp-bf16": "mixed_bfloat16", "int8": "float32"}
INT8_REPRESENTATIVE_IMAGES = 256
AUTOTUNE = tf.data.AUTOTUNE


# --- models -----------------------------------------------------------------------


@dataclass(frozen=True)
class ModelEntry:
    """How to build a model with random weights, and what its input expects."""

    build: Callable[[int, int], keras.Model]  # (num_classes, image_size) -> model
    preprocess: Callable[[tf.Tensor], tf.Tensor]  # float32 pixels in [0, 255] -> model input


_MODELS: dict[str, ModelEntry] = {}


def register_model(name: str, preprocess: Callable[[tf.Tensor], tf.Tensor]) -> Callable:
    """Register a model builder under ``name``."""

    def register(build: Callable[[int, int], keras.Model]) -> Callable[[int, int], keras.Model]:
        _MODELS[name] = ModelEntry(build, preprocess)
        return build

    return register


def list_models() -> list[str]:
    """Names the TensorFlow runner can build."""
    return sorted(_MODELS)


def model_entry(name: str) -> ModelEntry:
    """The registered model ``name``; a RunFailure naming the known ones otherwise."""
    try:
        return _MODELS[name]
    except KeyError:
        raise RunFailure(f"unknown TensorFlow model {name!r}; known: {', '.join(list_models())}") from None


def _symmetric(images: tf.Tensor) -> tf.Tensor:
    return images / 127.5 - 1.0  # the PyTorch runner's Normalize(0.5, 0.5) on [0, 1]


@register_model("small_cnn", preprocess=_symmetric)
def small_cnn(num_classes: int, image_size: int) -> keras.Model:
    """Three conv-BN-ReLU blocks (32, 64, 128 channels), two max-pools, global pooling, one dense layer."""
    layers = keras.layers
    inputs = keras.Input((image_size, image_size, 3))
    x = inputs
    for i, width in enumerate((32, 64, 128)):
        x = layers.Conv2D(width, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)  # PyTorch's BatchNorm2d defaults
        x = layers.ReLU()(x)
        if i < 2:
            x = layers.MaxPool2D()(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(num_classes, dtype="float32")(x)  # logits in float32 under mixed precision
    return keras.Model(inputs, outputs, name="small_cnn")


def _application(name: str) -> Callable[[int, int], keras.Model]:
    def build(num_classes: int, image_size: int) -> keras.Model:
        app = getattr(keras.applications, name)
        return app(weights=None, include_top=True, classes=num_classes, input_shape=(image_size, image_size, 3))

    return build


register_model("ResNet50", preprocess=keras.applications.resnet.preprocess_input)(_application("ResNet50"))
for _name in ("EfficientNetB0", "EfficientNetB4"):  # these include their own rescaling and normalisation layers
    register_model(_name, preprocess=tf.identity)(_application(_name))


# --- learning rate ----------------------------------------------------------------


@keras.saving.register_keras_serializable(package="benchsite")
class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
    """The PyTorch runner's schedule per optimizer step: linear warm-up, then cosine to zero (or constant).

    Keras calls a schedule with its count of ``apply_gradients`` calls, which
    with gradient accumulation counts micro-batches: ``accumulate`` turns that
    back into optimizer steps.
    """

    def __init__(self, base_lr: float, warmup_steps: int, total_steps: int, cosine: bool = True, accumulate: int = 1) -> None:
        self.base_lr, self.warmup_steps, self.total_steps, self.cosine = base_lr, warmup_steps, total_steps, cosine
        self.accumulate = accumulate

    def __call__(self, step: Any) -> tf.Tensor:
        step = tf.math.floordiv(tf.cast(step, tf.float32), float(self.accumulate))
        warm = self.base_lr * (step + 1.0) / max(self.warmup_steps, 1)
        progress = (step - self.warmup_steps) / max(1, self.total_steps - self.warmup_steps)
        after = self.base_lr * 0.5 * (1.0 + tf.cos(math.pi * progress)) if self.cosine else tf.constant(self.base_lr)
        return tf.where(step < self.warmup_steps, warm, after)

    def get_config(self) -> dict[str, Any]:
        return {
            "base_lr": self.base_lr,
            "warmup_steps": self.warmup_steps,
            "total_steps": self.total_steps,
            "cosine": self.cosine,
            "accumulate": self.accumulate,
        }


def _accumulation(cfg: TrainingSpec) -> dict[str, Any]:
    return {"gradient_accumulation_steps": cfg.grad_accum_steps} if cfg.grad_accum_steps > 1 else {}


# Keras' weight_decay is decoupled (variable -= lr * wd * variable), the PyTorch runner's is L2 in the gradient.
OPTIMIZERS: dict[str, Callable[[Any, TrainingSpec], keras.optimizers.Optimizer]] = {
    "sgd": lambda lr, cfg: keras.optimizers.SGD(
        lr, momentum=cfg.momentum, nesterov=cfg.nesterov, weight_decay=cfg.weight_decay or None, **_accumulation(cfg)
    ),
    "rmsprop": lambda lr, cfg: keras.optimizers.RMSprop(
        lr,
        rho=cfg.rmsprop_alpha,
        momentum=cfg.momentum,
        epsilon=cfg.rmsprop_eps,
        weight_decay=cfg.weight_decay or None,
        **_accumulation(cfg),
    ),
}


# --- data ---------------------------------------------------------------------------


def list_image_folder(split_dir: Path) -> tuple[list[str], list[str], list[int]]:
    """Class names (sorted folder names, as torchvision's ImageFolder) and every image path with its label."""
    classes = sorted(p.name for p in split_dir.iterdir() if p.is_dir())
    paths, labels = [], []
    for label, name in enumerate(classes):
        for path in sorted((split_dir / name).rglob("*")):
            if path.suffix in IMAGE_SUFFIXES and path.is_file():
                paths.append(str(path))
                labels.append(label)
    return classes, paths, labels


def _num_workers() -> int:
    config = json.loads(os.environ.get("TF_CONFIG", "{}"))
    cluster = config.get("cluster", {})
    return max(1, len(cluster.get("worker", [])) + len(cluster.get("chief", [])))


def _worker_index() -> int:
    return int(json.loads(os.environ.get("TF_CONFIG", "{}")).get("task", {}).get("index", 0))


class TensorFlowBackend(Backend):
    name = "tensorflow"
    timer = "time.perf_counter+readback"
    oom_errors = (tf.errors.ResourceExhaustedError,)
    weights_file = "model.weights.h5"

    def library_versions(self) -> dict[str, str]:
        if not self.device.startswith("cuda"):
            return {}
        build = tf.sysconfig.get_build_info()
        versions = {"cuda": build.get("cuda_version", ""), "cudnn": build.get("cudnn_version", "")}
        return {name: str(version) for name, version in versions.items() if version}

    @classmethod
    def resolve_device(cls, requested: str) -> str:
        gpus = tf.config.list_physical_devices("GPU")
        if requested == "auto":
            return "cuda" if gpus else "cpu"
        if requested.startswith("cuda") and not gpus:
            raise UnsupportedPrecision("device 'cuda' requested but TensorFlow sees no GPU")
        return requested

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        precision, on_gpu = self.spec.precision, self.device.startswith("cuda")
        self.check_precision()
        if precision == "int8":
            self.device = "cpu"  # the TFLite interpreter runs on the CPU whatever the machine has
        self.entry = model_entry(self.spec.benchmark.implementations["tensorflow"])
        self.strategy = self._make_strategy(on_gpu)  # first: MultiWorkerMirroredStrategy needs a fresh runtime
        tf.config.experimental.enable_tensor_float_32_execution(precision == "tf32")  # TF's default is on
        keras.mixed_precision.set_global_policy(KERAS_POLICIES[precision])
        keras.utils.set_random_seed(self.spec.seed)
        self.workers, self.rank = _num_workers(), _worker_index()
        self.replicas = self.strategy.num_replicas_in_sync
        self.local_replicas = max(1, self.replicas // self.workers)
        self.jit_compile = self.spec.benchmark.options.compile
        self.interpreter: Any = None
        planned = self.spec.launch
        if planned.world_size != self.replicas:  # MirroredStrategy: one process drives several GPUs
            nodes = planned.nodes if self.replicas % planned.nodes == 0 else 1
            self.launch = planned.model_copy(update={"nodes": nodes, "procs_per_node": self.replicas // nodes, "world_size": self.replicas})

    def _make_strategy(self, on_gpu: bool) -> tf.distribute.Strategy:
        if self.spec.precision == "int8":  # one CPU process; the TFLite converter wants plain Keras variables
            return tf.distribute.get_strategy()
        if "TF_CONFIG" in os.environ:
            return tf.distribute.MultiWorkerMirroredStrategy()
        gpus = tf.config.list_physical_devices("GPU")
        for gpu in gpus:
            tf.config.experimental.set_memory_growth(gpu, True)
        if on_gpu and len(gpus) > 1:
            return tf.distribute.MirroredStrategy()
        index = self.device.split(":")[1] if ":" in self.device else "0"
        return tf.distribute.OneDeviceStrategy(f"/gpu:{index}" if on_gpu else "/cpu:0")

    @property
    def _strategy_name(self) -> str:
        """The public name (MultiWorkerMirroredStrategy's class is called CollectiveAllReduceStrategy)."""
        for public in ("MultiWorkerMirroredStrategy", "MirroredStrategy", "OneDeviceStrategy"):
            if isinstance(self.strategy, getattr(tf.distribute, public)):
                return public
        return "default"

    def precision_flags(self) -> dict[str, Any]:
        policy = keras.mixed_precision.global_policy()
        flags = {
            "precision": self.spec.precision,
            "keras_policy": policy.name,
            "compute_dtype": policy.compute_dtype,
            "variable_dtype": policy.variable_dtype,
            "tensor_float_32_execution": tf.config.experimental.tensor_float_32_execution_enabled(),
            "loss_scale": "dynamic (keras LossScaleOptimizer)" if policy.name == "mixed_float16" else None,
            "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        }
        if self.spec.precision == "int8":
            flags["quantization"] = "TFLite post-training full-integer int8 (int8 input/output), representative real training images"
        return flags

    def options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {
            "jit_compile": self.jit_compile,
            "distribute_strategy": self._strategy_name,
            "replicas": self.replicas,
            "data": "tf.data: parallel decode (AUTOTUNE), prefetch",
        }
        if self.spec.precision == "int8":
            opts = {"runtime": self._interpreter_name, "num_threads": os.cpu_count() or 1, "delegate": "default (XNNPACK where it applies)"}
        return opts

    def flops_per_sample(self) -> float | None:
        """Count one sample's forward pass with TensorFlow's profiler on the frozen graph (a multiply-add is 2 FLOPs)."""
        from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

        size = self.spec.benchmark.dataset.image_size
        forward = tf.function(lambda x: self.model(x, training=False))
        graph = convert_variables_to_constants_v2(forward.get_concrete_function(tf.TensorSpec((1, size, size, 3), tf.float32))).graph
        options = {**tf.compat.v1.profiler.ProfileOptionBuilder.float_operation(), "output": "none"}
        return float(tf.compat.v1.profiler.profile(graph, options=options).total_float_ops)

    # --- model ------------------------------------------------------------------

    @property
    def micro_batch(self) -> int:
        """Images in one step of every replica together, before gradient accumulation."""
        return self.spec.benchmark.training.batch_size * self.replicas

    @property
    def steps_per_epoch(self) -> int:
        """Optimizer steps per epoch."""
        cfg = self.spec.benchmark.training
        per_worker = (self.dataset.train_samples if self.dataset else 0) // self.workers
        return max(1, per_worker // (cfg.batch_size * self.local_replicas * cfg.grad_accum_steps))

    def build_model(self, train: bool) -> None:
        size = self.spec.benchmark.dataset.image_size
        with self.strategy.scope():
            self.model = self.entry.build(self.num_classes, size)
            self._forward = tf.function(lambda x: tf.cast(self.model(x, training=False), tf.float32), jit_compile=self.jit_compile)
            if train:
                self._build_optimizer()
        if not train and self.spec.precision == "int8":
            self._quantize()
        elif not train and self.dataset is not None:  # real data: time the trained weights, if a convergence run left them
            self.weights = self.load_trained_weights() or RANDOM_INIT

    def _build_optimizer(self) -> None:
        cfg = self.spec.benchmark.training
        base_lr = self.scaled_lr()
        total = cfg.max_epochs * self.steps_per_epoch
        warmup, cosine = cfg.warmup_epochs * self.steps_per_epoch, cfg.schedule == "cosine"
        self.schedule = WarmupCosine(base_lr, warmup, total, cosine, cfg.grad_accum_steps)
        optimizer = OPTIMIZERS[cfg.optimizer](self.schedule, cfg)
        if cfg.weight_decay and not cfg.bn_weight_decay:  # no weight decay on batch-norm weights and biases (1-D)
            optimizer.exclude_from_weight_decay(var_list=[v for v in self.model.trainable_variables if len(v.shape) <= 1])
        if keras.mixed_precision.global_policy().name == "mixed_float16":
            optimizer = keras.mixed_precision.LossScaleOptimizer(optimizer)
        self.optimizer = optimizer
        smoothing = cfg.label_smoothing

        def replica_step(images: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
            with tf.GradientTape() as tape:
                logits = tf.cast(self.model(images, training=True), tf.float32)
                onehot = tf.one_hot(labels, self.num_classes)
                per_example = keras.losses.categorical_crossentropy(onehot, logits, from_logits=True, label_smoothing=smoothing)
                loss = tf.nn.compute_average_loss(per_example, global_batch_size=self.micro_batch)
                scaled = optimizer.scale_loss(loss) if isinstance(optimizer, keras.mixed_precision.LossScaleOptimizer) else loss
            grads = tape.gradient(scaled, self.model.trainable_variables)
            optimizer.apply_gradients(zip(grads, self.model.trainable_variables, strict=True))
            return loss

        replica_step = tf.function(replica_step, jit_compile=self.jit_compile)

        @tf.function
        def train_step(images: Any, labels: Any) -> tf.Tensor:
            losses = self.strategy.run(replica_step, args=(images, labels))
            return self.strategy.reduce(tf.distribute.ReduceOp.SUM, losses, axis=None)

        self._train_step = train_step

    # --- data -------------------------------------------------------------------

    def _decode(self, train: bool) -> Callable[[tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]:
        size = self.spec.benchmark.dataset.image_size
        digits = self.dataset.name == "digits"

        def decode(path: tf.Tensor, label: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
            image = tf.cast(image, tf.float32)
            if digits:  # written at the suite's size already
                return tf.image.resize(image, (size, size)), label
            image = tf.image.resize(image, (round(size * 256 / 224),) * 2)
            if train:
                return tf.image.random_flip_left_right(tf.image.random_crop(image, (size, size, 3))), label
            return tf.image.resize_with_crop_or_pad(image, size, size), label

        return decode

    def _augment(self) -> Callable[[tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]:
        """The PyTorch runner's light geometric jitter for digits: rotate up to 8 degrees, shift up to 8%."""
        jitter = keras.Sequential(
            [
                keras.layers.RandomRotation(8 / 360, fill_mode="constant", seed=self.spec.seed),
                keras.layers.RandomTranslation(0.08, 0.08, fill_mode="constant", seed=self.spec.seed + 1),
            ]
        )
        preprocess = self.entry.preprocess
        if self.dataset.name != "digits":
            return lambda images, labels: (preprocess(images), labels)
        return lambda images, labels: (preprocess(jitter(images, training=True)), labels)

    def _train_dataset(self, context: tf.distribute.InputContext, epoch: int = 0) -> tf.data.Dataset:
        """One epoch of training batches, shuffled by (seed, epoch): a resumed run sees the order it would have."""
        cfg = self.spec.benchmark.training
        paths, labels = self.train_files
        ds = tf.data.Dataset.from_tensor_slices((paths, labels))
        ds = ds.shard(context.num_input_pipelines, context.input_pipeline_id)
        ds = ds.shuffle(len(paths), seed=self.epoch_seed(epoch), reshuffle_each_iteration=False)
        ds = ds.map(self._decode(train=True), num_parallel_calls=AUTOTUNE)
        micro_batches = self.steps_per_epoch * cfg.grad_accum_steps * self.local_replicas
        ds = ds.batch(cfg.batch_size, drop_remainder=True).take(micro_batches)
        return ds.map(self._augment(), num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)

    def _val_dataset(self, batch_size: int) -> tf.data.Dataset:
        _, paths, labels = list_image_folder(self.dataset.root / "val")
        ds = tf.data.Dataset.from_tensor_slices((paths, labels)).map(self._decode(train=False), num_parallel_calls=AUTOTUNE)
        preprocess = self.entry.preprocess
        return ds.batch(batch_size).map(lambda x, y: (preprocess(x), y), num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)

    def open_data(self) -> None:
        self.classes, _, self.val_labels = list_image_folder(self.dataset.root / "val")
        self.train_files = list_image_folder(self.dataset.root / "train")[1:]
        self.val_data = self._val_dataset(max(self.spec.benchmark.training.batch_size, 128))

    def open_throughput_data(self, synthetic: bool) -> None:
        if synthetic:
            cfg, size = self.spec.benchmark.training, self.spec.benchmark.dataset.image_size
            rng = np.random.default_rng(self.spec.seed)
            images = rng.standard_normal((cfg.batch_size, size, size, 3), dtype=np.float32)
            labels = rng.integers(0, self.num_classes, cfg.batch_size).astype(np.int32)
            ds = tf.data.Dataset.from_tensors((images, labels)).repeat()
            self.stream = iter(self.strategy.distribute_datasets_from_function(lambda _: ds))
        else:
            self.open_data()
            self.stream = iter(self.strategy.distribute_datasets_from_function(lambda ctx: self._train_dataset(ctx).repeat()))
        self.cached_batch = next(self.stream)

    # --- training ---------------------------------------------------------------

    def _step(self, images: Any, labels: Any) -> tf.Tensor:
        if testhooks.active() == "oom":
            raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor (raised by BENCHSITE_TEST_HOOK=oom)")
        return self._train_step(images, labels)

    def _lr(self) -> float:
        """The learning rate of the last optimizer step (Keras' iterations count optimizer steps)."""
        last_step = tf.maximum(tf.convert_to_tensor(self.optimizer.iterations) - 1, 0)
        return float(self.schedule(last_step * self.spec.benchmark.training.grad_accum_steps))

    def train_epoch(self, epoch: int, total_epochs: int) -> EpochStats:
        losses: list[tf.Tensor] = []
        data_time = 0.0
        train_data = self.strategy.distribute_datasets_from_function(lambda context: self._train_dataset(context, epoch))
        start = waited = time.perf_counter()
        with self.oom_as_status(f"in epoch {epoch}"):
            for images, labels in train_data:
                data_time += time.perf_counter() - waited
                losses.append(self._step(images, labels))
                waited = time.perf_counter()
            loss_mean = float(tf.reduce_mean(tf.stack(losses))) if losses else float("nan")  # the read-back
        elapsed = time.perf_counter() - start
        lr = self._lr()
        if not math.isfinite(loss_mean):
            raise Diverged(f"training loss became {loss_mean} in epoch {epoch} (lr {lr:.4g})")
        return EpochStats(len(losses) * self.micro_batch, len(losses), loss_mean, elapsed, data_time, lr)

    def train_steps(self, steps: int, cached_batch: bool) -> StepStats:
        data_time, loss = 0.0, None
        with self.oom_as_status("in a throughput window"):
            for _ in range(steps):
                waited = time.perf_counter()
                images, labels = self.cached_batch if cached_batch else next(self.stream)
                data_time += time.perf_counter() - waited
                loss = self._step(images, labels)
            value = float(loss)  # one read-back, at the end of the window
        if not math.isfinite(value):
            raise Diverged(f"training loss became {value} in a throughput window")
        # per replica, as one PyTorch process reports it: the mode multiplies by the world size (replicas)
        return StepStats(samples=steps * self.spec.benchmark.training.batch_size, steps=steps, data_time_s=data_time)

    def evaluate(self) -> EvalStats:
        """Every worker evaluates the whole validation split on the same weights, so all stop together."""
        logits = self._predict_all(self._forward)
        labels = np.asarray(self.val_labels)
        k = min(5, logits.shape[1])
        top = np.argsort(-logits, axis=1)[:, :k]
        hit1 = top[:, 0] == labels
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        n = len(labels)
        metrics = {
            "top1": float(hit1.mean()),
            f"top{k}": float((top == labels[:, None]).any(axis=1).mean()),
            "loss": float(-log_probs[np.arange(n), labels].sum() / n),
        }
        per_class = [float(hit1[labels == i].sum()) / max(1, int((labels == i).sum())) for i in range(len(self.classes))]
        if self.workers > 1:  # batch-norm statistics differ per worker: every task stops on task 0's verdict
            shared = self._from_task0(np.array([*metrics.values(), *per_class]))
            metrics = dict(zip(metrics, shared[: len(metrics)].tolist(), strict=True))
            per_class = shared[len(metrics) :].tolist()
        subjects = [(name, int((labels == i).sum()), {"top1": per_class[i]}) for i, name in enumerate(self.classes)]
        return EvalStats(metrics, subjects)

    def _from_task0(self, values: np.ndarray) -> np.ndarray:
        """Task 0's ``values`` on every task: an all-reduce (sum) where the other tasks add zeros."""
        mine = values / self.local_replicas if self.rank == 0 else np.zeros_like(values)
        return self._sum_over_replicas(tf.constant(mine)).numpy()

    @tf.function
    def _sum_over_replicas(self, value: tf.Tensor) -> tf.Tensor:
        return self.strategy.reduce(tf.distribute.ReduceOp.SUM, self.strategy.run(tf.identity, args=(value,)), axis=None)

    def _predict_all(self, forward: Callable[[tf.Tensor], tf.Tensor]) -> np.ndarray:
        with self.oom_as_status("in evaluation"):
            return np.concatenate([forward(images).numpy() for images, _ in self.val_data])

    # --- checkpoints and trained weights ----------------------------------------

    def _checkpoint(self) -> tf.train.Checkpoint:
        """Model and optimizer (slots, momentum, iterations, loss scale) as one object graph."""
        with self.strategy.scope():  # the optimizer's variables exist before a restore assigns them
            self.optimizer.build(self.model.trainable_variables)
        return tf.train.Checkpoint(model=self.model, optimizer=self.optimizer)

    def save_checkpoint(self, folder: Path, state: dict[str, Any]) -> None:
        """Write the variables and state.json as one checkpoint unit (rank 0's copy; see save_checkpoint_unit).

        Every worker writes (a MultiWorkerMirroredStrategy save may need every
        worker's participation); the others write into a throwaway folder.
        """
        if self.rank != 0:
            scratch = Path(tempfile.mkdtemp(prefix="benchsite-tf-ckpt-"))
            try:
                self._checkpoint().write(str(scratch / "ckpt"))
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
            return
        save_checkpoint_unit(folder, state, lambda unit: self._checkpoint().write(str(unit / "ckpt")))

    def load_checkpoint(self, folder: Path) -> dict[str, Any] | None:
        if (found := latest_checkpoint(folder)) is None:
            return None
        unit, state = found
        self._checkpoint().read(str(unit / "ckpt")).assert_existing_objects_matched()
        return state

    def save_trained_weights(self, folder: Path, meta: dict[str, Any]) -> None:
        if self.rank != 0:
            return
        with atomic_path(folder / "model.weights.h5") as tmp:  # unique per run, and ends in .weights.h5 as Keras requires
            self.model.save_weights(tmp)
        write_json_atomic(folder / "meta.json", meta)

    def read_weights(self, path: Path) -> None:
        self.model.load_weights(path)

    def timed_model_quality(self) -> dict[str, float]:
        """Top-1 on the validation set of the very model the sweep times, in its precision, off the clock."""
        if self.interpreter is not None:  # INT8: measured with its fp32 reference when quantizing
            return {}
        if not hasattr(self, "val_data"):
            _, _, self.val_labels = list_image_folder(self.dataset.root / "val")
            self.val_data = self._val_dataset(max(self.spec.benchmark.training.batch_size, 128))
        logits = self._predict_all(self._forward)
        return {"top1": float((logits.argmax(axis=1) == np.asarray(self.val_labels)).mean())}

    def _trained_weights(self) -> str:
        """Load the weights a convergence run of this benchmark left, or train here until the target (off the clock)."""
        if (loaded := self.load_trained_weights()) is not None:
            return loaded
        bench = self.spec.benchmark
        with self.strategy.scope():
            self._build_optimizer()
        self.open_data()
        epoch, top1 = 0, 0.0
        for epoch in range(1, bench.training.max_epochs + 1):
            self.train_epoch(epoch, bench.training.max_epochs)
            top1 = self.evaluate().metrics[bench.quality_target.metric]
            if top1 >= bench.quality_target.value:
                break
        return f"trained in this run before quantization (fp32, {epoch} epochs, val {bench.quality_target.metric} {top1:.4f})"

    # --- INT8 through TFLite ------------------------------------------------------

    @property
    def _interpreter_name(self) -> str:
        try:
            import ai_edge_litert.interpreter  # noqa: F401

            return "LiteRT interpreter (ai_edge_litert)"
        except ImportError:
            return "tf.lite.Interpreter"

    def _interpreter(self, model_content: bytes) -> Any:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:  # TensorFlow's own copy, deprecated in favour of LiteRT but the same runtime
            Interpreter = tf.lite.Interpreter
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated", category=UserWarning)
            return Interpreter(model_content=model_content, num_threads=os.cpu_count() or 1)

    def _quantize(self) -> None:
        """Post-training full-integer INT8 quantization with real training images; quality of both models on val."""
        self.weights = self._trained_weights()
        if not hasattr(self, "val_data"):
            self.open_data()
        reference = self._predict_all(self._forward)
        converter = tf.lite.TFLiteConverter.from_keras_model(self.model)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = self._representative_images
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = converter.inference_output_type = tf.int8
        with contextlib.redirect_stdout(io.StringIO()):  # the converter prints every captured variable
            self.interpreter = self._interpreter(converter.convert())
        self.input_detail = self.interpreter.get_input_details()[0]
        self.output_index = self.interpreter.get_output_details()[0]["index"]
        labels = np.asarray(self.val_labels)
        images = np.concatenate([images.numpy() for images, _ in self.val_data])
        int8_top1 = float((self._tflite_run(self._quantize_input(images)).argmax(axis=1) == labels).mean())
        self.quality = {"top1": int8_top1, "reference_top1_fp32": float((reference.argmax(axis=1) == labels).mean())}

    def _representative_images(self) -> Iterator[list[np.ndarray]]:
        _, paths, labels = list_image_folder(self.dataset.root / "train")
        stride = max(1, len(paths) // INT8_REPRESENTATIVE_IMAGES)  # spread over every class folder
        chosen = tf.data.Dataset.from_tensor_slices((paths[::stride], labels[::stride]))
        preprocess = self.entry.preprocess
        for image, _ in chosen.map(self._decode(train=False)).take(INT8_REPRESENTATIVE_IMAGES):
            yield [preprocess(image[None]).numpy()]

    def _quantize_input(self, images: np.ndarray) -> np.ndarray:
        scale, zero_point = self.input_detail["quantization"]
        return np.clip(np.round(images / scale + zero_point), -128, 127).astype(np.int8)

    def _tflite_run(self, batch: np.ndarray) -> np.ndarray:
        if tuple(self.input_detail["shape"]) != batch.shape:
            self.interpreter.resize_tensor_input(self.input_detail["index"], batch.shape)
            self.interpreter.allocate_tensors()
            self.input_detail = self.interpreter.get_input_details()[0]
        self.interpreter.set_tensor(self.input_detail["index"], batch)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output_index)  # a copy: the result is on the host

    # --- inference --------------------------------------------------------------

    @property
    def _device_name(self) -> str:
        devices = getattr(self.strategy.extended, "worker_devices", None)
        return devices[0] if devices else "/cpu:0"

    def inference_batch(self, batch_size: int) -> Any:
        size = self.spec.benchmark.dataset.image_size
        if self.dataset is None:  # --synthetic
            images = np.random.default_rng(self.spec.seed).standard_normal((batch_size, size, size, 3), dtype=np.float32)
        else:
            val = self._val_dataset(batch_size).unbatch().repeat().take(batch_size)
            images = np.stack([image.numpy() for image, _ in val])
        if self.interpreter is not None:
            batch = self._quantize_input(images)
            self._tflite_run(batch)  # resize the interpreter to this batch size, off the clock
            return batch
        with tf.device(self._device_name):
            return tf.identity(tf.constant(images))

    def infer(self, batch: Any) -> None:
        if self.interpreter is not None:
            self._tflite_run(batch)
            return
        with self.oom_as_status(f"at batch {batch.shape[0]}"):
            self._forward(batch).numpy()  # read back: returns only when the device is done

    def memory_peaks_mib(self) -> tuple[float | None, float | None]:
        if not self.device.startswith("cuda") or self.interpreter is not None:
            return None, None
        info = tf.config.experimental.get_memory_info(self._device_name.split("device:")[-1])
        return info["peak"] / 2**20, None
