"""One run in its own process: set up, measure, and always write a result file.

Started by a launcher as ``python -m runners.worker SPEC.json``; the launcher
reads ``SPEC.json.out`` to learn where the result went.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path

from runners.datasets import DIGITS_VERSION, DatasetInfo, default_cache_dir, describe_image_folder, prepare_digits
from runners.frameworks import get_backend
from runners.frameworks.base import RunFailure
from runners.modes import get_mode
from runners.modes.base import ModeResult
from runners.record import RunSpec, assemble, capture_environment, planned_dataset
from runners.schema import Dataset, Status, Telemetry, utc_now
from runners.telemetry.host import peak_rss_mib
from runners.telemetry.nvml import accelerator_facts, start_sampler
from runners.writing import keep_result, spool_dir

ERROR_TAIL_LINES = 20


def _prepare_dataset(spec: RunSpec) -> DatasetInfo:
    ds = spec.benchmark.dataset
    if ds.reader == "digits":
        return prepare_digits(spec.cache_dir, ds.image_size)
    if ds.reader == "imagefolder":
        if spec.data_dir is None:
            raise RunFailure(f"benchmark {spec.benchmark.name!r} reads an image folder: pass --data /path/to/imagenet")
        # the result names the dataset the suite declares (e.g. imagenet), not the loader that read it
        return describe_image_folder(spec.data_dir, name=ds.name, version=ds.version or "unversioned", checksum_files=False)
    if ds.reader == "synthetic":
        raise RunFailure(f"benchmark {spec.benchmark.name!r} has only synthetic data: run it with --synthetic")
    raise RunFailure(f"unknown dataset loader {ds.reader!r}")


def _dataset_record(info: DatasetInfo | None, spec: RunSpec) -> Dataset:
    if spec.synthetic:
        size = spec.benchmark.dataset.image_size
        return Dataset(
            name="synthetic",
            version=f"random-normal-{size}px",
            synthetic=True,
            image_size=size,
            num_classes=spec.benchmark.dataset.num_classes,
        )
    if info is None:
        planned = planned_dataset(spec)
        return planned.model_copy(update={"version": DIGITS_VERSION}) if planned.name == "digits" else planned
    return Dataset(
        name=info.name,
        version=info.version,
        checksum=info.checksum,
        train_samples=info.train_samples,
        val_samples=info.val_samples,
        num_classes=info.num_classes,
        image_size=spec.benchmark.dataset.image_size,
    )


def _error_text(exc: BaseException) -> str:
    lines = traceback.format_exception(exc)
    tail = "".join(lines).strip().splitlines()[-ERROR_TAIL_LINES:]
    return f"{type(exc).__name__}: {exc}\n--- last lines ---\n" + "\n".join(tail)


def _progress_printer():
    """Print progress lines from rank 0 only, so N processes do not print N copies."""
    if process_rank() != 0:
        return lambda line: None
    return lambda line: print(line, flush=True)


def process_rank() -> int:
    """This process's global rank under torchrun or the tf-distribute launcher (RANK), else 0."""
    return int(os.environ.get("RANK", "0"))


def execute(spec: RunSpec) -> Path | None:
    """Run ``spec`` and write its result (rank 0 only); return the path of the result file."""
    started = utc_now()
    accelerators = accelerator_facts()
    dataset, backend, gpus = None, None, []
    status, error, measured, libraries = Status.success, None, ModeResult(), {}
    device = spec.device
    try:
        backend_cls = get_backend(spec.framework)
        device = backend_cls.resolve_device(spec.device)
        dataset = None if spec.synthetic else _prepare_dataset(spec)
        backend = backend_cls(spec, dataset, device)
        device = backend.device  # a backend may settle the device (TFLite's INT8 runs on the CPU)
        libraries = backend.library_versions()
        spec = spec.model_copy(update={"launch": backend.launch})  # and the launch (one process driving several GPUs)
        print(f"[{spec.run_id}] {spec.framework} {spec.mode.value} {spec.precision} on {device}", flush=True)
        sampler = start_sampler(accelerators) if process_rank() == 0 else None
        backend.power_meter = sampler  # the modes ask it for the power of the windows they time
        try:
            measured = get_mode(spec.mode.value)(backend, progress=_progress_printer())
        finally:
            gpus = sampler.stop() if sampler else []
    except RunFailure as exc:
        status, error = Status(exc.status), _error_text(exc)
    except Exception as exc:  # noqa: BLE001 - any crash of the measured code becomes a 'failed' record
        status, error = Status.failed, _error_text(exc)
    finally:
        if backend is not None:
            backend.close()
    if process_rank() != 0:
        if error:  # only rank 0 writes a record; the launcher's log keeps why this rank stopped
            print(f"[{spec.run_id}] rank {process_rank()} {status.value}: {error}", flush=True)
        return None
    result = assemble(
        spec,
        status=status,
        error=error,
        started=started,
        finished=utc_now(),
        environment=capture_environment(spec, device, accelerators, libraries),
        dataset=_dataset_record(dataset, spec),
        telemetry=Telemetry(
            host_peak_rss_mib=peak_rss_mib(),
            gpus=gpus,
            framework_peak_allocated_mib=measured.framework_peak_allocated_mib,
            framework_peak_reserved_mib=measured.framework_peak_reserved_mib,
        ),
        resumed=measured.resumed,
        training=measured.training,
        inference=measured.inference,
    )
    return keep_result(result, spec.results_dir, spool_dir(spec.cache_dir or default_cache_dir()))


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -m runners.worker SPEC.json``."""
    spec_path = Path((argv or sys.argv[1:])[0])
    spec = RunSpec.model_validate_json(spec_path.read_text())
    try:
        path = execute(spec)
    except OSError:  # neither the results folder nor the spool took the record; keep_result printed it and said so
        return 2
    if path is not None:
        spec_path.with_name(spec_path.name + ".out").write_text(str(path))
        print(f"[{spec.run_id}] wrote {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
