"""Telemetry and accelerator facts, framework-neutral: NVML for NVIDIA GPUs, the OS for the host."""
