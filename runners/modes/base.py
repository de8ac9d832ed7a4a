"""What a mode returns: the section it measured and what the worker records beside it."""

from __future__ import annotations

from dataclasses import dataclass

from runners.frameworks.base import Backend
from runners.schema import Inference, Training


@dataclass(frozen=True)
class ModeResult:
    """One mode's measurement: its section of the record, the framework's memory peaks, whether it resumed."""

    training: Training | None = None
    inference: Inference | None = None
    framework_peak_allocated_mib: float | None = None
    framework_peak_reserved_mib: float | None = None
    resumed: bool = False

    @classmethod
    def measured(cls, backend: Backend, **sections: Training | Inference | bool | None) -> ModeResult:
        """The result of a mode that ran on ``backend``, with the framework's memory peaks read now, at its end."""
        allocated, reserved = backend.memory_peaks_mib()
        return cls(framework_peak_allocated_mib=allocated, framework_peak_reserved_mib=reserved, **sections)
