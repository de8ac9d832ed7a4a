"""Vega-Lite specs drawn to SVG offline by vl-convert, apart from altair: the build's renderer helper, forked
before the build imports altair, draws without importing it (~0.5 s) or the rest of the generator."""

from __future__ import annotations

from typing import Any

import vl_convert

from generator.errors import BuildError

# No chart may read data or images from anywhere (a URL or a file). vl-convert 1.x takes that with each conversion;
# 2.0 (in release candidates as of November 2026; it draws a chart ~3x faster, see README's Timings) takes it once
# per process, before its first conversion.
_SETTINGS_ONCE = hasattr(vl_convert, "configure")
_runtime_started = False  # whether this process has called vl-convert (see charts.SvgCache.finish)


def runtime_started() -> bool:
    """Whether this process has started vl-convert's runtime (its threads would not exist in a forked child)."""
    return _runtime_started


def to_svg(chart: Any) -> str:
    """Render an Altair chart (or its Vega-Lite spec, a dict) to SVG offline; raise BuildError if vl-convert fails."""
    global _runtime_started
    if not _runtime_started and _SETTINGS_ONCE:
        vl_convert.configure(allowed_base_urls=[])
    _runtime_started = True
    spec = chart if isinstance(chart, dict) else chart.to_dict()
    try:
        return vl_convert.vegalite_to_svg(spec) if _SETTINGS_ONCE else vl_convert.vegalite_to_svg(spec, allowed_base_urls=[])
    except (ValueError, PermissionError) as exc:  # 2.0 refuses a data URL or file with PermissionError
        raise BuildError(f"chart could not be rendered: {exc}") from None


def warm_up() -> None:
    """Start vl-convert's runtime (~1 s) by drawing a one-point chart."""
    to_svg({"mark": "point", "data": {"values": [{"x": 0}]}, "encoding": {"x": {"field": "x", "type": "quantitative"}}})
