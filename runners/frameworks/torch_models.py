"""Models benchsite defines itself for the PyTorch runner, looked up by name before timm's registry.

Each mirrors a model of the TensorFlow runner layer for layer, so a suite can
run the same network in both frameworks.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

MODELS: dict[str, Callable[[int], nn.Module]] = {}


def register_model(name: str) -> Callable[[Callable[[int], nn.Module]], Callable[[int], nn.Module]]:
    """Register a builder ``(num_classes) -> module`` under ``name``."""

    def register(build: Callable[[int], nn.Module]) -> Callable[[int], nn.Module]:
        MODELS[name] = build
        return build

    return register


@register_model("small_cnn")
def small_cnn(num_classes: int) -> nn.Module:
    """Three conv-BN-ReLU blocks (32, 64, 128 channels), two max-pools, global pooling, one linear layer."""
    layers: list[nn.Module] = []
    in_channels = 3
    for i, width in enumerate((32, 64, 128)):
        layers += [nn.Conv2d(in_channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
        if i < 2:
            layers.append(nn.MaxPool2d(2))
        in_channels = width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(in_channels, num_classes))
