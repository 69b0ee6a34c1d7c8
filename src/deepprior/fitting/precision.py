"""Device-dependent execution settings: autocast precision, memory layout, CUDA graphs. Resolved once by the
plan (so a run's config.json records what ran); the loop accepts them unresolved too."""

from __future__ import annotations

import dataclasses

import torch

from ..config import FitConfig
from .cuda_graph import graph_supported


def resolve_precision(precision: str, device: torch.device) -> str:
    """Turn ``"auto"`` into bf16 where the hardware runs it natively, else fp32."""
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type == "cpu" and torch.backends.mkldnn.is_available():
        return "bf16" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else "fp32"
    return "fp32"


def resolve_channels_last(channels_last: bool | None, device: torch.device) -> bool:
    """None -> on for CPU and CUDA, where oneDNN's and cuDNN's convolutions are faster in that layout."""
    return channels_last if channels_last is not None else device.type in ("cpu", "cuda")


def resolve_execution(cfg: FitConfig, device: torch.device) -> FitConfig:
    """``cfg`` with precision, layout and CUDA graphs decided for ``device``."""
    precision = resolve_precision(cfg.precision, device)
    graphed = cfg.cuda_graph is not False and graph_supported(device, precision, cfg.compile)
    return dataclasses.replace(cfg, precision=precision, cuda_graph=graphed,
                               channels_last=resolve_channels_last(cfg.channels_last, device))
