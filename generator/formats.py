"""How the site prints a number, a duration, a scaling factor and a trust mark: one place, used by pages and charts."""

from __future__ import annotations

from generator.derived import Summary
from runners.schema import LatencyStats

MISSING = "\N{EN DASH}"
_SI_PREFIXES = ((1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def driver_and_power(driver: str, power_limit: str) -> str:
    """Name a GPU's conditions: 'driver 550.54.15, 400 W limit', saying which of the two was not recorded."""
    power = f"{power_limit} W limit" if power_limit else "power limit not recorded"
    return f"driver {driver or 'not recorded'}, {power}"


def package_version(name: str, version: str) -> str:
    """A package's version as its users write it. cuDNN's is recorded as torch reports it, one integer: major * 10000
    + minor * 100 + patch from cuDNN 9 on (91900 is 9.19.0), major * 1000 + minor * 100 + patch before (8907 is
    8.9.7), as cudnn_version.h defines CUDNN_VERSION; any other version is printed as recorded."""
    if name != "cudnn" or not version.isdigit() or len(version) < 4:
        return version
    number = int(version)
    major, rest = divmod(number, 10000 if number >= 90000 else 1000)
    return f"{major}.{rest // 100}.{rest % 100}"


def num(value: float | None, digits: int = 3) -> str:
    """Format a number with at most ``digits`` decimals; a dash for a missing one."""
    if value is None:
        return MISSING
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def pct(value: float | None) -> str:
    """Format a fraction as a percentage with at most two decimals."""
    return num(None if value is None else value * 100, 2)


def si(value: float | None, digits: int = 4) -> str:
    """Format a number with an SI prefix and ``digits`` significant digits, e.g. 4.908e14 -> '490.8 T'."""
    if value is None:
        return MISSING
    scale, prefix = next(((f, p) for f, p in _SI_PREFIXES if abs(value) >= f), (1, ""))
    return f"{value / scale:.{digits}g} {prefix}".rstrip()


def duration(seconds: float | None) -> str:
    """Format seconds as the seeds print them, one decimal and a unit: '42.1 s', '12.5 min', '34.0 h'."""
    if seconds is None:
        return MISSING
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def exact_seconds(seconds: float | None) -> str:
    """The exact value behind a duration, for a title/hover: '122400 s'."""
    return MISSING if seconds is None else f"{num(seconds, 3)} s"


def scaling(factor: float | None, kind: str, devices: int, unit: str = "GPU") -> str:
    """Print a scaling factor so it cannot be read as a device count: '7.54 (weak scaling, 8 GPUs)', '1.00 (1 GPU)'."""
    if factor is None:
        return MISSING
    plural = unit + ("es" if unit.endswith("s") else "s")
    count = f"{devices} {unit if devices == 1 else plural}"
    if devices == 1:
        return f"{factor:.2f} ({count})"
    return f"{factor:.2f} ({kind + ' ' if kind else ''}scaling, {count})"


def coefficient_of_variation(mean: float, stdev: float | None) -> float | None:
    """Return stdev / |mean|, or None without a spread."""
    return None if stdev is None or mean == 0 else stdev / abs(mean)


def summary_marks(summary: Summary | None, max_cv: float) -> list[str]:
    """Marks for a figure over repeat runs: '1 run' for a single run, 'noisy' when the spread exceeds ``max_cv``."""
    if summary is None:
        return []
    if summary.n == 1:
        return ["1 run"]
    cv = coefficient_of_variation(summary.mean, summary.stdev)
    return ["noisy"] if cv is not None and cv > max_cv else []


def latency_marks(runs: int, latency: LatencyStats, low_sample_percentiles: list[str], max_cv: float) -> list[str]:
    """Marks for a latency point: '1 run', 'noisy' (iteration spread above ``max_cv``, or p50 above the mean by more
    than the spread), 'few samples' (a percentile with too few samples beyond it)."""
    marks = ["1 run"] if runs == 1 else []
    cv = coefficient_of_variation(latency.mean, latency.stdev)
    if (cv is not None and cv > max_cv) or latency.p50 - latency.mean > (latency.stdev or 0):
        marks.append("noisy")
    if low_sample_percentiles:
        marks.append("few samples")
    return marks
