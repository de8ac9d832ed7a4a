"""Systems: runs grouped by machine fingerprint (host, accelerators, driver, CUDA, power limit, CPU, memory, OS, Python,
package versions), each with its latest results, like MLPerf's system descriptions. A fingerprint holds only facts every
one of its runs recorded alike, so two machines never share one."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from generator.aggregate import latest_group, slugify
from generator.derived import mean
from generator.facts import Setup, accelerator_of, per_environment
from generator.formats import MISSING, duration, num, package_version
from generator.results import LoadedResult
from runners.schema import Environment, Mode, Result, Status

FRAMEWORK_PACKAGES = ("torch", "tensorflow", "tensorflow-cpu", "jax")  # named in a system's title, the first found


@dataclass(frozen=True, order=True)
class Fingerprint:
    """The facts of one machine as a run recorded them; runs with equal fingerprints ran on one system."""

    hostname: str
    accelerator: str  # the GPU model(s), or 'CPU: <model>' without an accelerator
    accelerator_count: int  # GPUs the run saw (NVML's visible devices); 0 on a CPU run
    accelerator_memory_mib: str
    driver: str
    cuda: str  # the driver's CUDA version (accelerators.devices[].cuda_version)
    power_limit_w: str
    cpu_model: str
    logical_cores: int
    ram_gib: float
    os: str
    kernel: str
    python: str
    packages: tuple[tuple[str, str], ...]

    @property
    def on_cpu(self) -> bool:
        return self.accelerator_count == 0

    @property
    def hardware(self) -> str:
        """'8x NVIDIA A100-SXM4-80GB' or 'CPU: AMD EPYC 7B13'."""
        return self.accelerator if self.on_cpu else f"{self.accelerator_count}x {self.accelerator}"

    @property
    def framework(self) -> str:
        """The framework package and version, e.g. 'torch 2.14.1', or '' when none was recorded."""
        found = dict(self.packages)
        return next((f"{name} {found[name]}" for name in FRAMEWORK_PACKAGES if name in found), "")

    def package(self, *names: str) -> str:
        """The version of the first of ``names`` the run recorded (e.g. 'cudnn'), as printed, or ''."""
        found = dict(self.package_versions)
        return next((found[n] for n in names if n in found), "")

    @property
    def package_versions(self) -> list[tuple[str, str]]:
        """(name, version as printed) of every package recorded."""
        return [(name, package_version(name, version)) for name, version in self.packages]


def _joined(values: set[str]) -> str:
    return " + ".join(sorted(v for v in values if v))


def fingerprint(result: Result) -> Fingerprint:
    """Return the machine fingerprint of a run."""
    return fingerprint_of(result.environment)


def fingerprint_of(env: Environment) -> Fingerprint:
    """fingerprint() of a run's environment."""
    devices = env.accelerators.devices if env.accelerators.kind != "none" else []
    return Fingerprint(
        hostname=env.host.hostname,
        accelerator=accelerator_of(env),
        accelerator_count=len(devices),
        accelerator_memory_mib=_joined({f"{d.memory_total_mib:g}" for d in devices}),
        driver=_joined({d.driver_version for d in devices}),
        cuda=_joined({d.cuda_version or "" for d in devices}),
        power_limit_w=_joined({f"{d.power_limit_w:g}" for d in devices if d.power_limit_w is not None}),
        cpu_model=env.host.cpu_model,
        logical_cores=env.host.logical_cores,
        ram_gib=env.host.ram_gib,
        os=env.host.os,
        kernel=env.host.kernel,
        python=env.python_version,
        packages=tuple(sorted(env.packages.items())),
    )


@dataclass
class SystemResult:
    """The latest repeat group of one setup on one system."""

    setup: Setup
    benchmark: str
    mode: str
    runs: list[LoadedResult]
    earlier_runs: int = 0

    @property
    def latest(self) -> LoadedResult:
        return self.runs[-1]

    @property
    def headline(self) -> str:
        """What the group measured, in one line: time to train and quality, training throughput, or peak inference."""
        results = [r.result for r in self.runs]
        if self.mode == Mode.inference.value:
            best = max((p for res in results for p in res.inference.results), key=lambda p: p.samples_per_s, default=None)
            return f"{num(best.samples_per_s, 1)} samples/s at batch {best.batch_size} (peak)" if best else MISSING
        ttts = [res.training.time_to_target for res in results if res.training.time_to_target]
        times = [t.time_to_target_s for t in ttts if t.reached and t.time_to_target_s is not None]
        rates = [res.training.throughput.samples_per_s for res in results if res.training.throughput]
        parts = []
        if times:
            parts.append(f"time to train {duration(mean(times))} ({len(times)} of {len(ttts)} reached)")
        elif ttts:
            parts.append(f"target not reached ({len(ttts)} run(s))")
        parts += [f"{num(mean(rates), 1)} samples/s"] if rates else []
        return ", ".join(parts) or MISSING


