"""The fitting loop and its parts: :func:`fit` fits a network to one :class:`Problem`."""

from .loop import fit
from .monitor import STOP_EVENT
from .precision import resolve_execution, resolve_precision
from .problem import Problem
from .records import Callback, FitResult, StepRecord

__all__ = ["fit", "Problem", "FitResult", "StepRecord", "Callback", "resolve_precision", "resolve_execution",
           "STOP_EVENT"]
