"""Degradation operators, built by name: ``make_operator("mask", mask=m)``, ``make_operator("downsample",
factor=4)``, ``make_operator("blur", kernel=k)``. Adding a task means adding an operator here and a preset,
never touching the fitting loop."""

from __future__ import annotations

from typing import Callable

from ..errors import InputError
from .base import Identity, Operator
from .blur import Blur, check_kernel, gaussian_kernel, motion_kernel, parse_kernel
from .downsample import Downsample, lanczos_downsample, lanczos_kernel
from .mask import Mask, apply_mask

OPERATORS: dict[str, Callable[..., Operator]] = {"identity": Identity, "mask": Mask, "downsample": Downsample,
                                                 "blur": Blur}


def make_operator(name: str, **kwargs: object) -> Operator:
    """Build a registered operator by name, e.g. ``make_operator("mask", mask=m)``."""
    if name not in OPERATORS:
        raise InputError(f"unknown operator {name!r}; choose one of {', '.join(OPERATORS)}")
    return OPERATORS[name](**kwargs)


__all__ = ["Operator", "Identity", "Mask", "Downsample", "Blur", "OPERATORS", "make_operator", "apply_mask",
           "lanczos_kernel", "lanczos_downsample", "gaussian_kernel", "motion_kernel", "parse_kernel", "check_kernel"]