@dataclass(eq=False)
class System:
    """One machine fingerprint, its page and its runs (oldest first)."""

    fingerprint: Fingerprint
    slug: str
    title: str
    runs: list[LoadedResult] = field(default_factory=list)
    short: str = ""  # the host name, told apart from the site's other systems of that host where there are some

    @property
    def latest_utc(self) -> datetime:
        return self.runs[-1].facts.finished_utc

    @property
    def failed(self) -> int:
        return sum(r.facts.status is not Status.success for r in self.runs)

    @property
    def results(self) -> list[SystemResult]:
        """Per benchmark, mode and setup (precision, device count, ...), the newest repeat group of successful runs."""
        groups: dict[tuple[str, str, Setup], list[LoadedResult]] = defaultdict(list)
        for loaded in self.runs:
            facts = loaded.facts
            if facts.status is Status.success:
                groups[(facts.benchmark, facts.mode.value, facts.setup)].append(loaded)
        rows = []
        for (benchmark, mode, setup), every in sorted(groups.items()):
            group = latest_group(every)
            rows.append(SystemResult(setup, benchmark, mode, group, len(every) - len(group)))
        return rows


class Systems:
    """Every system of a set of runs, and which system each run ran on."""

    def __init__(self, runs: list[LoadedResult]) -> None:
        by_print: dict[Fingerprint, list[LoadedResult]] = defaultdict(list)
        print_of = per_environment(fingerprint_of)
        for loaded in sorted(runs, key=lambda r: r.facts.started_utc):
            by_print[print_of(loaded.facts.environment)].append(loaded)
        self.systems: list[System] = []
        self._by_path: dict[str, System] = {}
        titles = [_title(fp) for fp in by_print]
        for fp, title in sorted(zip(by_print, titles, strict=True), key=lambda ft: (ft[1], ft[0])):
            digest = hashlib.sha256(repr(fp).encode()).hexdigest()[:8]
            unique = title if titles.count(title) == 1 else f"{title} · {digest}"
            system = System(fp, f"{slugify(f'{fp.hostname}-{fp.hardware}')}-{digest}", unique, by_print[fp], _short(fp, list(by_print)))
            self.systems.append(system)
            self._by_path.update((r.file, system) for r in system.runs)

    def system_of(self, loaded: LoadedResult) -> System | None:
        """The system a run ran on; None for a run it does not know."""
        return self._by_path.get(loaded.file)

    def of(self, runs: list[LoadedResult]) -> list[System]:
        """The systems of ``runs``: the latest run's first, then the others, newest first; none for runs it does not know."""
        found: list[System] = []
        for loaded in sorted(runs, key=lambda r: r.facts.started_utc, reverse=True):
            system = self.system_of(loaded)
            if system is not None and system not in found:
                found.append(system)
        return found


def accelerator_groups(runs: list[LoadedResult]) -> list[tuple[str, list[LoadedResult]]]:
    """Group runs by what they computed on, e.g. '8x NVIDIA A100-SXM4-80GB', so each label links to its own systems."""
    groups: dict[str, list[LoadedResult]] = defaultdict(list)
    for loaded in runs:
        env = loaded.facts.environment
        groups[f"{env.launch.world_size}x {accelerator_of(env)}"].append(loaded)
    return sorted(groups.items())


def _short(fp: Fingerprint, every: list[Fingerprint]) -> str:
    """The host name, with what tells it apart from the other systems of that host: hardware, framework, else a digest."""
    for parts in ((), ("hardware",), ("framework",), ("hardware", "framework")):

        def name(f: Fingerprint, parts: tuple[str, ...] = parts) -> str:
            extra = ", ".join(getattr(f, p) for p in parts)
            return f"{f.hostname} ({extra})" if extra else f.hostname

        if sum(name(other) == name(fp) for other in every) == 1:
            return name(fp)
    return f"{fp.hostname} ({hashlib.sha256(repr(fp).encode()).hexdigest()[:8]})"


def _title(fp: Fingerprint) -> str:
    """'dgx-a100-1 · 8x NVIDIA A100-SXM4-80GB · torch 2.14.1'."""
    return " · ".join(part for part in (fp.hostname, fp.hardware, fp.framework) if part)
